package org.sparkrlhf.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * A tensor times or divided by a constant, safe inside an autograd graph.
 *
 * <p>Why not {@code x.mul(0.5f)}: DJL's {@code Number} overloads wrap the number in a 0-d tensor over a Java
 * direct buffer ({@code torch::from_blob}, no copy) and close it as soon as the op returns. {@code mul} and
 * {@code div} save that operand for the backward pass, so once the garbage collector frees the buffer the
 * backward pass reads memory that may already hold something else: the gradient is scaled by garbage, which
 * made identical runs drift apart whenever a collection fell between a forward and its backward.
 * {@code NDManager.full} allocates the constant in torch, where the graph's reference keeps it alive.
 * (Ops whose backward does not read the operand — add, sub, clip — are safe with the overloads.)
 */
public final class Scalars {

    private Scalars() {
    }

    /** {@code x * c}, the constant in x's dtype. */
    public static NDArray times(NDArray x, double c) {
        try (NDArray k = constant(x, c)) {
            return x.mul(k);
        }
    }

    /** {@code x / c}, the constant in x's dtype. */
    public static NDArray dividedBy(NDArray x, double c) {
        try (NDArray k = constant(x, c)) {
            return x.div(k);
        }
    }

    /** The constant as a 0-d tensor allocated by torch (package-private so a test can check where it lives). */
    static NDArray constant(NDArray like, double c) {
        return like.getManager().full(new Shape(), (float) c, like.getDataType());
    }
}
