package org.sparkrlhf.reward.process;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.reward.model.HeadTraining;
import org.sparkrlhf.reward.model.RewardConfig;

/**
 * Trains a process reward model on the driver, as TRL's {@code PRMTrainer} does with a one-logit head: each step
 * packs a batch of solutions into one {@link PackedBatch}, runs the backbone once with gradients, reads the scalar
 * head at every step's last token ({@link SequenceLogProbs#scoresAt}, no LM head) and minimises
 * {@link StepLabelLoss} over those positions only. The loop is {@link HeadTraining}'s. Settings are the
 * {@code reward} section's ({@link RewardConfig}; {@code batch_size} counts solutions).
 */
public final class PrmTrainer implements HeadTraining.Objective<StepExample, PrmMetrics> {
  private final RewardConfig c;

  public PrmTrainer(RewardConfig config) {
    List<String> problems = config.problems();
    if (!problems.isEmpty()) throw new IllegalArgumentException(String.join("; ", problems));
    this.c = config;
  }

  /** Steps a run over {@code n} solutions takes: max_steps, else epochs × ⌈n / batch_size⌉. */
  public int plannedSteps(int n) {
    return HeadTraining.plannedSteps(c, n);
  }

  /** Trains {@code model} (which must have the score head) in place ({@link HeadTraining}); {@code eval} may be empty. */
  public HeadTraining.Result<PrmMetrics> train(LlamaModel model, List<StepExample> examples, List<StepExample> eval,
      HeadTraining.Hooks<PrmMetrics> hooks) {
    if (examples.isEmpty()) throw new IllegalArgumentException("no step-labelled solutions to train on");
    return HeadTraining.train(c, model, examples, eval, this, hooks);
  }

  @Override
  public HeadTraining.Forward<PrmMetrics> forward(LlamaModel model, List<StepExample> batch, NDManager sm) {
    NDArray z = scores(model, batch, true, sm);
    float[] logits = z.toFloatArray();
    return new HeadTraining.Forward<>(StepLabelLoss.loss(z, sm.create(labels(batch))),
        loss -> PrmMetrics.of(batch, logits, loss));
  }

  /** Metrics of {@code examples} without gradients, {@code eval_batch_size} per pass; null for none. */
  @Override
  public PrmMetrics evaluate(LlamaModel model, List<StepExample> examples) {
    if (examples.isEmpty()) return null;
    float[] logits = stepLogits(model, examples, c.evalBatchSize);
    double loss;
    try (NDManager sm = model.manager().newSubManager()) {
      loss = StepLabelLoss.loss(sm.create(logits), sm.create(labels(examples))).getFloat();
    }
    return PrmMetrics.of(examples, logits, loss);
  }

  /** The step labels of {@code examples}, flattened in the order {@link #stepLogits} reads the steps. */
  private static float[] labels(List<StepExample> examples) {
    int n = 0;
    for (StepExample e : examples) n += e.labels().length;
    float[] y = new float[n];
    int at = 0;
    for (StepExample e : examples) {
      System.arraycopy(e.labels(), 0, y, at, e.labels().length);
      at += e.labels().length;
    }
    return y;
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
