package org.sparkrlhf.grpo.algos;

import java.util.Map;
import java.util.TreeMap;

/**
 * Advantage estimators by config name:
 * {@code grpo} (group mean and unbiased std, eps 1e-6), {@code dr_grpo} (group mean only),
 * {@code rloo} (leave-one-out mean); and {@code grpo_process}, GRPO with process supervision, which needs step
 * rewards instead of one score per completion ({@link Advantages#grpoProcess}; see {@link #isProcess}).
 */
public final class AdvantageEstimators {

    public static final String GRPO = "grpo";
    public static final String DR_GRPO = "dr_grpo";
    public static final String RLOO = "rloo";
    public static final String GRPO_PROCESS = "grpo_process";

    private static final Map<String, AdvantageEstimator> REGISTRY = new TreeMap<>(Map.of(
            GRPO, (s, g) -> Advantages.grpo(s, g, true, Advantages.DEFAULT_EPS),
            DR_GRPO, (s, g) -> Advantages.grpo(s, g, false, Advantages.DEFAULT_EPS),
            RLOO, Advantages::rloo));

    private AdvantageEstimators() {
    }

    /** True for an estimator over step rewards ({@code grpo_process}) rather than one score per completion. */
    public static boolean isProcess(String name) {
        return GRPO_PROCESS.equals(name);
    }

    /**
     * The outcome estimator of a name.
     *
     * @throws IllegalArgumentException for an unknown name, listing the known ones, and for a process estimator
     */
    public static AdvantageEstimator byName(String name) {
        requireKnown(name);
        if (isProcess(name)) {
            throw new IllegalArgumentException("'" + name + "' takes step rewards, not one score per completion");
        }
        return REGISTRY.get(name);
    }

    /** @throws IllegalArgumentException for a name that is neither an outcome nor a process estimator */
    public static void requireKnown(String name) {
        if (name == null || !names().contains(name)) {
            throw new IllegalArgumentException("unknown advantage estimator '" + name + "'; known: "
                    + String.join(", ", names()));
        }
    }

    /** The known names, sorted. */
    public static java.util.Set<String> names() {
        java.util.Set<String> all = new java.util.TreeSet<>(REGISTRY.keySet());
        all.add(GRPO_PROCESS);
        return all;
    }
}
