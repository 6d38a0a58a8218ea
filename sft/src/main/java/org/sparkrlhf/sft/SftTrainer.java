package org.sparkrlhf.sft;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.train.LrSchedule;
import org.sparkrlhf.core.train.PolicyOptimizer;

/**
 * Supervised fine-tuning on the driver: length-bucketed batches, loss on completion tokens only,
 * AdamW with warm-up and cosine decay, global-norm gradient clipping, validation loss (and, through a
 * caller-supplied probe, validation accuracy) every {@code evalEvery} steps. Where the data comes from
 * and where metrics and checkpoints go is the caller's business ({@link Hooks}).
 */
public final class SftTrainer {
  /** One optimizer step. */
  public record StepStats(int step, double loss, double lr, double gradNorm, double tokensPerSecond) {}

  /** One evaluation; accuracy is NaN when not measured. */
  public record EvalStats(int step, double validLoss, double validAccuracy) {}

  /** Called from the training loop. */
  public interface Hooks {
    default void onStep(StepStats s) {}

    default void onEval(EvalStats e) {}

    default void onCheckpoint(int step, LlamaModel model) {}
  }

  /** What the run reached. */
  public record Result(
      int steps, double trainLoss, double validLoss, double validAccuracy, double tokensPerSecond,
      long trainedTokens, double trainSeconds, List<EvalStats> curve) {}

  private final SftConfig c;

  public SftTrainer(SftConfig config) {
    this.c = config;
  }

  public Result train(LlamaModel model, List<SftExample> train, List<SftExample> valid,
      ToDoubleFunction<LlamaModel> accuracyProbe, Hooks hooks) {
    if (train.isEmpty()) {
      throw new IllegalArgumentException("no training examples");
    }
    PolicyOptimizer opt = new PolicyOptimizer(
        new LrSchedule(c.lr, c.warmupSteps, c.maxSteps, c.minLrRatio), c.weightDecay, c.beta1, c.beta2, c.gradClip);
    model.attachGradient();
    NDManager manager = model.manager();
    List<EvalStats> curve = new ArrayList<>();
    List<int[]> batches = List.of();
    int epoch = -1;
    int cursor = 0;
    long tokens = 0;
    double trainNanos = 0;
    double recentLoss = 0;
    int recentCount = 0;
    double lastTrainLoss = Double.NaN;
    long windowTokens = 0;
    double windowNanos = 0;
    for (int step = 1; step <= c.maxSteps; step++) {
      if (cursor >= batches.size()) {
        epoch++;
        batches = SftBatches.epoch(train, c.batchSize, c.seed, epoch);
        cursor = 0;
      }
      int[] batch = batches.get(cursor++);
      long t0 = System.nanoTime();
      double lr = opt.nextLearningRate();
      double loss;
      double norm;
      int batchTokens = 0;
      try (NDManager sm = manager.newSubManager()) {
        Tensors t = tensors(sm, train, batch, model.config().padTokenId());
        batchTokens = t.realTokens;
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
          NDArray logits = model.logits(t.inputs, null, null, null);
          NDArray l = SftLoss.completionNll(logits, t.targets, t.mask);
          gc.backward(l);
          loss = l.getFloat();
        }
        norm = opt.step(model);
      }
      long dt = System.nanoTime() - t0;
      trainNanos += dt;
      windowNanos += dt;
      tokens += batchTokens;
      windowTokens += batchTokens;
      recentLoss += loss;
      recentCount++;
      if (step % c.logEvery == 0 || step == c.maxSteps) {
        lastTrainLoss = recentLoss / recentCount;
        hooks.onStep(new StepStats(step, lastTrainLoss, lr, norm, windowTokens / (windowNanos / 1e9)));
        recentLoss = 0;
        recentCount = 0;
        windowTokens = 0;
        windowNanos = 0;
      }
      boolean last = step == c.maxSteps;
      if ((c.evalEvery > 0 && step % c.evalEvery == 0) || last) {
        double vl = validLoss(model, valid);
        double acc = accuracyProbe == null ? Double.NaN : accuracyProbe.applyAsDouble(model);
        EvalStats e = new EvalStats(step, vl, acc);
        curve.add(e);
        hooks.onEval(e);
      }
      if ((c.checkpointEvery > 0 && step % c.checkpointEvery == 0) || last) {
        hooks.onCheckpoint(step, model);
      }
    }
    EvalStats fin = curve.get(curve.size() - 1);
    return new Result(c.maxSteps, lastTrainLoss, fin.validLoss(), fin.validAccuracy(),
        tokens / (trainNanos / 1e9), tokens, trainNanos / 1e9, curve);
  }

  /** Mean completion NLL over a set, token-weighted, without gradients. */
  public double validLoss(LlamaModel model, List<SftExample> valid) {
    if (valid.isEmpty()) return Double.NaN;
    double sum = 0;
    double count = 0;
    try (AutoCloseable ng = LlamaModel.noGrad()) {
      List<int[]> batches = SftBatches.epoch(valid, Math.min(c.batchSize, valid.size()), 0, 0);
      for (int[] batch : batches) {
        try (NDManager sm = model.manager().newSubManager()) {
          Tensors t = tensors(sm, valid, batch, model.config().padTokenId());
          NDArray logits = model.logits(t.inputs, null, null, null);
          float tokensInBatch = t.mask.sum().getFloat();
          sum += SftLoss.completionNll(logits, t.targets, t.mask).getFloat() * tokensInBatch;
          count += tokensInBatch;
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    return sum / count;
  }

  /** A batch as tensors: inputs/targets shifted by one, right-padded; mask = completion targets. */
  record Tensors(NDArray inputs, NDArray targets, NDArray mask, int realTokens) {}

  static Tensors tensors(NDManager m, List<SftExample> examples, int[] batch, int padId) {
    int maxLen = 0;
    for (int i : batch) maxLen = Math.max(maxLen, examples.get(i).length());
    int t = maxLen - 1;
    long[] in = new long[batch.length * t];
    long[] tg = new long[batch.length * t];
    float[] mk = new float[batch.length * t];
    int pad = Math.max(padId, 0);
    java.util.Arrays.fill(in, pad);
    java.util.Arrays.fill(tg, pad);
    int real = 0;
    for (int b = 0; b < batch.length; b++) {
      SftExample e = examples.get(batch[b]);
      int[] tok = e.tokens();
      for (int j = 0; j < tok.length - 1; j++) {
        in[b * t + j] = tok[j];
        tg[b * t + j] = tok[j + 1];
        // target j is token j+1: a completion token (or eos) when j+1 >= promptLength
        mk[b * t + j] = j + 1 >= e.promptLength() ? 1f : 0f;
      }
      real += tok.length - 1;
    }
    Shape s = new Shape(batch.length, t);
    return new Tensors(m.create(in, s), m.create(tg, s), m.create(mk, s), real);
  }
}
