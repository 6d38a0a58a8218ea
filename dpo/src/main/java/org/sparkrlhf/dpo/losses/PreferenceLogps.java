package org.sparkrlhf.dpo.losses;

import ai.djl.ndarray.NDArray;

/**
 * Per-pair summed completion log-probs of a batch of preference pairs, all [B].
 *
 * @param policyChosen Σ_t log π_θ(chosen_t | …) (with gradient)
 * @param policyRejected Σ_t log π_θ(rejected_t | …) (with gradient)
 * @param refChosen the same under the frozen reference
 * @param refRejected the same under the frozen reference
 * @param chosenLengths completion token counts |c| (float, ≥ 1); may be null unless a loss needs them
 * @param rejectedLengths completion token counts |r|; may be null unless a loss needs them
 */
public record PreferenceLogps(NDArray policyChosen, NDArray policyRejected, NDArray refChosen, NDArray refRejected,
        NDArray chosenLengths, NDArray rejectedLengths) {

    /** Without lengths (enough for the sigmoid losses). */
    public PreferenceLogps(NDArray policyChosen, NDArray policyRejected, NDArray refChosen, NDArray refRejected) {
        this(policyChosen, policyRejected, refChosen, refRejected, null, null);
    }

    /** Every log-prob divided by its completion length (TRL's IPO view); lengths stay. */
    public PreferenceLogps lengthNormalized() {
        if (chosenLengths == null || rejectedLengths == null) {
            throw new IllegalArgumentException("length normalisation needs chosen and rejected lengths");
        }
        return new PreferenceLogps(DpoLoss.lengthNormalized(policyChosen, chosenLengths),
                DpoLoss.lengthNormalized(policyRejected, rejectedLengths),
                DpoLoss.lengthNormalized(refChosen, chosenLengths),
                DpoLoss.lengthNormalized(refRejected, rejectedLengths), chosenLengths, rejectedLengths);
    }
}
