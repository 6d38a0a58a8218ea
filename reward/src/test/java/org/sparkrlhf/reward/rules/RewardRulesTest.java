package org.sparkrlhf.reward.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RewardRulesTest {

    // 12+7*3-5: 7*3 first -> 12+21-5, then 12+21 -> 33-5, then 28.
    static final String PROMPT = "12+7*3-5=?\n";
    static final String RIGHT = "=12+21-5\n=33-5\n=28\n#### 28\n";
    // Second step is wrong (33-5 -> 34-5 is not a reduction); third is unlabeled.
    static final String WRONG = "=12+21-5\n=34-5\n=29\n#### 29\n";
    static final String MALFORMED = "the answer is 28";
    // Steps: A, A, A, B -> 4 step lines, 2 distinct; labels [true, false] (second A is not a reduction of A).
    static final String REPEATED = "=12+21-5\n=12+21-5\n=12+21-5\n=33-5\n#### 28\n";

    static RewardInput in(String completion) {
        return new RewardInput(PROMPT, completion, null, 10, RewardInput.FINISH_STOP);
    }

    static double score(String rule, RewardInput in) {
        return RewardRules.byName(rule).score(in);
    }

    @Test
    void correctAnswerAgainstTaskWhenNoReference() {
        assertEquals(1.0, score("correct_answer", in(RIGHT)));
        assertEquals(0.0, score("correct_answer", in(WRONG)));
        assertEquals(0.0, score("correct_answer", in(MALFORMED)));
        assertEquals(1.0, score("correct_answer", in(REPEATED)));
    }

    @Test
    void correctAnswerAgainstReference() {
        // Integers compare as integers, other answers as trimmed text; the last "#### " wins.
        assertEquals(1.0, score("correct_answer", new RewardInput("q", "#### 007\n", "7", 3, "stop")));
        assertEquals(1.0, score("correct_answer", new RewardInput("q", "#### 1\n#### -5 \n", " -5", 3, "stop")));
        assertEquals(1.0, score("correct_answer", new RewardInput("q", "#### 123456789012345678901234567890",
                "123456789012345678901234567890", 3, "stop")));
        assertEquals(1.0, score("correct_answer", new RewardInput("q", "#### Paris \n", " Paris", 3, "stop")));
        assertEquals(0.0, score("correct_answer", new RewardInput("q", "#### 7\n", "8", 3, "stop")));
        assertEquals(0.0, score("correct_answer", new RewardInput("q", "7", "7", 3, "stop")));
        // A reference overrides the task's own value.
        assertEquals(0.0, score("correct_answer", new RewardInput(PROMPT, RIGHT, "29", 3, "stop")));
        // No reference and not a task prompt: nothing to compare with.
        assertEquals(0.0, score("correct_answer", new RewardInput("what?", "#### 28\n", null, 3, "stop")));
    }

    @Test
    void formatOnTaskAndGenericPrompts() {
        assertEquals(1.0, score("format", in(RIGHT)));
        assertEquals(1.0, score("format", in(WRONG)));
        assertEquals(0.0, score("format", in(MALFORMED)));
        assertEquals(1.0, score("format", in("#### 28\n\n")));             // trailing empty lines are fine
        assertEquals(0.0, score("format", in("=12+21-5\n\n#### 28\n")));   // interior empty line
        assertEquals(0.0, score("format", in("#### 28\n#### 28\n")));      // two answer lines
        assertEquals(0.0, score("format", in("#### 28\n=28\n")));          // answer is not last
        assertEquals(0.0, score("format", in("=28\n#### twenty\n")));      // task answers are integers
        assertEquals(0.0, score("format", in("")));
        RewardInput generic = new RewardInput("Capital of France?\n", "=think\n#### Paris\n", null, 4, "stop");
        assertEquals(1.0, score("format", generic));
        assertEquals(0.0, score("format", new RewardInput("Capital?\n", "think\n#### Paris\n", null, 4, "stop")));
        assertEquals(0.0, score("format", new RewardInput("Capital?\n", "=x\n####  \n", null, 4, "stop")));
    }

    @Test
    void stepValidityCountsCorrectPrefix() {
        assertEquals(3.0 / 3, score("step_validity", in(RIGHT)));
        // labels [true, false], third unlabeled and counted as not valid: 1 / 3.
        assertEquals(1.0 / 3, score("step_validity", in(WRONG)), 1e-12);
        // labels [true, false] over 4 step lines: 1 / 4.
        assertEquals(1.0 / 4, score("step_validity", in(REPEATED)), 1e-12);
        assertEquals(0.0, score("step_validity", in(MALFORMED)));
        assertEquals(0.0, score("step_validity", in("#### 28\n")));      // no steps
        assertEquals(0.0, score("step_validity", new RewardInput("what?", "=1\n#### 1\n", null, 3, "stop")));
    }

    @Test
    void lengthLimitIsLinearToTwiceTheLimit() {
        RewardRule rule = RewardRules.byName("length_limit", Map.of("max_tokens", 10));
        assertEquals(0.0, rule.score(new RewardInput(PROMPT, RIGHT, null, 7, "stop")));
        assertEquals(0.0, rule.score(new RewardInput(PROMPT, RIGHT, null, 10, "stop")));
        assertEquals(-0.5, rule.score(new RewardInput(PROMPT, RIGHT, null, 15, "stop")), 1e-12);   // -(15-10)/10
        assertEquals(-1.0, rule.score(new RewardInput(PROMPT, RIGHT, null, 20, "stop")), 1e-12);   // -(20-10)/10
        assertEquals(-1.0, rule.score(new RewardInput(PROMPT, RIGHT, null, 35, "stop")), 1e-12);   // capped
        assertEquals(-1.0, rule.score(new RewardInput(PROMPT, "=12+21", null, 5, "length")));      // truncated
        assertThrows(IllegalArgumentException.class, () -> RewardRules.byName("length_limit"));
        assertThrows(IllegalArgumentException.class, () -> RewardRules.byName("length_limit", Map.of("max_tokens", 0)));
        assertThrows(IllegalArgumentException.class, () -> RewardRules.byName("length_limit", Map.of("max_tokens", 2.5)));
    }

    @Test
    void repetitionPenalisesDuplicateStepLines() {
        assertEquals(0.0, score("repetition", in(RIGHT)));
        // 4 step lines, 2 distinct -> 2 duplicates -> -2/4.
        assertEquals(-0.5, score("repetition", in(REPEATED)), 1e-12);
        assertEquals(0.0, score("repetition", in(MALFORMED)));
        // The same line 3 times and nothing else: 2 duplicates of 3.
        assertEquals(-2.0 / 3, score("repetition", in("=1\n=1\n=1\n#### 1\n")), 1e-12);
    }

    @Test
    void unknownNamesAndParamsAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RewardRules.byName("exec"));
        for (String known : List.of("correct_answer", "format", "step_validity", "length_limit", "repetition")) {
            assertTrue(e.getMessage().contains(known), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> RewardRules.byName("format", Map.of("strict", true)));
    }

    @Test
    void rulesNeverThrowOnGarbage() {
        for (String name : RewardRules.names()) {
            RewardRule rule = name.equals("length_limit")
                    ? RewardRules.byName(name, Map.of("max_tokens", 4)) : RewardRules.byName(name);
            for (String c : new String[] {"", "\n\n", "#### ", "=99999999999999999999999\n#### 99999999999999999999999",
                    "=\u0000\n####\n"}) {
                double s = rule.score(new RewardInput(null, c, null, 0, null));
                assertTrue(Double.isFinite(s));
                s = rule.score(new RewardInput(PROMPT, c, "", 0, null));
                assertTrue(Double.isFinite(s));
            }
        }
    }
}
