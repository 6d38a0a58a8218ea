package org.sparkrlhf.grpo.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.model.SafeTensors;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.train.LrSchedule;
import org.sparkrlhf.core.train.PolicyOptimizer;
import org.sparkrlhf.grpo.algos.AdvantageEstimator;
import org.sparkrlhf.grpo.algos.AdvantageEstimators;
import org.sparkrlhf.grpo.algos.AdvantageInput;
import org.sparkrlhf.grpo.algos.Aggregation;
import org.sparkrlhf.grpo.algos.GrpoLoss;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardResult;
import org.sparkrlhf.reward.rules.RewardRules;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/**
 * The GRPO loop on the driver. Iterations are numbered 1, 2, ...; iteration i:
 * <ol>
 *   <li>draws {@code prompts_per_iteration} distinct prompts with a generator seeded by (seed, i) (with
 *       {@code filter_groups}, more rounds of fresh prompts until that many groups with differing rewards are
 *       found: DAPO's dynamic sampling);</li>
 *   <li>samples G completions per prompt through the {@link RolloutSource} with sampling seed f(seed, i), so
 *       sample j of prompt p is a function of (seed, i, p, j) only;</li>
 *   <li>scores them with the {@link Rewarder} (where they were sampled: on the executors for a distributed
 *       source), computes advantages per group with the chosen estimator, and the
 *       frozen reference's log-probs with {@link SequenceLogProbs} (same temperature);</li>
 *   <li>runs {@code epochs} passes of minibatch updates (the policy's log-probs by the same {@link SequenceLogProbs}
 *       over a {@link PackedBatch}; {@link GrpoLoss}: clipped surrogate against the sampling
 *       log-probs, k3 KL to the reference), one AdamW step per minibatch, the order shuffled by (seed, i, epoch).</li>
 * </ol>
 *
 * <p><b>Resume.</b> Everything random above is a function of (seed, iteration), so the state at an iteration
 * boundary is exactly: the policy weights, the optimizer state (AdamW moments and step count; the learning rate is
 * constant) and the number of finished iterations. {@link #state()} / {@link #restore(State)} move the latter two;
 * the caller saves the weights (an HF checkpoint). The reference is the immutable start model and is found again
 * from its path. A restored trainer's next iteration is bit-for-bit the uninterrupted one's (1 torch thread).
 */
public final class GrpoTrainer {
  /** File names of the trainer state beside a checkpoint's weights. */
  public static final String STATE_TENSORS = "trainer_state.safetensors";
  public static final String STATE_JSON = "trainer_state.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final GrpoConfig config;
  private final LlamaModel policy;
  private final LlamaModel reference;
  private final TextTokenizer tok;
  private final List<GrpoPrompt> prompts;
  private final RolloutSource source;
  private final Rewarder rewarder;
  private final AdvantageEstimator estimator;
  private final Aggregation aggregation;
  private final PolicyOptimizer optimizer;
  private int iteration;

  /**
   * One scored sample of an iteration.
   *
   * @param advantage the advantage of its first token (for a sequence-level estimator, that of all its tokens)
   * @param executorId the Spark executor that sampled and scored it ({@code "driver"} in process)
   * @param trained the update used it (with {@code filter_groups}, only samples of groups whose rewards differ)
   */
  public record Rollout(GrpoPrompt prompt, Completion completion, RewardResult reward, double advantage,
      String executorId, boolean trained) {}

  /**
   * What an iteration produced.
   *
   * @param policyVersion the weight version that generated the rollouts (= iterations finished before this one)
   * @param metrics reward_mean, reward_std, accuracy (when a correct_answer rule is present), kl_ref, loss,
   *     policy_loss, kl_loss, clip_fraction, approx_kl, entropy, completion_length, grad_norm, lr,
   *     tokens_per_s, generate_seconds, train_seconds, zero_std_groups (over all sampled groups),
   *     generation_rounds, train_groups (groups the update used)
   */
  public record Iteration(int iteration, long policyVersion, List<Rollout> rollouts, Map<String, Double> metrics) {}

  /** The trainer's state besides the weights: finished iterations and the optimizer state. */
  public record State(int iteration, Map<String, SafeTensors.Tensor> optimizer) {}

