package org.sparkrlhf.reward.process;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

/** The PRM loss against −y·log σ(z) − (1 − y)·log(1 − σ(z)) worked by hand. */
class StepLabelLossTest {
  @Test
  void binaryCrossEntropyOnHardAndSoftLabels() {
    try (NDManager m = NDManager.newBaseManager()) {
      // z = 2, y = 1: −log σ(2) = 0.126928; z = −1, y = 0: −log(1 − σ(−1)) = 0.313262;
      // z = 0, y = 0.5: log 2 = 0.693147; z = 3, y = 0.25: −0.25·log σ(3) − 0.75·log σ(−3) = 2.298587
      float[] z = {2f, -1f, 0f, 3f};
      float[] y = {1f, 0f, 0.5f, 0.25f};
      float[] per = StepLabelLoss.perStep(m.create(z), m.create(y)).toFloatArray();
      assertArrayEquals(new float[] {0.126928f, 0.313262f, 0.693147f, 2.298587f}, per, 1e-5f);
      assertEquals(0.857981, StepLabelLoss.loss(m.create(z), m.create(y)).getFloat(), 1e-5);
    }
  }

  @Test
  void staysFiniteForLargeLogits() {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] per = StepLabelLoss.perStep(m.create(new float[] {200f, -200f}), m.create(new float[] {0f, 1f}))
          .toFloatArray();
      assertArrayEquals(new float[] {200f, 200f}, per, 1e-3f);
    }
  }
}
