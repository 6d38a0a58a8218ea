package org.sparkrlhf.reward.process;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Math-Shepherd's labels on a case worked by hand. */
class MathShepherdTest {
  @Test
  void hardIsAnyContinuationSoftIsTheShareTruncatedAtTheFirstDeadStep() {
    // K = 8: from step 0's prefix all 8 continuations reach the answer, from step 1's 3, from step 2's none; step 3
    // (1 of 8, a lucky recovery) is after the first dead step, so it is not labelled.
    MathShepherd l = MathShepherd.of(new int[] {8, 3, 0, 1}, 8);
    assertEquals(3, l.steps());
    assertArrayEquals(new boolean[] {true, true, false}, l.hard());
    assertArrayEquals(new double[] {1.0, 0.375, 0.0}, l.soft(), 1e-12);
  }

  @Test
  void aSolutionNoStepOfWhichDiesKeepsEveryStep() {
    MathShepherd l = MathShepherd.of(new int[] {2, 1, 8}, 8);
    assertArrayEquals(new boolean[] {true, true, true}, l.hard());
    assertArrayEquals(new double[] {0.25, 0.125, 1.0}, l.soft(), 1e-12);
    assertEquals(0, MathShepherd.of(new int[0], 8).steps());
  }

  @Test
  void countsOutsideTheSamplesAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> MathShepherd.of(new int[] {9}, 8));
    assertThrows(IllegalArgumentException.class, () -> MathShepherd.of(new int[] {1}, 0));
  }
}
