package org.sparkrlhf.core.task;

import java.util.Arrays;

/**
 * An immutable flat arithmetic expression in the built-in task's format: integer operands
 * joined by {@code + - *}, no spaces, no parentheses. Only the first operand may be negative
 * (written {@code -13+4}); that is the only place a negative value can appear after a correct
 * reduction, because products of non-negative operands stay non-negative and {@code +}/{@code -}
 * are only reduced at the front once no {@code *} remains.
 *
 * <p>The textual form produced by {@link #toString()} is canonical (no leading zeros, no
 * {@code -0}), so two expressions are the same step exactly when their strings are equal.
 * All arithmetic is exact {@code long} arithmetic and throws {@link ArithmeticException} on
 * overflow instead of silently wrapping, which would make a wrong step look right.
 */
public final class Expression {

    private final long[] operands;
    private final char[] operators;

    private Expression(long[] operands, char[] operators) {
        this.operands = operands;
        this.operators = operators;
    }

    /**
     * Builds an expression from parts, validating the same invariants that {@link #parse} enforces.
     *
     * @throws IllegalArgumentException when the counts do not match, an operator is not
     *     {@code + - *}, or an operand other than the first is negative
     */
    public static Expression of(long[] operands, char[] operators) {
        if (operands.length == 0 || operators.length != operands.length - 1) {
            throw new IllegalArgumentException("need n operands and n-1 operators, got "
                    + operands.length + " and " + operators.length);
        }
        for (char op : operators) {
            if (!isOperator(op)) {
                throw new IllegalArgumentException("not an operator: '" + op + "'");
            }
        }
        for (int i = 1; i < operands.length; i++) {
            if (operands[i] < 0) {
                throw new IllegalArgumentException("only the first operand may be negative: " + operands[i]);
            }
        }
        return new Expression(operands.clone(), operators.clone());
    }

    /**
     * Parses an expression, returning {@code null} (never throwing) when the text is not one:
     * empty, stray characters, spaces, a sign anywhere but the front, or an operand that does
     * not fit in a {@code long}. Leading zeros are accepted here; callers that need the exact
     * canonical text compare {@link #toString()} with the input.
     */
    public static Expression tryParse(CharSequence text) {
        if (text == null) {
            return null;
        }
        int n = text.length();
        int count = 1;
        for (int i = 1; i < n; i++) {
            if (isOperator(text.charAt(i))) {
                count++;
            }
        }
        long[] operands = new long[count];
        char[] operators = new char[count - 1];
        int pos = 0;
        for (int k = 0; k < count; k++) {
            boolean negative = false;
            if (k == 0 && pos < n && text.charAt(pos) == '-') {
                negative = true;
                pos++;
            }
            int start = pos;
            long value = 0;
            while (pos < n && isDigit(text.charAt(pos))) {
                int digit = text.charAt(pos) - '0';
                // Accumulate negatively so that Long.MIN_VALUE itself is representable.
                if (value < (Long.MIN_VALUE + digit) / 10) {
                    return null;
                }
                value = value * 10 - digit;
                pos++;
            }
            if (pos == start) {
                return null;
            }
            if (!negative) {
                if (value == Long.MIN_VALUE) {
                    return null;
                }
                value = -value;
            }
            operands[k] = value;
            if (k < count - 1) {
                if (pos >= n || !isOperator(text.charAt(pos))) {
                    return null;
                }
                operators[k] = text.charAt(pos);
                pos++;
            }
        }
        return pos == n ? new Expression(operands, operators) : null;
    }

    /** Like {@link #tryParse} but throws {@link IllegalArgumentException} on bad input. */
    public static Expression parse(CharSequence text) {
        Expression e = tryParse(text);
        if (e == null) {
            throw new IllegalArgumentException("not an arithmetic expression: \"" + text + "\"");
        }
        return e;
    }

    public int operandCount() {
        return operands.length;
    }

    public int operatorCount() {
        return operators.length;
    }

    public long operand(int i) {
        return operands[i];
    }

