package org.sparkrlhf.reward.rules;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which rules make up a reward, as it comes from config (plain public fields, so Jackson binds
 * it directly; field names are already snake_case-compatible):
 *
 * <pre>
 * rules = [{name: correct_answer, weight: 1.0},
 *          {name: format, weight: 0.1},
 *          {name: length_limit, weight: 1.0, params: {max_tokens: 64}}]
 * </pre>
 */
public class RewardSpec implements Serializable {

    private static final long serialVersionUID = 1L;

    /** One weighted rule. */
    public static class RuleSpec implements Serializable {

        private static final long serialVersionUID = 1L;

        /** Registry name of the rule (see {@link RewardRules#names()}). */
        public String name;

        /** Multiplies the rule's score in the total. Default 1.0. */
        public double weight = 1.0;

        /** Rule parameters, e.g. {@code max_tokens} for {@code length_limit}. Default none. */
        public Map<String, Object> params = new LinkedHashMap<>();

        public RuleSpec() {
        }

        public RuleSpec(String name, double weight) {
            this(name, weight, Map.of());
        }

        public RuleSpec(String name, double weight, Map<String, Object> params) {
            this.name = name;
            this.weight = weight;
            this.params = new LinkedHashMap<>(params);
        }
    }

    /** The rules, in order; a name may appear only once. Default: {@code correct_answer} with weight 1. */
    public List<RuleSpec> rules = new ArrayList<>(List.of(new RuleSpec(RewardRules.CORRECT_ANSWER, 1.0)));

    public RewardSpec() {
    }

    /** A spec of the given rules. */
    public static RewardSpec of(RuleSpec... rules) {
        RewardSpec spec = new RewardSpec();
        spec.rules = new ArrayList<>(List.of(rules));
        return spec;
    }
}
