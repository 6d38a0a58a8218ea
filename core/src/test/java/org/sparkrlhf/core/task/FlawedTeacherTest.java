package org.sparkrlhf.core.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.task.FlawedTeacher.Demonstration;
import org.sparkrlhf.core.task.FlawedTeacher.Mistake;

class FlawedTeacherTest {

    private static final List<Problem> PROBLEMS =
            ArithmeticTask.generate(TaskSpec.defaults(), ArithmeticTask.TRAIN, 20_000);

    private static FlawedTeacher teacher(double share, double rate, Mistake mistake, long seed) {
        return new FlawedTeacher("*", 9, share, rate, 2, mistake, seed);
    }

    @Test
    void flawsExactlyTheConfiguredShareOfReductionsEachWithAFixedNearbyWrongValue() {
        FlawedTeacher t = teacher(0.28, 0.7, Mistake.FIXED, 7);
        Map<String, Long> flawed = t.flawedReductions();
        assertEquals(28, flawed.size());
        for (Map.Entry<String, Long> e : flawed.entrySet()) {
            long right = Solver.evaluate(e.getKey());
            long off = Math.abs(e.getValue() - right);
            assertTrue(off >= 1 && off <= 2 && e.getValue() >= 0, e.toString());
        }
        // A larger share flaws a superset, with the same wrong values; another seed flaws other reductions.
        Map<String, Long> more = teacher(0.5, 0.7, Mistake.FIXED, 7).flawedReductions();
        assertEquals(50, more.size());
        flawed.forEach((k, v) -> assertEquals(v, more.get(k), k));
        assertNotEquals(flawed.keySet(), teacher(0.28, 0.7, Mistake.FIXED, 8).flawedReductions().keySet());
    }

    @Test
    void errsOnTheConfiguredShareOfOccurrencesAndTheCheckerFindsItsFirstWrongStep() {
        for (double rate : new double[] {0.3, 0.7, 1.0}) {
            FlawedTeacher t = teacher(0.28, rate, Mistake.FIXED, 7);
            long occurrences = 0;
            long mistakes = 0;
            int wrong = 0;
            for (Problem p : PROBLEMS) {
                Demonstration d = t.demonstrate(p.expression());
                occurrences += d.flawedOccurrences();
                mistakes += d.mistakes();
                Checker.Grade g = Checker.grade(p.prompt(), d.completion());
                String where = p.expression() + "\n" + d.completion();
                assertTrue(g.formatOk(), where);
                assertEquals(d.correct(), g.correct(), where);
                assertEquals(d.flawless(), d.completion().equals(p.completion()), where);
                assertEquals(d.answer() == p.answer(), d.correct(), where);
                assertEquals(d.firstWrongStep(), g.firstWrongStep(), where);
                if (!d.flawless()) {
                    wrong += d.correct() ? 0 : 1;
                }
                if (d.mistakes() == 1) {
                    // Consistent after its one mistake: every later line reduces the teacher's own previous line.
                    Checker.Grade own = Checker.grade(d.steps().get(d.firstWrongStep()).substring(1),
                            String.join("\n", d.steps().subList(d.firstWrongStep() + 1, d.steps().size()))
                                    + "\n#### " + d.answer() + "\n");
                    assertTrue(own.correct() && own.allStepsCorrect(), where);
                }
            }
            double measured = (double) mistakes / occurrences;
            double se = Math.sqrt(rate * (1 - rate) / occurrences);
            assertTrue(occurrences > 3000, "occurrences " + occurrences);
            assertTrue(Math.abs(measured - rate) <= 4 * se + 1e-12, rate + " measured " + measured + " (se " + se + ")");
            assertTrue(wrong > 0 && wrong < PROBLEMS.size() / 2, "wrong demonstrations " + wrong);
        }
    }

    @Test
    void isReproducibleFromItsSeedAndPerfectWithoutFlaws() {
        FlawedTeacher a = teacher(0.28, 0.7, Mistake.RANDOM, 7);
        FlawedTeacher b = teacher(0.28, 0.7, Mistake.RANDOM, 7);
        FlawedTeacher other = teacher(0.28, 0.7, Mistake.RANDOM, 9);
        int differ = 0;
        for (Problem p : PROBLEMS.subList(0, 2000)) {
            assertEquals(a.demonstrate(p.expression()), b.demonstrate(p.expression()));
            differ += a.demonstrate(p.expression()).equals(other.demonstrate(p.expression())) ? 0 : 1;
            assertEquals(p.completion(), FlawedTeacher.truth().demonstrate(p.expression()).completion());
            assertEquals(p.completion(), teacher(0.28, 0.0, Mistake.FIXED, 7).demonstrate(p.expression()).completion());
        }
        assertTrue(differ > 100, "another seed, other mistakes: " + differ);
        assertTrue(FlawedTeacher.truth().perfect());
        assertFalse(a.perfect());
    }

    @Test
    void aFixedMistakeIsTheSameWrongLineEveryTime() {
        FlawedTeacher t = teacher(1.0, 1.0, Mistake.FIXED, 3);
        long wrong = t.flawedReductions().get("7*8");
        assertEquals("=" + wrong + "+1\n=" + (wrong + 1) + "\n#### " + (wrong + 1) + "\n", t.demonstrate("7*8+1").completion());
        assertEquals("=2+" + wrong + "\n=" + (2 + wrong) + "\n#### " + (2 + wrong) + "\n",
                t.demonstrate("2+7*8").completion());
    }

    @Test
    void refusesSettingsOutOfRange() {
        assertThrows(IllegalArgumentException.class, () -> teacher(1.5, 0.7, Mistake.FIXED, 1));
        assertThrows(IllegalArgumentException.class, () -> teacher(0.2, -0.1, Mistake.FIXED, 1));
        assertThrows(IllegalArgumentException.class, () -> new FlawedTeacher("/", 9, 0.2, 0.5, 2, Mistake.FIXED, 1));
        assertThrows(IllegalArgumentException.class, () -> new FlawedTeacher("*", 9, 0.2, 0.5, 0, Mistake.FIXED, 1));
    }
}
