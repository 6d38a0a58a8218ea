package org.sparkrlhf.reward.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleFunction;
import java.util.function.Supplier;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.train.EpochBatches;
import org.sparkrlhf.core.train.PolicyOptimizer;
import org.sparkrlhf.core.train.TrainerState;

/**
 * The training loop of a model with the scalar head, shared by the outcome ({@link RewardModelTrainer}) and the
 * process ({@code PrmTrainer}) reward models, which differ only in what a batch is and where the head is read
 * ({@link Objective}). Batches of {@code batch_size} examples in a seeded order ({@link EpochBatches}), one backward
 * pass each, AdamW via {@link PolicyOptimizer} with its non-finite guard; the held-out examples evaluated before the
 * first step, every {@code eval_every} steps and after the last; a checkpoint every {@code checkpoint_every} steps
 * and at the end, with the {@link TrainerState} (finished steps, AdamW moments) a resumed run continues from: the
 * batch order is a function of the seed, so a resumed run ends with an uninterrupted run's weights.
 *
 * @param <E> an example (a pair, a step-labelled solution)
 * @param <M> the metrics of a batch or of the held-out set
 */
public final class HeadTraining {
  private HeadTraining() {}

  /** What the loop needs of an algorithm. */
  public interface Objective<E, M> {
    /** One batch in a gradient pass: the loss to backpropagate, and its metrics from the loss's value. */
    Forward<M> forward(LlamaModel model, List<E> batch, NDManager sm);

    /** The metrics of {@code examples} without gradients; null for none. */
    M evaluate(LlamaModel model, List<E> examples);
  }

  /** A batch's differentiable loss and how its metrics follow from the loss's value. */
  public record Forward<M>(NDArray loss, DoubleFunction<M> metrics) {}

  /** One optimizer step: lr, grad norm, the batch's metrics, examples per second, skipped steps so far. */
  public record Step<M>(int step, double lr, double gradNorm, M metrics, double examplesPerSecond, int skippedSteps) {}

  /** Called from the loop. */
  public interface Hooks<M> {
    default void onStep(Step<M> s) {}

    /** The held-out metrics after {@code step} optimizer steps (0 = before training). */
    default void onEval(int step, M metrics) {}

    default void onCheckpoint(int step, LlamaModel model) {}

    /**
     * A checkpoint with the trainer state {@link #train(RewardConfig, LlamaModel, List, List, Objective, Hooks,
     * TrainerState)} resumes from; by default {@link #onCheckpoint(int, LlamaModel)}.
     */
    default void onCheckpoint(int step, LlamaModel model, Supplier<TrainerState> state) {
      onCheckpoint(step, model);
    }
  }

  /** What a run did; the held-out metrics are null without held-out examples. */
  public record Result<M>(int steps, int examples, Step<M> first, Step<M> last, M evalBefore, M evalAfter,
      double trainSeconds) {}

  /** Steps a run over {@code n} examples takes: max_steps, else epochs × ⌈n / batch_size⌉. */
  public static int plannedSteps(RewardConfig c, int n) {
    return EpochBatches.plannedSteps(n, c.batchSize, c.epochs, c.maxSteps);
  }

  /** Trains {@code model} (which must have the score head) in place on {@code examples}; {@code eval} may be empty. */
  public static <E, M> Result<M> train(RewardConfig c, LlamaModel model, List<E> examples, List<E> eval,
      Objective<E, M> objective, Hooks<M> hooks) {
    return train(c, model, examples, eval, objective, hooks, null);
  }

  /**
   * As {@link #train(RewardConfig, LlamaModel, List, List, Objective, Hooks)}, continuing after the steps
   * {@code resume} has finished (null: from the start) with its optimizer moments and schedule position, on the
   * batches those steps would have been followed by; {@code model} holds that checkpoint's weights. The held-out
   * metrics before the first step of a resumed run are not reported again (the run it continues reported them).
   */
  public static <E, M> Result<M> train(RewardConfig c, LlamaModel model, List<E> examples, List<E> eval,
      Objective<E, M> objective, Hooks<M> hooks, TrainerState resume) {
    if (examples.isEmpty()) throw new IllegalArgumentException("no examples to train on");
    if (!model.hasScoreHead()) throw new IllegalArgumentException("a reward model needs the score head");
    int total = plannedSteps(c, examples.size());
    PolicyOptimizer opt = PolicyOptimizer.of(c, total);
    int done = 0;
    if (resume != null) {
      done = resume.iteration();
      if (done >= total) throw new IllegalArgumentException("the state has finished " + done + " of " + total + " steps");
      opt.restore(resume.optimizer());
    }
    M evalBefore = objective.evaluate(model, eval);
    if (evalBefore != null && resume == null) hooks.onEval(0, evalBefore);
    M evalAfter = evalBefore;
    model.attachGradient();
    EpochBatches<E> batches = new EpochBatches<>(examples, c.batchSize, c.seed);
    Step<M> first = null;
    Step<M> last = null;
    double nanos = 0;
    for (int step = 1; step <= total; step++) {
      List<E> batch = batches.next();
      if (step <= done) continue;  // a resumed run's finished steps: only their place in the batch order
      long t0 = System.nanoTime();
      double lr = opt.nextLearningRate();
      M metrics;
      double lossValue;
      try (NDManager sm = model.manager().newSubManager();
          GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        Forward<M> f = objective.forward(model, batch, sm);
        gc.backward(f.loss());
        lossValue = f.loss().getFloat();
        metrics = f.metrics().apply(lossValue);
      }
      // A non-finite loss or gradient skips the step (PolicyOptimizer's guard, as in every trainer).
      double norm = opt.step(model, lossValue);
      double dt = System.nanoTime() - t0;
      nanos += dt;
      last = new Step<>(step, lr, norm, metrics, batch.size() / (dt / 1e9), opt.skippedSteps());
      if (first == null) first = last;
      hooks.onStep(last);
      boolean end = step == total;
      if (!eval.isEmpty() && (end || (c.evalEvery > 0 && step % c.evalEvery == 0))) {
        evalAfter = objective.evaluate(model, eval);
        hooks.onEval(step, evalAfter);
      }
      if ((c.checkpointEvery > 0 && step % c.checkpointEvery == 0) || end) {
        int at = step;
        hooks.onCheckpoint(step, model, () -> new TrainerState(at, opt.state(), Map.of()));
      }
    }
    return new Result<>(total, examples.size(), first, last, evalBefore, evalAfter, nanos / 1e9);
  }
}
