package org.sparkrlhf.reward;

import java.io.Serializable;
import org.sparkrlhf.reward.rules.RewardResult;
import org.sparkrlhf.rollouts.engine.Completion;

/**
 * The rewards of sampled completions, as an RL loop is given them: an outcome reward per completion with its named
 * parts and, for process supervision, a reward per step. The rules are one ({@link
 * org.sparkrlhf.reward.rules.RuleRewarder}); a learned reward model is another. Serializable, because distributed
 * rollouts score on the executors, beside the samples.
 */
@FunctionalInterface
public interface Rewarder extends Serializable {

    /**
     * The outcome reward of one completion.
     *
     * @param prompt the prompt text, without special tokens
     * @param answer the reference final answer, or null
     */
    RewardResult score(String prompt, String answer, Completion completion);

    /**
     * The completion's step rewards in order, a step being a line (its newline ends it; text after the last newline
     * is a last step); null when this rewarder judges outcomes only.
     */
    default double[] stepRewards(String prompt, String answer, Completion completion) {
        return null;
    }
}
