package org.sparkrlhf.core.task;

import java.util.ArrayList;
import java.util.List;

/**
 * Writes the worked solution of an expression in the built-in task's format (DESIGN.md,
 * "The built-in task"): one line per reduction, each {@code =} followed by the whole remaining
 * expression, where a reduction takes the leftmost {@code *} while one remains, else the
 * leftmost {@code +} or {@code -}; then {@code #### N}.
 *
 * <pre>
 * 12+7*3-5   →   =12+21-5
 *                =33-5
 *                =28
 *                #### 28
 * </pre>
 *
 * Arithmetic is exact: an expression whose reductions overflow {@code long} throws
 * {@link ArithmeticException} rather than producing a wrong "correct" solution.
 */
public final class Solver {

    /** Prefix of the final answer line. */
    public static final String ANSWER_PREFIX = "#### ";

    private Solver() {
    }

    /**
     * The step lines (each starting with {@code =}, without newline) that reduce {@code expr}
     * to a single number. A single number has no steps.
     *
     * @throws IllegalArgumentException if {@code expr} is not an expression
     */
    public static List<String> steps(String expr) {
        return steps(Expression.parse(expr));
    }

    /** The step lines that reduce {@code expr} to a single number. */
    public static List<String> steps(Expression expr) {
        List<String> lines = new ArrayList<>(expr.operatorCount());
        Expression e = expr;
        while (!e.isNumber()) {
            e = e.reduce();
            lines.add("=" + e);
        }
        return lines;
    }

    /** The full completion: step lines, then {@code #### value}, each ending in a newline. */
    public static String completion(String expr) {
        Expression e = Expression.parse(expr);
        return completion(steps(e), e.evaluate());
    }

    /** Joins step lines and a final answer into completion text. */
    public static String completion(List<String> steps, long answer) {
        StringBuilder sb = new StringBuilder();
        for (String step : steps) {
            sb.append(step).append('\n');
        }
        return sb.append(answerLine(answer)).append('\n').toString();
    }

    /** The final answer line, without newline: {@code #### N}. */
    public static String answerLine(long answer) {
        return ANSWER_PREFIX + answer;
    }

    /** The value of {@code expr} with {@code *} before {@code +}/{@code -}, left to right. */
    public static long evaluate(String expr) {
        return Expression.parse(expr).evaluate();
    }

    /** The prompt for an expression: {@code expr=?} and a newline. */
    public static String prompt(String expr) {
        return expr + "=?\n";
    }
}
