package org.sparkrlhf.grpo.algos;

import ai.djl.ndarray.NDArray;

/**
 * Per-token estimators of KL(π_θ ‖ π_ref) from log-probs of tokens sampled from π_θ
 * (Schulman 2020, "Approximating KL Divergence", http://joschu.net/blog/kl-approx.html).
 */
public final class Kl {

    /** Log-ratio clamp before {@code exp}, as verl: keeps {@code exp} finite (and its gradient non-NaN). */
    public static final float LOG_RATIO_CLAMP = 20f;

    /** Clamp of the k3 value, as verl's {@code low_var_kl}. */
    public static final float K3_CLAMP = 10f;

    private Kl() {
    }

    /**
     * k3, the unbiased low-variance, always non-negative estimator used as GRPO's KL term
     * (verl's {@code low_var_kl}): with {@code d = ref − logp},
     * {@code k3 = exp(d) − d − 1}. As verl, {@code d} is clamped to [−20, 20] before {@code exp}
     * and the result to [−10, 10] (k3 ≥ 0, so in effect to at most 10; a clamped token has zero
     * gradient). Shapes [B, T] (or any equal shapes); element-wise, not masked.
     */
    public static NDArray k3(NDArray logProbs, NDArray refLogProbs) {
        NDArray d = refLogProbs.sub(logProbs).clip(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP);
        return d.exp().sub(d).sub(1f).clip(-K3_CLAMP, K3_CLAMP);
    }

    /** k1 = {@code logp − ref}, the plain log-ratio (unbiased, high variance, can be negative); for metrics. */
    public static NDArray k1(NDArray logProbs, NDArray refLogProbs) {
        return logProbs.sub(refLogProbs);
    }
}
