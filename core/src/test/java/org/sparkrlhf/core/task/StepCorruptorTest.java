package org.sparkrlhf.core.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.task.StepCorruptor.Corruption;
import org.sparkrlhf.core.task.StepCorruptor.Kind;

class StepCorruptorTest {

    private static final List<Problem> PROBLEMS =
            ArithmeticTask.generate(TaskSpec.defaults(), ArithmeticTask.TRAIN, 2_000);

    @Test
    void checkerRejectsEveryKindAtExactlyTheCorruptedStep() {
        Map<Kind, Integer> made = new EnumMap<>(Kind.class);
        for (Problem p : PROBLEMS) {
            for (Kind kind : Kind.values()) {
                Optional<Corruption> c = StepCorruptor.corrupt(p.expression(), kind, 11);
                if (c.isEmpty()) {
                    continue;
                }
                made.merge(kind, 1, Integer::sum);
                Corruption corruption = c.get();
                assertEquals(kind, corruption.kind());
                Checker.Grade g = Checker.grade(p.prompt(), corruption.completion());
                String where = kind + " " + p.expression() + "\n" + corruption.completion();
                assertTrue(g.formatOk(), where);
                assertEquals(corruption.firstWrongStep(), g.firstWrongStep(), where);
                assertEquals(corruption.firstWrongStep() + 1, g.stepLabels().size(), where);
                assertEquals(corruption.answer(), g.predicted(), where);
                assertPlausible(corruption, where);
            }
        }
        // Every kind applies to a large share of 1-3 operator problems.
        for (Kind kind : Kind.values()) {
            assertTrue(made.getOrDefault(kind, 0) > 200, kind + " made " + made.get(kind));
        }
    }

    @Test
    void handWrittenKinds() {
        String expr = "12+7*3-5";
        Corruption order = StepCorruptor.corrupt(expr, Kind.WRONG_ORDER, 1).orElseThrow();
        assertEquals(0, order.firstWrongStep());
        assertEquals(List.of("=19*3-5", "=57-5", "=52"), order.steps());
        assertEquals(52, order.answer());

        // A line with no '*' has no precedence to ignore.
        assertTrue(StepCorruptor.corrupt("1+2-3", Kind.WRONG_ORDER, 1).isEmpty());
        // One operator leaves a single number: nothing can be dropped or miscopied.
        assertTrue(StepCorruptor.corrupt("4*5", Kind.DROPPED_TERM, 1).isEmpty());
        assertTrue(StepCorruptor.corrupt("4*5", Kind.COPY_ERROR, 1).isEmpty());

        Corruption arithmetic = StepCorruptor.corrupt("4*5", Kind.ARITHMETIC_ERROR, 1).orElseThrow();
        long off = arithmetic.answer() - 20;
        assertTrue(off != 0 && Math.abs(off) <= 3, arithmetic.toString());

        Corruption copy = StepCorruptor.corrupt("2*3+4", Kind.COPY_ERROR, 1).orElseThrow();
        // The reduction 2*3=6 is kept; the copied 4 changes.
        assertTrue(copy.steps().get(0).startsWith("=6+"), copy.toString());
        assertNotEquals("=6+4", copy.steps().get(0));

        Corruption dropped = StepCorruptor.corrupt("2*3+4", Kind.DROPPED_TERM, 1).orElseThrow();
        assertTrue(List.of("=6", "=4").contains(dropped.steps().get(0)), dropped.toString());
    }

    @Test
    void deterministicInSeed() {
        for (Problem p : PROBLEMS.subList(0, 200)) {
            for (Kind kind : Kind.values()) {
                assertEquals(StepCorruptor.corrupt(p.expression(), kind, 5),
                        StepCorruptor.corrupt(p.expression(), kind, 5));
            }
        }
        long differ = PROBLEMS.stream().filter(p -> !StepCorruptor.corrupt(p.expression(), Kind.ARITHMETIC_ERROR, 5)
                .equals(StepCorruptor.corrupt(p.expression(), Kind.ARITHMETIC_ERROR, 6))).count();
        assertTrue(differ > 0);
    }

    @Test
    void stepLabelRows() {
        for (Problem p : PROBLEMS.subList(0, 500)) {
            List<StepLabels> rows = StepLabels.forProblem(p, 4, 3);
            assertEquals(rows, StepLabels.forProblem(p, 4, 3));
            assertTrue(rows.size() >= 2 && rows.size() <= 5, p.expression() + " " + rows.size());
            StepLabels correct = rows.get(0);
            assertEquals(Solver.steps(p.expression()), correct.steps());
            assertFalse(correct.labels().contains(false));
            for (StepLabels row : rows.subList(1, rows.size())) {
                assertEquals(p.prompt(), row.prompt());
                int last = row.labels().size() - 1;
                assertFalse(row.labels().get(last));
                assertFalse(row.labels().subList(0, last).contains(false));
                // The labels agree with the checker on the truncated solution.
                Checker.Grade g = Checker.grade(p.prompt(), String.join("\n", row.steps()) + "\n#### 0\n");
                assertEquals(row.labels(), g.stepLabels());
            }
            assertEquals(rows.size(), rows.stream().map(StepLabels::steps).distinct().count());
        }
    }

    /** Plausible: every line parses, only the front may be negative, and it ends fully reduced. */
    private static void assertPlausible(Corruption c, String where) {
        for (String step : c.steps()) {
            assertTrue(step.startsWith("="), where);
            Expression e = Expression.tryParse(step.substring(1));
            assertTrue(e != null && e.isWellFormed() && ("=" + e).equals(step), where);
        }
        assertEquals("=" + c.answer(), c.steps().get(c.steps().size() - 1), where);
    }
}
