package org.sparkrlhf.core.task;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Deterministic generator of the built-in task's splits.
 *
 * <h2>Determinism</h2>
 * Each split draws from its own {@link SplittableRandom} seeded from {@code (spec.seed, split)},
 * so a split does not depend on the size of any other split, and the first {@code n} problems
 * of a split are the same whether {@code n} or more are asked for (a larger run extends a
 * smaller one).
 *
 * <h2>Disjoint splits</h2>
 * Every possible expression is assigned to exactly one split by a fixed hash of its text
 * (see {@link #reservedSplit(String)}): 90% of the expression space belongs to {@code train},
 * 5% to {@code valid}, 5% to {@code test}. A split keeps a drawn expression only if the hash
 * assigns it there, and {@code test_ood} keeps only expressions not assigned to {@code train}.
 * So no evaluation expression can ever appear in {@code train}, and {@code valid} and
 * {@code test} never share one. The assignment deliberately ignores the seed: data generated
 * with one seed is disjoint from evaluation data generated with any other seed too.
 * Within a split, repeated draws of an expression are rejected, so expressions are distinct.
 */
public final class ArithmeticTask {

    public static final String TRAIN = "train";
    public static final String VALID = "valid";
    public static final String TEST = "test";
    public static final String TEST_OOD = "test_ood";
    public static final List<String> SPLITS = List.of(TRAIN, VALID, TEST, TEST_OOD);

    /** Buckets out of {@value #BUCKETS}: [0, TRAIN_END) train, [TRAIN_END, VALID_END) valid, rest test. */
    private static final int BUCKETS = 1000;
    private static final int TRAIN_END = 900;
    private static final int VALID_END = 950;

    private ArithmeticTask() {
    }

    /**
     * The first {@code n} problems of {@code split}; {@code test_ood} uses {@code spec.ood(1)}.
     *
     * @throws IllegalArgumentException for an unknown split or negative {@code n}
     * @throws IllegalStateException if the spec has too few distinct expressions for {@code n}
     */
    public static List<Problem> generate(TaskSpec spec, String split, int n) {
        return generate(spec, spec.ood(1), split, n);
    }

    /**
     * The first {@code n} problems of {@code split}, with an explicit spec for {@code test_ood}
     * (e.g. larger operands as well as more operators). The other splits use {@code spec}.
     */
    public static List<Problem> generate(TaskSpec spec, TaskSpec oodSpec, String split, int n) {
        if (!SPLITS.contains(split)) {
            throw new IllegalArgumentException("unknown split \"" + split + "\", expected one of " + SPLITS);
        }
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0, got " + n);
        }
        TaskSpec drawSpec = TEST_OOD.equals(split) ? oodSpec : spec;
        SplittableRandom rng = new SplittableRandom(mix(spec.seed() ^ fnv1a(split)));
        Set<String> seen = new HashSet<>();
        List<Problem> problems = new ArrayList<>(n);
        // Held-out splits accept ~5% of draws and small specs run out of distinct expressions,
        // so bound the work and fail loudly rather than loop forever.
        long maxAttempts = 1_000L * n + 100_000L;
        for (long attempt = 0; problems.size() < n; attempt++) {
            if (attempt >= maxAttempts) {
                throw new IllegalStateException("only " + problems.size() + " distinct expressions of " + n
                        + " found for split " + split + " after " + attempt + " draws; widen " + drawSpec
                        + " or ask for fewer");
            }
            String expression = draw(drawSpec, rng);
            if (expression == null || !belongsTo(expression, split) || !seen.add(expression)) {
                continue;
            }
            problems.add(Problem.of(split, problems.size(), expression));
        }
        return problems;
    }

    /**
     * The split an expression is reserved for ({@code train}, {@code valid} or {@code test}),
     * from a fixed hash of its text. {@code test_ood} draws from the non-train part.
     */
    public static String reservedSplit(String expression) {
        int bucket = (int) Long.remainderUnsigned(mix(fnv1a(expression)), BUCKETS);
        if (bucket < TRAIN_END) {
            return TRAIN;
        }
        return bucket < VALID_END ? VALID : TEST;
    }

    private static boolean belongsTo(String expression, String split) {
        String reserved = reservedSplit(expression);
        return TEST_OOD.equals(split) ? !TRAIN.equals(reserved) : reserved.equals(split);
    }

    /** One random expression, or null if its value would overflow {@code long}. */
    private static String draw(TaskSpec spec, SplittableRandom rng) {
        int ops = rng.nextInt(spec.minOps(), spec.maxOps() + 1);
        long[] operands = new long[ops + 1];
        char[] operators = new char[ops];
        for (int i = 0; i <= ops; i++) {
            operands[i] = spec.operandMax() == Long.MAX_VALUE
                    ? rng.nextLong(spec.operandMin(), spec.operandMax())
                    : rng.nextLong(spec.operandMin(), spec.operandMax() + 1);
        }
        for (int i = 0; i < ops; i++) {
            operators[i] = spec.operators().charAt(rng.nextInt(spec.operators().length()));
        }
        Expression e = Expression.of(operands, operators);
        try {
            e.evaluate();
        } catch (ArithmeticException overflow) {
            return null;
        }
        return e.toString();
    }

    /** 64-bit FNV-1a over UTF-16 chars: a stable, JVM-independent string hash. */
    public static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** SplitMix64 finalizer: spreads FNV's weak low bits before taking a bucket or a seed. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
