package org.sparkrlhf.grpo.algos;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/** PPO's math against values worked by hand (each case written out in its comment). */
class PpoMathTest {
  private static final double EPS = 1e-9;

  @Test
  void gaeOverResponseTokensWithAMask() {
    // Row 0, γ 1, λ 0.95, a pad at t=3 holding garbage that must not leak in:
    //   t2: δ = 1 + 0 − 0.3 = 0.7                 A = 0.7                     R = 1.0
    //   t1: δ = 0 + 0.3 − 0.4 = −0.1              A = −0.1 + 0.95·0.7 = 0.565   R = 0.965
    //   t0: δ = 0 + 0.4 − 0.5 = −0.1              A = −0.1 + 0.95·0.565 = 0.43675  R = 0.93675
    // Row 1, a masked hole at t=1 is skipped: t2: A = 0.7; t0: δ = 0.3 − 0.5 = −0.2, A = −0.2 + 0.95·0.7 = 0.465.
    double[][] rewards = {{0, 0, 1, 5}, {0, 7, 1, 0}};
    double[][] values = {{0.5, 0.4, 0.3, 9}, {0.5, 7, 0.3, 0}};
    float[][] mask = {{1, 1, 1, 0}, {1, 0, 1, 0}};
    Gae.Result r = Gae.compute(rewards, values, mask, 1.0, 0.95);
    assertArrayEquals(new double[] {0.43675, 0.565, 0.7, 0}, r.advantages()[0], EPS);
    assertArrayEquals(new double[] {0.93675, 0.965, 1.0, 0}, r.returns()[0], EPS);
    assertArrayEquals(new double[] {0.465, 0, 0.7, 0}, r.advantages()[1], EPS);
    assertArrayEquals(new double[] {0.965, 0, 1.0, 0}, r.returns()[1], EPS);
  }

  @Test
  void gaeWithADiscount() {
    // γ 0.9, λ 0.5: t1: δ = 2 − 0.5 = 1.5, A = 1.5, R = 2; t0: δ = 0 + 0.9·0.5 − 1 = −0.55, A = −0.55 + 0.45·1.5 = 0.125.
    Gae.Result r = Gae.compute(new double[][] {{0, 2}}, new double[][] {{1, 0.5}}, new float[][] {{1, 1}}, 0.9, 0.5);
    assertArrayEquals(new double[] {0.125, 1.5}, r.advantages()[0], EPS);
    assertArrayEquals(new double[] {1.125, 2.0}, r.returns()[0], EPS);
  }

  @Test
  void theScoreGoesOnTheLastRealTokenNotOnAPadAfterEos() {
    // β 0.1. Row 1 is right-padded after two tokens: its score 2 goes at t=1, not at the row's last column.
    double[][] r = TokenRewards.withScore(new double[] {1.0, 2.0},
        new double[][] {{0.1, 0.2, 0.3, 0.4}, {0.5, 0.6, 0.7, 0.8}}, new float[][] {{1, 1, 1, 1}, {1, 1, 0, 0}}, 0.1);
    assertArrayEquals(new double[] {-0.01, -0.02, -0.03, 1 - 0.04}, r[0], EPS);
    assertArrayEquals(new double[] {-0.05, 2 - 0.06, 0, 0}, r[1], EPS);
    assertThrows(IllegalArgumentException.class, () -> TokenRewards.withScore(new double[] {1},
        new double[][] {{0, 0}}, new float[][] {{0, 0}}, 0.1));
  }

  @Test
  void adaptiveKlControllerMovesByZieglersRule() {
    // init 0.1, target 6, horizon 10000.
    // KL 9 over 256 samples: e = clip(9/6 − 1 = 0.5, ±0.2) = 0.2, β = 0.1·(1 + 0.2·256/10000) = 0.100512.
    // KL 5.4 over 100 samples: e = −0.1, β = 0.100512·(1 − 0.1·100/10000) = 0.100411488.
    KlController c = KlController.REGISTRY.byName(KlController.ADAPTIVE).apply(new KlController.Settings(0.1, 6, 10000));
    c.update(9, 256);
    assertEquals(0.100512, c.value(), 1e-12);
    c.update(5.4, 100);
    assertEquals(0.100411488, c.value(), 1e-12);
    KlController fixed = KlController.REGISTRY.byName(KlController.FIXED).apply(new KlController.Settings(0.1, 6, 10000));
    fixed.update(100, 256);
    assertEquals(0.1, fixed.value(), 0);
  }

