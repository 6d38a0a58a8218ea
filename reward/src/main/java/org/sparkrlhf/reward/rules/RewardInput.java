package org.sparkrlhf.reward.rules;

import java.io.Serializable;

/**
 * What a rule-based reward sees of one rollout.
 *
 * @param prompt the prompt text, e.g. {@code 12+7*3-5=?\n}
 * @param completion the generated text (eos is not part of it)
 * @param reference the reference answer, or null when the data has none (rules that need it
 *     then fall back to the built-in task's own grading of the prompt, see {@link RewardRules})
 * @param completionTokens the number of generated tokens
 * @param finishReason why generation stopped: {@code "stop"} (eos) or {@code "length"}
 *     (hit the token budget); may be null
 */
public record RewardInput(String prompt, String completion, String reference, int completionTokens, String finishReason)
        implements Serializable {

    /** Finish reason of a completion cut off by the generation budget. */
    public static final String FINISH_LENGTH = "length";

    /** Finish reason of a completion that ended with eos. */
    public static final String FINISH_STOP = "stop";

    public RewardInput {
        prompt = prompt == null ? "" : prompt;
        completion = completion == null ? "" : completion;
    }
}
