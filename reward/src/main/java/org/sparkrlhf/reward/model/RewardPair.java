package org.sparkrlhf.reward.model;

import org.sparkrlhf.core.batch.TokenSequence;

/**
 * One tokenized preference pair for the reward model. Both sequences follow {@link TokenSequence}'s convention with
 * the eos appended ({@code [bos] + prompt + completion + [eos]}), so the score is read at the eos, as the executors'
 * scorers read it.
 *
 * @param id the pair's id in {@code preferences}
 * @param margin subtracted inside the sigmoid (0 = none)
 */
public record RewardPair(String id, TokenSequence chosen, TokenSequence rejected, double margin) {}
