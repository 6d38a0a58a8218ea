package org.sparkrlhf.reward.rules;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.core.task.Expression;

/**
 * The registry of rule-based rewards. Each rule is a small pure function of a
 * {@link RewardInput}; config only picks rules by name and sets their numeric parameters.
 *
 * <ul>
 *   <li>{@value #CORRECT_ANSWER}: 1 when the answer after the last {@code "#### "} (to the end
 *       of its line, trimmed) equals the reference, else 0. When both sides are integers
 *       ({@code -?[0-9]+}) they are compared as integers ({@code "007"} equals {@code "7"}),
 *       otherwise as trimmed text. With no reference and a built-in-task prompt the
 *       expression's own value is the reference ({@link Checker#grade}); with neither, 0.</li>
 *   <li>{@value #FORMAT}: 1 when the completion is zero or more step lines (starting with
 *       {@code =}) followed by exactly one {@code "#### N"} line that is the last non-empty
 *       line (only empty lines may follow it; no other empty line is allowed), else 0. For a
 *       built-in-task prompt this is Checker's {@code formatOk} (N must be an integer that fits
 *       in a long); for any other prompt N is any non-empty text.</li>
 *   <li>{@value #STEP_VALIDITY}: the fraction of step lines that are correct reductions,
 *       by Checker's step labels: (number of steps labeled correct) / (number of step lines).
 *       Labels stop at the first wrong step (PRM800K), and the unlabeled steps after it count
 *       as <em>not</em> valid, so this is the length of the correct prefix over the step count.
 *       0 when there are no step lines, and 0 for prompts that are not built-in-task prompts
 *       (nothing to check the steps against).</li>
 *   <li>{@value #LENGTH_LIMIT} (param {@code max_tokens} = L, required, &gt; 0): 0 when the
 *       completion has at most L tokens; above that a penalty growing linearly from 0 at L to
 *       -1 at 2L, {@code -min(1, (n - L) / L)}; -1 whenever the finish reason is
 *       {@code "length"} (cut off by the generation budget, no final answer line).</li>
 *   <li>{@value #REPETITION}: {@code -(duplicate step lines) / (step lines)}, where duplicates
 *       = step lines − distinct step lines (a line seen k times counts k − 1); 0 when there are
 *       no step lines. Exact line duplicates, not n-grams: in the built-in task every correct
 *       step is shorter than the one before, so any repeated step line is a loop.</li>
 * </ul>
 *
 * Rules never throw on model output; a parameter problem throws when the rule is built.
 */
public final class RewardRules {

    public static final String CORRECT_ANSWER = "correct_answer";
    public static final String FORMAT = "format";
    public static final String STEP_VALIDITY = "step_validity";
    public static final String LENGTH_LIMIT = "length_limit";
    public static final String REPETITION = "repetition";

    /** Parameter of {@value #LENGTH_LIMIT}: the token limit L. */
    public static final String MAX_TOKENS = "max_tokens";

    private static final String ANSWER_PREFIX = "#### ";
    private static final Pattern INTEGER = Pattern.compile("-?[0-9]+");
    private static final Set<String> NAMES =
            new TreeSet<>(List.of(CORRECT_ANSWER, FORMAT, STEP_VALIDITY, LENGTH_LIMIT, REPETITION));

    private RewardRules() {
    }

    /** The known rule names, sorted. */
    public static Set<String> names() {
        return NAMES;
    }

    /** The rule {@code name} with no parameters. */
    public static RewardRule byName(String name) {
        return byName(name, Map.of());
    }

    /**
     * The rule {@code name} with {@code params}.
     *
     * @throws IllegalArgumentException for an unknown name (the message lists the known ones),
     *     an unknown parameter, or a missing or bad required parameter
     */
    public static RewardRule byName(String name, Map<String, ?> params) {
        Map<String, ?> p = params == null ? Map.of() : params;
        if (name == null || !NAMES.contains(name)) {
            throw new IllegalArgumentException("unknown reward rule '" + name + "'; known: " + String.join(", ", NAMES));
        }
        switch (name) {
            case LENGTH_LIMIT: {
                onlyParams(name, p, MAX_TOKENS);
                Object v = p.get(MAX_TOKENS);
                if (!(v instanceof Number) || ((Number) v).doubleValue() <= 0
                        || ((Number) v).doubleValue() != Math.rint(((Number) v).doubleValue())) {
                    throw new IllegalArgumentException(
                            "reward rule '" + LENGTH_LIMIT + "' needs a positive integer '" + MAX_TOKENS + "', got " + v);
                }
                return new LengthLimit(((Number) v).intValue());
            }
            case CORRECT_ANSWER:
                onlyParams(name, p);
                return new CorrectAnswer();
            case FORMAT:
                onlyParams(name, p);
                return new Format();
            case STEP_VALIDITY:
                onlyParams(name, p);
                return new StepValidity();
            case REPETITION:
                onlyParams(name, p);
                return new Repetition();
            default:
                throw new AssertionError(name);
        }
    }

