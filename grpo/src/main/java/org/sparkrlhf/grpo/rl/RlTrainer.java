package org.sparkrlhf.grpo.rl;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.sparkrlhf.core.algos.Kl;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.model.SafeTensors;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.train.LrSchedule;
import org.sparkrlhf.core.train.PolicyOptimizer;
import org.sparkrlhf.core.train.TrainerState;
import org.sparkrlhf.grpo.algos.Aggregation;
import org.sparkrlhf.grpo.algos.GrpoLoss;
import org.sparkrlhf.grpo.algos.PolicyLoss;
import org.sparkrlhf.grpo.algos.PolicyLosses;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardResult;
import org.sparkrlhf.reward.rules.RewardRules;
import org.sparkrlhf.reward.rules.RewardSpec;
import org.sparkrlhf.rollouts.engine.Completion;

/**
 * The RL loop on the driver, shared by the online algorithms: each iteration samples and scores groups
 * ({@link GroupSampler}), scores the frozen reference's log-probs of the samples it trains on ({@link SequenceLogProbs},
 * same temperature), asks the algorithm for per-token advantages ({@link #advantages}: GRPO's group baseline, PPO's
 * critic and GAE), runs {@code epochs} passes of minibatch updates — the policy's log-probs by the same
 * {@link SequenceLogProbs} over a {@link PackedBatch}, the surrogate ({@code policy_loss}) against the sampling
 * log-probs plus the KL ({@code kl_estimator}) to the reference ({@link GrpoLoss}), one AdamW step per minibatch, the
 * order shuffled by (seed, iteration, epoch) — and reports its metrics. An algorithm adds its own work after each
 * policy step ({@link #afterMinibatch}, e.g. a critic's regression) and its own state ({@link #algorithmState}).
 *
 * <p><b>Resume.</b> Everything random is a function of (seed, iteration), so the state at an iteration boundary is
 * exactly the policy weights plus a {@link TrainerState}: finished iterations, the optimizer state (the learning
 * rate is constant) and the algorithm's tensors. The caller saves the weights (an HF checkpoint); the reference is
 * the immutable start model, found again from its path. A restored trainer's next iteration is bit-for-bit the
 * uninterrupted one's (1 torch thread).
 */
public abstract class RlTrainer {
  /** Side arrays of a minibatch's {@link PackedBatch}, one value per completion token. */
  static final String OLD_LOGPROBS = "old_logprobs";
  static final String REF_LOGPROBS = "ref_logprobs";
  static final String ADVANTAGES = "advantages";

  /** Names of the metrics that do not depend on wall time (equal between a resumed and an uninterrupted run). */
  public static final List<String> DETERMINISTIC_METRICS = List.of("reward_mean", "reward_std", "accuracy", "kl_ref",
      "loss", "policy_loss", "kl_loss", "clip_fraction", "approx_kl", "ratio", "grad_norm", "entropy", "completion_length",
      "zero_std_groups", "generation_rounds", "train_groups");

  protected final RlConfig config;
  protected final LlamaModel policy;
  protected final LlamaModel reference;
  protected final TextTokenizer tok;
  private final GroupSampler sampler;
  private final PolicyLoss policyLoss;
  private final Kl.Estimator kl;
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
  public record Rollout(RlPrompt prompt, Completion completion, RewardResult reward, double advantage,
      String executorId, boolean trained) {}

  /**
   * What an iteration produced.
   *
   * @param policyVersion the weight version that generated the rollouts (= iterations finished before this one)
   * @param metrics reward_mean, reward_std, accuracy (when a correct_answer rule is present), reward_model_mean (the
   *     learned reward's mean raw score, with one), kl_ref, loss,
   *     policy_loss, kl_loss, clip_fraction, approx_kl, ratio (mean π_θ / π_old over the update's tokens), entropy, grad_norm (and the algorithm's own update figures),
   *     completion_length, zero_std_groups (over all sampled groups), generation_rounds, train_groups (groups the
   *     update used), lr, tokens_per_s, generate_seconds, train_seconds
   */
  public record Iteration(int iteration, long policyVersion, List<Rollout> rollouts, Map<String, Double> metrics) {}

