package org.sparkrlhf.grpo.algos;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.algos.Kl;

/**
 * A policy-gradient surrogate loss over per-token log-probs, selected by name from {@link PolicyLosses}
 * (verl's {@code register_policy_loss}).
 */
@FunctionalInterface
public interface PolicyLoss {

    /**
     * The result of a surrogate loss.
     *
     * @param loss the aggregated scalar loss (in the autograd graph of {@code logProbs})
     * @param clipFraction fraction of masked tokens where the clipped term was the active
     *     (larger) loss, i.e. the gradient was cut off; verl's {@code pg_clipfrac}
     * @param approxKl masked token-mean of {@code old − new} log-probs, a k1 estimate of
     *     KL(π_old ‖ π_θ) on samples from π_old; verl's {@code ppo_kl}
     */
    record Result(NDArray loss, float clipFraction, float approxKl) {
    }

    /**
     * The loss of a batch.
     *
     * @param logProbs [B, T] current policy log-probs of the sampled tokens (with gradient)
     * @param oldLogProbs [B, T] log-probs under the policy that sampled them (no gradient)
     * @param advantages [B] (one per sequence, broadcast over tokens) or [B, T]
     * @param mask [B, T] float 0/1, 1 on completion tokens
     * @param clipLow ε_low, the ratio's lower clip range, for losses that clip
     * @param clipHigh ε_high, the upper one
     */
    Result compute(NDArray logProbs, NDArray oldLogProbs, NDArray advantages, NDArray mask, double clipLow,
            double clipHigh, Aggregation aggregation);

    /**
     * PPO's token-level clipped surrogate (Schulman et al. 2017, "Proximal Policy Optimization
     * Algorithms") with separate lower and upper clip ranges (DAPO's clip-higher, Yu et al.
     * 2025, "DAPO: An Open-Source LLM Reinforcement Learning System at Scale"), as verl's
     * {@code compute_policy_loss} (without its dual-clip):
     * <pre>
     * ratio_t = exp(clamp(logp_t − old_t, −20, 20))
     * loss_t  = max(−A·ratio_t, −A·clip(ratio_t, 1 − clipLow, 1 + clipHigh))
     *         = −min(ratio_t·A, clip(ratio_t, 1 − clipLow, 1 + clipHigh)·A)
     * </pre>
     * then {@code aggregation(loss, mask)}. A token is counted as clipped when
     * {@code −A·clip(ratio) > −A·ratio} strictly (a positive advantage with ratio above
     * 1 + clipHigh, or a negative one with ratio below 1 − clipLow).
     *
     * Registered as {@value PolicyLosses#PPO_CLIP}. {@code clipLow} ε_low is e.g. 0.2, {@code clipHigh} ε_high e.g.
     * 0.2 (PPO) or 0.28 (DAPO); the other parameters as {@link #compute}.
     */
    static Result clippedSurrogate(NDArray logProbs, NDArray oldLogProbs, NDArray advantages, NDArray mask,
            double clipLow, double clipHigh, Aggregation aggregation) {
        Clipped t = Clipped.of(logProbs, oldLogProbs, advantages, clipLow, clipHigh);
        return t.result(t.lossMat(), mask, aggregation);
    }

    /** The per-token terms of the clipped surrogate, shared by its variants. */
    final class Clipped {
        final NDArray adv;
        final NDArray logRatio;
        final NDArray unclipped;
        final NDArray clipped;

        private Clipped(NDArray adv, NDArray logRatio, NDArray unclipped, NDArray clipped) {
            this.adv = adv;
            this.logRatio = logRatio;
            this.unclipped = unclipped;
            this.clipped = clipped;
        }

        static Clipped of(NDArray logProbs, NDArray oldLogProbs, NDArray advantages, double clipLow, double clipHigh) {
            NDArray adv = advantages.getShape().dimension() == 1 ? advantages.expandDims(1) : advantages;
            NDArray logRatio = logProbs.sub(oldLogProbs).clip(-Kl.LOG_RATIO_CLAMP, Kl.LOG_RATIO_CLAMP);
            NDArray ratio = logRatio.exp();
            return new Clipped(adv, logRatio, adv.mul(ratio).neg(), adv.mul(ratio.clip(1 - clipLow, 1 + clipHigh)).neg());
        }

        /** {@code max(−A·ratio, −A·clip(ratio))} per token. */
        NDArray lossMat() {
            return unclipped.maximum(clipped);
        }

        /** The aggregated loss of {@code lossMat}, with the clip fraction and approximate KL of these terms. */
        Result result(NDArray lossMat, NDArray mask, Aggregation aggregation) {
            NDArray loss = aggregation.apply(lossMat, mask);
            NDArray clippedActive = clipped.gt(unclipped).toType(mask.getDataType(), false);
            float clipFraction = Aggregation.tokenMean(clippedActive, mask).getFloat();
            float approxKl = Aggregation.tokenMean(logRatio.neg().stopGradient(), mask).getFloat();
            return new Result(loss, clipFraction, approxKl);
        }
    }

    /** verl's default lower bound {@code clip_ratio_c} of the dual clip. */
    double DUAL_CLIP_C = 3.0;

    /**
     * The clipped surrogate with the dual clip (Ye et al. 2020, "Mastering Complex Control in MOBA Games with Deep
     * Reinforcement Learning"; verl's {@code clip_ratio_c}): for a negative advantage the clipped surrogate grows
     * without bound with the ratio, so its loss is capped at {@code −A·c} (c &gt; 1):
     * <pre>
     * loss_t = A &lt; 0 ? min(−A·c, ppo_clip_t) : ppo_clip_t
     * </pre>
     * Registered as {@value PolicyLosses#DUAL_CLIP} with c = {@value #DUAL_CLIP_C}; clip fraction and approximate KL
     * as {@link #clippedSurrogate}.
     */
    static Result dualClippedSurrogate(NDArray logProbs, NDArray oldLogProbs, NDArray advantages, NDArray mask,
            double clipLow, double clipHigh, double c, Aggregation aggregation) {
        Clipped t = Clipped.of(logProbs, oldLogProbs, advantages, clipLow, clipHigh);
        NDArray ppo = t.lossMat();
        NDArray capped = ppo.minimum(t.adv.mul((float) c).neg());
        NDArray negative = t.adv.lt(0f).toType(mask.getDataType(), false);
        return t.result(capped.mul(negative).add(ppo.mul(negative.neg().add(1f))), mask, aggregation);
    }
}
