package org.sparkrlhf.reward.process;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
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
  void prefixesEndWhereTheStepEnds() {
    List<String> steps = List.of("=12+21-5", "=33-5", "=28");
    assertEquals("12+7*3-5=?\n=12+21-5\n", MathShepherd.prefix("12+7*3-5=?\n", steps, 0));
    assertEquals("12+7*3-5=?\n=12+21-5\n=33-5\n=28\n", MathShepherd.prefix("12+7*3-5=?\n", steps, 2));
  }

  @Test
  void agreementWithTheTrueLabelsByHand() {
    // truth: steps 0, 1 right, step 2 wrong; automatic: step 1 already dead (a false negative), so it stops there
    MathShepherd.Agreement a = MathShepherd.Agreement.of(new boolean[] {true, false}, List.of(true, true, false));
    assertEquals(new MathShepherd.Agreement(1, 0, 2, 1, 0, 1), a);
    // truth: step 0 wrong; automatic: a lucky continuation keeps it alive, then step 1 dies (a false positive)
    MathShepherd.Agreement b = MathShepherd.Agreement.of(new boolean[] {true, false}, List.of(false));
    assertEquals(new MathShepherd.Agreement(1, 0, 1, 0, 1, 0), b);
    MathShepherd.Agreement c = MathShepherd.Agreement.of(new boolean[] {true, true}, List.of(true, true));
    MathShepherd.Agreement sum = a.plus(b).plus(c);
    assertEquals(new MathShepherd.Agreement(3, 1, 5, 3, 1, 1), sum);
    assertEquals(0.6, sum.asMap("").get("step_agreement"), 1e-12);
    assertEquals(1.0 / 3, sum.asMap("").get("first_error_agreement"), 1e-12);
  }

  @Test
  void countsOutsideTheSamplesAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> MathShepherd.of(new int[] {9}, 8));
    assertThrows(IllegalArgumentException.class, () -> MathShepherd.of(new int[] {1}, 0));
  }
}
