package org.sparkrlhf.reward.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.train.EpochBatches;
import org.sparkrlhf.core.train.PolicyOptimizer;

/**
 * Trains an outcome reward model on the driver. Each step takes a batch of pairs, packs the chosen and the rejected
 * sequences into one {@link PackedBatch}, runs the backbone forward once with gradients and reads the scalar head at
 * each sequence's last real token ({@link SequenceLogProbs#lastTokenScores}: no LM head runs), and minimises the
 * {@link BradleyTerryLoss} (with the pairs' margins when {@link RewardConfig#useMargin}, and TRL's centring term).
 * AdamW via {@link PolicyOptimizer}. The held-out pairs are scored without gradients before the first step, every
 * {@link RewardConfig#evalEvery} steps and after the last, with the same loss and TRL's metrics.
 */
public final class RewardModelTrainer {
  /** One optimizer step: lr, grad norm, the batch's TRL metrics (its loss included). */
  public record StepStats(int step, double lr, double gradNorm, RewardMetrics metrics, double pairsPerSecond,
      int skippedSteps) {}

  /** Called from the training loop. */
  public interface Hooks {
    default void onStep(StepStats s) {}

    /** The held-out metrics after {@code step} optimizer steps (0 = before training). */
    default void onEval(int step, RewardMetrics m) {}

    default void onCheckpoint(int step, LlamaModel model) {}
  }

  /**
   * What a run did: steps, pairs trained on, the first and last step's stats, and the held-out metrics before the
   * first and after the last step (null without held-out pairs).
   */
  public record Result(int steps, int pairs, StepStats first, StepStats last, RewardMetrics evalBefore,
      RewardMetrics evalAfter, double trainSeconds) {}

  private final RewardConfig c;

  public RewardModelTrainer(RewardConfig config) {
    List<String> problems = config.problems();
    if (!problems.isEmpty()) throw new IllegalArgumentException(String.join("; ", problems));
    this.c = config;
  }

  /** Steps a run over {@code n} pairs takes: max_steps, else epochs × ⌈n / batch_size⌉. */
  public int plannedSteps(int n) {
    return EpochBatches.plannedSteps(n, c.batchSize, c.epochs, c.maxSteps);
  }

  /**
   * Trains {@code model} (which must have the score head) in place.
   *
   * @param eval held-out pairs, possibly empty (then no evaluation)
   */
  public Result train(LlamaModel model, List<RewardPair> pairs, List<RewardPair> eval, Hooks hooks) {
    if (pairs.isEmpty()) throw new IllegalArgumentException("no preference pairs to train on");
    if (!model.hasScoreHead()) throw new IllegalArgumentException("a reward model needs the score head");
    int total = plannedSteps(pairs.size());
    PolicyOptimizer opt = PolicyOptimizer.of(c, total);
    RewardMetrics evalBefore = evaluate(model, eval);
    if (evalBefore != null) hooks.onEval(0, evalBefore);
    RewardMetrics evalAfter = evalBefore;
    model.attachGradient();
    EpochBatches<RewardPair> batches = new EpochBatches<>(pairs, c.batchSize, c.seed);
    StepStats first = null;
    StepStats last = null;
    double nanos = 0;
    for (int step = 1; step <= total; step++) {
      List<RewardPair> batch = batches.next();
      long t0 = System.nanoTime();
      double lr = opt.nextLearningRate();
      RewardMetrics metrics;
      double lossValue;
      try (NDManager sm = model.manager().newSubManager();
          GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        Scored s = forward(model, batch, true, sm);
        gc.backward(s.loss());
        metrics = s.metrics();
        lossValue = s.loss().getFloat();
      }
      // A non-finite loss or gradient skips the step (PolicyOptimizer's guard, as in every trainer).
      double norm = opt.step(model, lossValue);
      double dt = System.nanoTime() - t0;
      nanos += dt;
      last = new StepStats(step, lr, norm, metrics, batch.size() / (dt / 1e9), opt.skippedSteps());
      if (first == null) first = last;
      hooks.onStep(last);
      boolean end = step == total;
      if (!eval.isEmpty() && (end || (c.evalEvery > 0 && step % c.evalEvery == 0))) {
        evalAfter = evaluate(model, eval);
        hooks.onEval(step, evalAfter);
      }
      if ((c.checkpointEvery > 0 && step % c.checkpointEvery == 0) || end) hooks.onCheckpoint(step, model);
    }
    return new Result(total, pairs.size(), first, last, evalBefore, evalAfter, nanos / 1e9);
  }

  /**
   * The loss and TRL metrics of {@code pairs} under {@code model}, without gradients, {@code eval_batch_size} pairs
   * per forward pass; null for no pairs. The loss is the pair-weighted mean of the per-pair Bradley-Terry terms plus
   * the centring term over all pairs, the value one batch of every pair would give.
   */
  public RewardMetrics evaluate(LlamaModel model, List<RewardPair> pairs) {
    if (pairs.isEmpty()) return null;
    float[] chosen = new float[pairs.size()];
    float[] rejected = new float[pairs.size()];
    double bt = 0;
    for (int from = 0; from < pairs.size(); from += c.evalBatchSize) {
      List<RewardPair> batch = pairs.subList(from, Math.min(pairs.size(), from + c.evalBatchSize));
      try (NDManager sm = model.manager().newSubManager()) {
        Scored s = forward(model, batch, false, sm);
        System.arraycopy(s.chosen(), 0, chosen, from, batch.size());
        System.arraycopy(s.rejected(), 0, rejected, from, batch.size());
        bt += s.btSum();
      }
    }
    double centre = 0;
    for (int i = 0; i < chosen.length; i++) centre += Math.pow((double) chosen[i] + rejected[i], 2);
    double loss = bt / pairs.size() + c.centerRewardsCoefficient * centre / pairs.size();
    return RewardMetrics.of(chosen, rejected, loss);
  }

  /** One batch's scores, the differentiable loss, the sum of its Bradley-Terry terms, and its metrics. */
  private record Scored(float[] chosen, float[] rejected, NDArray loss, double btSum, RewardMetrics metrics) {}

  /** Scores a batch (chosen rows first, then rejected, in one pass) and computes its loss. */
  private Scored forward(LlamaModel model, List<RewardPair> batch, boolean withGradients, NDManager sm) {
    int b = batch.size();
    List<TokenSequence> seqs = new ArrayList<>(2 * b);
    float[] margins = new float[b];
    for (int i = 0; i < b; i++) {
      seqs.add(batch.get(i).chosen());
      margins[i] = c.useMargin ? (float) batch.get(i).margin() : 0f;
    }
    for (RewardPair p : batch) seqs.add(p.rejected());
    PackedBatch packed = PackedBatch.pack(seqs, model.config().padTokenId());
    NDArray scores = SequenceLogProbs.lastTokenScores(model, packed, withGradients, sm);
    NDArray rc = scores.get(new NDIndex("0:" + b));
    NDArray rr = scores.get(new NDIndex(b + ":" + (2 * b)));
    NDArray margin = c.useMargin ? sm.create(margins) : null;
    NDArray loss = BradleyTerryLoss.loss(rc, rr, margin, c.centerRewardsCoefficient);
    double btSum = BradleyTerryLoss.perPair(rc, rr, margin).sum().getFloat();
    float[] chosen = rc.toFloatArray();
    float[] rejected = rr.toFloatArray();
    return new Scored(chosen, rejected, loss, btSum, RewardMetrics.of(chosen, rejected, loss.getFloat()));
  }
}
