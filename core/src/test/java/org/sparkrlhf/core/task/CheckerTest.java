package org.sparkrlhf.core.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CheckerTest {

    private static final String PROMPT = "12+7*3-5=?\n";

    @Test
    void acceptsEveryGeneratedSolution() {
        TaskSpec spec = TaskSpec.defaults();
        int checked = 0;
        for (String split : ArithmeticTask.SPLITS) {
            for (Problem p : ArithmeticTask.generate(spec, split, split.equals("train") ? 3_000 : 500)) {
                Checker.Grade g = Checker.grade(p.prompt(), p.completion());
                assertTrue(g.formatOk(), p.completion());
                assertTrue(g.correct(), p.completion());
                assertEquals(p.answer(), g.predicted());
                assertTrue(g.allStepsCorrect(), p.completion());
                assertEquals(Expression.parse(p.expression()).operatorCount(), g.stepCount());
                assertEquals(-1, g.firstWrongStep());
                checked++;
            }
        }
        assertEquals(4_500, checked);
    }

    @Test
    void acceptsBareExpressionAsWellAsPrompt() {
        Checker.Grade g = Checker.grade("12+7*3-5", "=12+21-5\n=33-5\n=28\n#### 28\n");
        assertTrue(g.formatOk() && g.correct() && g.allStepsCorrect());
        assertEquals(List.of(true, true, true), g.stepLabels());
    }

    @Test
    void correctAnswerWithWrongStepIsCorrectButLabeledWrong() {
        // The second line keeps the value (34-6 = 28) but is not the reduction of 12+21-5.
        Checker.Grade g = Checker.grade(PROMPT, "=12+21-5\n=34-6\n=28\n#### 28\n");
        assertTrue(g.formatOk());
        assertTrue(g.correct());
        assertEquals(List.of(true, false), g.stepLabels());
        assertEquals(3, g.stepCount());
        assertEquals(1, g.firstWrongStep());
        assertFalse(g.allStepsCorrect());
    }

    @Test
    void noncanonicalOrSkippedStepsAreWrong() {
        assertEquals(List.of(false), Checker.grade(PROMPT, "=012+21-5\n#### 28\n").stepLabels());
        // Two reductions in one line: value preserved, but not the one reduction.
        assertEquals(List.of(true, false), Checker.grade(PROMPT, "=12+21-5\n=28\n#### 28\n").stepLabels());
        // A step after the expression is already a number.
        assertEquals(List.of(true, true, true, false),
                Checker.grade(PROMPT, "=12+21-5\n=33-5\n=28\n=28\n#### 28\n").stepLabels());
        assertEquals(List.of(false), Checker.grade(PROMPT, "=\n#### 28\n").stepLabels());
    }

    @Test
    void wrongAnswerIsNotCorrect() {
        Checker.Grade g = Checker.grade(PROMPT, "=12+21-5\n=33-5\n=28\n#### 29\n");
        assertTrue(g.formatOk());
        assertFalse(g.correct());
        assertEquals(29L, g.predicted());
        assertTrue(g.allStepsCorrect());
    }

    @Test
    void malformedCompletions() {
        assertMalformed("=12+21-5\n=33-5\n=28\n");                 // missing ####
        assertMalformed("=12+21-5\n#### 28\n=33-5\n#### 28\n");    // two #### lines
        assertMalformed("#### 28\n#### 28\n");                     // two #### lines, no steps
        assertMalformed("=28\n#### 28\nthe end\n");                // #### not last
        assertMalformed("");
        assertMalformed("\n\n");
        assertMalformed("the answer is 28");
        assertMalformed("=12+21-5\n\n=33-5\n=28\n#### 28\n");      // blank line between steps
        assertMalformed("=28\n#### 99999999999999999999999\n");    // overflow
        assertMalformed("=28\n####28\n");
        assertMalformed("=28\n#### 28 apples\n");
        assertMalformed(null);
        Checker.Grade overflow = Checker.grade(PROMPT, "=28\n#### 99999999999999999999999\n");
        assertNull(overflow.predicted());
        assertFalse(overflow.correct());
        // The outcome is read from the LAST "#### " even when the format is broken.
        Checker.Grade two = Checker.grade(PROMPT, "#### 5\n#### 28\n");
        assertEquals(28L, two.predicted());
        assertTrue(two.correct());
        // Trailing newlines and a missing final newline are fine.
        assertTrue(Checker.grade(PROMPT, "=12+21-5\n=33-5\n=28\n#### 28").formatOk());
        assertTrue(Checker.grade(PROMPT, "=12+21-5\n=33-5\n=28\n#### 28\n\n").formatOk());
    }

    @Test
    void overflowingStepsAndPromptsNeverThrow() {
        String huge = "=99999999999999999999*99999999999999999999\n#### 1\n";
        Checker.Grade g = Checker.grade(PROMPT, huge);
        assertEquals(List.of(false), g.stepLabels());
        Checker.Grade p = Checker.grade("9223372036854775807*2=?\n", "=0\n#### 0\n");
        assertFalse(p.correct());
        assertEquals(List.of(false), p.stepLabels());
        Checker.Grade garbagePrompt = Checker.grade("hello", "=1\n#### 1\n");
        assertTrue(garbagePrompt.formatOk());
        assertFalse(garbagePrompt.correct());
        assertEquals(List.of(), garbagePrompt.stepLabels());
        assertEquals(1, garbagePrompt.stepCount());
    }

    @Test
    void randomGarbageNeverThrows() {
        SplittableRandom rng = new SplittableRandom(42);
        String alphabet = "0123456789+-*=?# \n#=-9\u0000\u00e9x";
        for (int i = 0; i < 20_000; i++) {
            StringBuilder sb = new StringBuilder();
            int len = rng.nextInt(60);
            for (int k = 0; k < len; k++) {
                sb.append(alphabet.charAt(rng.nextInt(alphabet.length())));
            }
            String s = sb.toString();
            Checker.Grade g = Checker.grade(PROMPT, s);
            assertTrue(g.stepLabels().size() <= g.stepCount());
            Checker.grade(s, PROMPT);
            Checker.grade(s, s);
        }
    }

    private static void assertMalformed(String completion) {
        Checker.Grade g = Checker.grade(PROMPT, completion);
        assertFalse(g.formatOk(), String.valueOf(completion));
    }

    @Test
    void lineValidityJudgesEachLineOnItsOwn() {
        // 8*5=40 is right; 40*7 written as 240 is the error; 240+5 -> 244 is wrong again; "#### 244" copies 244.
        assertEquals(List.of(true, false, false, true),
                Checker.lineValidity("8*5*7+5=?\n", "=40*7+5\n=240+5\n=244\n#### 244\n"));
        // After the wrong 240, "=245" is the right reduction of "=240+5": valid, though the answer is wrong.
        assertEquals(List.of(true, false, true, true),
                Checker.lineValidity("8*5*7+5=?\n", "=40*7+5\n=240+5\n=245\n#### 245\n"));
        assertEquals(List.of(true, true, true, true),
                Checker.lineValidity("8*5*7+5=?\n", "=40*7+5\n=280+5\n=285\n#### 285\n"));
        // An answer line that does not follow a number, junk lines, an answer not equal to the line before.
        assertEquals(List.of(false), Checker.lineValidity("2+3=?\n", "#### 5\n"));
        assertEquals(List.of(true, false), Checker.lineValidity("2+3=?\n", "=5\n#### 6"));
        assertEquals(List.of(false, false), Checker.lineValidity("2+3=?\n", "hello\n=5\n").subList(0, 2));
        assertEquals(List.of(), Checker.lineValidity("2+3=?\n", ""));
        assertEquals(List.of(false), Checker.lineValidity(null, "=99999999999999999999999"));
    }

    @Test
    void throughFirstInvalidLineCutsAfterTheStepThatWentWrong() {
        assertEquals("=40*7+5\n=240+5\n",
                Checker.throughFirstInvalidLine("8*5*7+5=?\n", "=40*7+5\n=240+5\n=245\n#### 245\n"));
        assertEquals("=5\n#### 6", Checker.throughFirstInvalidLine("2+3=?\n", "=5\n#### 6"));
        assertEquals("hello\n", Checker.throughFirstInvalidLine("2+3=?\n", "hello\n=5\n"));
        // nothing to cut: every line valid, or a prompt that is not this task's
        assertNull(Checker.throughFirstInvalidLine("8*5*7+5=?\n", "=40*7+5\n=280+5\n=285\n#### 285\n"));
        assertNull(Checker.throughFirstInvalidLine("Name a colour.\n", "red\n"));
        assertNull(Checker.throughFirstInvalidLine(null, "=5\n"));
    }
}
