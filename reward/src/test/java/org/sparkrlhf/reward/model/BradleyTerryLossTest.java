package org.sparkrlhf.reward.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The loss and the metrics against values worked out by hand. */
class BradleyTerryLossTest {
  // three pairs: r_c, r_r and the margins m
  static final float[] CHOSEN = {1.0f, 0.5f, -0.2f};
  static final float[] REJECTED = {0.0f, 1.0f, -0.2f};
  static final float[] MARGIN = {0.5f, 0.0f, 1.0f};

  static double loss(float[] margin, double coef) {
    Engine.getEngine("PyTorch");
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray mg = margin == null ? null : m.create(margin);
      return BradleyTerryLoss.loss(m.create(CHOSEN), m.create(REJECTED), mg, coef).getFloat();
    }
  }

  @Test
  void withoutMarginNorCentring() {
    // z = r_c - r_r = 1, -0.5, 0; -log σ(z) = log(1 + e^-z) = 0.3132617, 0.9740770, 0.6931472
    assertEquals((0.3132617 + 0.9740770 + 0.6931472) / 3, loss(null, 0), 1e-6);
  }

  @Test
  void theMarginIsSubtractedInsideTheSigmoid() {
    // z = r_c - r_r - m = 0.5, -0.5, -1: log(1 + e^-z) = 0.4740770, 0.9740770, 1.3132617
    assertEquals((0.4740770 + 0.9740770 + 1.3132617) / 3, loss(MARGIN, 0), 1e-6);
  }

  @Test
  void centringAddsCoefTimesTheMeanSquaredPairSum() {
    // (r_c + r_r)² = 1, 2.25, 0.16: mean 1.1366667; with the margins' BT term 0.9204719
    assertEquals(0.9204719 + 0.01 * 1.1366667, loss(MARGIN, 0.01), 1e-6);
    assertEquals(0.9204719 + 2 * 1.1366667, loss(MARGIN, 2), 1e-5);
  }

  @Test
  void theVerifierLossSignsEachPairAndCentresEveryScore() {
    // Kirchner et al.'s verifier loss on the same scores, z₂ the correct one in pair 2 (sign -1):
    // (V₁ - V₂)·sign = 1, 0.5, 0 -> log(1 + e^-z) = 0.3132617, 0.4740770, 0.6931472, mean 0.4934953;
    // V² over all six scores: 1 + 0 + 0.25 + 1 + 0.04 + 0.04 = 2.33, mean 0.3883333.
    Engine.getEngine("PyTorch");
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray v1 = m.create(CHOSEN);
      NDArray v2 = m.create(REJECTED);
      NDArray sign = m.create(new float[] {1, -1, 1});
      assertEquals(0.4934953, BradleyTerryLoss.signedWithScorePenalty(v1, v2, sign, 0).getFloat(), 1e-6);
      assertEquals(0.4934953 + 0.5 * 0.3883333, BradleyTerryLoss.signedWithScorePenalty(v1, v2, sign, 0.5).getFloat(),
          1e-6);
      // A broken variant that centres pair sums (TRL's term) instead gives another value: (r_c + r_r)² mean 1.1366667.
      assertTrue(Math.abs(0.4934953 + 0.5 * 1.1366667
          - BradleyTerryLoss.signedWithScorePenalty(v1, v2, sign, 0.5).getFloat()) > 0.1);
    }
  }

  @Test
  void farApartScoresNeitherOverflowNorLoseTheLoss() {
    Engine.getEngine("PyTorch");
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray l = BradleyTerryLoss.perPair(m.create(new float[] {-60f, 60f}), m.create(new float[] {40f, -40f}),
          null);
      // -log σ(-100) = 100 (+ e^-100), -log σ(100) = e^-100
      assertEquals(100.0, l.getFloat(0), 1e-4);
      assertEquals(0.0, l.getFloat(1), 1e-6);
    }
  }

  @Test
  void metricsUseTrlsNamesAndATieIsNoWin() {
    RewardMetrics got = RewardMetrics.of(new float[] {1, 2, 3}, new float[] {0, 2, 4}, 0.7);
    // wins: 1 > 0 only (2 = 2 is a tie, 3 < 4); margins 1, 0, -1; rewards 1, 2, 3, 0, 2, 4
    assertEquals(1.0 / 3, got.accuracy(), 1e-12);
    assertEquals(0.0, got.margin(), 1e-12);
    assertEquals(2.0, got.meanReward(), 1e-12);
    assertEquals(0.0, got.minReward());
    assertEquals(4.0, got.maxReward());
    Map<String, Double> named = got.asMap("eval_");
    assertEquals(java.util.List.of("eval_loss", "eval_accuracy", "eval_margin", "eval_mean_reward", "eval_min_reward",
        "eval_max_reward"), java.util.List.copyOf(named.keySet()));
    assertEquals(0.7, named.get("eval_loss"));
  }

  @Test
  void heldOutIsAStableShareOfIds() {
    int held = 0;
    for (int i = 0; i < 10_000; i++) {
      String id = "pair-" + i;
      boolean h = HeldOut.isHeldOut(id, 7, 0.2);
      assertEquals(h, HeldOut.isHeldOut(id, 7, 0.2), "deterministic");
      if (h) held++;
      assertTrue(!HeldOut.isHeldOut(id, 7, 0.0), "share 0 holds nothing out");
    }
    assertEquals(2000, held, 150);
    int moved = 0;
    for (int i = 0; i < 1000; i++) {
      if (HeldOut.isHeldOut("pair-" + i, 7, 0.2) != HeldOut.isHeldOut("pair-" + i, 8, 0.2)) moved++;
    }
    assertTrue(moved > 100, "another seed holds out other pairs: " + moved);
  }
}
