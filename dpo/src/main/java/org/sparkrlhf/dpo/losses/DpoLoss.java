package org.sparkrlhf.dpo.losses;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.model.Scalars;

/**
 * Preference losses over per-sequence summed log-probs, as TRL's {@code DPOTrainer.dpo_loss}.
 * Each returns the per-pair losses [B]; the trainer takes their mean. The common quantity is
 * the difference of policy-vs-reference log-ratios
 * {@code h = (π_c − ref_c) − (π_r − ref_r)}. β and the label smoothing ε are taken as given: their ranges
 * (β &gt; 0, ε in [0, 0.5)) are checked once, by {@code DpoConfig.problems()}.
 */
public final class DpoLoss {

    private DpoLoss() {
    }

    /**
     * DPO (Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is
     * Secretly a Reward Model"), TRL's {@code loss_type="sigmoid"}:
     * {@code −(1−ε)·logσ(β·h) − ε·logσ(−β·h)}. With {@code labelSmoothing} ε &gt; 0 it is
     * conservative DPO (cDPO, Mitchell 2023, "A note on DPO with noisy preferences"): the
     * preference label is assumed flipped with probability ε. ε = 0 is plain DPO.
     * {@code logσ(x)} is computed as {@code −softplus(−x)} (stable, exact gradient at 0).
     *
     * @return per-pair losses [B]
     */
    public static NDArray sigmoid(NDArray policyChosen, NDArray policyRejected, NDArray refChosen,
            NDArray refRejected, double beta, double labelSmoothing) {
        NDArray z = Scalars.times(logRatioDifference(policyChosen, policyRejected, refChosen, refRejected), beta);
        NDArray loss = Scalars.times(logSigmoid(z), -(1 - labelSmoothing));
        if (labelSmoothing > 0) {
            loss = loss.sub(Scalars.times(logSigmoid(z.neg()), labelSmoothing));
        }
        return loss;
    }

    /**
     * IPO (Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human
     * Preferences"), TRL's {@code loss_type="ipo"}: {@code (h − 1/(2β))²} where, as TRL does,
     * each log-prob is first divided by its completion length (mean per-token log-prob):
     * {@code h = (π_c − ref_c)/|c| − (π_r − ref_r)/|r|}.
     *
     * @param chosenLengths [B] completion token counts of the chosen completions
     * @param rejectedLengths [B] completion token counts of the rejected completions
     * @return per-pair losses [B]
     */
    public static NDArray ipo(NDArray policyChosen, NDArray policyRejected, NDArray refChosen, NDArray refRejected,
            NDArray chosenLengths, NDArray rejectedLengths, double beta) {
        NDArray h = lengthNormalized(policyChosen.sub(refChosen), chosenLengths)
                .sub(lengthNormalized(policyRejected.sub(refRejected), rejectedLengths));
        return h.sub((float) (1 / (2 * beta))).square();
    }

    /**
     * Mean per-token negative log-likelihood of the chosen completions, the extra term of RPO
     * (Pang et al. 2024, "Iterative Reasoning Preference Optimization"; TRL's {@code rpo_alpha}):
     * {@code −Σ_b π_c[b] / Σ_b |c_b|}, a token mean over the whole batch as TRL's cross-entropy
     * (longer chosen completions weigh more). A scalar; the trainer adds {@code α ·} it.
     */
    public static NDArray nll(NDArray policyChosen, NDArray chosenLengths) {
        return policyChosen.sum().neg().div(chosenLengths.sum().maximum(1f));
    }

    /** {@code logps / lengths} (lengths clamped to ≥ 1), the mean per-token log-prob. */
    public static NDArray lengthNormalized(NDArray logps, NDArray lengths) {
        if (lengths == null) {
            throw new IllegalArgumentException("length normalisation needs completion lengths");
        }
        return logps.div(lengths.toType(logps.getDataType(), false).maximum(1f));
    }

    /** {@code h = (π_c − ref_c) − (π_r − ref_r)}, [B]. */
    public static NDArray logRatioDifference(NDArray policyChosen, NDArray policyRejected, NDArray refChosen,
            NDArray refRejected) {
        return policyChosen.sub(refChosen).sub(policyRejected.sub(refRejected));
    }

    /** {@code log σ(x) = −softplus(−x)}. */
    static NDArray logSigmoid(NDArray x) {
        return x.neg().getNDArrayInternal().softPlus().neg();
    }
}
