package org.sparkrlhf.dpo.train;

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
import org.sparkrlhf.core.model.Scalars;
import org.sparkrlhf.core.train.EpochBatches;
import org.sparkrlhf.core.train.PolicyOptimizer;
import org.sparkrlhf.core.train.TrainerState;
import org.sparkrlhf.dpo.losses.DpoLoss;
import org.sparkrlhf.dpo.losses.DpoLosses;
import org.sparkrlhf.dpo.losses.DpoMetrics;
import org.sparkrlhf.dpo.losses.PreferenceLogps;
import org.sparkrlhf.dpo.losses.PreferenceLoss;

/**
 * DPO and its variants on the driver. Each step takes a batch of pairs, runs the policy forward once over the
 * chosen and rejected sequences together (with gradients, {@link SequenceLogProbs} on one {@link PackedBatch}: the
 * same computation as the executors' reference scoring), sums the log-probs over each completion's scored tokens,
 * and feeds them with the pre-computed reference log-probs of the pairs to the loss selected by
 * {@link DpoConfig#lossType} ({@link DpoLosses}); plus {@code nllCoef ·} the chosen NLL (RPO) when set. The
 * reference model never runs here: its log-probs arrive with the examples. AdamW via {@link PolicyOptimizer}.
 */
public final class DpoTrainer {
  /**
   * One optimizer step: the batch mean loss (preference + NLL term), lr, grad norm, TRL metrics, and the run's
   * steps skipped so far for a non-finite loss or gradient norm.
   */
  public record StepStats(int step, double loss, double nll, double lr, double gradNorm, DpoMetrics metrics,
      double pairsPerSecond, int skippedSteps) {}

  /** Called from the training loop. */
  public interface Hooks {
    default void onStep(StepStats s) {}

    default void onCheckpoint(int step, LlamaModel model) {}

    /**
     * A checkpoint with the trainer state (finished steps and optimizer moments) that {@link #resumeFrom} continues
     * from exactly; by default {@link #onCheckpoint(int, LlamaModel)}.
     */
    default void onCheckpoint(int step, LlamaModel model, java.util.function.Supplier<TrainerState> state) {
      onCheckpoint(step, model);
    }
  }

  /**
   * What a run did: steps, distinct pairs trained on, the first and last step's stats, and the tokens (chosen and
   * rejected sequences, prompts included, as the forward pass sees them) trained on in {@code trainSeconds}.
   */
  public record Result(int steps, int pairs, StepStats first, StepStats last, double trainSeconds, long tokens) {
    public double tokensPerSecond() {
      return trainSeconds > 0 ? tokens / trainSeconds : 0;
    }
  }

  private final DpoConfig c;
  private final PreferenceLoss loss;
  private TrainerState resume;

  public DpoTrainer(DpoConfig config) {
    List<String> problems = config.problems();
    if (!problems.isEmpty()) throw new IllegalArgumentException(String.join("; ", problems));
    this.c = config;
    this.loss = DpoLosses.REGISTRY.byName(config.lossType);
  }

  /**
   * Continues after the steps {@code state} has finished, with its optimizer moments and schedule position, on the
   * batches those steps would have been followed by (batch order is a function of the seed and the epoch), so the
   * result equals an uninterrupted run's; the caller restores the weights.
   */
  public DpoTrainer resumeFrom(TrainerState state) {
    this.resume = state;
    return this;
  }

  /** Steps a run over {@code n} pairs takes: max_steps, else epochs × ⌈n / batch_size⌉. */
  public int plannedSteps(int n) {
    return EpochBatches.plannedSteps(n, c.batchSize, c.epochs, c.maxSteps);
  }

  public Result train(LlamaModel model, List<PreferenceExample> pairs, Hooks hooks) {
    if (pairs.isEmpty()) throw new IllegalArgumentException("no preference pairs to train on");
    int total = plannedSteps(pairs.size());
    PolicyOptimizer opt = PolicyOptimizer.of(c, total);
    int done = 0;
    if (resume != null) {
      done = resume.iteration();
      if (done >= total) throw new IllegalArgumentException("the state has finished " + done + " of " + total + " steps");
      opt.restore(resume.optimizer());
    }
    model.attachGradient();
    NDManager manager = model.manager();
    EpochBatches<PreferenceExample> batches = new EpochBatches<>(pairs, c.batchSize, c.seed);
    StepStats first = null;
    StepStats last = null;
    double nanos = 0;
    long tokens = 0;
    for (int step = 1; step <= total; step++) {
      List<PreferenceExample> batch = batches.next();
      if (step <= done) continue; // a resumed run's finished steps: only their place in the batch order
      long t0 = System.nanoTime();
      double lr = opt.nextLearningRate();
      double lossValue;
      double nllValue;
      DpoMetrics metrics;
      double norm;
      try (NDManager sm = manager.newSubManager()) {
        int b = batch.size();
        List<TokenSequence> seqs = new ArrayList<>(2 * b);
        double[] refC = new double[b];
        double[] refR = new double[b];
        float[] lenC = new float[b];
        float[] lenR = new float[b];
        for (int i = 0; i < b; i++) {
          PreferenceExample e = batch.get(i);
          seqs.add(e.chosen());
          refC[i] = e.refChosen();
          refR[i] = e.refRejected();
          lenC[i] = e.chosen().scoredTokens();
          lenR[i] = e.rejected().scoredTokens();
        }
        for (PreferenceExample e : batch) seqs.add(e.rejected());
        for (TokenSequence s : seqs) tokens += s.length();
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
          PackedBatch packed = PackedBatch.pack(seqs, model.config().padTokenId());
          NDArray logps = SequenceLogProbs.compute(model, packed, 1.0, false, true, sm).sequenceSums();
          NDArray pc = logps.get(new NDIndex("0:" + b));
          NDArray pr = logps.get(new NDIndex(b + ":" + (2 * b)));
          PreferenceLogps p = new PreferenceLogps(pc, pr, sm.create(toFloat(refC)), sm.create(toFloat(refR)),
              sm.create(lenC), sm.create(lenR));
          NDArray l = loss.losses(p, c.beta, c.labelSmoothing).mean();
          NDArray nll = DpoLoss.nll(pc, p.chosenLengths());
          nllValue = nll.getFloat();
          if (c.nllCoef > 0) l = l.add(Scalars.times(nll, c.nllCoef));
          gc.backward(l);
          lossValue = l.getFloat();
          metrics = DpoMetrics.of(p, c.beta, loss);
        }
        norm = opt.step(model, lossValue);
      }
      double dt = System.nanoTime() - t0;
      nanos += dt;
      last = new StepStats(step, lossValue, nllValue, lr, norm, metrics, batch.size() / (dt / 1e9),
          opt.skippedSteps());
      if (first == null) first = last;
      hooks.onStep(last);
      if ((c.checkpointEvery > 0 && step % c.checkpointEvery == 0) || step == total) {
        int at = step;
        hooks.onCheckpoint(step, model, () -> new TrainerState(at, opt.state(), java.util.Map.of()));
      }
    }
    return new Result(total, pairs.size(), first, last, nanos / 1e9, tokens);
  }

  private static float[] toFloat(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
    return f;
  }
}
