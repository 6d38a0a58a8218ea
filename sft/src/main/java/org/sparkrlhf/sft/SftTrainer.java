package org.sparkrlhf.sft;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.train.PolicyOptimizer;
import org.sparkrlhf.core.train.TrainerState;

/**
 * Supervised fine-tuning on the driver: length-bucketed batches of demonstrations ({@link #example}), packed by
 * {@link PackedBatch}, loss on completion tokens only,
 * AdamW with warm-up and cosine decay, global-norm gradient clipping, validation loss (and, through a
 * caller-supplied probe, validation accuracy) every {@code evalEvery} steps. Where the data comes from
 * and where metrics and checkpoints go is the caller's business ({@link Hooks}).
 */
public final class SftTrainer {
  /** One optimizer step; {@code skippedSteps} counts the run's steps skipped so far for a non-finite loss. */
  public record StepStats(int step, double loss, double lr, double gradNorm, double tokensPerSecond,
      int skippedSteps) {}

  /** One evaluation; accuracy is NaN when not measured. */
  public record EvalStats(int step, double validLoss, double validAccuracy) {}

  /** Called from the training loop. */
  public interface Hooks {
    default void onStep(StepStats s) {}

    default void onEval(EvalStats e) {}

    default void onCheckpoint(int step, LlamaModel model) {}

    /**
     * A checkpoint with the trainer state (finished steps and optimizer moments) that {@link #resumeFrom} continues
     * from exactly; by default {@link #onCheckpoint(int, LlamaModel)}.
     */
    default void onCheckpoint(int step, LlamaModel model, java.util.function.Supplier<TrainerState> state) {
      onCheckpoint(step, model);
    }
  }

  /** What the run reached. */
  public record Result(
      int steps, double trainLoss, double validLoss, double validAccuracy, double tokensPerSecond,
      long trainedTokens, double trainSeconds, List<EvalStats> curve) {}

  private final SftConfig c;
  private TrainerState resume;

  public SftTrainer(SftConfig config) {
    this.c = config;
  }

  /**
   * Continues after the steps {@code state} has finished, with its optimizer moments and schedule position, on the
   * batches those steps would have been followed by: batch order is a function of (seed, epoch), so the model
   * (restored by the caller) and this state are the whole state, and the result equals an uninterrupted run's.
   */
  public SftTrainer resumeFrom(TrainerState state) {
    this.resume = state;
    return this;
  }

  public Result train(LlamaModel model, List<TokenSequence> train, List<TokenSequence> valid,
      ToDoubleFunction<LlamaModel> accuracyProbe, Hooks hooks) {
    if (train.isEmpty()) {
      throw new IllegalArgumentException("no training examples");
    }
    PolicyOptimizer opt = PolicyOptimizer.of(c, c.maxSteps);
    int done = 0;
    if (resume != null) {
      done = resume.iteration();
      if (done >= c.maxSteps) {
        throw new IllegalArgumentException("the state has finished " + done + " of " + c.maxSteps + " steps");
      }
      opt.restore(resume.optimizer());
    }
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
      if (step <= done) continue; // a resumed run's finished steps: only their place in the batch order
      long t0 = System.nanoTime();
      double lr = opt.nextLearningRate();
      double loss;
      double norm;
      int batchTokens = 0;
      try (NDManager sm = manager.newSubManager()) {
        PackedBatch packed = pack(train, batch, model.config().padTokenId());
        batchTokens = packed.predictedTokens();
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
          NDArray lp = SequenceLogProbs.compute(model, packed, 1.0, false, true, sm).tokenLogProbs();
          NDArray l = SftLoss.completionNll(lp, packed.lossMask(sm));
          gc.backward(l);
          loss = l.getFloat();
        }
        norm = opt.step(model, loss);
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
        hooks.onStep(new StepStats(step, lastTrainLoss, lr, norm, windowTokens / (windowNanos / 1e9),
            opt.skippedSteps()));
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
        int at = step;
        hooks.onCheckpoint(step, model, () -> new TrainerState(at, opt.state(), java.util.Map.of()));
      }
    }
    EvalStats fin = curve.get(curve.size() - 1);
    return new Result(c.maxSteps, lastTrainLoss, fin.validLoss(), fin.validAccuracy(),
        tokens / (trainNanos / 1e9), tokens, trainNanos / 1e9, curve);
  }

  /** Mean completion NLL over a set, token-weighted, without gradients. */
  public double validLoss(LlamaModel model, List<TokenSequence> valid) {
    if (valid.isEmpty()) return Double.NaN;
    double sum = 0;
    double count = 0;
    try (AutoCloseable ng = LlamaModel.noGrad()) {
      List<int[]> batches = SftBatches.epoch(valid, Math.min(c.batchSize, valid.size()), 0, 0);
      for (int[] batch : batches) {
        try (NDManager sm = model.manager().newSubManager()) {
          PackedBatch packed = pack(valid, batch, model.config().padTokenId());
          NDArray lossMask = packed.lossMask(sm);
          NDArray lp = SequenceLogProbs.compute(model, packed, 1.0, false, false, sm).tokenLogProbs();
          float tokensInBatch = lossMask.sum().getFloat();
          sum += SftLoss.completionNll(lp, lossMask).getFloat() * tokensInBatch;
          count += tokensInBatch;
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    return sum / count;
  }

  /**
   * A demonstration as SFT trains on it: {@code [bos] + prompt + completion + [eos]} by the shared
   * {@link TokenSequence} rule (no bos when the tokenizer has none), the completion and eos scored. The generator
   * is fed exactly the prompt part, so training and sampling see the same sequences.
   */
  public static TokenSequence example(TextTokenizer tok, String prompt, String completion) {
    return TokenSequence.encode(tok, prompt, completion, true);
  }

  /** The examples at {@code batch} (indices into {@code examples}), packed. */
  static PackedBatch pack(List<TokenSequence> examples, int[] batch, int padId) {
    List<TokenSequence> rows = new ArrayList<>(batch.length);
    for (int i : batch) rows.add(examples.get(i));
    return PackedBatch.pack(rows, padId);
  }
}
