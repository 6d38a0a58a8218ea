package org.sparkrlhf.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.training.optimizer.Optimizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.model.LlamaModel;

/**
 * AdamW over a model's parameters, as the driver runs it for every trainer (SFT, reward, DPO, GRPO):
 * decoupled weight decay on the matrices only (norm gains and the scalar head's bias-free row are
 * left undecayed, as in nanoGPT/Llama), a learning-rate schedule, and clipping by the global L2 norm of
 * all gradients (not per element) before the update. Uses DJL's own AdamW for the update itself.
 */
public final class PolicyOptimizer {
  private final LrSchedule schedule;
  private final double clipNorm;
  private final Optimizer decayed;
  private final Optimizer undecayed;
  private int step;

  /**
   * @param schedule learning rate per step
   * @param weightDecay decoupled decay for matrices (e.g. 0.1)
   * @param beta1 Adam beta1 (0.9)
   * @param beta2 Adam beta2 (0.95 for small models trained fast, 0.999 by default in torch)
   * @param clipNorm global gradient-norm limit; 0 or less disables clipping
   */
  public PolicyOptimizer(LrSchedule schedule, double weightDecay, double beta1, double beta2, double clipNorm) {
    this.schedule = schedule;
    this.clipNorm = clipNorm;
    this.decayed =
        Optimizer.adamW().optLearningRateTracker(schedule).optWeightDecays((float) weightDecay)
            .optBeta1((float) beta1).optBeta2((float) beta2).optEpsilon(1e-8f).build();
    this.undecayed =
        Optimizer.adamW().optLearningRateTracker(schedule).optWeightDecays(0f)
            .optBeta1((float) beta1).optBeta2((float) beta2).optEpsilon(1e-8f).build();
  }

  /** Matrices decay; 1-D gains (RMSNorm weights) do not. */
  static boolean decays(String name, NDArray weight) {
    return weight.getShape().dimension() >= 2;
  }

  /** Number of updates taken so far. */
  public int steps() {
    return step;
  }

  /** Learning rate the next update will use. */
  public double nextLearningRate() {
    return schedule.at(step + 1);
  }

  /**
   * Clips and applies the gradients currently attached to the model's parameters, then clears them.
   * Returns the global gradient norm before clipping.
   */
  public double step(LlamaModel model) {
    Map<String, NDArray> params = model.parameters();
    List<NDArray> grads = new ArrayList<>(params.size());
    double sq = 0;
    for (NDArray w : params.values()) {
      NDArray g = w.getGradient();
      grads.add(g);
    }
    // One reduction per tensor, summed in Java: a handful of scalars, not a copy of the gradients.
    for (NDArray g : grads) {
      try (NDArray s = g.square().sum()) {
        sq += s.getFloat();
      }
    }
    double norm = Math.sqrt(sq);
    if (clipNorm > 0 && norm > clipNorm) {
      float scale = (float) (clipNorm / (norm + 1e-6));
      for (NDArray g : grads) {
        g.muli(scale);
      }
    }
    step++;
    int i = 0;
    for (Map.Entry<String, NDArray> e : params.entrySet()) {
      NDArray g = grads.get(i++);
      (decays(e.getKey(), e.getValue()) ? decayed : undecayed).update(e.getKey(), e.getValue(), g);
    }
    for (NDArray g : grads) {
      g.close();
    }
    model.zeroGradients();
    return norm;
  }
}