  /**
   * @param policy the model to train (its gradients get attached); starts as the reference's copy
   * @param reference frozen reference (never updated; may be null when kl_coef is 0, then kl_ref is not reported)
   * @param prompts the training prompts (order matters for reproducibility: pass them sorted by id)
   * @param rewarder the outcome rewards and, for an algorithm over steps, the step rewards
   */
  protected RlTrainer(RlConfig config, LlamaModel policy, LlamaModel reference, TextTokenizer tok,
      List<RlPrompt> prompts, RolloutSource source, Rewarder rewarder) {
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
    this.sampler = new GroupSampler(config, prompts, source, rewarder);
    this.policyLoss = PolicyLosses.REGISTRY.byName(config.policyLoss);
    this.kl = Kl.REGISTRY.byName(config.klEstimator);
    this.aggregation = Aggregation.REGISTRY.byName(config.aggregation);
    this.optimizer = PolicyOptimizer.of(config, LrSchedule.constant(config.lr));
    policy.attachGradient();
  }

  // ------------------------------------------------------------------------- what an algorithm adds

  /**
   * Per sample, one advantage per completion token ({@code e.lengths()[i]} of them), for every sample (the loop
   * trains on {@code e.train()} only).
   */
  protected abstract double[][] advantages(Experience e);

  /** True when {@link #advantages} reads the samples' step rewards: only then are they collected. */
  protected boolean needsStepRewards() {
    return false;
  }

  /**
   * The algorithm's own work after the policy step on {@code minibatch} (sample indices into {@code e}), such as a
   * critic's regression step; its figures are averaged over the iteration's minibatches into the metrics.
   */
  protected Map<String, Double> afterMinibatch(Experience e, int[] minibatch) {
    return Map.of();
  }

  /**
   * The algorithm's own figures of the iteration, added to the loop's ({@code m}, which it may read: the update
   * figures are there when the iteration updated); none by default.
   */
  protected Map<String, Double> iterationMetrics(Experience e, Map<String, Double> m) {
    return Map.of();
  }

  /** The algorithm's tensors to save with the trainer state (none by default). */
  protected Map<String, SafeTensors.Tensor> algorithmState() {
    return Map.of();
  }

  /** Restores what {@link #algorithmState} returned. */
  protected void restoreAlgorithmState(Map<String, SafeTensors.Tensor> state) {
    if (!state.isEmpty()) throw new IllegalArgumentException("unexpected algorithm state " + state.keySet());
  }

  // ------------------------------------------------------------------------------------- the loop

  /** Iterations finished so far (the next one is {@code iteration() + 1}). */
  public int iteration() {
    return iteration;
  }

  public LlamaModel policy() {
    return policy;
  }

  /** The prompt and seed schedule. */
  public GroupSampler sampler() {
    return sampler;
  }

  /** True while {@code iteration() < iterations}. */
  public boolean hasNext() {
    return iteration < config.iterations;
  }

  public TrainerState state() {
    return new TrainerState(iteration, optimizer.state(), algorithmState());
  }

  /** Continues after {@code state.iteration()}; the policy passed to the constructor must hold that point's weights. */
  public void restore(TrainerState state) {
    optimizer.restore(state.optimizer());
    restoreAlgorithmState(state.algorithm());
    iteration = state.iteration();
  }

