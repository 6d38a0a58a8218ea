package org.sparkrlhf.core.task;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Grades a completion of the built-in task: format, outcome and per-step correctness.
 *
 * <p>This runs on every rollout as a reward function, so it must never throw: arbitrary model
 * output (empty, random characters, numbers too large for {@code long}) grades as wrong or
 * malformed, never as an exception. Numbers that overflow {@code long} are unparseable, and a
 * reduction that would overflow has no correct next line.
 */
public final class Checker {

    /**
     * The grade of one completion.
     *
     * @param formatOk the completion is zero or more step lines (each starting with {@code =})
     *     followed by exactly one final line {@code #### N} (N an integer that fits in a
     *     {@code long}); trailing empty lines are allowed, any other empty line is not
     * @param predicted the integer after the last {@code #### } in the completion (surrounding
     *     spaces ignored), or null when there is none or it does not parse
     * @param correct {@code predicted} equals the expression's value; independent of
     *     {@code formatOk} and of the steps, as in the outcome reward of DESIGN.md
     * @param stepLabels one label per step line, in order, up to and including the first wrong
     *     step (PRM800K style: later steps are unlabeled); empty when the prompt does not parse
     * @param stepCount the number of step lines (lines starting with {@code =}) in the completion
     */
    public record Grade(boolean formatOk, Long predicted, boolean correct, List<Boolean> stepLabels, int stepCount) {

        public Grade {
            stepLabels = List.copyOf(stepLabels);
        }

        /** Index of the first wrong step, or -1 when every labeled step is correct. */
        public int firstWrongStep() {
            return stepLabels.indexOf(Boolean.FALSE);
        }

        /** Every step is labeled and correct (true for a correct solution and for no steps at all). */
        public boolean allStepsCorrect() {
            return stepLabels.size() == stepCount && !stepLabels.contains(Boolean.FALSE);
        }
    }

    private Checker() {
    }

    /**
     * Grades {@code completion} against a prompt ({@code 12+7*3-5=?\n}) or a bare expression
     * ({@code 12+7*3-5}). Null inputs are treated as empty strings.
     */
    public static Grade grade(String promptOrExpression, String completion) {
        Expression start = Expression.tryParse(expressionOf(promptOrExpression == null ? "" : promptOrExpression));
        Long expected = null;
        if (start != null) {
            try {
                expected = start.evaluate();
            } catch (ArithmeticException overflow) {
                expected = null;
            }
        }
        String text = completion == null ? "" : completion;
        List<String> lines = lines(text);
        Long predicted = predictedAnswer(text);
        boolean correct = predicted != null && expected != null && predicted.longValue() == expected.longValue();

        List<String> stepLines = new ArrayList<>();
        for (String line : lines) {
            if (line.startsWith("=")) {
                stepLines.add(line);
            }
        }
        List<Boolean> labels = start == null ? Collections.emptyList() : labelSteps(start, stepLines);
        return new Grade(formatOk(lines), predicted, correct, labels, stepLines.size());
    }

    /**
     * Labels step lines against the reductions of {@code start}: each must equal exactly
     * {@code =} followed by the one reduction of the previous line. Stops after the first wrong one.
     */
    public static List<Boolean> labelSteps(Expression start, List<String> stepLines) {
        List<Boolean> labels = new ArrayList<>(stepLines.size());
        Expression previous = start;
        for (String line : stepLines) {
            boolean ok = isNextStep(previous, line);
            labels.add(ok);
            if (!ok) {
                break;
            }
            previous = nextOrNull(previous);
        }
        return labels;
    }