    private static void onlyParams(String rule, Map<String, ?> params, String... allowed) {
        Set<String> ok = new HashSet<>(List.of(allowed));
        for (String key : params.keySet()) {
            if (!ok.contains(key)) {
                throw new IllegalArgumentException("reward rule '" + rule + "' has no parameter '" + key
                        + "'; known: " + (allowed.length == 0 ? "(none)" : String.join(", ", allowed)));
            }
        }
    }

    // ---- helpers -------------------------------------------------------------------------

    /** The prompt is the built-in task's {@code <expression>=?\n}. */
    static boolean isTaskPrompt(String prompt) {
        String s = prompt.endsWith("\n") ? prompt.substring(0, prompt.length() - 1) : prompt;
        return s.endsWith("=?") && Expression.tryParse(s.substring(0, s.length() - 2)) != null;
    }

    /** The trimmed text after the last {@code "#### "} up to the end of its line, or null. */
    public static String finalAnswer(String completion) {
        int at = completion.lastIndexOf(ANSWER_PREFIX);
        if (at < 0) {
            return null;
        }
        int from = at + ANSWER_PREFIX.length();
        int end = completion.indexOf('\n', from);
        return completion.substring(from, end < 0 ? completion.length() : end).strip();
    }

    /** Integers compared as integers (no overflow), anything else as trimmed text. */
    public static boolean sameAnswer(String predicted, String reference) {
        String a = predicted.strip();
        String b = reference.strip();
        if (INTEGER.matcher(a).matches() && INTEGER.matcher(b).matches()) {
            return new BigInteger(a).equals(new BigInteger(b));
        }
        return a.equals(b);
    }

    static List<String> lines(String text) {
        return Checker.lines(text);
    }

    static List<String> stepLines(String completion) {
        List<String> steps = new ArrayList<>();
        for (String line : lines(completion)) {
            if (line.startsWith("=")) {
                steps.add(line);
            }
        }
        return steps;
    }

    // ---- rules ---------------------------------------------------------------------------

    static final class CorrectAnswer implements RewardRule {
        private static final long serialVersionUID = 1L;

        @Override
        public String name() {
            return CORRECT_ANSWER;
        }

        @Override
        public double score(RewardInput in) {
            if (in.reference() == null) {
                return isTaskPrompt(in.prompt()) && Checker.grade(in.prompt(), in.completion()).correct() ? 1 : 0;
            }
            String predicted = finalAnswer(in.completion());
            return predicted != null && sameAnswer(predicted, in.reference()) ? 1 : 0;
        }
    }

    static final class Format implements RewardRule {
        private static final long serialVersionUID = 1L;

        @Override
        public String name() {
            return FORMAT;
        }

        @Override
        public double score(RewardInput in) {
            if (isTaskPrompt(in.prompt())) {
                return Checker.grade(in.prompt(), in.completion()).formatOk() ? 1 : 0;
            }
            List<String> lines = lines(in.completion());
            int last = lines.size() - 1;
            while (last >= 0 && lines.get(last).isEmpty()) {
                last--;
            }
            if (last < 0) {
                return 0;
            }
            String answer = lines.get(last);
            if (!answer.startsWith(ANSWER_PREFIX) || answer.substring(ANSWER_PREFIX.length()).isBlank()) {
                return 0;
            }
            for (int i = 0; i < last; i++) {
                if (!lines.get(i).startsWith("=")) {
                    return 0;
                }
            }
            return 1;
        }
    }

    static final class StepValidity implements RewardRule {
        private static final long serialVersionUID = 1L;

        @Override
        public String name() {
            return STEP_VALIDITY;
        }

        @Override
        public double score(RewardInput in) {
            if (!isTaskPrompt(in.prompt())) {
                return 0;
            }
            Checker.Grade g = Checker.grade(in.prompt(), in.completion());
            if (g.stepCount() == 0) {
                return 0;
            }
            long valid = g.stepLabels().stream().filter(Boolean::booleanValue).count();
            return (double) valid / g.stepCount();
        }
    }

    static final class LengthLimit implements RewardRule {
        private static final long serialVersionUID = 1L;
        private final int maxTokens;

        LengthLimit(int maxTokens) {
            this.maxTokens = maxTokens;
        }

        @Override
        public String name() {
            return LENGTH_LIMIT;
        }

        @Override
        public double score(RewardInput in) {
            if (RewardInput.FINISH_LENGTH.equals(in.finishReason())) {
                return -1;
            }
            int n = in.completionTokens();
            if (n <= maxTokens) {
                return 0;
            }
            return -Math.min(1.0, (double) (n - maxTokens) / maxTokens);
        }
    }

    static final class Repetition implements RewardRule {
        private static final long serialVersionUID = 1L;

        @Override
        public String name() {
            return REPETITION;
        }

        @Override
        public double score(RewardInput in) {
            List<String> steps = stepLines(in.completion());
            if (steps.isEmpty()) {
                return 0;
            }
            int duplicates = steps.size() - new HashSet<>(steps).size();
            return duplicates == 0 ? 0.0 : -(double) duplicates / steps.size();
        }
    }
}
