package org.sparkrlhf.reward.rules;

import java.util.List;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.rollouts.engine.Completion;

/**
 * The rule-based rewards: the outcome reward is the spec's weighted rules ({@link RewardFunction}), a step's reward
 * the built-in task checker's validity of its line.
 */
public final class RuleRewarder implements Rewarder {
    private static final long serialVersionUID = 1L;
    private final RewardFunction rules;

    private RuleRewarder(RewardFunction rules) {
        this.rules = rules;
    }

    /**
     * The rules of {@code spec} ({@link RewardSpec#rulesOnly}: a learned-reward entry is scored by the model, not here).
     *
     * @throws IllegalArgumentException for a bad spec (see {@link RewardFunction#of})
     */
    public static RuleRewarder of(RewardSpec spec) {
        return new RuleRewarder(RewardFunction.of(spec.rulesOnly()));
    }

    @Override
    public RewardResult score(String prompt, String answer, Completion completion) {
        return rules.apply(
                new RewardInput(prompt, completion.text(), answer, completion.length(), finishReason(completion)));
    }

    /**
     * 1 for a line that is a valid step on its own ({@link Checker#lineValidity}: the one reduction of the line before,
     * or the answer equal to it), 0 otherwise: a wrong intermediate result is charged to the line that made it, not to
     * the correct arithmetic after it.
     */
    @Override
    public double[] stepRewards(String prompt, String answer, Completion completion) {
        List<Boolean> valid = Checker.lineValidity(prompt, completion.text());
        double[] r = new double[valid.size()];
        for (int i = 0; i < r.length; i++) r[i] = valid.get(i) ? 1 : 0;
        return r;
    }

    /** The rollout engine says {@code eos}; the reward rules call that {@code stop}. */
    private static String finishReason(Completion c) {
        return Completion.LENGTH.equals(c.finishReason()) ? RewardInput.FINISH_LENGTH : RewardInput.FINISH_STOP;
    }
}
