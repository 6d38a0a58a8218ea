package org.sparkrlhf.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;

class PolicyOptimizerTest {
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
}
