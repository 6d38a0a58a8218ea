package org.sparkrlhf.grpo.ppo;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.algos.Kl;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.model.SafeTensors;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.train.LrSchedule;
import org.sparkrlhf.core.train.PolicyOptimizer;
import org.sparkrlhf.grpo.algos.Aggregation;
import org.sparkrlhf.grpo.algos.Gae;
import org.sparkrlhf.grpo.algos.KlController;
import org.sparkrlhf.grpo.algos.MaskedStats;
import org.sparkrlhf.grpo.algos.TokenRewards;
import org.sparkrlhf.grpo.algos.ValueLoss;
import org.sparkrlhf.grpo.rl.Experience;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.grpo.rl.RolloutSource;
import org.sparkrlhf.reward.Rewarder;

/**
 * PPO with a critic, the RLHF algorithm of InstructGPT (Ouyang et al. 2022; Ziegler et al. 2019), on the shared
 * {@link RlTrainer} loop. Each iteration:
 * <ol>
 *   <li>the critic (a Llama backbone with a scalar head, its own AdamW) gives V_t before each response token of the
 *       samples the update uses ({@link SequenceLogProbs#tokenScores});
 *   <li>the per-token reward is the KL penalty {@code −β·kl_t} ({@code kl_penalty}, k1 = logπ_old − logπ_ref by
 *       default) with the sample's score (the rewarder's total) on its last real token ({@link TokenRewards});
 *   <li>{@link Gae} gives advantages and returns; the advantages are whitened over the iteration's response tokens
 *       ({@link MaskedStats#whiten});
 *   <li>the loop's clipped policy update runs on them, and after each policy step the critic takes one step on the
 *       same minibatch with the clipped value loss ({@link ValueLoss});
 *   <li>β moves by the KL controller ({@code fixed} or Ziegler's {@code adaptive}).
 * </ol>
 * The metrics carry TRL's names beside the loop's: {@code objective/kl}, {@code objective/scores},
 * {@code objective/rlhf_reward}, {@code objective/non_score_reward}, {@code objective/entropy},
 * {@code policy/approxkl_avg}, {@code policy/clipfrac_avg}, {@code loss/policy_avg}, {@code loss/value_avg},
 * {@code val/clipfrac_avg}, {@code val/explained_var}, {@code val/ratio}, {@code val/vpred} and {@code kl_coef}.
 * The trainer state holds the critic's weights, its optimizer state and β, so a resumed run continues exactly.
 */
public final class PpoTrainer extends RlTrainer {
  static final String OLD_VALUES = "old_values";
  static final String RETURNS = "returns";
  private static final String CRITIC = "critic.";
  private static final String CRITIC_OPTIMIZER = "critic_optimizer.";
  private static final String KL_COEF = "kl_coef";

  private final PpoConfig ppo;
  private LlamaModel critic;
  private final PolicyOptimizer criticOptimizer;
  private final KlController klController;
  private final Kl.Estimator penalty;
  /** This iteration's values and returns of each trained sample (null rows for the others), for the critic's steps. */
  private float[][] oldValues;
  private float[][] returns;
  private Map<String, Double> iterationFigures = Map.of();

  /**
   * @param critic the value model (needs the score head); its gradients get attached
   * @param reference frozen reference, needed when {@code kl_penalty_coef} &gt; 0
   */
  public PpoTrainer(PpoConfig config, LlamaModel policy, LlamaModel reference, LlamaModel critic, TextTokenizer tok,
      List<RlPrompt> prompts, RolloutSource source, Rewarder rewarder) {
    super(config, policy, reference, tok, prompts, source, rewarder);
    if (!critic.hasScoreHead()) throw new IllegalArgumentException("the critic needs a score head");
    if (reference == null && config.klPenaltyCoef > 0) {
      throw new IllegalArgumentException("kl_penalty_coef > 0 needs a reference model");
    }
    this.ppo = config;
    this.critic = critic;
    this.criticOptimizer = new PolicyOptimizer(LrSchedule.constant(config.criticLr), config.weightDecay,
        config.beta1, config.beta2, config.gradClip, config.maxSkippedSteps);
    this.klController = KlController.REGISTRY.byName(config.klController)
        .apply(new KlController.Settings(config.klPenaltyCoef, config.klTarget, config.klHorizon));
    this.penalty = Kl.REGISTRY.byName(config.klPenalty);
    // β lives in float32 (as the trainer state stores it), so a resumed run continues from exactly the same value.
    klController.set((float) klController.value());
    critic.attachGradient();
  }