  @Test
  void whiteningAndExplainedVarianceIgnoreMaskedTokens() {
    // Masked: 1, 2, 3 (the 100 is a pad): mean 2, unbiased variance (1 + 0 + 1) / 2 = 1.
    double[][] x = {{1, 2, 100}, {3, 100, 100}};
    float[][] mask = {{1, 1, 0}, {1, 0, 0}};
    assertEquals(2, MaskedStats.mean(x, mask), EPS);
    assertEquals(1, MaskedStats.variance(x, mask), EPS);
    double s = 1 / Math.sqrt(1 + 1e-8);
    double[][] w = MaskedStats.whiten(x, mask, true);
    assertArrayEquals(new double[] {-s, 0, 0}, w[0], EPS);
    assertArrayEquals(new double[] {s, 0, 0}, w[1], EPS);
    assertArrayEquals(new double[] {2 - s, 2, 0}, MaskedStats.whiten(x, mask, false)[0], EPS);
    // Returns 1, 2, 3 against values 1, 2, 2: residual 0, 0, 1 has unbiased variance 1/3; Var(R) = 1: 1 − 1/3.
    double[][] values = {{1, 2, -50}, {2, 7, 7}};
    assertEquals(2.0 / 3, MaskedStats.explainedVariance(x, values, mask), EPS);
  }

  @Test
  void clippedValueLossAndItsGradient() {
    // ε 0.1. t0: V 1.0, V_old 0.8, R 0: V_clip 0.9; (V−R)² = 1 > 0.81, unclipped term active.
    //        t1: V 0.9, V_old 0.5, R 1: V_clip 0.6; 0.01 < 0.16, clipped term active (and V_clip has no gradient).
    //        t2 masked.  loss = ½·(1 + 0.16)/2 = 0.29, clip fraction 1/2, dloss/dV = (½·2·(1 − 0)/2, 0, 0) = (0.5, 0, 0).
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray v = m.create(new float[] {1.0f, 0.9f, 9f}).reshape(1, 3);
      v.setRequiresGradient(true);
      NDArray old = m.create(new float[] {0.8f, 0.5f, 0f}).reshape(1, 3);
      NDArray ret = m.create(new float[] {0f, 1f, 0f}).reshape(1, 3);
      NDArray mask = m.create(new float[] {1, 1, 0}).reshape(1, 3);
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        ValueLoss.Result r = ValueLoss.clipped(v, old, ret, mask, 0.1);
        assertEquals(0.29, r.loss().getFloat(), 1e-6);
        assertEquals(0.5, r.clipFraction(), 1e-6);
        gc.backward(r.loss());
      }
      assertArrayEquals(new float[] {0.5f, 0f, 0f}, v.getGradient().toFloatArray(), 1e-6f);
    }
  }

  @Test
  void dualClipCapsTheLossOfANegativeAdvantage() {
    // Token 0: A = −1, ratio 5: ppo_clip = max(5, 1.2) = 5, capped at −A·3 = 3. Token 1: A = +1, ratio 0.5:
    // max(−0.5, −0.8) = −0.5, no cap. Token-mean: dual clip (3 − 0.5)/2 = 1.25; ppo_clip (5 − 0.5)/2 = 2.25.
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray lp = m.create(new float[] {(float) Math.log(5), (float) Math.log(0.5)}).reshape(1, 2);
      NDArray old = m.zeros(new ai.djl.ndarray.types.Shape(1, 2));
      NDArray adv = m.create(new float[] {-1, 1}).reshape(1, 2);
      NDArray mask = m.ones(new ai.djl.ndarray.types.Shape(1, 2));
      PolicyLoss dual = PolicyLosses.REGISTRY.byName(PolicyLosses.DUAL_CLIP);
      PolicyLoss plain = PolicyLosses.REGISTRY.byName(PolicyLosses.PPO_CLIP);
      assertEquals(1.25, dual.compute(lp, old, adv, mask, 0.2, 0.2, Aggregation::tokenMean).loss().getFloat(), 1e-5);
      assertEquals(2.25, plain.compute(lp, old, adv, mask, 0.2, 0.2, Aggregation::tokenMean).loss().getFloat(), 1e-5);
    }
  }
}
