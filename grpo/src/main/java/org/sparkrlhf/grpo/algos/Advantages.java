package org.sparkrlhf.grpo.algos;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Outcome advantages from one scalar score per completion, with a baseline from the other
 * completions of the same prompt (a "group"). The result is one advantage per completion,
 * broadcast over its tokens by the policy loss. Computed in double on the host: scores are
 * data, not part of the autograd graph.
 *
 * <p>Groups are given either as a group id per completion (any order, any sizes) or as a
 * fixed group size with the completions of a group contiguous.
 */
public final class Advantages {

    /** verl's default epsilon for the std division. */
    public static final double DEFAULT_EPS = 1e-6;

    private Advantages() {
    }

    /**
     * Group-relative advantages: {@code A_i = (r_i − mean_g) / (std_g + eps)} when
     * {@code normalizeByStd} (GRPO, Shao et al. 2024, "DeepSeekMath", §4.1.2), or
     * {@code A_i = r_i − mean_g} without it (Dr. GRPO, Liu et al. 2025, "Understanding R1-Zero-Like
     * Training: A Critical Perspective", which drops the std to remove the question-difficulty
     * bias). As verl's {@code compute_grpo_outcome_advantage}: {@code std_g} is the unbiased
     * (Bessel, n − 1) sample std, like {@code torch.std}; a group of one completion has mean 0
     * and std 1, so its advantage is {@code r / (1 + eps)} (or {@code r} without std).
     *
     * @param scores one score per completion
     * @param groupIds the group (prompt) of each completion
     */
    public static double[] grpo(double[] scores, int[] groupIds, boolean normalizeByStd, double eps) {
        checkSameLength(scores, groupIds);
        Map<Integer, double[]> stats = groupStats(scores, groupIds);
        double[] adv = new double[scores.length];
        for (int i = 0; i < scores.length; i++) {
            double[] s = stats.get(groupIds[i]); // {count, sum, sumSqDev}
            double mean;
            double std;
            if (s[0] == 1) {
                mean = 0;
                std = 1;
            } else {
                mean = s[1] / s[0];
                std = Math.sqrt(s[2] / (s[0] - 1));
            }
            adv[i] = normalizeByStd ? (scores[i] - mean) / (std + eps) : scores[i] - mean;
        }
        return adv;
    }

    /**
     * GRPO with process supervision (Shao et al. 2024, "DeepSeekMath", §4.1.3). Completion i has one reward per step,
     * {@code r_i^1..r_i^K_i}, given at the step's end. All step rewards of a group are normalised together,
     * {@code r̃ = (r − mean(R_g)) / (std(R_g) + eps)} (unbiased std as in {@link #grpo}; a group whose step rewards
     * are all equal, or that has a single step reward, gets zeros), and a token's advantage is the sum of the
     * normalised rewards of the steps ending at or after it. Returned per step: {@code A_i^k = Σ_{j ≥ k} r̃_i^j},
     * the advantage of every token of step k.
     *
     * @param stepRewards per completion, its step rewards in order (may be empty: no tokens get an advantage)
     * @param groupIds the group (prompt) of each completion
     */
    public static double[][] grpoProcess(double[][] stepRewards, int[] groupIds, double eps) {
        if (stepRewards.length != groupIds.length) {
            throw new IllegalArgumentException(stepRewards.length + " completions but " + groupIds.length + " group ids");
        }
        Map<Integer, double[]> stats = new java.util.HashMap<>(); // {count, sum, squared deviations}
        for (int i = 0; i < stepRewards.length; i++) {
            double[] s = stats.computeIfAbsent(groupIds[i], k -> new double[3]);
            for (double r : stepRewards[i]) {
                s[0]++;
                s[1] += r;
            }
        }
        for (int i = 0; i < stepRewards.length; i++) {
            double[] s = stats.get(groupIds[i]);
            double mean = s[0] == 0 ? 0 : s[1] / s[0];
            for (double r : stepRewards[i]) s[2] += (r - mean) * (r - mean);
        }
        double[][] adv = new double[stepRewards.length][];
        for (int i = 0; i < stepRewards.length; i++) {
            double[] s = stats.get(groupIds[i]);
            double mean = s[0] == 0 ? 0 : s[1] / s[0];
            double std = s[0] < 2 ? 0 : Math.sqrt(s[2] / (s[0] - 1));
            double[] r = stepRewards[i];
            adv[i] = new double[r.length];
            double suffix = 0;
            for (int k = r.length - 1; k >= 0; k--) {
                suffix += std == 0 ? 0 : (r[k] - mean) / (std + eps);
                adv[i][k] = suffix;
            }
        }
        return adv;
    }