  /** Runs the next iteration. */
  public Iteration step() {
    int it = iteration + 1;
    long version = iteration;
    int g = config.groupSize;
    GroupSampler.Sampled sampled = sampler.sample(policy, version, it, needsStepRewards());
    long t1 = System.nanoTime();
    List<RlPrompt> chosen = sampled.prompts();
    int n = sampled.scored().size();
    // Each sample as the policy saw it: prompt ids + the sampled ids (their eos included when sampled), all scored.
    List<TokenSequence> sequences = new ArrayList<>(n);
    for (int q = 0; q < chosen.size(); q++) {
      int[] pt = TokenSequence.promptIds(tok, chosen.get(q).prompt());
      for (int j = 0; j < g; j++) {
        sequences.add(TokenSequence.of(pt, sampled.scored().get(q * g + j).completion().tokenIds(), -1));
      }
    }
    // The samples the update uses: all of them, or with filter_groups those of the groups the sampler kept.
    List<Integer> trainGroups = sampled.trainGroups();
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
    Experience exp = new Experience(chosen, g, sampled.scored(), sequences, train, refLp);
    double[][] perToken = checkedAdvantages(exp);
    float[][] tokenAdv = new float[n][];
    for (int i = 0; i < n; i++) {
      tokenAdv[i] = new float[perToken[i].length];
      for (int k = 0; k < tokenAdv[i].length; k++) tokenAdv[i][k] = (float) perToken[i][k];
    }

    UpdateStats stats = new UpdateStats();
    for (int epoch = 0; epoch < config.epochs; epoch++) {
      int[] order = train.clone();
      SplittableRandom rnd = new SplittableRandom(GroupSampler.mix(config.seed, it, 3 + epoch));
      for (int i = order.length - 1; i > 0; i--) {
        int j = rnd.nextInt(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      for (int start = 0; start < order.length; start += config.minibatchSize) {
        int[] mb = Arrays.copyOfRange(order, start, Math.min(order.length, start + config.minibatchSize));
        update(mb, exp, tokenAdv, epoch == 0, stats);
        stats.add(afterMinibatch(exp, mb));
      }
    }
    double trainSeconds = (System.nanoTime() - t1) / 1e9;
    iteration = it;

    Map<String, Double> m = metrics(exp, sampled, stats);
    m.put("lr", config.lr);
    // Sampled tokens per second of sampling: completion_length (mean tokens per sample) times the samples.
    double tokens = m.get("completion_length") * n;
    m.put("tokens_per_s", sampled.seconds() > 0 ? tokens / sampled.seconds() : 0);
    m.put("generate_seconds", sampled.seconds());
    m.put("train_seconds", trainSeconds);

    boolean[] used = new boolean[n];
    for (int i : train) used[i] = true;
    List<Rollout> rollouts = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      RolloutSource.Scored s = sampled.scored().get(i);
      rollouts.add(new Rollout(exp.promptOf(i), s.completion(), s.reward(),
          perToken[i].length == 0 ? 0 : perToken[i][0], s.executorId(), used[i]));
    }
    return new Iteration(it, version, rollouts, m);
  }

  /** The algorithm's advantages, checked for shape. */
  private double[][] checkedAdvantages(Experience exp) {
    int[] lengths = exp.lengths();
    double[][] perToken = advantages(exp);
    if (perToken.length != lengths.length) {
      throw new IllegalStateException(getClass().getSimpleName() + " gave advantages for " + perToken.length
          + " of " + lengths.length + " samples");
    }
    for (int i = 0; i < lengths.length; i++) {
      if (perToken[i].length != lengths[i]) {
        throw new IllegalStateException(getClass().getSimpleName() + " gave " + perToken[i].length
            + " token advantages for a completion of " + lengths[i] + " tokens");
      }
    }
    return perToken;
  }

  /** Sums of the minibatch figures of an iteration. */
  private static final class UpdateStats {
    double loss, policyLoss, klLoss, clipFraction, approxKl, ratio, gradNorm, entropySum;
    long entropyCount;
    int updates;
    final Map<String, double[]> extra = new LinkedHashMap<>();

    void add(Map<String, Double> algorithmFigures) {
      algorithmFigures.forEach((k, v) -> extra.computeIfAbsent(k, x -> new double[1])[0] += v);
    }
  }

  /** One optimizer step on samples {@code mb}, packed by {@link PackedBatch}, loss on the completion tokens. */
  private void update(int[] mb, Experience exp, float[][] tokenAdv, boolean measureEntropy, UpdateStats stats) {
    int b = mb.length;
    float[][] refLp = exp.refLogProbs();
    List<TokenSequence> rows = new ArrayList<>(b);
    float[][] old = new float[b][];
    float[][] ref = new float[b][];
    float[][] a = new float[b][];
    for (int row = 0; row < b; row++) {
      int r = mb[row];
      rows.add(exp.sequences().get(r));
      old[row] = exp.completion(r).logProbs();
      ref[row] = refLp == null ? new float[old[row].length] : refLp[r];
      a[row] = tokenAdv[r];
    }
    PackedBatch packed = PackedBatch.pack(rows, policy.config().padTokenId()).withSide(OLD_LOGPROBS, old)
        .withSide(REF_LOGPROBS, ref).withSide(ADVANTAGES, a);
    GrpoLoss.Result res;
    double loss;
    try (NDManager sm = policy.manager().newSubManager()) {
      NDArray maskArr = packed.lossMask(sm);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        SequenceLogProbs.Result lp = SequenceLogProbs.compute(policy, packed, config.temperature, false, true, sm);
        res = GrpoLoss.total(policyLoss, kl, lp.tokenLogProbs(), packed.side(OLD_LOGPROBS, sm),
            refLp == null ? null : packed.side(REF_LOGPROBS, sm), packed.side(ADVANTAGES, sm), maskArr,
            config.clipLow, config.clipHigh, config.klCoef, aggregation);
        gc.backward(res.loss());
        loss = res.loss().getFloat();
        stats.loss += loss;
        stats.policyLoss += res.policyLoss().getFloat();
        stats.klLoss += res.klLoss().getFloat();
        // The mean ratio π_θ / π_old over the minibatch's completion tokens: 1 on the first minibatch of an iteration.
        try (NDArray ratio = lp.tokenLogProbs().stopGradient().sub(packed.side(OLD_LOGPROBS, sm)).exp()) {
          stats.ratio += Aggregation.tokenMean(ratio, maskArr).getFloat();
        }
        if (measureEntropy) {
          stats.entropySum += lp.tokenEntropy().mul(maskArr).sum().getFloat();
          stats.entropyCount += packed.scoredTokens();
        }
      }
    }
    stats.gradNorm += optimizer.step(policy, loss);
    stats.clipFraction += res.clipFraction();
    stats.approxKl += res.approxKl();
    stats.updates++;
  }