  /** The value model as trained so far. */
  public LlamaModel critic() {
    return critic;
  }

  /** The KL coefficient the next iteration uses. */
  public double klCoef() {
    return klController.value();
  }

  @Override
  protected double[][] advantages(Experience e) {
    int n = e.size();
    int[] train = e.train();
    int[] lengths = e.lengths();
    double[][] out = new double[n][];
    for (int i = 0; i < n; i++) out[i] = new double[lengths[i]];
    oldValues = new float[n][];
    returns = new float[n][];
    iterationFigures = new LinkedHashMap<>();
    if (train.length == 0) return out;

    List<TokenSequence> sequences = new ArrayList<>(train.length);
    for (int i : train) sequences.add(e.sequences().get(i));
    float[][] values = values(sequences);
    int b = train.length;
    double beta = klController.value();
    double[] scores = new double[b];
    double[][] v = new double[b][];
    double[][] kl = new double[b][];
    float[][] mask = new float[b][];
    double klSum = 0;
    double negLogProbSum = 0;
    float[] tokenKl = tokenKl(e, train);
    int at = 0;
    for (int k = 0; k < b; k++) {
      int i = train[k];
      scores[k] = e.reward(i).total();
      float[] old = e.completion(i).logProbs();
      kl[k] = new double[lengths[i]];
      for (int t = 0; t < lengths[i]; t++) kl[k][t] = tokenKl[at++];
      v[k] = new double[lengths[i]];
      mask[k] = new float[lengths[i]];
      java.util.Arrays.fill(mask[k], 1f);
      for (int t = 0; t < lengths[i]; t++) {
        v[k][t] = values[k][t];
        klSum += kl[k][t];
        negLogProbSum -= old[t];
      }
    }
    double[][] rewards = TokenRewards.withScore(scores, kl, mask, beta);
    Gae.Result gae = Gae.compute(rewards, v, mask, ppo.gamma, ppo.lam);
    double[][] adv = ppo.whitenAdvantages ? MaskedStats.whiten(gae.advantages(), mask, true) : gae.advantages();
    for (int k = 0; k < b; k++) {
      int i = train[k];
      out[i] = adv[k];
      oldValues[i] = values[k];
      returns[i] = new float[lengths[i]];
      for (int t = 0; t < lengths[i]; t++) returns[i][t] = (float) gae.returns()[k][t];
    }
    double meanScore = java.util.Arrays.stream(scores).average().orElse(0);
    double meanKl = klSum / b;
    iterationFigures.put("objective/kl", meanKl);
    iterationFigures.put("objective/scores", meanScore);
    iterationFigures.put("objective/non_score_reward", -beta * meanKl);
    iterationFigures.put("objective/rlhf_reward", meanScore - beta * meanKl);
    iterationFigures.put("objective/entropy", negLogProbSum / b);
    iterationFigures.put("val/explained_var", MaskedStats.explainedVariance(gae.returns(), v, mask));
    iterationFigures.put(KL_COEF, beta);
    klController.update(meanKl, b);
    klController.set((float) klController.value());
    return out;
  }

  /**
   * The penalty estimator at every completion token of the {@code train} samples, concatenated in their order: one
   * element-wise call over all of them (0 everywhere without a reference).
   */
  private float[] tokenKl(Experience e, int[] train) {
    int total = 0;
    for (int i : train) total += e.completion(i).length();
    float[] old = new float[total];
    float[] ref = new float[total];
    int at = 0;
    for (int i : train) {
      float[] lp = e.completion(i).logProbs();
      System.arraycopy(lp, 0, old, at, lp.length);
      System.arraycopy(e.refLogProbs() == null ? lp : e.refLogProbs()[i], 0, ref, at, lp.length);
      at += lp.length;
    }
    if (total == 0) return old;
    try (NDManager m = critic.manager().newSubManager()) {
      return penalty.apply(m.create(old), m.create(ref)).toFloatArray();
    }
  }

  /** The critic's V_t before each completion token of each sequence, without gradients. */
  private float[][] values(List<TokenSequence> sequences) {
    float[][] out = new float[sequences.size()][];
    for (int from = 0; from < sequences.size(); from += config.scoreBatchSize) {
      int to = Math.min(sequences.size(), from + config.scoreBatchSize);
      PackedBatch batch = PackedBatch.pack(sequences.subList(from, to), critic.config().padTokenId());
      try (NDManager sm = critic.manager().newSubManager()) {
        float[][] rows = batch.perSequence(SequenceLogProbs.tokenScores(critic, batch, false, sm).toFloatArray());
        System.arraycopy(rows, 0, out, from, rows.length);
      }
    }
    return out;
  }

