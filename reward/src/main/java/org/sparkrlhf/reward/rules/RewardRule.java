package org.sparkrlhf.reward.rules;

import java.io.Serializable;

/**
 * A rule-based reward: a pure, deterministic function of one rollout that never throws on
 * arbitrary model output. Rules are code in this package, picked by name through
 * {@link RewardRules#byName}; nothing from data or config is ever executed.
 */
public interface RewardRule extends Serializable {

    /** The registry name, e.g. {@code correct_answer}. */
    String name();

    /** The (unweighted) score of one rollout. */
    double score(RewardInput in);
}
