package org.sparkrlhf.grpo.algos;

import ai.djl.ndarray.NDArray;

/** An outcome advantage estimator: one advantage per completion from scores and groups. */
@FunctionalInterface
public interface AdvantageEstimator {

    /** Advantages for {@code scores}, completions grouped by {@code groupIds}. */
    double[] compute(double[] scores, int[] groupIds);

    /** Over NDArrays, contiguous groups of {@code groupSize}; returns float32 [N]. */
    default NDArray compute(NDArray scores, int groupSize) {
        double[] s = Advantages.toDoubles(scores);
        return scores.getManager().create(Advantages.toFloats(compute(s, Advantages.contiguousGroups(s.length, groupSize))));
    }
}