  /** One critic step on the minibatch the policy just stepped on: the clipped value loss against the returns. */
  @Override
  protected Map<String, Double> afterMinibatch(Experience e, int[] minibatch) {
    List<TokenSequence> rows = new ArrayList<>(minibatch.length);
    float[][] old = new float[minibatch.length][];
    float[][] ret = new float[minibatch.length][];
    for (int r = 0; r < minibatch.length; r++) {
      rows.add(e.sequences().get(minibatch[r]));
      old[r] = oldValues[minibatch[r]];
      ret[r] = returns[minibatch[r]];
    }
    PackedBatch packed = PackedBatch.pack(rows, critic.config().padTokenId())
        .withSide(OLD_VALUES, old).withSide(RETURNS, ret);
    double loss;
    float clipFraction;
    double vpred;
    try (NDManager sm = critic.manager().newSubManager();
        GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
      NDArray mask = packed.lossMask(sm);
      NDArray values = SequenceLogProbs.tokenScores(critic, packed, true, sm);
      ValueLoss.Result res = ValueLoss.clipped(values, packed.side(OLD_VALUES, sm), packed.side(RETURNS, sm), mask,
          ppo.valueClip);
      gc.backward(res.loss());
      loss = res.loss().getFloat();
      clipFraction = res.clipFraction();
      vpred = Aggregation.tokenMean(values.stopGradient(), mask).getFloat();
    }
    criticOptimizer.step(critic, loss);
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("loss/value_avg", loss);
    m.put("val/clipfrac_avg", (double) clipFraction);
    m.put("val/vpred", vpred);
    return m;
  }

  @Override
  protected Map<String, Double> iterationMetrics(Experience e, Map<String, Double> m) {
    Map<String, Double> out = new LinkedHashMap<>(iterationFigures);
    // TRL's names for the loop's own update figures.
    alias(m, out, "approx_kl", "policy/approxkl_avg");
    alias(m, out, "clip_fraction", "policy/clipfrac_avg");
    alias(m, out, "policy_loss", "loss/policy_avg");
    alias(m, out, "ratio", "val/ratio");
    out.put("critic_skipped_steps", (double) criticOptimizer.skippedSteps());
    return out;
  }

  private static void alias(Map<String, Double> from, Map<String, Double> to, String name, String trlName) {
    if (from.containsKey(name)) to.put(trlName, from.get(name));
  }

  @Override
  protected Map<String, SafeTensors.Tensor> algorithmState() {
    Map<String, SafeTensors.Tensor> s = new LinkedHashMap<>();
    critic.toTensors().forEach((k, t) -> s.put(CRITIC + k, t));
    criticOptimizer.state().forEach((k, t) -> s.put(CRITIC_OPTIMIZER + k, t));
    s.put(KL_COEF, new SafeTensors.Tensor(new long[] {1}, new float[] {(float) klController.value()}));
    return s;
  }

  @Override
  protected void restoreAlgorithmState(Map<String, SafeTensors.Tensor> state) {
    Map<String, SafeTensors.Tensor> weights = new LinkedHashMap<>();
    Map<String, SafeTensors.Tensor> optimizer = new LinkedHashMap<>();
    SafeTensors.Tensor coef = null;
    for (Map.Entry<String, SafeTensors.Tensor> en : state.entrySet()) {
      String k = en.getKey();
      if (k.startsWith(CRITIC_OPTIMIZER)) {
        optimizer.put(k.substring(CRITIC_OPTIMIZER.length()), en.getValue());
      } else if (k.startsWith(CRITIC)) {
        weights.put(k.substring(CRITIC.length()), en.getValue());
      } else if (k.equals(KL_COEF)) {
        coef = en.getValue();
      } else {
        throw new IllegalArgumentException("unexpected PPO state tensor " + k);
      }
    }
    if (weights.isEmpty() || optimizer.isEmpty() || coef == null) {
      throw new IllegalArgumentException("the trainer state holds no PPO critic, critic optimizer or kl_coef");
    }
    LlamaModel restored = LlamaModel.fromTensors(critic.config(), weights, policy.manager());
    critic.close();
    critic = restored;
    critic.attachGradient();
    criticOptimizer.restore(optimizer);
    klController.set(coef.data()[0]);
  }
}
