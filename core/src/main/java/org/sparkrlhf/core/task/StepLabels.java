package org.sparkrlhf.core.task;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One process-supervision row in the layout of TRL's stepwise-supervision datasets
 * ({@code prompt}, {@code completions}, {@code labels}): the step lines of a solution and one
 * label per step. Steps end at the first wrong step, so the labels are all true except
 * possibly the last — the PRM800K convention that nothing after a mistake is labeled.
 * Steps are the {@code =} lines without newline; the final {@code #### N} line is not a step
 * (it is graded by the outcome reward).
 *
 * @param prompt the prompt, e.g. {@code 12+7*3-5=?\n}
 * @param steps the step lines, e.g. {@code =12+21-5}
 * @param labels one label per step
 */
public record StepLabels(String prompt, List<String> steps, List<Boolean> labels) {

    public StepLabels {
        steps = List.copyOf(steps);
        labels = List.copyOf(labels);
        if (steps.size() != labels.size()) {
            throw new IllegalArgumentException(steps.size() + " steps but " + labels.size() + " labels");
        }
    }

    /** The correct solution of a problem, every step labeled true. */
    public static StepLabels correct(Problem problem) {
        List<String> steps = Solver.steps(problem.expression());
        return new StepLabels(problem.prompt(), steps, Collections.nCopies(steps.size(), Boolean.TRUE));
    }

    /** A corrupted solution truncated after its wrong step: true, …, true, false. */
    public static StepLabels of(String prompt, StepCorruptor.Corruption corruption) {
        return throughFirstWrong(prompt, corruption.steps(), corruption.firstWrongStep());
    }

    /** Any solution whose first wrong step is {@code wrong}, truncated after it: true, …, true, false. */
    public static StepLabels throughFirstWrong(String prompt, List<String> steps, int wrong) {
        List<Boolean> labels = new ArrayList<>(Collections.nCopies(wrong, Boolean.TRUE));
        labels.add(Boolean.FALSE);
        return new StepLabels(prompt, steps.subList(0, wrong + 1), labels);
    }

    /**
     * Rows for one problem: its correct solution, then up to {@code k} distinct corrupted ones.
     * Kinds are taken in turn (starting at a problem-dependent kind so small {@code k} still
     * covers every kind across a data set); kinds that cannot apply to this expression are
     * skipped, so fewer than {@code k} rows come back for very short expressions.
     * Deterministic in {@code (problem, k, seed)}.
     */
    public static List<StepLabels> forProblem(Problem problem, int k, long seed) {
        if (k < 0) {
            throw new IllegalArgumentException("k must be >= 0, got " + k);
        }
        List<StepLabels> rows = new ArrayList<>(k + 1);
        rows.add(correct(problem));
        StepCorruptor.Kind[] kinds = StepCorruptor.Kind.values();
        int offset = (int) Long.remainderUnsigned(ArithmeticTask.fnv1a(problem.expression()), kinds.length);
        Set<List<String>> seen = new HashSet<>();
        // A few attempts per wanted row: different seeds may yield the same truncated steps.
        for (int attempt = 0; attempt < 4 * k && rows.size() <= k; attempt++) {
            StepCorruptor.Kind kind = kinds[(offset + attempt) % kinds.length];
            Optional<StepCorruptor.Corruption> c = StepCorruptor.corrupt(
                    problem.expression(), kind, ArithmeticTask.mix(seed + attempt));
            if (c.isPresent()) {
                StepLabels row = of(problem.prompt(), c.get());
                if (seen.add(row.steps())) {
                    rows.add(row);
                }
            }
        }
        return rows;
    }
}
