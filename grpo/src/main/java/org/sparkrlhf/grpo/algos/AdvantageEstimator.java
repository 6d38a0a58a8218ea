package org.sparkrlhf.grpo.algos;

/**
 * An advantage estimator: the advantage of every completion token of a batch, as verl's estimators return
 * token-level advantages. Sequence-level estimators ({@link #outcome}) give each completion one value on all its
 * tokens; token-level ones (process supervision, GAE over a value head) give each token its own. Selected by name
 * from {@link AdvantageEstimators}.
 */
@FunctionalInterface
public interface AdvantageEstimator {

    /** Per completion, one advantage per token ({@code in.lengths()[i]} of them). */
    double[][] compute(AdvantageInput in);

    /** True when {@link #compute} reads {@link AdvantageInput#stepRewards}: only then does the trainer collect them. */
    default boolean needsStepRewards() {
        return false;
    }

    /** A sequence-level estimator: one advantage per completion from the scores and groups. */
    @FunctionalInterface
    interface Outcome {
        double[] compute(double[] scores, int[] groupIds);
    }

    /** {@code outcome}'s advantage of each completion on every one of its tokens. */
    static AdvantageEstimator outcome(Outcome outcome) {
        return in -> {
            double[] adv = outcome.compute(in.scores(), in.groupIds());
            double[][] perToken = new double[adv.length][];
            for (int i = 0; i < adv.length; i++) {
                perToken[i] = new double[in.lengths()[i]];
                java.util.Arrays.fill(perToken[i], adv[i]);
            }
            return perToken;
        };
    }

    /** {@code estimator}, marked as one that reads step rewards. */
    static AdvantageEstimator overSteps(AdvantageEstimator estimator) {
        return new AdvantageEstimator() {
            @Override
            public double[][] compute(AdvantageInput in) {
                if (in.stepRewards() == null) {
                    throw new IllegalArgumentException("this advantage estimator needs step rewards");
                }
                return estimator.compute(in);
            }

            @Override
            public boolean needsStepRewards() {
                return true;
            }
        };
    }
}
