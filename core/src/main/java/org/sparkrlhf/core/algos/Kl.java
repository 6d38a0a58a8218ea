package org.sparkrlhf.core.algos;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.model.Scalars;

/**
 * Per-token estimators of KL(π_θ ‖ π_ref) from log-probs of tokens sampled from π_θ (Schulman 2020,
 * "Approximating KL Divergence", http://joschu.net/blog/kl-approx.html), registered by name as verl's
 * {@code kl_penalty}: {@value #K1}, {@value #K2}, {@value #K3}. In core so that every trainer (GRPO's KL term, PPO's
 * reward penalty, DPO) selects them the same way; {@code REGISTRY.register(name, estimator)} adds another.
 */
public final class Kl {

  /** An estimator: per-token values of the shape of its (equal-shaped) inputs, element-wise, not masked. */
  @FunctionalInterface
  public interface Estimator {
    NDArray apply(NDArray logProbs, NDArray refLogProbs);
  }

  public static final String K1 = "k1";
  public static final String K2 = "k2";
  public static final String K3 = "k3";

  /** Log-ratio clamp before {@code exp}, as verl: keeps {@code exp} finite (and its gradient non-NaN). */
  public static final float LOG_RATIO_CLAMP = 20f;

  /** Clamp of the k3 value, as verl's {@code low_var_kl}. */
  public static final float K3_CLAMP = 10f;

  /** The estimators by name. */
  public static final Registry<Estimator> REGISTRY = new Registry<Estimator>("KL estimator")
      .register(K1, Kl::k1).register(K2, Kl::k2).register(K3, Kl::k3);

  private Kl() {
  }

  /** k1 = {@code logp − ref}, the plain log-ratio (unbiased, high variance, can be negative); verl's {@code kl}. */
  public static NDArray k1(NDArray logProbs, NDArray refLogProbs) {
    return logProbs.sub(refLogProbs);
  }

  /**
   * k2 = {@code ½ (logp − ref)²}: biased, low variance, never negative, and its gradient is that of the true KL to
   * first order; verl's {@code mse}.
   */
  public static NDArray k2(NDArray logProbs, NDArray refLogProbs) {
    return Scalars.times(logProbs.sub(refLogProbs).square(), 0.5);
  }

  /**
   * k3, the unbiased low-variance, always non-negative estimator used as GRPO's KL term (verl's {@code low_var_kl}):
   * with {@code d = ref − logp}, {@code k3 = exp(d) − d − 1}. As verl, {@code d} is clamped to [−20, 20] before
   * {@code exp} and the result to [−10, 10] (k3 ≥ 0, so in effect to at most 10; a clamped token has zero gradient).
   */
  public static NDArray k3(NDArray logProbs, NDArray refLogProbs) {
    NDArray d = refLogProbs.sub(logProbs).clip(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
    return d.exp().sub(d).sub(1f).clip(-K3_CLAMP, K3_CLAMP);
  }
}
