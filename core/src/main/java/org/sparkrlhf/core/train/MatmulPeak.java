package org.sparkrlhf.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The machine's practical float32 ceiling through libtorch: the throughput of a square matmul, measured where the
 * stage runs with the torch intra-op threads the run uses ({@code threads}). Every MFU figure of the project is
 * {@link #mfu}: model FLOPs per token ({@link org.sparkrlhf.core.model.LlamaConfig#forwardFlopsPerToken} or
 * {@link org.sparkrlhf.core.model.LlamaConfig#trainingFlopsPerToken}) times tokens/s, divided by this peak; a run
 * measures it once and states it beside its figures ({@link #describe}), so figures of one run share one peak.
 */
public record MatmulPeak(double flopsPerSecond, int threads) {

  /** FLOP/s of an n×n by n×n float32 matmul, best of {@code reps} timed runs after a warm-up. */
  public static MatmulPeak measure(NDManager parent, int n, int reps) {
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
      return new MatmulPeak(2.0 * n * n * n / best, JniUtils.getNumThreads());
    }
  }

  /**
   * The best of 20 runs of a 1024×1024 matmul (about a second at one thread): on a machine shared with other work a
   * few runs can all land in a slow spell and read the peak low, which inflates every MFU divided by it.
   */
  public static MatmulPeak measure(NDManager parent) {
    return measure(parent, 1024, 20);
  }

  /** Model FLOPs utilisation of {@code tokensPerSecond} tokens/s at {@code flopsPerToken} model FLOPs each. */
  public double mfu(double flopsPerToken, double tokensPerSecond) {
    return flopsPerToken * tokensPerSecond / flopsPerSecond;
  }

  /** How the figures were made, printed beside them: e.g. "matmul peak 61.3 GFLOP/s at 1 torch thread". */
  public String describe() {
    return String.format("matmul peak %.1f GFLOP/s at %d torch thread%s", flopsPerSecond / 1e9, threads,
        threads == 1 ? "" : "s");
  }
}
