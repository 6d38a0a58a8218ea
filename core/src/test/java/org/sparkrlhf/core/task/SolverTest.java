package org.sparkrlhf.core.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class SolverTest {

    @Test
    void designExample() {
        assertEquals(List.of("=12+21-5", "=33-5", "=28"), Solver.steps("12+7*3-5"));
        assertEquals("=12+21-5\n=33-5\n=28\n#### 28\n", Solver.completion("12+7*3-5"));
        assertEquals(28, Solver.evaluate("12+7*3-5"));
        assertEquals("12+7*3-5=?\n", Solver.prompt("12+7*3-5"));
    }

    @Test
    void negativeValueOnlyAtTheFront() {
        assertEquals("=-13+4\n=-9\n#### -9\n", Solver.completion("3-16+4"));
        // Subtraction is left-associative: 2-3-4 is (2-3)-4.
        assertEquals("=-1-4\n=-5\n#### -5\n", Solver.completion("2-3-4"));
    }

    @Test
    void multiplicationsFirstLeftmostFirst() {
        assertEquals("=6*4*5\n=24*5\n=120\n#### 120\n", Solver.completion("2*3*4*5"));
        assertEquals("=2+12-5*2\n=2+12-10\n=14-10\n=4\n#### 4\n", Solver.completion("2+3*4-5*2"));
        assertEquals("=0\n#### 0\n", Solver.completion("0*9"));
    }

    @Test
    void singleNumberHasNoSteps() {
        assertEquals(List.of(), Solver.steps("7"));
        assertEquals("#### 7\n", Solver.completion("7"));
    }

    @Test
    void rejectsNonExpressionsAndOverflow() {
        assertThrows(IllegalArgumentException.class, () -> Solver.steps("1+"));
        assertThrows(IllegalArgumentException.class, () -> Solver.steps("1 + 2"));
        assertThrows(IllegalArgumentException.class, () -> Solver.steps("1+-2"));
        assertThrows(IllegalArgumentException.class, () -> Solver.steps(""));
        assertThrows(ArithmeticException.class, () -> Solver.evaluate("9223372036854775807+1"));
        assertThrows(ArithmeticException.class, () -> Solver.evaluate("4294967296*4294967296"));
    }

    @Test
    void parserBoundaries() {
        assertEquals(Long.MAX_VALUE, Expression.parse("9223372036854775807").operand(0));
        assertEquals(Long.MIN_VALUE, Expression.parse("-9223372036854775808").operand(0));
        assertNull(Expression.tryParse("9223372036854775808"));
        assertNull(Expression.tryParse("99999999999999999999999+1"));
        assertNull(Expression.tryParse("-"));
        assertNull(Expression.tryParse("--1"));
        assertEquals("12+3", Expression.parse("012+3").toString());
    }
}
