package org.sparkrlhf.dpo.losses;

import ai.djl.ndarray.NDArray;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * TRL's DPO training metrics, each a mean over the batch. The implicit rewards are
 * {@code β·(π − ref)} of each completion (Rafailov et al. 2023, §5), computed without gradient.
 *
 * @param rewardsChosen {@code rewards/chosen}: mean β(π_c − ref_c)
 * @param rewardsRejected {@code rewards/rejected}: mean β(π_r − ref_r)
 * @param rewardsMargins {@code rewards/margins}: mean (chosen − rejected reward)
 * @param rewardsAccuracies {@code rewards/accuracies}: fraction of pairs with chosen reward
 *     strictly above rejected reward (a tie counts as wrong, as TRL's {@code >})
 * @param logpsChosen {@code logps/chosen}: mean π_c
 * @param logpsRejected {@code logps/rejected}: mean π_r
 */
public record DpoMetrics(double rewardsChosen, double rewardsRejected, double rewardsMargins,
        double rewardsAccuracies, double logpsChosen, double logpsRejected) {

    /** The metrics of summed log-probs. */
    public static DpoMetrics of(NDArray policyChosen, NDArray policyRejected, NDArray refChosen, NDArray refRejected,
            double beta) {
        NDArray chosen = policyChosen.stopGradient().sub(refChosen).mul((float) beta);
        NDArray rejected = policyRejected.stopGradient().sub(refRejected).mul((float) beta);
        NDArray margins = chosen.sub(rejected);
        return new DpoMetrics(
                chosen.mean().getFloat(),
                rejected.mean().getFloat(),
                margins.mean().getFloat(),
                chosen.gt(rejected).toType(chosen.getDataType(), false).mean().getFloat(),
                policyChosen.stopGradient().mean().getFloat(),
                policyRejected.stopGradient().mean().getFloat());
    }

    /**
     * The metrics as TRL reports them for {@code loss}: on length-normalised log-probs when the
     * loss uses them (IPO), on summed log-probs otherwise.
     */
    public static DpoMetrics of(PreferenceLogps batch, double beta, PreferenceLoss loss) {
        PreferenceLogps b = loss.lengthNormalized() ? batch.lengthNormalized() : batch;
        return of(b.policyChosen(), b.policyRejected(), b.refChosen(), b.refRejected(), beta);
    }

    /** By TRL's metric names, in this order. */
    public Map<String, Double> asMap() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("rewards/chosen", rewardsChosen);
        m.put("rewards/rejected", rewardsRejected);
        m.put("rewards/margins", rewardsMargins);
        m.put("rewards/accuracies", rewardsAccuracies);
        m.put("logps/chosen", logpsChosen);
        m.put("logps/rejected", logpsRejected);
        return m;
    }
}
