package org.sparkrlhf.reward.bestofn;

/**
 * One sampled solution of a problem, as a best-of-N picker sees it.
 *
 * @param text the completion (its final answer is what majority voting counts)
 * @param correct the checker's verdict against the reference answer (what a pick is graded by, never what it sees)
 * @param outcomeScore an outcome reward model's score, NaN without one
 * @param stepScores a process reward model's probability that each step is correct, null without one
 */
public record Candidate(String text, boolean correct, double outcomeScore, double[] stepScores) {}
