package org.sparkrlhf.core.task;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Makes incorrect-but-plausible worked solutions from correct ones: negatives for process
 * reward training and the behaviour a "sneaky" prover should learn to hide.
 *
 * <p>A corruption replaces one step with a wrong line of a given {@link Kind}, then continues
 * <em>consistently</em> from that wrong line (correct reductions of it) and ends with
 * {@code #### value-of-the-wrong-line}. Only one step is wrong, so its index is the exact label
 * boundary a process reward model should learn, and the rest looks like a careful solution.
 *
 * <p>Results are a pure function of {@code (expression, kind, seed)}, not of call order, so
 * Spark tasks that retry or repartition produce the same rows.
 */
public final class StepCorruptor {

    /** The kind of mistake introduced in the corrupted step. */
    public enum Kind {
        /** The step's reduction result is off by a small nonzero amount ({@code 7*3 → 22}). */
        ARITHMETIC_ERROR,
        /** A {@code +} or {@code -} is reduced while a {@code *} remains ({@code 12+7*3 → 19*3}). */
        WRONG_ORDER,
        /** The reduction is right but one operand (with an adjacent operator) vanishes from the line. */
        DROPPED_TERM,
        /** The reduction is right but an operand copied over from the previous line changes. */
        COPY_ERROR
    }

    /**
     * A corrupted solution.
     *
     * @param kind the mistake made
     * @param steps all step lines (each starting with {@code =}), wrong from {@code firstWrongStep} on
     * @param firstWrongStep index in {@code steps} of the corrupted step; earlier steps are correct
     * @param answer the value of the corrupted line, which the solution ends with
     */
    public record Corruption(Kind kind, List<String> steps, int firstWrongStep, long answer) {

        public Corruption {
            steps = List.copyOf(steps);
        }

        /** The completion text: the steps and {@code #### answer}, each line ending in a newline. */
        public String completion() {
            return Solver.completion(steps, answer);
        }
    }

    private static final int MAX_DELTA = 3;

    private StepCorruptor() {
    }

    /**
     * Corrupts the solution of {@code expression} with a mistake of {@code kind}, or returns empty
     * when that kind cannot apply (e.g. {@code WRONG_ORDER} needs a line with both a {@code *}
     * and a {@code +}/{@code -}; {@code DROPPED_TERM} and {@code COPY_ERROR} need a step that
     * leaves at least two operands).
     */
    public static Optional<Corruption> corrupt(String expression, Kind kind, long seed) {
        Expression start = Expression.parse(expression);
        List<Expression> chain = new ArrayList<>();
        chain.add(start);
        for (Expression e = start; !e.isNumber(); ) {
            e = e.reduce();
            chain.add(e);
        }
        SplittableRandom rng = new SplittableRandom(ArithmeticTask.mix(
                seed ^ ArithmeticTask.fnv1a(expression) ^ ArithmeticTask.mix(kind.ordinal() + 1L)));

        List<Integer> candidates = new ArrayList<>();
        for (int j = 0; j + 1 < chain.size(); j++) {
            if (applies(kind, chain.get(j), chain.get(j + 1))) {
                candidates.add(j);
            }
        }
        while (!candidates.isEmpty()) {
            int j = candidates.remove(rng.nextInt(candidates.size()));
            Optional<Corruption> c = corruptStep(kind, chain, j, rng);
            if (c.isPresent()) {
                return c;
            }
        }
        return Optional.empty();
    }

    private static boolean applies(Kind kind, Expression previous, Expression right) {
        return switch (kind) {
            case ARITHMETIC_ERROR -> true;
            case WRONG_ORDER -> !wrongOrderOperators(previous).isEmpty();
            case DROPPED_TERM, COPY_ERROR -> right.operandCount() >= 2;
        };
    }

    /** Builds the corrupted solution whose step {@code j} (reducing {@code chain[j]}) is wrong. */
    private static Optional<Corruption> corruptStep(Kind kind, List<Expression> chain, int j, SplittableRandom rng) {
        Expression previous = chain.get(j);
        Expression right = chain.get(j + 1);
        int reduced = previous.nextReductionIndex();
        Expression wrong;
        try {
            wrong = switch (kind) {
                case ARITHMETIC_ERROR -> previous.replace(reduced,
                        perturb(previous.valueAt(reduced), reduced == 0, rng));
                case WRONG_ORDER -> {
                    List<Integer> ops = wrongOrderOperators(previous);
                    yield previous.reduceAt(ops.get(rng.nextInt(ops.size())));
                }
                case DROPPED_TERM -> right.withoutOperand(rng.nextInt(right.operandCount()));
                case COPY_ERROR -> {
                    // Every operand of the new line except the reduction's result was copied.
                    int q = rng.nextInt(right.operandCount() - 1);
                    if (q >= reduced) {
                        q++;
                    }
                    yield right.withOperand(q, perturb(right.operand(q), false, rng));
                }
            };
            if (!wrong.isWellFormed() || wrong.equals(right)) {
                return Optional.empty();
            }
            List<String> steps = new ArrayList<>();
            for (int i = 1; i <= j; i++) {
                steps.add("=" + chain.get(i));
            }
            steps.add("=" + wrong);
            steps.addAll(Solver.steps(wrong));
            return Optional.of(new Corruption(kind, steps, j, wrong.evaluate()));
        } catch (ArithmeticException overflow) {
            return Optional.empty();
        }
    }

    /**
     * Indices of {@code +}/{@code -} operators that reducing early would be a precedence mistake
     * (a {@code *} remains) and still give a well-formed line (no negative operand after the front).
     */
    private static List<Integer> wrongOrderOperators(Expression e) {
        List<Integer> result = new ArrayList<>();
        boolean hasMultiply = false;
        for (int i = 0; i < e.operatorCount(); i++) {
            hasMultiply |= e.operator(i) == '*';
        }
        if (!hasMultiply) {
            return result;
        }
        for (int i = 0; i < e.operatorCount(); i++) {
            if (e.operator(i) != '*') {
                try {
                    if (i == 0 || e.valueAt(i) >= 0) {
                        result.add(i);
                    }
                } catch (ArithmeticException overflow) {
                    // Not a plausible mistake if it cannot even be written down.
                }
            }
        }
        return result;
    }

    /**
     * {@code value} plus a small nonzero amount; off the front the result must stay non-negative,
     * because the format only allows a negative number at the front of a line.
     */
    private static long perturb(long value, boolean front, SplittableRandom rng) {
        long delta = rng.nextLong(1, MAX_DELTA + 1);
        boolean down = rng.nextBoolean();
        if (down && (front || value - delta >= 0)) {
            return Math.subtractExact(value, delta);
        }
        return Math.addExact(value, delta);
    }
}
