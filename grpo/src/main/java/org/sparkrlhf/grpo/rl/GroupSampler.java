package org.sparkrlhf.grpo.rl;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/**
 * The sampling half of an RL iteration: which prompts, with which sampling seed, how many rounds. Iteration
 * {@code it} draws {@code prompts_per_iteration} distinct prompts with a generator seeded by (seed, it), samples G
 * completions of each through the {@link RolloutSource} with a sampling seed f(seed, it) — so sample j of prompt p is
 * a function of (seed, it, p, j) only — and has them scored by the {@link Rewarder} where they were sampled. With
 * {@code filter_groups}, more rounds of fresh prompts follow until that many groups with differing rewards are found
 * (DAPO's dynamic sampling).
 */
public final class GroupSampler {
  private final RlConfig config;
  private final List<RlPrompt> prompts;
  private final RolloutSource source;
  private final Rewarder rewarder;

  /**
   * What the sampling of one iteration produced.
   *
   * @param prompts the prompts of every round, in order (group q is {@code prompts.get(q)})
   * @param scored G scored samples per prompt, prompt-major
   * @param trainGroups the groups the update uses: all of them, or with {@code filter_groups} the first
   *     {@code prompts_per_iteration} whose rewards differ
   * @param zeroStdGroups sampled groups whose samples all got the same reward
   * @param rounds sampling rounds run
   * @param seconds wall time of the sampling and scoring
   */
  public record Sampled(List<RlPrompt> prompts, List<RolloutSource.Scored> scored, List<Integer> trainGroups,
      int zeroStdGroups, int rounds, double seconds) {}

  /** @param prompts the training prompts (order matters for reproducibility: pass them sorted by id) */
  public GroupSampler(RlConfig config, List<RlPrompt> prompts, RolloutSource source, Rewarder rewarder) {
    this.config = config;
    this.prompts = List.copyOf(prompts);
    this.source = source;
    this.rewarder = rewarder;
  }

  /** A seed mixed from a run seed and two numbers (iteration, purpose). */
  static long mix(long seed, long a, long b) {
    long x = seed * 0x9E3779B97F4A7C15L + a * 0xBF58476D1CE4E5B9L + b * 0x94D049BB133111EBL;
    return new SplittableRandom(x).nextLong();
  }

  /**
   * The prompts of sampling round {@code round} of iteration {@code it}: positions [round·P, (round+1)·P) of a
   * Fisher-Yates shuffle seeded by (seed, it), so rounds never repeat a prompt and round 0 does not depend on
   * whether more rounds follow. Empty when the prompts are used up.
   */
  public List<RlPrompt> promptsOf(int it, int round) {
    int n = prompts.size();
    int p = config.promptsPerIteration;
    int from = (int) Math.min((long) round * p, n);
    int to = (int) Math.min((long) (round + 1) * p, n);
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) idx[i] = i;
    SplittableRandom rnd = new SplittableRandom(mix(config.seed, it, 1));
    List<RlPrompt> out = new ArrayList<>(to - from);
    for (int i = 0; i < to; i++) {
      int j = i + rnd.nextInt(n - i);
      int t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      if (i >= from) out.add(prompts.get(idx[i]));
    }
    return out;
  }

  /** Sampling parameters of round {@code round} of iteration {@code it}: the seed is a function of both. */
  public SamplingParams samplingOf(int it, int round) {
    long seed = mix(config.seed, it, 2);
    if (round > 0) seed = mix(seed, round, 0);
    return SamplingParams.defaults().withTemperature(config.temperature).withMaxNewTokens(config.maxNewTokens)
        .withSeed(seed);
  }

  /**
   * Samples and scores iteration {@code it} with {@code policy} (weight version {@code policyVersion}).
   *
   * @param stepRewards also collect the rewarder's step rewards (fails when it gives none)
   */
  public Sampled sample(LlamaModel policy, long policyVersion, int it, boolean stepRewards) {
    int g = config.groupSize;
    int wanted = config.promptsPerIteration;
    List<RlPrompt> chosen = new ArrayList<>();
    List<RolloutSource.Scored> scored = new ArrayList<>();
    List<Integer> trainGroups = new ArrayList<>();
    int zero = 0;
    int rounds = 0;
    int maxRounds = config.filterGroups ? config.maxGenerationRounds : 1;
    long t0 = System.nanoTime();
    while (rounds < maxRounds && (rounds == 0 || trainGroups.size() < wanted)) {
      List<RlPrompt> roundPrompts = promptsOf(it, rounds);
      if (roundPrompts.isEmpty()) break;
      List<PromptRef> requests = RolloutSource.requests(roundPrompts, g);
      List<RolloutSource.Scored> roundScored = source.sampleAndScore(policy, policyVersion, roundPrompts, g,
          samplingOf(it, rounds), rewarder, stepRewards);
      checkOrder(requests, roundScored, stepRewards);
      for (int q = 0; q < roundPrompts.size(); q++) {
        boolean differ = false;
        double r0 = roundScored.get(q * g).reward().total();
        for (int j = 1; j < g; j++) differ |= roundScored.get(q * g + j).reward().total() != r0;
        zero += differ ? 0 : 1;
        if (trainGroups.size() < wanted && (differ || !config.filterGroups)) trainGroups.add(chosen.size() + q);
      }
      chosen.addAll(roundPrompts);
      scored.addAll(roundScored);
      rounds++;
    }
    return new Sampled(chosen, scored, trainGroups, zero, rounds, (System.nanoTime() - t0) / 1e9);
  }

  /** A source must answer every request, in request order; step rewards when asked for. */
  private static void checkOrder(List<PromptRef> requests, List<RolloutSource.Scored> scored, boolean stepRewards) {
    if (scored.size() != requests.size()) {
      throw new IllegalStateException("rollout source returned " + scored.size() + " completions for "
          + requests.size() + " requests");
    }
    for (int i = 0; i < scored.size(); i++) {
      Completion c = scored.get(i).completion();
      PromptRef want = requests.get(i);
      if (!c.promptId().equals(want.promptId()) || c.sampleIndex() != want.sampleIndex()) {
        throw new IllegalStateException("rollout " + i + " is " + c.promptId() + "/" + c.sampleIndex()
            + ", expected " + want.promptId() + "/" + want.sampleIndex());
      }
      if (stepRewards && scored.get(i).stepRewards() == null) {
        throw new IllegalStateException("the advantage needs step rewards, and the rewarder gives outcome rewards only");
      }
    }
  }
}
