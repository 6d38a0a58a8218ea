package org.sparkrlhf.grpo.algos;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.algos.Kl;
import org.sparkrlhf.core.model.Scalars;

/**
 * The GRPO objective (Shao et al. 2024, "DeepSeekMath", eq. 3): the clipped surrogate plus
 * a KL penalty to the reference policy <em>inside the loss</em> (not folded into the reward
 * as in RLHF-PPO), estimated per token with k3:
 * {@code loss = surrogate + klCoef · aggregation(k3(logp, ref), mask)} — verl's
 * {@code use_kl_loss} with {@code kl_loss_type=low_var_kl}. Both terms use the same
 * aggregation. The surrogate and the KL estimator are parameters ({@link PolicyLosses}, {@link Kl}); the
 * defaults are the clipped surrogate and k3.
 */
public final class GrpoLoss {

    private GrpoLoss() {
    }

    /**
     * @param loss total scalar loss to backpropagate
     * @param policyLoss the surrogate part
     * @param klLoss the aggregated KL estimate (before {@code klCoef}); 0 when there is no KL term
     * @param clipFraction see {@link PolicyLoss.Result}
     * @param approxKl see {@link PolicyLoss.Result}
     */
    public record Result(NDArray loss, NDArray policyLoss, NDArray klLoss, float clipFraction, float approxKl) {
    }

    /**
     * The clipped surrogate ({@link PolicyLoss#clippedSurrogate}) plus the k3 KL term.
     *
     * @see #total(PolicyLoss, Kl.Estimator, NDArray, NDArray, NDArray, NDArray, NDArray, double, double, double,
     *     Aggregation)
     */
    public static Result total(NDArray logProbs, NDArray oldLogProbs, NDArray refLogProbs, NDArray advantages,
            NDArray mask, double clipLow, double clipHigh, double klCoef, Aggregation aggregation) {
        return total(PolicyLoss::clippedSurrogate, Kl::k3, logProbs, oldLogProbs, refLogProbs, advantages, mask,
                clipLow, clipHigh, klCoef, aggregation);
    }

    /**
     * @param policyLoss the surrogate
     * @param kl the per-token KL estimator of the KL term
     * @param refLogProbs [B, T] reference log-probs; may be null when {@code klCoef == 0}
     * @param klCoef β, the KL coefficient (e.g. 0.04 in DeepSeekMath; 0 disables the term)
     * @see PolicyLoss#compute for the other parameters
     */
    public static Result total(PolicyLoss policyLoss, Kl.Estimator kl, NDArray logProbs, NDArray oldLogProbs,
            NDArray refLogProbs, NDArray advantages, NDArray mask, double clipLow, double clipHigh, double klCoef,
            Aggregation aggregation) {
        PolicyLoss.Result pg = policyLoss.compute(
                logProbs, oldLogProbs, advantages, mask, clipLow, clipHigh, aggregation);
        if (klCoef == 0) {
            NDArray zero = pg.loss().getManager().create(0f);
            return new Result(pg.loss(), pg.loss(), zero, pg.clipFraction(), pg.approxKl());
        }
        if (refLogProbs == null) {
            throw new IllegalArgumentException("klCoef = " + klCoef + " needs reference log-probs");
        }
        NDArray klLoss = aggregation.apply(kl.apply(logProbs, refLogProbs), mask);
        return new Result(pg.loss().add(Scalars.times(klLoss, klCoef)), pg.loss(), klLoss, pg.clipFraction(),
                pg.approxKl());
    }
}
