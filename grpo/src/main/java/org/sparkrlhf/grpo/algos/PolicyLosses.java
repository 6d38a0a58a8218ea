package org.sparkrlhf.grpo.algos;

import org.sparkrlhf.core.algos.Registry;

/**
 * Policy losses by config name: {@value #PPO_CLIP}, PPO's clipped surrogate with DAPO's separate clip ranges
 * ({@link PolicyLoss#clippedSurrogate}), and {@value #DUAL_CLIP}, the same with the dual clip for negative advantages
 * ({@link PolicyLoss#dualClippedSurrogate}). {@code REGISTRY.register(name, loss)} adds another.
 */
public final class PolicyLosses {

    public static final String PPO_CLIP = "ppo_clip";
    public static final String DUAL_CLIP = "dual_clip";

    /** The policy losses by name (verl's {@code POLICY_LOSS_REGISTRY}). */
    public static final Registry<PolicyLoss> REGISTRY = new Registry<PolicyLoss>("policy loss")
            .register(PPO_CLIP, PolicyLoss::clippedSurrogate)
            .register(DUAL_CLIP, (lp, old, adv, mask, lo, hi, agg) ->
                    PolicyLoss.dualClippedSurrogate(lp, old, adv, mask, lo, hi, PolicyLoss.DUAL_CLIP_C, agg));

    private PolicyLosses() {
    }
}
