package org.sparkrlhf.grpo.algos;

/**
 * What an advantage estimator sees of one batch of completions (index i is completion i throughout).
 *
 * @param scores the outcome reward of each completion
 * @param groupIds the group (prompt) of each completion
 * @param lengths the number of tokens of each completion: the estimator returns that many advantages for it
 * @param stepRewards per completion, its step rewards in order; null unless the estimator
 *     {@link AdvantageEstimator#needsStepRewards needs them}
 * @param stepOfToken per completion, the step of each of its tokens (0-based; tokens after the last step's end,
 *     such as an eos after the final newline, carry the next number); null with {@code stepRewards}
 */
public record AdvantageInput(double[] scores, int[] groupIds, int[] lengths, double[][] stepRewards,
        int[][] stepOfToken) {

    public AdvantageInput {
        int n = scores.length;
        if (groupIds.length != n || lengths.length != n) {
            throw new IllegalArgumentException(n + " scores but " + groupIds.length + " group ids and " + lengths.length
                    + " lengths");
        }
        if ((stepRewards == null) != (stepOfToken == null)
                || stepRewards != null && (stepRewards.length != n || stepOfToken.length != n)) {
            throw new IllegalArgumentException(
                    "step rewards and the step of each token come together, one per completion");
        }
    }

    /** A batch with outcome rewards only. */
    public static AdvantageInput outcome(double[] scores, int[] groupIds, int[] lengths) {
        return new AdvantageInput(scores, groupIds, lengths, null, null);
    }
}
