package org.sparkrlhf.dpo.losses;

import ai.djl.ndarray.NDArray;

/** A preference loss selected by name ({@code DpoLosses.REGISTRY}). */
@FunctionalInterface
public interface PreferenceLoss {

    /** Per-pair losses [B]. */
    NDArray losses(PreferenceLogps batch, double beta, double labelSmoothing);

    /**
     * The loss works on length-normalised log-probs (IPO), so its reward metrics do too, as in
     * TRL, where {@code rewards/*} and {@code logps/*} are computed from the same log-probs the
     * loss sees.
     */
    default boolean lengthNormalized() {
        return false;
    }
}