  /**
   * @param policy the model to train (its gradients get attached); starts as the reference's copy
   * @param reference frozen reference (never updated; may be null when kl_coef is 0, then kl_ref is not reported)
   * @param prompts the training prompts (order matters for reproducibility: pass them sorted by id)
   * @param rewarder the outcome rewards and, for an estimator over steps ({@code grpo_process}), the step rewards
   */
  public GrpoTrainer(GrpoConfig config, LlamaModel policy, LlamaModel reference, TextTokenizer tok,
      List<GrpoPrompt> prompts, RolloutSource source, Rewarder rewarder) {
    List<String> problems = config.problems();
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(String.join("; ", problems));
    }
    if (prompts.isEmpty()) {
      throw new IllegalArgumentException("no training prompts");
    }
    if (reference == null && config.klCoef > 0) {
      throw new IllegalArgumentException("kl_coef > 0 needs a reference model");
    }
    this.config = config;
    this.policy = policy;
    this.reference = reference;
    this.tok = tok;
    this.prompts = List.copyOf(prompts);
    this.source = source;
    this.rewarder = rewarder;
    this.estimator = AdvantageEstimators.REGISTRY.byName(config.advantage);
    this.aggregation = Aggregation.byName(config.aggregation);
    this.optimizer = new PolicyOptimizer(LrSchedule.constant(config.lr), config.weightDecay, config.beta1,
        config.beta2, config.gradClip);
    policy.attachGradient();
  }

  /** Iterations finished so far (the next one is {@code iteration() + 1}). */
  public int iteration() {
    return iteration;
  }

  public LlamaModel policy() {
    return policy;
  }

  /** True while {@code iteration() < iterations}. */
  public boolean hasNext() {
    return iteration < config.iterations;
  }

  public State state() {
    return new State(iteration, optimizer.state());
  }

  /** Continues after {@code state.iteration()}; the policy passed to the constructor must hold that point's weights. */
  public void restore(State state) {
    optimizer.restore(state.optimizer());
    iteration = state.iteration();
  }

  // ---------------------------------------------------------------------------------------- seeds

  static long mix(long seed, long a, long b) {
    long x = seed * 0x9E3779B97F4A7C15L + a * 0xBF58476D1CE4E5B9L + b * 0x94D049BB133111EBL;
    return new SplittableRandom(x).nextLong();
  }

  /** The prompts of iteration {@code it} (its first sampling round). */
  public List<GrpoPrompt> promptsOf(int it) {
    return promptsOf(it, 0);
  }

  /**
   * The prompts of sampling round {@code round} of iteration {@code it}: positions [round·P, (round+1)·P) of a
   * Fisher-Yates shuffle seeded by (seed, it), so rounds never repeat a prompt and round 0 does not depend on
   * whether more rounds follow. Empty when the prompts are used up.
   */
  public List<GrpoPrompt> promptsOf(int it, int round) {
    int n = prompts.size();
    int p = config.promptsPerIteration;
    int from = (int) Math.min((long) round * p, n);
    int to = (int) Math.min((long) (round + 1) * p, n);
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) idx[i] = i;
    SplittableRandom rnd = new SplittableRandom(mix(config.seed, it, 1));
    List<GrpoPrompt> out = new ArrayList<>(to - from);
    for (int i = 0; i < to; i++) {
      int j = i + rnd.nextInt(n - i);
      int t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      if (i >= from) out.add(prompts.get(idx[i]));
    }
    return out;
  }

  /** Sampling parameters of iteration {@code it} (its first sampling round). */
  public SamplingParams samplingOf(int it) {
    return samplingOf(it, 0);
  }

  /** Sampling parameters of round {@code round} of iteration {@code it}: the seed is a function of both. */
  public SamplingParams samplingOf(int it, int round) {
    long seed = mix(config.seed, it, 2);
    if (round > 0) seed = mix(seed, round, 0);
    return SamplingParams.defaults().withTemperature(config.temperature).withMaxNewTokens(config.maxNewTokens)
        .withSeed(seed);
  }

  // ----------------------------------------------------------------------------------- iteration

  /** Runs the next iteration. */
  public Iteration step() {
    int it = iteration + 1;
    long version = iteration;
    int g = config.groupSize;
    int wanted = config.promptsPerIteration;
    // Sampling rounds: one, or with filter_groups as many as it takes to collect `wanted` groups whose rewards
    // differ (DAPO's dynamic sampling). Every sampled group is kept for the rollouts table; `trainGroups` lists
    // the ones the update uses.
    List<GrpoPrompt> chosen = new ArrayList<>();
    List<RolloutSource.Scored> scored = new ArrayList<>();
    int zero = 0;
    List<Integer> trainGroups = new ArrayList<>();
    int rounds = 0;
    int maxRounds = config.filterGroups ? config.maxGenerationRounds : 1;
    long t0 = System.nanoTime();
    while (rounds < maxRounds && (rounds == 0 || trainGroups.size() < wanted)) {
      List<GrpoPrompt> roundPrompts = promptsOf(it, rounds);
      if (roundPrompts.isEmpty()) break;
      List<PromptRef> roundRequests = RolloutSource.requests(roundPrompts, g);
      List<RolloutSource.Scored> roundScored =
          source.sampleAndScore(policy, version, roundPrompts, g, samplingOf(it, rounds), rewarder);
      if (roundScored.size() != roundRequests.size()) {
        throw new IllegalStateException("rollout source returned " + roundScored.size() + " completions for "
            + roundRequests.size() + " requests");
      }
      for (int i = 0; i < roundScored.size(); i++) {
        Completion c = roundScored.get(i).completion();
        PromptRef want = roundRequests.get(i);
        if (!c.promptId().equals(want.promptId()) || c.sampleIndex() != want.sampleIndex()) {
          throw new IllegalStateException("rollout " + i + " is " + c.promptId() + "/" + c.sampleIndex()
              + ", expected " + want.promptId() + "/" + want.sampleIndex());
        }
      }
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
    double genSeconds = (System.nanoTime() - t0) / 1e9;
    long t1 = System.nanoTime();
    int n = scored.size();
    List<Completion> completions = new ArrayList<>(n);
    double[] rewards = new double[n];
    double[] correct = new double[n];
    boolean hasCorrect = false;
    List<RewardResult> results = new ArrayList<>(n);
    int[] groups = new int[n];
    long tokens = 0;
    for (int i = 0; i < n; i++) {
      Completion c = scored.get(i).completion();
      completions.add(c);
      RewardResult r = scored.get(i).reward();
      results.add(r);
      rewards[i] = r.total();
      Double ok = r.parts().get(RewardRules.CORRECT_ANSWER);
      if (ok != null) {
        hasCorrect = true;
        correct[i] = ok;
      }
      groups[i] = i / g;
      tokens += c.length();
    }
    // Per-token advantages from the chosen estimator: one value per completion on all its tokens (sequence-level
    // estimators), or one per token (grpo_process: the rewarder's step rewards, a step being a line).
    int[] lengths = new int[n];
    for (int i = 0; i < n; i++) lengths[i] = completions.get(i).length();
    double[][] stepRewards = null;
    int[][] stepOfToken = null;
    if (estimator.needsStepRewards()) {
      stepRewards = new double[n][];
      stepOfToken = new int[n][];
      for (int i = 0; i < n; i++) {
        GrpoPrompt p = chosen.get(i / g);
        stepRewards[i] = rewarder.stepRewards(p.prompt(), p.answer(), completions.get(i));
        if (stepRewards[i] == null) {
          throw new IllegalStateException("advantage '" + config.advantage
              + "' needs step rewards, and the rewarder gives outcome rewards only");
        }
        stepOfToken[i] = lineOfToken(tok, completions.get(i).tokenIds());
      }
    }
    double[][] perToken = estimator.compute(new AdvantageInput(rewards, groups, lengths, stepRewards, stepOfToken));
    float[][] tokenAdv = new float[n][];
    double[] adv = new double[n];
    for (int i = 0; i < n; i++) {
      if (perToken[i].length != lengths[i]) {
        throw new IllegalStateException("advantage '" + config.advantage + "' gave " + perToken[i].length
            + " token advantages for a completion of " + lengths[i] + " tokens");
      }
      tokenAdv[i] = new float[lengths[i]];
      for (int k = 0; k < lengths[i]; k++) tokenAdv[i][k] = (float) perToken[i][k];
      adv[i] = lengths[i] == 0 ? 0 : perToken[i][0];
    }
    // Each sample as the policy saw it: prompt ids + the sampled ids (their eos included when sampled), all scored.
    List<TokenSequence> sequences = new ArrayList<>(n);
    for (int q = 0; q < chosen.size(); q++) {
      int[] pt = TokenSequence.promptIds(tok, chosen.get(q).prompt());
      for (int j = 0; j < g; j++) sequences.add(TokenSequence.of(pt, completions.get(q * g + j).tokenIds(), -1));
    }
    // The samples the update uses: all of them, or with filter_groups those of the groups kept above.
    int[] train = new int[trainGroups.size() * g];
    for (int k = 0; k < trainGroups.size(); k++) {
      for (int j = 0; j < g; j++) train[k * g + j] = trainGroups.get(k) * g + j;
    }
    float[][] refLp = null;
    if (reference != null) {
      refLp = new float[n][];
      List<TokenSequence> trainSequences = new ArrayList<>(train.length);
      for (int i : train) trainSequences.add(sequences.get(i));
      List<SequenceLogProbs.SequenceScore> lp =
          SequenceLogProbs.score(reference, trainSequences, config.temperature, false, config.scoreBatchSize);
      for (int k = 0; k < train.length; k++) refLp[train[k]] = lp.get(k).tokenLogProbs();
    }

    // minibatch updates
    double lossSum = 0, pgSum = 0, klSum = 0, clipSum = 0, approxSum = 0, normSum = 0;
    double entSum = 0;
    long entCount = 0;
    int updates = 0;
    for (int epoch = 0; epoch < config.epochs; epoch++) {
      int[] order = train.clone();
      SplittableRandom rnd = new SplittableRandom(mix(config.seed, it, 3 + epoch));
      for (int i = order.length - 1; i > 0; i--) {
        int j = rnd.nextInt(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      for (int start = 0; start < order.length; start += config.minibatchSize) {
        int end = Math.min(order.length, start + config.minibatchSize);
        int[] mb = java.util.Arrays.copyOfRange(order, start, end);
        MinibatchStats s = update(mb, sequences, completions, refLp, tokenAdv, epoch == 0);
        lossSum += s.loss;
        pgSum += s.policyLoss;
        klSum += s.klLoss;
        clipSum += s.clipFraction;
        approxSum += s.approxKl;
        normSum += s.gradNorm;
        entSum += s.entropySum;
        entCount += s.entropyCount;
        updates++;
      }
    }
    double trainSeconds = (System.nanoTime() - t1) / 1e9;
    iteration = it;

    Map<String, Double> m = new LinkedHashMap<>();
    double mean = mean(rewards);
    m.put("reward_mean", mean);
    m.put("reward_std", std(rewards, mean));
    if (hasCorrect) m.put("accuracy", mean(correct));
    if (refLp != null) {
      double k1 = 0;
      long count = 0;
      for (int i : train) {
        float[] lp = completions.get(i).logProbs();
        for (int k = 0; k < lp.length; k++) {
          k1 += lp[k] - refLp[i][k];
          count++;
        }
      }
      m.put("kl_ref", count == 0 ? 0 : k1 / count);
    }
    // With filter_groups and no group of differing rewards found there is no update, so no update figures.
    if (updates > 0) {
      m.put("loss", lossSum / updates);
      m.put("policy_loss", pgSum / updates);
      m.put("kl_loss", klSum / updates);
      m.put("clip_fraction", clipSum / updates);
      m.put("approx_kl", approxSum / updates);
      m.put("grad_norm", normSum / updates);
      m.put("entropy", entCount == 0 ? 0 : entSum / entCount);
    }
    m.put("completion_length", (double) tokens / n);
    m.put("zero_std_groups", (double) zero / chosen.size());
    m.put("generation_rounds", (double) rounds);
    m.put("train_groups", (double) trainGroups.size());
    m.put("lr", config.lr);
    m.put("tokens_per_s", genSeconds > 0 ? tokens / genSeconds : 0);
    m.put("generate_seconds", genSeconds);
    m.put("train_seconds", trainSeconds);

    boolean[] used = new boolean[n];
    for (int i : train) used[i] = true;
    List<Rollout> rollouts = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      rollouts.add(new Rollout(chosen.get(i / g), completions.get(i), results.get(i), adv[i],
          scored.get(i).executorId(), used[i]));
    }
    return new Iteration(it, version, rollouts, m);
  }

  /** Names of the metrics that do not depend on wall time (equal between a resumed and an uninterrupted run). */
  public static final List<String> DETERMINISTIC_METRICS = List.of("reward_mean", "reward_std", "accuracy", "kl_ref",
      "loss", "policy_loss", "kl_loss", "clip_fraction", "approx_kl", "grad_norm", "entropy", "completion_length",
      "zero_std_groups", "generation_rounds", "train_groups");

  private record MinibatchStats(double loss, double policyLoss, double klLoss, double clipFraction, double approxKl,
      double gradNorm, double entropySum, long entropyCount) {}

  /** Side arrays of a minibatch's {@link PackedBatch}, one value per completion token. */
  static final String OLD_LOGPROBS = "old_logprobs";
  static final String REF_LOGPROBS = "ref_logprobs";
  static final String ADVANTAGES = "advantages";

  /** One optimizer step on completions {@code mb}, packed by {@link PackedBatch}, loss on the completion tokens. */
  private MinibatchStats update(int[] mb, List<TokenSequence> sequences, List<Completion> completions,
      float[][] refLp, float[][] tokenAdv, boolean measureEntropy) {
    int b = mb.length;
    List<TokenSequence> rows = new ArrayList<>(b);
    float[][] old = new float[b][];
    float[][] ref = new float[b][];
    float[][] a = new float[b][];
    for (int row = 0; row < b; row++) {
      int r = mb[row];
      rows.add(sequences.get(r));
      old[row] = completions.get(r).logProbs();
      ref[row] = refLp == null ? new float[old[row].length] : refLp[r];
      a[row] = tokenAdv[r];
    }
    PackedBatch packed = PackedBatch.pack(rows, policy.config().padTokenId()).withSide(OLD_LOGPROBS, old)
        .withSide(REF_LOGPROBS, ref).withSide(ADVANTAGES, a);
    double entropySum = 0;
    long entropyCount = 0;
    GrpoLoss.Result res;
    float loss;
    float pg;
    float kl;
    try (NDManager sm = policy.manager().newSubManager()) {
      NDArray maskArr = packed.lossMask(sm);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        SequenceLogProbs.Result lp = SequenceLogProbs.compute(policy, packed, config.temperature, false, true, sm);
        res = GrpoLoss.total(lp.tokenLogProbs(), packed.side(OLD_LOGPROBS, sm),
            refLp == null ? null : packed.side(REF_LOGPROBS, sm), packed.side(ADVANTAGES, sm), maskArr,
            config.clipLow, config.clipHigh, config.klCoef, aggregation);
        gc.backward(res.loss());
        loss = res.loss().getFloat();
        pg = res.policyLoss().getFloat();
        kl = res.klLoss().getFloat();
        if (measureEntropy) {
          entropySum = lp.tokenEntropy().mul(maskArr).sum().getFloat();
          entropyCount = packed.scoredTokens();
        }
      }
    }
    double norm = optimizer.step(policy);
    return new MinibatchStats(loss, pg, kl, res.clipFraction(), res.approxKl(), norm, entropySum, entropyCount);
  }

  /** The line of each completion token: the number of newlines decoded before it (a newline ends its own line). */
  static int[] lineOfToken(TextTokenizer tok, int[] ids) {
    int[] line = new int[ids.length];
    int current = 0;
    for (int k = 0; k < ids.length; k++) {
      line[k] = current;
      String piece = tok.decode(new int[] {ids[k]});
      for (int j = 0; j < piece.length(); j++) if (piece.charAt(j) == '\n') current++;
    }
    return line;
  }

  private static double mean(double[] x) {
    double s = 0;
    for (double v : x) s += v;
    return x.length == 0 ? 0 : s / x.length;
  }

  private static double std(double[] x, double mean) {
    double s = 0;
    for (double v : x) s += (v - mean) * (v - mean);
    return x.length == 0 ? 0 : Math.sqrt(s / x.length);
  }

  // --------------------------------------------------------------------------------- state files

  /**
   * Writes {@link #STATE_TENSORS} (optimizer moments and step) and {@link #STATE_JSON} (iteration, optimizer
   * steps, seed and {@code extra}, e.g. the reference's path) into {@code dir} (any Hadoop path).
   */
  public static void writeState(String dir, State state, Map<String, Object> extra) {
    Map<String, String> md = new LinkedHashMap<>();
    md.put("iteration", Integer.toString(state.iteration()));
    HadoopFiles.writeBytes(dir + "/" + STATE_TENSORS, SafeTensors.write(state.optimizer(), md));
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("iteration", state.iteration());
    json.put("optimizer_steps", Math.round(state.optimizer().get(PolicyOptimizer.STEP).data()[0]));
    json.putAll(extra);
    try {
      HadoopFiles.writeBytes(dir + "/" + STATE_JSON, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads what {@link #writeState} wrote. */
  public static State readState(String dir) {
    SafeTensors.Contents c = SafeTensors.read(HadoopFiles.readBytes(dir + "/" + STATE_TENSORS));
    JsonNode json = readStateJson(dir);
    return new State(json.get("iteration").asInt(), c.tensors());
  }

  /** The {@link #STATE_JSON} of a checkpoint folder. */
  public static JsonNode readStateJson(String dir) {
    try {
      return JSON.readTree(HadoopFiles.readBytes(dir + "/" + STATE_JSON));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** True when {@code dir} holds a trainer state. */
  public static boolean hasState(String dir) {
    return HadoopFiles.exists(dir + "/" + STATE_JSON) && HadoopFiles.exists(dir + "/" + STATE_TENSORS);
  }
}
