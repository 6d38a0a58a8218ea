package org.sparkrlhf.core.task;

/**
 * Difficulty and seed of the built-in arithmetic task.
 *
 * @param minOps fewest operators in an expression (inclusive, at least 1)
 * @param maxOps most operators in an expression (inclusive)
 * @param operandMin smallest operand (inclusive, non-negative: the format has no signed operands)
 * @param operandMax largest operand (inclusive)
 * @param operators the operators to draw from, a non-empty subset of {@code "+-*"} without repeats
 * @param seed generation seed: the same spec always gives the same problems
 */
public record TaskSpec(int minOps, int maxOps, long operandMin, long operandMax, String operators, long seed) {

    public TaskSpec {
        if (minOps < 1 || maxOps < minOps) {
            throw new IllegalArgumentException("need 1 <= minOps <= maxOps, got " + minOps + ".." + maxOps);
        }
        if (operandMin < 0 || operandMax < operandMin) {
            throw new IllegalArgumentException(
                    "need 0 <= operandMin <= operandMax, got " + operandMin + ".." + operandMax);
        }
        if (operators == null || operators.isEmpty()) {
            throw new IllegalArgumentException("operators must be a non-empty subset of \"+-*\"");
        }
        for (int i = 0; i < operators.length(); i++) {
            char c = operators.charAt(i);
            if (!Expression.isOperator(c) || operators.indexOf(c) != i) {
                throw new IllegalArgumentException(
                        "operators must be a subset of \"+-*\" without repeats, got \"" + operators + "\"");
            }
        }
    }

    /** The default task: 1–3 operators, operands 0..9, all of {@code + - *}, seed 1234. */
    public static TaskSpec defaults() {
        return new TaskSpec(1, 3, 0, 9, "+-*", 1234);
    }

    /**
     * The out-of-distribution variant used for {@code test_ood}: the same operands and operators
     * but strictly more operators than any in-distribution problem
     * ({@code maxOps+1 .. maxOps+extraOps}), so it measures length generalization.
     */
    public TaskSpec ood(int extraOps) {
        if (extraOps < 1) {
            throw new IllegalArgumentException("extraOps must be >= 1, got " + extraOps);
        }
        return new TaskSpec(maxOps + 1, maxOps + extraOps, operandMin, operandMax, operators, seed);
    }

    /** The same spec with another seed. */
    public TaskSpec withSeed(long newSeed) {
        return new TaskSpec(minOps, maxOps, operandMin, operandMax, operators, newSeed);
    }
}
