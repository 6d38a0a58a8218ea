package org.sparkrlhf.reward.process;

import ai.djl.ndarray.NDArray;

/**
 * The loss of a process reward model: binary cross-entropy between the step labels y ∈ [0, 1] (hard 0/1, or
 * Math-Shepherd's soft share of continuations that reached the answer) and σ(z), z the score head's logit at each
 * step's last token, averaged over the labelled steps of the batch:
 *
 * <pre>
 *   loss = mean(−y·log σ(z) − (1 − y)·log(1 − σ(z)))  =  mean(softplus(z) − y·z)
 * </pre>
 *
 * TRL's {@code PRMTrainer} trains a two-class token classifier with cross-entropy on the same positions; with one
 * logit z = (logit₊ − logit₋) that is this loss. The softplus form neither overflows nor loses the gradient for a
 * large |z|.
 */
public final class StepLabelLoss {
  private StepLabelLoss() {}

  /** {@code softplus(z) − y·z} per step, the shape of {@code logits}. */
  public static NDArray perStep(NDArray logits, NDArray labels) {
    return logits.getNDArrayInternal().softPlus().sub(logits.mul(labels));
  }

  /** The mean of {@link #perStep} over every step of the batch, a scalar; differentiable. */
  public static NDArray loss(NDArray logits, NDArray labels) {
    return perStep(logits, labels).mean();
  }
}