    /**
     * {@link #grpoProcess} spread over the tokens: a token of step k gets {@code A_i^k}, and a token after the last
     * step (an eos after the final newline) that of the last step. A completion without step rewards gets zeros.
     *
     * @param stepOfToken per completion, the step of each of its tokens
     */
    public static double[][] grpoProcessPerToken(double[][] stepRewards, int[][] stepOfToken, int[] groupIds,
            double eps) {
        double[][] stepAdv = grpoProcess(stepRewards, groupIds, eps);
        double[][] adv = new double[stepAdv.length][];
        for (int i = 0; i < stepAdv.length; i++) {
            int[] step = stepOfToken[i];
            adv[i] = new double[step.length];
            if (stepAdv[i].length == 0) continue;
            for (int k = 0; k < step.length; k++) adv[i][k] = stepAdv[i][Math.min(step[k], stepAdv[i].length - 1)];
        }
        return adv;
    }

    /** {@link #grpo(double[], int[], boolean, double)} over NDArrays: contiguous groups of {@code groupSize}. */
    public static NDArray grpo(NDArray scores, int groupSize, boolean normalizeByStd, double eps) {
        double[] s = toDoubles(scores);
        return scores.getManager().create(toFloats(grpo(s, contiguousGroups(s.length, groupSize), normalizeByStd, eps)));
    }

    /**
     * Leave-one-out baseline (RLOO; Ahmadian et al. 2024, "Back to Basics: Revisiting
     * REINFORCE Style Optimization for Learning from Human Feedback in LLMs"; Kool et al. 2019):
     * {@code A_i = r_i − mean_{j≠i} r_j = (n·r_i − Σ_j r_j) / (n − 1)} within each group.
     * As verl's {@code compute_rloo_outcome_advantage}, a group of one completion keeps its raw
     * score (no baseline).
     */
    public static double[] rloo(double[] scores, int[] groupIds) {
        checkSameLength(scores, groupIds);
        Map<Integer, double[]> stats = groupStats(scores, groupIds);
        double[] adv = new double[scores.length];
        for (int i = 0; i < scores.length; i++) {
            double[] s = stats.get(groupIds[i]);
            double n = s[0];
            adv[i] = n == 1 ? scores[i] : (n * scores[i] - s[1]) / (n - 1);
        }
        return adv;
    }

    /** {@link #rloo(double[], int[])} over NDArrays: contiguous groups of {@code groupSize}. */
    public static NDArray rloo(NDArray scores, int groupSize) {
        double[] s = toDoubles(scores);
        return scores.getManager().create(toFloats(rloo(s, contiguousGroups(s.length, groupSize))));
    }

    /** Group ids {@code 0,…,0,1,…,1,…} for {@code n} completions in contiguous groups of {@code groupSize}. */
    public static int[] contiguousGroups(int n, int groupSize) {
        if (groupSize <= 0 || n % groupSize != 0) {
            throw new IllegalArgumentException(n + " scores do not split into groups of " + groupSize);
        }
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i / groupSize;
        }
        return ids;
    }

    /** Per group: {count, sum, sum of squared deviations from the group mean} (two passes, stable). */
    private static Map<Integer, double[]> groupStats(double[] scores, int[] groupIds) {
        Map<Integer, double[]> stats = new LinkedHashMap<>();
        for (int i = 0; i < scores.length; i++) {
            double[] s = stats.computeIfAbsent(groupIds[i], k -> new double[3]);
            s[0]++;
            s[1] += scores[i];
        }
        for (int i = 0; i < scores.length; i++) {
            double[] s = stats.get(groupIds[i]);
            double d = scores[i] - s[1] / s[0];
            s[2] += d * d;
        }
        return stats;
    }

    private static void checkSameLength(double[] scores, int[] groupIds) {
        if (scores.length != groupIds.length) {
            throw new IllegalArgumentException(scores.length + " scores but " + groupIds.length + " group ids");
        }
    }

    private static double[] toDoubles(NDArray a) {
        if (a.getShape().dimension() != 1) {
            throw new IllegalArgumentException("scores must be 1-D [N], got " + a.getShape());
        }
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }
}
