package org.sparkrlhf.reward.process;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.train.EpochBatches;
import org.sparkrlhf.core.train.PolicyOptimizer;
import org.sparkrlhf.reward.model.RewardConfig;

/**
 * Trains a process reward model on the driver, as TRL's {@code PRMTrainer} does with a one-logit head: each step
 * packs a batch of solutions into one {@link PackedBatch}, runs the backbone once with gradients, reads the scalar
 * head at every step's last token ({@link SequenceLogProbs#scoresAt}, no LM head) and minimises
 * {@link StepLabelLoss} over those positions only. AdamW via {@link PolicyOptimizer} with its non-finite guard. The
 * held-out solutions are scored without gradients before the first step, every {@code eval_every} steps and after
 * the last. Settings are the {@code reward} section's ({@link RewardConfig}; {@code batch_size} counts solutions).
 */
public final class PrmTrainer {
  /** One optimizer step: lr, grad norm, the batch's metrics (its loss included), skipped steps so far. */
  public record StepStats(int step, double lr, double gradNorm, PrmMetrics metrics, int skippedSteps) {}

  /** Called from the training loop. */
  public interface Hooks {
    default void onStep(StepStats s) {}

    /** The held-out metrics after {@code step} optimizer steps (0 = before training). */
    default void onEval(int step, PrmMetrics m) {}

    default void onCheckpoint(int step, LlamaModel model) {}
  }

  /** What a run did; the held-out metrics are null without held-out solutions. */
  public record Result(int steps, int examples, StepStats first, StepStats last, PrmMetrics evalBefore,
      PrmMetrics evalAfter, double trainSeconds) {}

  private final RewardConfig c;

  public PrmTrainer(RewardConfig config) {
    List<String> problems = config.problems();
    if (!problems.isEmpty()) throw new IllegalArgumentException(String.join("; ", problems));
    this.c = config;
  }

  /** Steps a run over {@code n} solutions takes: max_steps, else epochs × ⌈n / batch_size⌉. */
  public int plannedSteps(int n) {
    return EpochBatches.plannedSteps(n, c.batchSize, c.epochs, c.maxSteps);
  }

  /** Trains {@code model} (which must have the score head) in place; {@code eval} may be empty. */
  public Result train(LlamaModel model, List<StepExample> examples, List<StepExample> eval, Hooks hooks) {
    if (examples.isEmpty()) throw new IllegalArgumentException("no step-labelled solutions to train on");
    if (!model.hasScoreHead()) throw new IllegalArgumentException("a process reward model needs the score head");
    int total = plannedSteps(examples.size());
    PolicyOptimizer opt = PolicyOptimizer.of(c, total);
    PrmMetrics evalBefore = evaluate(model, eval);
    if (evalBefore != null) hooks.onEval(0, evalBefore);
    PrmMetrics evalAfter = evalBefore;
    model.attachGradient();
    EpochBatches<StepExample> batches = new EpochBatches<>(examples, c.batchSize, c.seed);
    StepStats first = null;
    StepStats last = null;
    long t0 = System.nanoTime();
    for (int step = 1; step <= total; step++) {
      List<StepExample> batch = batches.next();
      double lr = opt.nextLearningRate();
      PrmMetrics metrics;
      double lossValue;
      try (NDManager sm = model.manager().newSubManager();
          GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        Scored s = forward(model, batch, true, sm);
        gc.backward(s.loss());
        lossValue = s.loss().getFloat();
        metrics = PrmMetrics.of(batch, s.logits(), lossValue);
      }
      double norm = opt.step(model, lossValue);
      last = new StepStats(step, lr, norm, metrics, opt.skippedSteps());
      if (first == null) first = last;
      hooks.onStep(last);
      boolean end = step == total;
      if (!eval.isEmpty() && (end || (c.evalEvery > 0 && step % c.evalEvery == 0))) {
        evalAfter = evaluate(model, eval);
        hooks.onEval(step, evalAfter);
      }
      if ((c.checkpointEvery > 0 && step % c.checkpointEvery == 0) || end) hooks.onCheckpoint(step, model);
    }
    return new Result(total, examples.size(), first, last, evalBefore, evalAfter, (System.nanoTime() - t0) / 1e9);
  }

  /** Metrics of {@code examples} without gradients, {@code eval_batch_size} per pass; null for none. */
  public PrmMetrics evaluate(LlamaModel model, List<StepExample> examples) {
    if (examples.isEmpty()) return null;
    float[] logits = stepLogits(model, examples, c.evalBatchSize);
    double loss = 0;
    int k = 0;
    for (StepExample e : examples) {
      for (float y : e.labels()) {
        double z = logits[k++];
        loss += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y * z;
      }
    }
    return PrmMetrics.of(examples, logits, loss / k);
  }

  /** The head's logit at every step of {@code examples}, flattened in order, {@code batchSize} per pass. */
  public static float[] stepLogits(LlamaModel model, List<StepExample> examples, int batchSize) {
    List<float[]> parts = new ArrayList<>();
    int n = 0;
    for (int from = 0; from < examples.size(); from += batchSize) {
      List<StepExample> batch = examples.subList(from, Math.min(examples.size(), from + batchSize));
      try (NDManager sm = model.manager().newSubManager()) {
        float[] z = scores(model, batch, false, sm).toFloatArray();
        parts.add(z);
        n += z.length;
      }
    }
    float[] out = new float[n];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  private record Scored(NDArray loss, float[] logits) {}

  private Scored forward(LlamaModel model, List<StepExample> batch, boolean withGradients, NDManager sm) {
    NDArray z = scores(model, batch, withGradients, sm);
    int n = 0;
    for (StepExample e : batch) n += e.labels().length;
    float[] y = new float[n];
    int at = 0;
    for (StepExample e : batch) {
      System.arraycopy(e.labels(), 0, y, at, e.labels().length);
      at += e.labels().length;
    }
    return new Scored(StepLabelLoss.loss(z, sm.create(y)), z.toFloatArray());
  }

  private static NDArray scores(LlamaModel model, List<StepExample> batch, boolean withGradients, NDManager sm) {
    List<TokenSequence> seqs = new ArrayList<>(batch.size());
    int[][] ends = new int[batch.size()][];
    for (int i = 0; i < batch.size(); i++) {
      seqs.add(batch.get(i).sequence().sequence());
      ends[i] = batch.get(i).sequence().stepEnds();
    }
    return SequenceLogProbs.scoresAt(model, PackedBatch.pack(seqs, model.config().padTokenId()), ends, withGradients,
        sm);
  }
}
