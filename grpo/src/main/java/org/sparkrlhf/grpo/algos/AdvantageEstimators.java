package org.sparkrlhf.grpo.algos;

import java.util.Map;
import java.util.TreeMap;

/**
 * Advantage estimators by config name:
 * {@code grpo} (group mean and unbiased std, eps 1e-6), {@code dr_grpo} (group mean only),
 * {@code rloo} (leave-one-out mean). See {@link Advantages}.
 */
public final class AdvantageEstimators {

    public static final String GRPO = "grpo";
    public static final String DR_GRPO = "dr_grpo";
    public static final String RLOO = "rloo";

    private static final Map<String, AdvantageEstimator> REGISTRY = new TreeMap<>(Map.of(
            GRPO, (s, g) -> Advantages.grpo(s, g, true, Advantages.DEFAULT_EPS),
            DR_GRPO, (s, g) -> Advantages.grpo(s, g, false, Advantages.DEFAULT_EPS),
            RLOO, Advantages::rloo));

    private AdvantageEstimators() {
    }

    /** @throws IllegalArgumentException for an unknown name, listing the known ones */
    public static AdvantageEstimator byName(String name) {
        AdvantageEstimator e = name == null ? null : REGISTRY.get(name);
        if (e == null) {
            throw new IllegalArgumentException("unknown advantage estimator '" + name + "'; known: "
                    + String.join(", ", REGISTRY.keySet()));
        }
        return e;
    }

    /** The known names, sorted. */
    public static java.util.Set<String> names() {
        return REGISTRY.keySet();
    }
}
