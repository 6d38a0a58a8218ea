package org.sparkrlhf.grpo.algos;

import org.sparkrlhf.core.algos.Registry;

/**
 * Advantage estimators by config name (verl's {@code register_adv_est}): the sequence-level {@value #GRPO} (group
 * mean and unbiased std, eps 1e-6), {@value #DR_GRPO} (group mean only) and {@value #RLOO} (leave-one-out mean), and
 * the token-level {@value #GRPO_PROCESS}, GRPO with process supervision over step rewards
 * ({@link Advantages#grpoProcessPerToken}). {@code REGISTRY.register(name, estimator)} adds another, which
 * {@code grpo.advantage} then selects by that name.
 */
public final class AdvantageEstimators {

    public static final String GRPO = "grpo";
    public static final String DR_GRPO = "dr_grpo";
    public static final String RLOO = "rloo";
    public static final String GRPO_PROCESS = "grpo_process";

    /** The advantage estimators by name (verl's {@code ADV_ESTIMATOR_REGISTRY}). */
    public static final Registry<AdvantageEstimator> REGISTRY = new Registry<AdvantageEstimator>(
            "advantage estimator")
            .register(GRPO, AdvantageEstimator.outcome((s, g) -> Advantages.grpo(s, g, true, Advantages.DEFAULT_EPS)))
            .register(DR_GRPO,
                    AdvantageEstimator.outcome((s, g) -> Advantages.grpo(s, g, false, Advantages.DEFAULT_EPS)))
            .register(RLOO, AdvantageEstimator.outcome(Advantages::rloo))
            .register(GRPO_PROCESS, AdvantageEstimator.overSteps(in -> Advantages.grpoProcessPerToken(
                    in.stepRewards(), in.stepOfToken(), in.groupIds(), Advantages.DEFAULT_EPS)));

    private AdvantageEstimators() {
    }
}
