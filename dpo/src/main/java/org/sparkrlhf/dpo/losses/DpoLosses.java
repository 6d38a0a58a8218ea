package org.sparkrlhf.dpo.losses;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.algos.Registry;

/**
 * Preference losses by config name, TRL's {@code loss_type}:
 * <ul>
 *   <li>{@code sigmoid}: DPO; label smoothing ε in [0, 0.5) allowed as in TRL (ε &gt; 0 is cDPO);</li>
 *   <li>{@code cdpo}: the same loss, but requires 0 &lt; ε &lt; 0.5 (a config saying cdpo with
 *       ε = 0 is a mistake, not plain DPO);</li>
 *   <li>{@code ipo}: IPO on length-normalised log-ratios; needs lengths; ε must be 0.</li>
 * </ul>
 * These ranges are checked once, by {@code DpoConfig.problems()} (the stage and the trainer refuse a config
 * that breaks them); the losses here compute with what they are given.
 * Open like the other registries ({@link Registry}): {@code REGISTRY.register(name, loss)} adds a loss that
 * {@code dpo.loss_type} then selects by that name.
 */
public final class DpoLosses {

    public static final String SIGMOID = "sigmoid";
    public static final String CDPO = "cdpo";
    public static final String IPO = "ipo";

    /** The preference losses by name; {@code REGISTRY.register(name, loss)} adds another. */
    public static final Registry<PreferenceLoss> REGISTRY = new Registry<PreferenceLoss>("DPO loss")
            .register(SIGMOID, DpoLosses::sigmoid)
            .register(CDPO, DpoLosses::sigmoid)
            .register(IPO, new Ipo());

    private DpoLosses() {
    }

    private static NDArray sigmoid(PreferenceLogps b, double beta, double labelSmoothing) {
        return DpoLoss.sigmoid(b.policyChosen(), b.policyRejected(), b.refChosen(), b.refRejected(), beta,
                labelSmoothing);
    }

    /** IPO on length-normalised log-ratios; its metrics are length-normalised too. */
    private static final class Ipo implements PreferenceLoss {
        @Override
        public NDArray losses(PreferenceLogps b, double beta, double labelSmoothing) {
            if (b.chosenLengths() == null || b.rejectedLengths() == null) {
                throw new IllegalArgumentException("ipo needs chosen and rejected lengths");
            }
            return DpoLoss.ipo(b.policyChosen(), b.policyRejected(), b.refChosen(), b.refRejected(),
                    b.chosenLengths(), b.rejectedLengths(), beta);
        }

        @Override
        public boolean lengthNormalized() {
            return true;
        }
    }
}
