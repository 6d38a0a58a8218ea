package org.sparkrlhf.core.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class ArithmeticTaskTest {

    private static final TaskSpec SPEC = TaskSpec.defaults();

    @Test
    void sameSeedSameProblemsOtherSeedOtherProblems() {
        for (String split : ArithmeticTask.SPLITS) {
            List<Problem> a = ArithmeticTask.generate(SPEC, split, 300);
            List<Problem> b = ArithmeticTask.generate(SPEC, split, 300);
            assertEquals(a, b, split);
            List<Problem> c = ArithmeticTask.generate(SPEC.withSeed(99), split, 300);
            assertNotEquals(expressions(a), expressions(c), split);
        }
    }

    @Test
    void aLargerRunExtendsASmallerOne() {
        List<Problem> small = ArithmeticTask.generate(SPEC, ArithmeticTask.VALID, 50);
        List<Problem> large = ArithmeticTask.generate(SPEC, ArithmeticTask.VALID, 200);
        assertEquals(small, large.subList(0, 50));
    }

    @Test
    void idsAndFieldsAreConsistent() {
        List<Problem> train = ArithmeticTask.generate(SPEC, ArithmeticTask.TRAIN, 100);
        assertEquals("train-000042", train.get(42).id());
        for (Problem p : train) {
            assertEquals("train", p.split());
            assertEquals(p.expression() + "=?\n", p.prompt());
            assertEquals(Solver.evaluate(p.expression()), p.answer());
            assertEquals(Solver.completion(p.expression()), p.completion());
            assertTrue(p.completion().endsWith("#### " + p.answer() + "\n"));
        }
    }

    @Test
    void splitsAreDisjointAndDuplicateFree() {
        List<Problem> train = ArithmeticTask.generate(SPEC, ArithmeticTask.TRAIN, 20_000);
        List<Problem> valid = ArithmeticTask.generate(SPEC, ArithmeticTask.VALID, 1_000);
        List<Problem> test = ArithmeticTask.generate(SPEC, ArithmeticTask.TEST, 1_000);
        List<Problem> ood = ArithmeticTask.generate(SPEC, ArithmeticTask.TEST_OOD, 1_000);
        Set<String> trainSet = expressions(train);
        for (List<Problem> split : List.of(train, valid, test, ood)) {
            assertEquals(split.size(), expressions(split).size(), "duplicates within a split");
        }
        for (List<Problem> heldOut : List.of(valid, test, ood)) {
            for (Problem p : heldOut) {
                assertTrue(!trainSet.contains(p.expression()), p.expression() + " also in train");
            }
        }
        Set<String> validSet = expressions(valid);
        assertTrue(test.stream().noneMatch(p -> validSet.contains(p.expression())));
        // The guarantee is structural, not luck: every expression's reserved split matches.
        for (Problem p : train) {
            assertEquals(ArithmeticTask.TRAIN, ArithmeticTask.reservedSplit(p.expression()));
        }
        for (Problem p : valid) {
            assertEquals(ArithmeticTask.VALID, ArithmeticTask.reservedSplit(p.expression()));
        }
        // Held-out data of one seed never leaks into the training data of another seed.
        Set<String> otherSeedTrain = expressions(
                ArithmeticTask.generate(SPEC.withSeed(7), ArithmeticTask.TRAIN, 20_000));
        assertTrue(test.stream().noneMatch(p -> otherSeedTrain.contains(p.expression())));
    }

    @Test
    void operatorCountOperandRangeAndOperatorsRespected() {
        TaskSpec spec = new TaskSpec(2, 4, 10, 99, "+*", 5);
        for (Problem p : ArithmeticTask.generate(spec, ArithmeticTask.TRAIN, 2_000)) {
            Expression e = Expression.parse(p.expression());
            assertTrue(e.operatorCount() >= 2 && e.operatorCount() <= 4, p.expression());
            for (int i = 0; i < e.operandCount(); i++) {
                assertTrue(e.operand(i) >= 10 && e.operand(i) <= 99, p.expression());
            }
            for (int i = 0; i < e.operatorCount(); i++) {
                assertTrue(e.operator(i) == '+' || e.operator(i) == '*', p.expression());
            }
        }
        Set<Integer> counts = ArithmeticTask.generate(SPEC, ArithmeticTask.TRAIN, 2_000).stream()
                .map(p -> Expression.parse(p.expression()).operatorCount()).collect(Collectors.toSet());
        assertEquals(Set.of(1, 2, 3), counts);
    }

    @Test
    void testOodHasMoreOperators() {
        int maxInDistribution = SPEC.maxOps();
        for (Problem p : ArithmeticTask.generate(SPEC, ArithmeticTask.TEST_OOD, 500)) {
            assertEquals(maxInDistribution + 1, Expression.parse(p.expression()).operatorCount());
        }
        TaskSpec ood = SPEC.ood(3);
        assertEquals(new TaskSpec(4, 6, 0, 9, "+-*", 1234), ood);
        Set<Integer> counts = new HashSet<>();
        for (Problem p : ArithmeticTask.generate(SPEC, ood, ArithmeticTask.TEST_OOD, 500)) {
            counts.add(Expression.parse(p.expression()).operatorCount());
        }
        assertEquals(Set.of(4, 5, 6), counts);
    }

    @Test
    void exhaustedSpaceFailsLoudly() {
        // 1 operator, operands 0..1, "+": only 4 expressions exist in total.
        TaskSpec tiny = new TaskSpec(1, 1, 0, 1, "+", 1);
        assertThrows(IllegalStateException.class, () -> ArithmeticTask.generate(tiny, ArithmeticTask.TRAIN, 5));
        assertThrows(IllegalArgumentException.class, () -> ArithmeticTask.generate(SPEC, "dev", 5));
    }

    @Test
    void specValidation() {
        assertThrows(IllegalArgumentException.class, () -> new TaskSpec(0, 3, 0, 9, "+", 1));
        assertThrows(IllegalArgumentException.class, () -> new TaskSpec(3, 2, 0, 9, "+", 1));
        assertThrows(IllegalArgumentException.class, () -> new TaskSpec(1, 2, -1, 9, "+", 1));
        assertThrows(IllegalArgumentException.class, () -> new TaskSpec(1, 2, 0, 9, "/", 1));
        assertThrows(IllegalArgumentException.class, () -> new TaskSpec(1, 2, 0, 9, "++", 1));
        assertThrows(IllegalArgumentException.class, () -> SPEC.ood(0));
    }

    private static Set<String> expressions(List<Problem> problems) {
        return problems.stream().map(Problem::expression).collect(Collectors.toSet());
    }
}