  /** The iteration's deterministic figures (see {@link Iteration#metrics}). */
  private Map<String, Double> metrics(Experience exp, GroupSampler.Sampled sampled, UpdateStats s) {
    int n = exp.size();
    double[] rewards = exp.rewards();
    double[] correct = new double[n];
    boolean hasCorrect = false;
    double[] learned = new double[n];
    boolean hasLearned = false;
    long tokens = 0;
    for (int i = 0; i < n; i++) {
      Double ok = exp.reward(i).parts().get(RewardRules.CORRECT_ANSWER);
      if (ok != null) {
        hasCorrect = true;
        correct[i] = ok;
      }
      Double score = exp.reward(i).parts().get(RewardSpec.MODEL);
      if (score != null) {
        hasLearned = true;
        learned[i] = score;
      }
      tokens += exp.completion(i).length();
    }
    Map<String, Double> m = new LinkedHashMap<>();
    double mean = mean(rewards);
    m.put("reward_mean", mean);
    m.put("reward_std", std(rewards, mean));
    if (hasCorrect) m.put("accuracy", mean(correct));
    // With a learned reward: its mean raw score, the proxy that the gold accuracy above is plotted against.
    if (hasLearned) m.put("reward_model_mean", mean(learned));
    if (exp.refLogProbs() != null) {
      double k1 = 0;
      long count = 0;
      for (int i : exp.train()) {
        float[] lp = exp.completion(i).logProbs();
        for (int k = 0; k < lp.length; k++) {
          k1 += lp[k] - exp.refLogProbs()[i][k];
          count++;
        }
      }
      m.put("kl_ref", count == 0 ? 0 : k1 / count);
    }
    // With filter_groups and no group of differing rewards found there is no update, so no update figures.
    if (s.updates > 0) {
      m.put("loss", s.loss / s.updates);
      m.put("policy_loss", s.policyLoss / s.updates);
      m.put("kl_loss", s.klLoss / s.updates);
      m.put("clip_fraction", s.clipFraction / s.updates);
      m.put("approx_kl", s.approxKl / s.updates);
      m.put("ratio", s.ratio / s.updates);
      m.put("grad_norm", s.gradNorm / s.updates);
      m.put("entropy", s.entropyCount == 0 ? 0 : s.entropySum / s.entropyCount);
      s.extra.forEach((k, v) -> m.put(k, v[0] / s.updates));
    }
    m.put("completion_length", (double) tokens / n);
    m.put("zero_std_groups", (double) sampled.zeroStdGroups() / sampled.prompts().size());
    m.put("generation_rounds", (double) sampled.rounds());
    m.put("train_groups", (double) sampled.trainGroups().size());
    m.put("skipped_steps", (double) optimizer.skippedSteps());
    m.putAll(iterationMetrics(exp, m));
    return m;
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
}