    /**
     * Local validity of every line of a completion (the lines of {@link #lines}, without a trailing empty line):
     * a step line {@code =E} is valid when it is exactly the one reduction of the line before it (of the prompt's
     * expression for the first step), even when that line was itself wrong; the answer line {@code #### N} is valid
     * when the line before it is the number N; anything else is invalid. Unlike {@link #labelSteps}, which stops at
     * the first error as PRM800K does, this judges each line on its own, so after a wrong step a correctly carried
     * out continuation still counts as valid: the error is charged to the one line that made it (the process
     * reward of step-level credit assignment). Never throws.
     */
    public static List<Boolean> lineValidity(String prompt, String completion) {
        List<String> lines = lines(completion == null ? "" : completion);
        if (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
            lines = lines.subList(0, lines.size() - 1);
        }
        List<Boolean> valid = new ArrayList<>(lines.size());
        Expression previous = Expression.tryParse(expressionOf(prompt == null ? "" : prompt));
        for (String line : lines) {
            boolean ok;
            if (line.startsWith(Solver.ANSWER_PREFIX)) {
                Long n = parseInteger(line.substring(Solver.ANSWER_PREFIX.length()).strip());
                ok = n != null && previous != null && previous.isNumber() && previous.operand(0) == n;
                previous = null;
            } else if (line.startsWith("=")) {
                ok = previous != null && isNextStep(previous, line);
                previous = Expression.tryParse(line.substring(1));
            } else {
                ok = false;
                previous = null;
            }
            valid.add(ok);
        }
        return valid;
    }

    /**
     * The completion cut just after its first invalid line (by {@link #lineValidity}, newline included), as Step-DPO
     * pairs a wrong step rather than everything after it; null when every line is valid or the prompt holds no
     * expression of this task (then there is nothing to cut against).
     */
    public static String throughFirstInvalidLine(String prompt, String completion) {
        if (prompt == null || completion == null || Expression.tryParse(expressionOf(prompt)) == null) {
            return null;
        }
        List<Boolean> valid = lineValidity(prompt, completion);
        int end = 0;
        for (boolean ok : valid) {
            int nl = completion.indexOf('\n', end);
            end = nl < 0 ? completion.length() : nl + 1;
            if (!ok) {
                return completion.substring(0, end);
            }
        }
        return null;
    }

    /**
     * {@code line} is exactly {@code =} followed by the one reduction of {@code previous}. Comparing canonical
     * text, not values: "=012+21-5" or a value-preserving rearrangement is not the one reduction the format asks for.
     */
    private static boolean isNextStep(Expression previous, String line) {
        Expression expected = nextOrNull(previous);
        return expected != null && line.equals("=" + expected);
    }

    /** The integer after the last {@code #### } in {@code completion}, or null. */
    public static Long predictedAnswer(String completion) {
        if (completion == null) {
            return null;
        }
        int at = completion.lastIndexOf(Solver.ANSWER_PREFIX);
        if (at < 0) {
            return null;
        }
        int from = at + Solver.ANSWER_PREFIX.length();
        int end = completion.indexOf('\n', from);
        return parseInteger(completion.substring(from, end < 0 ? completion.length() : end).strip());
    }

    /** The expression inside a prompt: drops one trailing newline and a trailing {@code =?}. */
    public static String expressionOf(String prompt) {
        String s = prompt.endsWith("\n") ? prompt.substring(0, prompt.length() - 1) : prompt;
        return s.endsWith("=?") ? s.substring(0, s.length() - 2) : s;
    }

    private static boolean formatOk(List<String> lines) {
        int last = lines.size() - 1;
        while (last >= 0 && lines.get(last).isEmpty()) {
            last--;
        }
        if (last < 0) {
            return false;
        }
        String answerLine = lines.get(last);
        if (!answerLine.startsWith(Solver.ANSWER_PREFIX)
                || parseInteger(answerLine.substring(Solver.ANSWER_PREFIX.length())) == null) {
            return false;
        }
        for (int i = 0; i < last; i++) {
            if (!lines.get(i).startsWith("=")) {
                return false;
            }
        }
        return true;
    }

    private static Expression nextOrNull(Expression e) {
        if (e.isNumber()) {
            return null;
        }
        try {
            return e.reduce();
        } catch (ArithmeticException overflow) {
            return null;
        }
    }

    /** A strict integer: optional {@code -}, then digits only, fitting in a {@code long}; else null. */
    static Long parseInteger(String s) {
        Expression e = Expression.tryParse(s);
        return e != null && e.isNumber() ? e.operand(0) : null;
    }

    /** The text split at every newline (a trailing newline gives a last empty line). */
    public static List<String> lines(String text) {
        List<String> lines = new ArrayList<>();
        int from = 0;
        while (true) {
            int nl = text.indexOf('\n', from);
            if (nl < 0) {
                lines.add(text.substring(from));
                return lines;
            }
            lines.add(text.substring(from, nl));
            from = nl + 1;
        }
    }
}
