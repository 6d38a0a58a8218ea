package org.sparkrlhf.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class ScalarsTest {

    /**
     * Collects garbage and then fills many fresh direct buffers with 1000: memory freed by the collection is
     * handed out again and overwritten, as it is in a long training run. (With DJL's {@code x.mul(0.25f)} in
     * place of {@link Scalars#times} the gradient below comes out as 1000.)
     */
    static List<ByteBuffer> churn() throws InterruptedException {
        List<ByteBuffer> keep = new ArrayList<>();
        for (int round = 0; round < 5; round++) {
            System.gc();
            Thread.sleep(20);
            for (int i = 0; i < 20_000; i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
                b.putFloat(0, 1000f);
                keep.add(b);
            }
        }
        return keep;
    }

    static float[] gradientAfterChurn(UnaryOperator<NDArray> f) throws InterruptedException {
        try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
            NDArray x = m.create(new float[] {1f, 2f, 3f});
            x.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray y = f.apply(x).sum();
                List<ByteBuffer> keep = churn();
                gc.backward(y);
                keep.clear();
            }
            return x.getGradient().toFloatArray();
        }
    }

    /** The Java buffer a DJL array was made over (torch::from_blob), or null when torch allocated it. */
    static Object javaBufferBehind(NDArray a) throws ReflectiveOperationException {
        java.lang.reflect.Field f = a.getClass().getDeclaredField("dataRef");
        f.setAccessible(true);
        return f.get(a);
    }

    /**
     * Deterministic half of the guard: the constant Scalars puts in the graph has no Java buffer behind it, so no
     * collection can free it (an array made by {@code manager.create(0.25f)}, what DJL's Number overloads build, has
     * one, and the check tells the two apart).
     */
    @Test
    void theConstantIsAllocatedByTorchNotOverAJavaBuffer() throws ReflectiveOperationException {
        try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
            NDArray x = m.create(new float[] {1f, 2f, 3f});
            try (NDArray k = Scalars.constant(x, 0.25)) {
                assertNull(javaBufferBehind(k));
                assertEquals(0.25f, k.getFloat());
                assertEquals(x.getDataType(), k.getDataType());
            }
            try (NDArray overJava = m.create(0.25f)) {
                assertNotNull(javaBufferBehind(overJava), "the check sees a Java-backed array");
            }
        }
    }

    @Test
    void theConstantSurvivesACollectionBetweenForwardAndBackward() throws InterruptedException {
        assertArrayEquals(new float[] {0.25f, 0.25f, 0.25f}, gradientAfterChurn(x -> Scalars.times(x, 0.25)));
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.5f}, gradientAfterChurn(x -> Scalars.dividedBy(x, 2)));
    }
}
