package org.sparkrlhf.reward.rules;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A weighted sum of rule-based rewards: {@code total = Σ weight_i · rule_i(input)}.
 * Rules are resolved when the function is built (an unknown name or a bad parameter fails
 * then, on the driver, not later on an executor). Serializable, so it ships to Spark
 * executors inside a closure.
 */
public final class RewardFunction implements Serializable {

    private static final long serialVersionUID = 1L;

    private final List<RewardRule> rules;
    private final double[] weights;

    private RewardFunction(List<RewardRule> rules, double[] weights) {
        this.rules = List.copyOf(rules);
        this.weights = weights.clone();
    }

    /**
     * Builds the function of {@code spec}.
     *
     * @throws IllegalArgumentException on an unknown rule name, a rule listed twice, a
     *     non-finite weight or a bad parameter
     */
    public static RewardFunction of(RewardSpec spec) {
        if (spec == null || spec.rules == null || spec.rules.isEmpty()) {
            throw new IllegalArgumentException("a reward spec needs at least one rule");
        }
        List<RewardRule> rules = new ArrayList<>();
        double[] weights = new double[spec.rules.size()];
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < spec.rules.size(); i++) {
            RewardSpec.RuleSpec r = spec.rules.get(i);
            if (r == null || r.name == null) {
                throw new IllegalArgumentException("reward rule " + i + " has no name");
            }
            if (!seen.add(r.name)) {
                throw new IllegalArgumentException("reward rule '" + r.name + "' is listed twice");
            }
            if (!Double.isFinite(r.weight)) {
                throw new IllegalArgumentException("reward rule '" + r.name + "' has weight " + r.weight);
            }
            rules.add(RewardRules.byName(r.name, r.params == null ? Map.of() : r.params));
            weights[i] = r.weight;
        }
        return new RewardFunction(rules, weights);
    }

    /** Scores one rollout: each rule's part and the weighted total. */
    public RewardResult apply(RewardInput in) {
        Map<String, Double> parts = new LinkedHashMap<>();
        double total = 0;
        for (int i = 0; i < rules.size(); i++) {
            double part = rules.get(i).score(in);
            parts.put(rules.get(i).name(), part);
            total += weights[i] * part;
        }
        return new RewardResult(total, parts);
    }

    /** The rule names, in spec order (the keys of {@link RewardResult#parts()}). */
    public List<String> ruleNames() {
        return rules.stream().map(RewardRule::name).toList();
    }
}
