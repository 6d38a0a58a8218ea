package org.sparkrlhf.core.algos;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

class KlTest {

  @Test
  void k1K2AndK3ByHandWithClamp() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      NDArray logp = m.create(new float[] {-1, -2, -0.5f, -30, 0});
      NDArray ref = m.create(new float[] {-1, -1, -1, 0, -40});
      // d = ref - logp = [0, 1, -0.5, 30 -> clamped to 20, -40 -> clamped to -20]
      // k3 = e^d - d - 1 = [0, e - 2, e^-0.5 - 0.5, e^20 - 21 -> clamped to 10, e^-20 + 19]
      //      the last: 19.000000002 -> clamped to 10.
      assertArrayEquals(new float[] {0f, (float) (Math.E - 2), (float) (Math.exp(-0.5) + 0.5 - 1), 10f, 10f},
          Kl.k3(logp, ref).toFloatArray(), 1e-6f);
      // k1 = logp - ref; k2 = k1² / 2, neither clamped.
      assertArrayEquals(new float[] {0f, -1f, 0.5f, -30f, 40f}, Kl.k1(logp, ref).toFloatArray(), 1e-6f);
      assertArrayEquals(new float[] {0f, 0.5f, 0.125f, 450f, 800f}, Kl.k2(logp, ref).toFloatArray(), 1e-4f);
      // Unclamped k3 and k2 are never negative.
      NDArray x = m.randomNormal(new Shape(100));
      NDArray y = m.randomNormal(new Shape(100));
      assertTrue(Kl.k3(x, y).min().getFloat() >= 0f);
      assertTrue(Kl.k2(x, y).min().getFloat() >= 0f);
    }
  }

  @Test
  void estimatorsByNameAndAnOpenRegistry() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      NDArray logp = m.create(new float[] {-2});
      NDArray ref = m.create(new float[] {-1});
      assertEquals(-1f, Kl.REGISTRY.byName("k1").apply(logp, ref).getFloat(0), 1e-6f);
      assertEquals(0.5f, Kl.REGISTRY.byName("k2").apply(logp, ref).getFloat(0), 1e-6f);
      assertEquals((float) (Math.E - 2), Kl.REGISTRY.byName("k3").apply(logp, ref).getFloat(0), 1e-6f);
      // |k1|, as verl's "abs", registered from outside and then selected by its name.
      Kl.REGISTRY.register("abs", (a, b) -> a.sub(b).abs());
      assertEquals(1f, Kl.REGISTRY.byName("abs").apply(logp, ref).getFloat(0), 1e-6f);
      assertTrue(Kl.REGISTRY.names().containsAll(List.of("abs", "k1", "k2", "k3")));
    }
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> Kl.REGISTRY.byName("k4"));
    assertEquals("unknown KL estimator 'k4'; known: abs, k1, k2, k3", unknown.getMessage());
    IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
        () -> Kl.REGISTRY.register("k3", Kl::k1));
    assertTrue(twice.getMessage().contains("already registered"), twice.getMessage());
  }
}
