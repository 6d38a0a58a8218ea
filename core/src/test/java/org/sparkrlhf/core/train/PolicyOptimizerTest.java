package org.sparkrlhf.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.model.SafeTensors;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;

class PolicyOptimizerTest {
  @BeforeAll
  static void oneThread() {
    Engine.getEngine("PyTorch");
    ai.djl.pytorch.jni.JniUtils.setNumThreads(1);
  }

  /** Sets every parameter's gradient to a constant: 0.5·k on matrices and 2·k on norm gains (loss = Σ c·w). */
  private static void constantGradients(LlamaModel model, NDManager m, float k) {
    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
      NDArray loss = null;
      for (NDArray w : model.parameters().values()) {
        float c = w.getShape().dimension() >= 2 ? 0.5f * k : 2f * k;
        NDArray term = w.mul(c).sum();
        loss = loss == null ? term : loss.add(term);
      }
      gc.backward(loss);
    }
  }

  /**
   * Two AdamW steps by hand, lr 0.1, β1 0.9, β2 0.999, eps 1e-8, weight decay 0.1 (matrices only), no clip.
   * Matrix element w0 with gradients g1 = 0.5, g2 = -0.25:
   *   step 1: m = 0.1·0.5 = 0.05, v = 0.001·0.25 = 2.5e-4, m̂ = 0.05/0.1 = 0.5, v̂ = 2.5e-4/0.001 = 0.25
   *           w1 = w0·(1 − 0.1·0.1) − 0.1·0.5/(0.5 + 1e-8)
   *   step 2: m = 0.9·0.05 + 0.1·(−0.25) = 0.02, v = 0.999·2.5e-4 + 0.001·0.0625 = 3.12250e-4
   *           m̂ = 0.02/0.19 = 0.105263…, v̂ = 3.1225e-4/0.001999 = 0.156203…
   *           w2 = w1·0.99 − 0.1·m̂/(sqrt(v̂) + 1e-8)
   * Norm gain (starts at 1, no decay) with gradients 2, −1:
   *   step 1: m̂ = 2, v̂ = 4, w1 = 1 − 0.1·2/2 = 0.9
   *   step 2: m = 0.9·0.2 − 0.1 = 0.08, v = 0.999·0.004 + 0.001 = 0.004996,
   *           w2 = 0.9 − 0.1·(0.08/0.19)/(sqrt(0.004996/0.001999) + 1e-8)
   */
  @Test
  void twoAdamWStepsMatchTheHandComputation() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaConfig cfg = LlamaConfig.tiny(6, 4, 1, 1, 1, 4, 8, true);
      LlamaModel model = LlamaModel.init(cfg, false, 3, m);
      model.attachGradient();
      String mat = LlamaModel.EMBED;
      String gain = LlamaModel.NORM;
      double w0 = model.parameters().get(mat).toFloatArray()[0];
      PolicyOptimizer opt = new PolicyOptimizer(LrSchedule.constant(0.1), 0.1, 0.9, 0.999, 0);

      constantGradients(model, m, 1f);
      opt.step(model);
      double w1 = w0 * (1 - 0.1 * 0.1) - 0.1 * 0.5 / (0.5 + 1e-8);
      assertEquals(w1, model.parameters().get(mat).toFloatArray()[0], 1e-6);
      assertEquals(0.9, model.parameters().get(gain).toFloatArray()[0], 1e-6);

      // The state after one step, restored into a fresh optimizer, gives the same second step.
      Map<String, SafeTensors.Tensor> state = opt.state();
      assertEquals(1f, state.get(PolicyOptimizer.STEP).data()[0]);
      assertEquals(0.05f, state.get("m." + mat).data()[0], 1e-7);
      assertEquals(2.5e-4f, state.get("v." + mat).data()[0], 1e-9);
      LlamaModel twin = model.copy(m);
      twin.attachGradient();
      PolicyOptimizer resumed = new PolicyOptimizer(LrSchedule.constant(0.1), 0.1, 0.9, 0.999, 0);
      resumed.restore(SafeTensors.read(SafeTensors.write(state, null)).tensors());
      assertEquals(1, resumed.steps());

      constantGradients(model, m, -0.5f);
      opt.step(model);
      double mh = 0.02 / (1 - 0.81);
      double vh = (0.999 * 2.5e-4 + 0.001 * 0.0625) / (1 - 0.999 * 0.999);
      double w2 = w1 * 0.99 - 0.1 * mh / (Math.sqrt(vh) + 1e-8);
      assertEquals(w2, model.parameters().get(mat).toFloatArray()[0], 1e-6);
      double g2 = 0.9 - 0.1 * (0.08 / 0.19) / (Math.sqrt(0.004996 / (1 - 0.999 * 0.999)) + 1e-8);
      assertEquals(g2, model.parameters().get(gain).toFloatArray()[0], 1e-6);
      assertEquals(2, opt.steps());

      constantGradients(twin, m, -0.5f);
      resumed.step(twin);
      for (String name : model.parameters().keySet()) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(model.parameters().get(name).toFloatArray(),
            twin.parameters().get(name).toFloatArray(), name);
      }
    }
  }

  /**
   * Clipping observed where Adam can see it: Adam's first step is scale-invariant, but its second step depends on
   * the ratio of the two gradients. With constant gradients k = 1 then k = −0.5 (global norms N and N/2, both above
   * the clip c = 1) the clipped gradients are g·c/N and g·2c/N: equal norms, ratio −1 instead of −0.5. Hand
   * computation of the matrix element as in the test above with g1 = 0.5·c/N, g2 = −0.25·2c/N.
   */
  /**
   * A decayed matrix element after two AdamW steps with gradients g1, g2 (lr 0.1, β1 0.9, β2 0.999, eps 1e-8,
   * weight decay 0.1), by the formulas written out above.
   */
  static double matrixElementAfterTwoSteps(double w0, double g1, double g2) {
    double w1 = w0 * 0.99 - 0.1 * g1 / (Math.abs(g1) + 1e-8);
    double mh = (0.9 * 0.1 * g1 + 0.1 * g2) / (1 - 0.81);
    double vh = (0.999 * 0.001 * g1 * g1 + 0.001 * g2 * g2) / (1 - 0.999 * 0.999);
    return w1 * 0.99 - 0.1 * mh / (Math.sqrt(vh) + 1e-8);
  }

  @Test
  void clippingRescalesEachStepsGradientToTheClipNorm() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaConfig cfg = LlamaConfig.tiny(6, 4, 1, 1, 1, 4, 8, true);
      LlamaModel model = LlamaModel.init(cfg, false, 3, m);
      model.attachGradient();
      String mat = LlamaModel.EMBED;
      double w0 = model.parameters().get(mat).toFloatArray()[0];
      double n = constantGradientNorm(model, 1);
      double clip = 1.0;
      assertTrue(n / 2 > clip, "both steps must be clipped: N = " + n);
      PolicyOptimizer opt = new PolicyOptimizer(LrSchedule.constant(0.1), 0.1, 0.9, 0.999, clip);
      constantGradients(model, m, 1f);
      assertEquals(n, opt.step(model), 1e-4 * n, "the reported norm is the one before clipping");
      constantGradients(model, m, -0.5f);
      assertEquals(n / 2, opt.step(model), 1e-4 * n);

      double clipped = matrixElementAfterTwoSteps(w0, 0.5 * clip / n, -0.25 * clip / (n / 2));
      // Without clipping the ratio stays −0.5 and the second step is much larger.
      double unclipped = matrixElementAfterTwoSteps(w0, 0.5, -0.25);
      assertTrue(Math.abs(clipped - unclipped) > 1e-2, clipped + " vs " + unclipped);
      assertEquals(clipped, model.parameters().get(mat).toFloatArray()[0], 1e-5);
    }
  }

  @Test
  void reportsTheGlobalNormAndClipsTheUpdate() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaConfig cfg = LlamaConfig.tiny(12, 16, 1, 2, 2, 32, 16, true);
      LlamaModel model = LlamaModel.init(cfg, false, 7, m);
      LlamaModel before = model.copy(m);
      model.attachGradient();
      NDArray ids = m.create(new long[][] {{1, 2, 3, 4, 5}});
      double expectedNorm;
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray loss = model.logits(ids, null, null, null).sum().mul(100f);
        gc.backward(loss);
      }
      // The global norm by hand: sqrt of the sum of every gradient element squared.
      double sq = 0;
      for (NDArray w : model.parameters().values()) {
        NDArray g = w.getGradient();
        for (float v : g.toFloatArray()) sq += (double) v * v;
        g.close();
      }
      expectedNorm = Math.sqrt(sq);
      assertTrue(expectedNorm > 1.0, "the test needs a gradient larger than the clip: " + expectedNorm);
      // Adam's first step moves every weight by ~lr regardless of scale; clipping must not break that.
      PolicyOptimizer opt = new PolicyOptimizer(LrSchedule.constant(1e-2), 0.0, 0.9, 0.999, 1.0);
      double norm = opt.step(model);
      assertEquals(expectedNorm, norm, 1e-3 * expectedNorm);
      assertEquals(1, opt.steps());
      for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
        NDArray delta = e.getValue().sub(before.parameters().get(e.getKey())).abs().max();
        assertTrue(delta.getFloat() <= 1.01e-2f, e.getKey() + " moved more than lr: " + delta.getFloat());
        assertTrue(delta.getFloat() > 0, e.getKey() + " did not move");
        NDArray g = e.getValue().getGradient();
        assertEquals(0f, g.abs().sum().getFloat(), 0f, "gradients are cleared after the step");
        g.close();
      }
    }
  }

  /** The tiny model every test here uses (seed 3), its gradients attached. */
  private static LlamaModel tinyWithGradients(NDManager m) {
    LlamaModel model = LlamaModel.init(LlamaConfig.tiny(6, 4, 1, 1, 1, 4, 8, true), false, 3, m);
    model.attachGradient();
    return model;
  }

  /** The global norm of {@link #constantGradients}{@code (model, m, k)}, by hand. */
  private static double constantGradientNorm(LlamaModel model, double k) {
    double sq = 0;
    for (NDArray w : model.parameters().values()) {
      double c = (w.getShape().dimension() >= 2 ? 0.5 : 2.0) * k;
      sq += c * c * w.getShape().size();
    }
    return Math.sqrt(sq);
  }

  private static Map<String, float[]> weights(LlamaModel model) {
    Map<String, float[]> out = new java.util.LinkedHashMap<>();
    model.parameters().forEach((k, w) -> out.put(k, w.toFloatArray()));
    return out;
  }

  private static void assertBitIdentical(Map<String, float[]> expected, LlamaModel model, String why) {
    Map<String, float[]> now = weights(model);
    for (String k : expected.keySet()) {
      org.junit.jupiter.api.Assertions.assertArrayEquals(expected.get(k), now.get(k), why + ": " + k);
    }
  }

  /**
   * A NaN loss and a NaN gradient each skip their step: weights bit-identical, step count and moments unchanged,
   * the skip counted, the gradients discarded (the next good step is exactly the one a fresh optimizer takes).
   */
  @Test
  void aNonFiniteLossOrGradientSkipsTheStepAndLeavesTheWeightsBitIdentical() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = tinyWithGradients(m);
      LlamaModel twin = tinyWithGradients(m);
      PolicyOptimizer opt = new PolicyOptimizer(LrSchedule.constant(0.1), 0.1, 0.9, 0.999, 0, 5);
      Map<String, float[]> start = weights(model);

      constantGradients(model, m, 1f);
      double norm = opt.step(model, Double.NaN);
      assertTrue(norm > 0 && Double.isFinite(norm), "the gradients were finite: " + norm);
      assertBitIdentical(start, model, "a NaN loss moved a weight");
      assertEquals(0, opt.steps());
      assertEquals(1, opt.skippedSteps());

      constantGradients(model, m, Float.NaN);
      assertTrue(Double.isNaN(opt.step(model, 0.5)), "the reported norm is the NaN one");
      assertBitIdentical(start, model, "a NaN gradient moved a weight");
      constantGradients(model, m, Float.POSITIVE_INFINITY);
      opt.step(model, Double.POSITIVE_INFINITY);
      assertBitIdentical(start, model, "an infinite gradient moved a weight");
      assertEquals(0, opt.steps());
      assertEquals(3, opt.skippedSteps());
      assertEquals(0f, opt.state().get(PolicyOptimizer.STEP).data()[0], "no update counted");
      assertTrue(opt.state().keySet().stream().noneMatch(k -> k.startsWith("m.")), "no moments were made");

      // Nothing of the skipped steps is left over: gradients, moments and bias correction as if they never were.
      PolicyOptimizer fresh = new PolicyOptimizer(LrSchedule.constant(0.1), 0.1, 0.9, 0.999, 0, 5);
      constantGradients(model, m, -0.5f);
      opt.step(model, 1.0);
      constantGradients(twin, m, -0.5f);
      fresh.step(twin, 1.0);
      assertBitIdentical(weights(twin), model, "the first good step after the skips");
      assertEquals(1, opt.steps());
    }
  }

  /** Past max_skipped_steps the optimizer stops the run with one line naming the step; the weights stay put. */
  @Test
  void moreNonFiniteStepsThanAllowedStopWithAOneLineError() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = tinyWithGradients(m);
      PolicyOptimizer opt = new PolicyOptimizer(LrSchedule.constant(0.1), 0.0, 0.9, 0.999, 1.0, 2);
      constantGradients(model, m, 1f);
      opt.step(model, 1.0);
      Map<String, float[]> good = weights(model);
      constantGradients(model, m, Float.NaN);
      opt.step(model, Double.NaN);
      constantGradients(model, m, Float.NaN);
      opt.step(model, Double.NaN);
      constantGradients(model, m, Float.NaN);
      org.sparkrlhf.core.NonFiniteError e = org.junit.jupiter.api.Assertions.assertThrows(
          org.sparkrlhf.core.NonFiniteError.class, () -> opt.step(model, Double.NaN));
      assertEquals("optimizer step 4: loss NaN, gradient norm NaN; 3 non-finite steps skipped, more than "
          + "max_skipped_steps 2; last good checkpoint: none (lower the learning rate or enable grad_clip)",
          e.getMessage());
      assertTrue(e instanceof org.sparkrlhf.core.UserError, "printed as one line by the launcher");
      assertEquals("...; last good checkpoint: runs/x/sft/checkpoints/step-000001 (lower the learning rate or "
          + "enable grad_clip)", "...;" + e.after("runs/x/sft/checkpoints/step-000001").getMessage().split(";", 3)[2]);
      assertBitIdentical(good, model, "the refused step moved a weight");
    }
  }

  /**
   * Finite gradients large enough that their squares overflow float32 are not a divergence: the norm is taken
   * again scaled, the step is clipped and taken.
   */
  @Test
  void finiteGradientsWhoseSquaresOverflowAreClippedNotSkipped() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = tinyWithGradients(m);
      PolicyOptimizer opt = new PolicyOptimizer(LrSchedule.constant(0.1), 0.0, 0.9, 0.999, 1.0, 0);
      constantGradients(model, m, 1e20f);
      double n = constantGradientNorm(model, 1e20);
      assertEquals(n, opt.step(model, 1.0), 1e-5 * n);
      assertEquals(1, opt.steps());
      assertEquals(0, opt.skippedSteps());
      for (NDArray w : model.parameters().values()) {
        for (float v : w.toFloatArray()) assertTrue(Float.isFinite(v));
      }
    }
  }
}
