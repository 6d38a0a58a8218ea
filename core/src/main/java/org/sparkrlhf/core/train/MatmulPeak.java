package org.sparkrlhf.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * The machine's practical float32 ceiling through libtorch: the throughput of a square matmul, measured
 * where the stage runs. MFU figures divide model FLOPs/s by this, so they compare runs on any machine.
 */
public final class MatmulPeak {
  private MatmulPeak() {}

  /** FLOP/s of an n×n by n×n float32 matmul, best of {@code reps} timed runs after a warm-up. */
  public static double measure(NDManager parent, int n, int reps) {
    try (NDManager m = parent.newSubManager()) {
      NDArray a = m.randomNormal(new Shape(n, n));
      NDArray b = m.randomNormal(new Shape(n, n));
      for (int i = 0; i < 3; i++) {
        a.matMul(b).close();
      }
      double best = Double.MAX_VALUE;
      for (int i = 0; i < reps; i++) {
        long t0 = System.nanoTime();
        NDArray c = a.matMul(b);
        c.getFloat(0, 0); // forces completion
        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        c.close();
      }
      return 2.0 * n * n * n / best;
    }
  }

  public static double measure(NDManager parent) {
    return measure(parent, 1024, 10);
  }
}
