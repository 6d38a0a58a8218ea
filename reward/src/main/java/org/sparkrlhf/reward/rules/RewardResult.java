package org.sparkrlhf.reward.rules;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The reward of one rollout.
 *
 * @param total Σ weight · part over the spec's rules
 * @param parts each rule's unweighted score, by rule name, in spec order
 */
public record RewardResult(double total, Map<String, Double> parts) implements Serializable {

    public RewardResult {
        parts = Collections.unmodifiableMap(new LinkedHashMap<>(parts));
    }
}
