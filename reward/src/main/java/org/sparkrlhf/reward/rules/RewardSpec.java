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
 *
 * <p>An entry named {@value #MODEL} is a learned reward instead of a rule: a reward-model checkpoint (the
 * {@code reward} stage's, or any Hugging Face sequence classifier of the policy's vocabulary) whose score, times
 * its weight, is added to the rules' total:
 * {@code {name: model, checkpoint: "lake/runs/r/reward/checkpoints/step-000200", weight: 1.0}}. Its raw score is the
 * part {@value #MODEL}; the checker's correctness (the gold reward a learned one stands in for) is still recorded as
 * the part {@code correct_answer}, with weight 0 when the rules do not list it.
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

        /** For the {@value RewardSpec#MODEL} entry only: the reward-model checkpoint folder. Default empty. */
        public String checkpoint = "";

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

    /** The name of the learned-reward entry. */
    public static final String MODEL = "model";

    public RewardSpec() {
    }

    /** The learned-reward entry, or null when the reward is rules only. */
    public RuleSpec learned() {
        RuleSpec found = null;
        for (RuleSpec r : rules) {
            if (r != null && MODEL.equals(r.name)) {
                if (found != null) {
                    throw new IllegalArgumentException("reward rule '" + MODEL + "' is listed twice");
                }
                found = r;
            }
        }
        if (found != null && (found.checkpoint == null || found.checkpoint.isBlank())) {
            throw new IllegalArgumentException("reward rule '" + MODEL + "' needs a checkpoint");
        }
        if (found != null && !Double.isFinite(found.weight)) {
            throw new IllegalArgumentException("reward rule '" + MODEL + "' has weight " + found.weight);
        }
        return found;
    }

    /**
     * The rules without the learned entry; with a learned entry and no {@code correct_answer} rule, that rule with
     * weight 0 is added, so the gold reward is recorded beside the learned one.
     */
    public RewardSpec rulesOnly() {
        RuleSpec model = learned();
        if (model == null) {
            return this;
        }
        RewardSpec out = new RewardSpec();
        out.rules = new ArrayList<>();
        boolean gold = false;
        for (RuleSpec r : rules) {
            if (r == model) {
                continue;
            }
            gold |= RewardRules.CORRECT_ANSWER.equals(r.name);
            out.rules.add(r);
        }
        if (!gold) {
            out.rules.add(new RuleSpec(RewardRules.CORRECT_ANSWER, 0.0));
        }
        return out;
    }

    /** A spec of the given rules. */
    public static RewardSpec of(RuleSpec... rules) {
        RewardSpec spec = new RewardSpec();
        spec.rules = new ArrayList<>(List.of(rules));
        return spec;
    }
}