    public char operator(int i) {
        return operators[i];
    }

    /** True when nothing is left to reduce: the expression is a single number. */
    public boolean isNumber() {
        return operators.length == 0;
    }

    /**
     * Index of the operator the next correct reduction applies to: the leftmost {@code *}
     * while one remains, else the leftmost operator (a {@code +} or {@code -} at index 0),
     * or -1 for a single number.
     */
    public int nextReductionIndex() {
        for (int i = 0; i < operators.length; i++) {
            if (operators[i] == '*') {
                return i;
            }
        }
        return operators.length == 0 ? -1 : 0;
    }

    /** Applies the one correct reduction. */
    public Expression reduce() {
        int i = nextReductionIndex();
        if (i < 0) {
            throw new IllegalStateException("a single number cannot be reduced: " + this);
        }
        return reduceAt(i);
    }

    /**
     * Combines the two operands around operator {@code i} into one, whether or not that is the
     * correct reduction (the corruptor uses this for precedence mistakes).
     */
    public Expression reduceAt(int i) {
        return replace(i, apply(operands[i], operators[i], operands[i + 1]));
    }

    /** The value of combining the two operands around operator {@code i}. */
    public long valueAt(int i) {
        return apply(operands[i], operators[i], operands[i + 1]);
    }

    /** Replaces operands {@code i} and {@code i+1} and the operator between them with {@code value}. */
    public Expression replace(int i, long value) {
        long[] a = new long[operands.length - 1];
        char[] o = new char[operators.length - 1];
        System.arraycopy(operands, 0, a, 0, i);
        a[i] = value;
        System.arraycopy(operands, i + 2, a, i + 1, operands.length - i - 2);
        System.arraycopy(operators, 0, o, 0, i);
        System.arraycopy(operators, i + 1, o, i, operators.length - i - 1);
        return new Expression(a, o);
    }

    /** A copy with operand {@code i} set to {@code value}. */
    public Expression withOperand(int i, long value) {
        long[] a = operands.clone();
        a[i] = value;
        return new Expression(a, operators);
    }

    /**
     * A copy without operand {@code i} and one adjacent operator: the operator before it, or
     * for the first operand the one after it.
     */
    public Expression withoutOperand(int i) {
        if (operands.length < 2) {
            throw new IllegalStateException("cannot drop the only operand of " + this);
        }
        int op = i == 0 ? 0 : i - 1;
        long[] a = new long[operands.length - 1];
        char[] o = new char[operators.length - 1];
        System.arraycopy(operands, 0, a, 0, i);
        System.arraycopy(operands, i + 1, a, i, operands.length - i - 1);
        System.arraycopy(operators, 0, o, 0, op);
        System.arraycopy(operators, op + 1, o, op, operators.length - op - 1);
        return new Expression(a, o);
    }

    /** Value under the usual precedence ({@code *} first, then left to right). */
    public long evaluate() {
        Expression e = this;
        while (!e.isNumber()) {
            e = e.reduce();
        }
        return e.operands[0];
    }

    /** True when the text would be read back unchanged: only the front operand is negative. */
    public boolean isWellFormed() {
        for (int i = 1; i < operands.length; i++) {
            if (operands[i] < 0) {
                return false;
            }
        }
        return true;
    }

    private static long apply(long a, char op, long b) {
        return switch (op) {
            case '+' -> Math.addExact(a, b);
            case '-' -> Math.subtractExact(a, b);
            case '*' -> Math.multiplyExact(a, b);
            default -> throw new IllegalStateException("operator " + op);
        };
    }

    static boolean isOperator(char c) {
        return c == '+' || c == '-' || c == '*';
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(operands.length * 4);
        sb.append(operands[0]);
        for (int i = 0; i < operators.length; i++) {
            sb.append(operators[i]).append(operands[i + 1]);
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Expression other
                && Arrays.equals(operands, other.operands)
                && Arrays.equals(operators, other.operators);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(operands) + Arrays.hashCode(operators);
    }
}
