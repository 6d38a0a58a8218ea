package org.sparkrlhf.core.task;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A teacher that writes worked solutions with systematic mistakes, as real demonstrators do: it has
 * a fixed set of reductions it gets wrong (a "misconception", e.g. {@code 7*8 → 54}) and on each
 * occurrence of one it writes the wrong value with probability {@code errorRate}, else the right
 * one. After a wrong line it goes on consistently (the next lines reduce what it wrote, with its
 * flaws again), so its final answer is wrong and every later line looks careful.
 *
 * <p>Which reductions are flawed: every pair {@code (a, b)} with {@code 0 <= a, b <= maxOperand}
 * for each operator in {@code operators}; exactly {@code round(pairShare × pairs)} of them, chosen
 * by a shuffle seeded with {@code seed}. How: {@link Mistake#FIXED} writes one wrong value per
 * flawed pair (its value off by 1..{@code maxOffset}, fixed by the seed), {@link Mistake#RANDOM} a
 * freshly drawn offset each time. A wrong value is never negative (a negative number may only lead
 * a line, and a plausible mistake keeps the sign), so a value below the offset is shifted up.
 *
 * <p>Everything is a pure function of the settings and the expression text, not of call order: the
 * demonstration of an expression draws from a generator seeded by {@code (seed, expression)}.
 * The checker, rewards and evaluations never see this class: they grade against the truth.
 */
public final class FlawedTeacher {

    /** How a flawed reduction goes wrong. */
    public enum Mistake {
        /** The same wrong value every time the pair is got wrong (a misconception). */
        FIXED,
        /** A fresh wrong value, off by 1..maxOffset, each time (a slip). */
        RANDOM
    }

    /**
     * A demonstration: the teacher's completion and where it first went wrong.
     *
     * @param completion the worked solution the teacher writes, in the task's format
     * @param steps its step lines
     * @param firstWrongStep index of its first wrong step, or -1 when the solution is the truth's
     * @param answer the value it ends with
     * @param correct its answer is the expression's value (a wrong step can still end right, e.g. {@code 58*0})
     * @param flawedOccurrences reductions it made that are among its flawed ones
     * @param mistakes of those, the ones it wrote wrong
     */
    public record Demonstration(String completion, List<String> steps, int firstWrongStep, long answer,
            boolean correct, int flawedOccurrences, int mistakes) {
        public Demonstration {
            steps = List.copyOf(steps);
        }

        /** Every step is the true one: the teacher wrote the true solution. */
        public boolean flawless() {
            return firstWrongStep < 0;
        }
    }

    private final String operators;
    private final int maxOperand;
    private final double errorRate;
    private final int maxOffset;
    private final Mistake mistake;
    private final long seed;
    /** Flawed reduction "a*b" → its fixed wrong value (the value used by {@link Mistake#FIXED}). */
    private final Map<String, Long> flawed;

    /**
     * @param operators operators whose reductions can be flawed, a subset of {@code +-*}
     * @param maxOperand largest operand of a flawed reduction (both sides)
     * @param pairShare share of the {@code (maxOperand+1)² × |operators|} reductions that are flawed, in [0, 1]
     * @param errorRate probability of writing the wrong value on an occurrence of a flawed reduction, in [0, 1]
     * @param maxOffset largest distance of a wrong value from the right one, at least 1
     * @param mistake how a flawed reduction goes wrong
     * @param seed which reductions are flawed, their wrong values, and every occurrence's draw
     * @throws IllegalArgumentException for settings outside those ranges
     */
    public FlawedTeacher(String operators, int maxOperand, double pairShare, double errorRate, int maxOffset,
            Mistake mistake, long seed) {
        if (operators == null || !operators.matches("[-+*]*")) {
            throw new IllegalArgumentException("operators must be a subset of +-*, got '" + operators + "'");
        }
        if (maxOperand < 0) {
            throw new IllegalArgumentException("max_operand must be >= 0, got " + maxOperand);
        }
        if (!(pairShare >= 0 && pairShare <= 1)) {
            throw new IllegalArgumentException("pair_share must be in [0, 1], got " + pairShare);
        }
        if (!(errorRate >= 0 && errorRate <= 1)) {
            throw new IllegalArgumentException("error_rate must be in [0, 1], got " + errorRate);
        }
        if (maxOffset < 1) {
            throw new IllegalArgumentException("max_offset must be >= 1, got " + maxOffset);
        }
        this.operators = operators;
        this.maxOperand = maxOperand;
        this.errorRate = errorRate;
        this.maxOffset = maxOffset;
        this.mistake = mistake == null ? Mistake.FIXED : mistake;
        this.seed = seed;
        this.flawed = chooseFlawed(operators, maxOperand, pairShare, maxOffset, seed);
    }

    /** The teacher that always writes the true solution. */
    public static FlawedTeacher truth() {
        return new FlawedTeacher("", 0, 0, 0, 1, Mistake.FIXED, 0);
    }

    /** The flawed reductions ({@code "7*8"}) and the wrong value each gets under {@link Mistake#FIXED}. */
    public Map<String, Long> flawedReductions() {
        return Collections.unmodifiableMap(flawed);
    }

    /** True when this teacher never errs (no flawed reduction, or an error rate of 0). */
    public boolean perfect() {
        return flawed.isEmpty() || errorRate == 0;
    }

    /** The teacher's demonstration for {@code expression}. */
    public Demonstration demonstrate(String expression) {
        Expression e = Expression.parse(expression);
        long value = e.evaluate();
        SplittableRandom rng = new SplittableRandom(ArithmeticTask.mix(seed ^ ArithmeticTask.fnv1a(expression)));
        List<String> steps = new ArrayList<>(e.operatorCount());
        int firstWrong = -1;
        Expression truthOfLine = e;
        int occurrences = 0;
        int mistakes = 0;
        while (!e.isNumber()) {
            int i = e.nextReductionIndex();
            long right = e.valueAt(i);
            long written = right;
            String key = e.operand(i) + String.valueOf(e.operator(i)) + e.operand(i + 1);
            Long wrong = flawed.get(key);
            if (wrong != null) {
                occurrences++;
                // The same three draws on every flawed occurrence whatever the outcome, so up to the first
                // mistake a larger error rate errs wherever a smaller one did.
                double u = rng.nextDouble();
                int offset = rng.nextInt(1, maxOffset + 1);
                boolean down = rng.nextBoolean();
                if (u < errorRate) {
                    written = mistake == Mistake.FIXED ? wrong : wrongValue(right, offset, down);
                    mistakes++;
                }
            }
            e = e.replace(i, written);
            steps.add("=" + e);
            if (firstWrong < 0) {
                truthOfLine = truthOfLine.reduce();
                if (!truthOfLine.equals(e)) {
                    firstWrong = steps.size() - 1;
                }
            }
        }
        long answer = e.operand(0);
        return new Demonstration(Solver.completion(steps, answer), steps, firstWrong, answer, answer == value,
                occurrences, mistakes);
    }

    private static Map<String, Long> chooseFlawed(String operators, int maxOperand, double share, int maxOffset,
            long seed) {
        List<String> keys = new ArrayList<>();
        List<Long> values = new ArrayList<>();
        for (char op : operators.toCharArray()) {
            for (long a = 0; a <= maxOperand; a++) {
                for (long b = 0; b <= maxOperand; b++) {
                    keys.add(a + String.valueOf(op) + b);
                    values.add(Expression.of(new long[] {a, b}, new char[] {op}).evaluate());
                }
            }
        }
        int n = (int) Math.round(share * keys.size());
        SplittableRandom rng = new SplittableRandom(ArithmeticTask.mix(seed));
        // Partial Fisher-Yates: the first n of a seeded permutation, so a larger share flaws a superset.
        Integer[] order = new Integer[keys.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Map<String, Long> chosen = new LinkedHashMap<>();
        for (int i = 0; i < order.length; i++) {
            int j = rng.nextInt(i, order.length);
            Integer t = order[i];
            order[i] = order[j];
            order[j] = t;
            // The wrong value is drawn for every pair, chosen or not, so it does not depend on the share.
            long wrong = wrongValue(values.get(order[i]), rng.nextInt(1, maxOffset + 1), rng.nextBoolean());
            if (i < n) {
                chosen.put(keys.get(order[i]), wrong);
            }
        }
        return chosen;
    }

    /** {@code right ± offset}, never below 0 (then {@code right + offset}). */
    private static long wrongValue(long right, int offset, boolean down) {
        return down && right >= offset ? right - offset : right + offset;
    }

    @Override
    public String toString() {
        return perfect() ? "truth" : "flawed(operators=" + operators + " max_operand=" + maxOperand
                + " flawed_pairs=" + flawed.size() + " error_rate=" + errorRate + " max_offset=" + maxOffset
                + " mistake=" + mistake.name().toLowerCase() + " seed=" + seed + ")";
    }
}
