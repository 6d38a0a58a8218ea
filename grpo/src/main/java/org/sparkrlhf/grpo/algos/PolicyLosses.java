package org.sparkrlhf.grpo.algos;

import org.sparkrlhf.core.algos.Registry;

/**
 * Policy losses by config name: {@value #PPO_CLIP}, PPO's clipped surrogate with DAPO's separate clip ranges
 * ({@link PolicyLoss#clippedSurrogate}). {@code REGISTRY.register(name, loss)} adds another.
 */
public final class PolicyLosses {

    public static final String PPO_CLIP = "ppo_clip";

    /** The policy losses by name (verl's {@code POLICY_LOSS_REGISTRY}). */
    public static final Registry<PolicyLoss> REGISTRY = new Registry<PolicyLoss>("policy loss")
            .register(PPO_CLIP, PolicyLoss::clippedSurrogate);

    private PolicyLosses() {
    }
}
