package org.sparkrlhf.core.task;

/**
 * One problem of the built-in task with its reference solution.
 *
 * @param id stable identifier derived from split and index, e.g. {@code train-000042}
 * @param split {@code train}, {@code valid}, {@code test} or {@code test_ood}
 * @param expression the expression, e.g. {@code 12+7*3-5}
 * @param prompt the model input, e.g. {@code 12+7*3-5=?\n}
 * @param answer the value of the expression
 * @param completion the worked solution, e.g. {@code =12+21-5\n=33-5\n=28\n#### 28\n}
 */
public record Problem(String id, String split, String expression, String prompt, long answer, String completion) {

    /** Builds the problem at {@code index} of {@code split}, solving {@code expression}. */
    public static Problem of(String split, int index, String expression) {
        Expression e = Expression.parse(expression);
        long answer = e.evaluate();
        return new Problem(id(split, index), split, expression, Solver.prompt(expression), answer,
                Solver.completion(Solver.steps(e), answer));
    }

    /** The id of the problem at {@code index} of {@code split}: zero-padded so ids sort by index. */
    public static String id(String split, int index) {
        return String.format("%s-%06d", split, index);
    }
}
