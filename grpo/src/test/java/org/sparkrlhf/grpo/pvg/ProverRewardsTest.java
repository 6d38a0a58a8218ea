package org.sparkrlhf.grpo.pvg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The prover's rewards against values worked out by hand. */
class ProverRewardsTest {
  // Two groups: group 0 = one prompt under the helpful role, group 1 = the same prompt under the sneaky role.
  static final double[] V = {2.0, 0.0, 1.0, 0.5, -0.5, 3.0};
  static final boolean[] CORRECT = {true, false, true, false, true, false};
  static final boolean[] HELPFUL = {true, true, true, false, false, false};
  static final int[] GROUPS = {0, 0, 0, 1, 1, 1};

  @Test
  void srcCentresInEachGroupAndSignsByRoleAndVerdict() {
    // Group 0 mean V = 1: V' = 1, -1, 0. Group 1 mean V = 1: V' = -0.5, -1.5, 2.
    // Sample 0: V' 1 > 0, correct & helpful: +1·+1·1 = 1. Samples 1, 2: V' <= 0 -> -1 (0 is not > 0).
    // Samples 3, 4: V' < 0 -> -1. Sample 5: V' 2 > 0, incorrect & sneaky: (-1)·(-1)·2 = 2.
    assertArrayEquals(new double[] {1, -1, -1, -1, -1, 2},
        ProverRewards.src(V, CORRECT, HELPFUL, GROUPS), 1e-12);
  }

  @Test
  void srcPunishesAConvincingSolutionWrongForItsRole() {
    // One helpful group: V = 3, 1 -> V' = 1, -1; the convincing one is incorrect: (-1)·(+1)·1 = -1.
    assertArrayEquals(new double[] {-1, -1}, ProverRewards.src(new double[] {3, 1}, new boolean[] {false, true},
        new boolean[] {true, true}, new int[] {0, 0}), 1e-12);
    // The same scores in one group of a sneaky prover: (-1)·(-1)·1 = 1 for the incorrect convincing one.
    assertArrayEquals(new double[] {1, -1}, ProverRewards.src(new double[] {3, 1}, new boolean[] {false, true},
        new boolean[] {false, false}, new int[] {0, 0}), 1e-12);
  }

  @Test
  void srcCentresOverTheGroupNotTheBatch() {
    // A broken variant that centred over the whole batch (mean 1 here as well, by construction) would agree, so
    // shift group 1: V = 10.5, 9.5, 13 (mean 11): V' is still -0.5, -1.5, 2 and the rewards stay the same.
    double[] shifted = {2.0, 0.0, 1.0, 10.5, 9.5, 13.0};
    assertArrayEquals(new double[] {1, -1, -1, -1, -1, 2},
        ProverRewards.src(shifted, CORRECT, HELPFUL, GROUPS), 1e-12);
    // Over the batch (mean 6) every helpful V' would be negative: all -1 in group 0.
    double[] batchCentred = ProverRewards.centredInGroups(shifted, new int[] {0, 0, 0, 0, 0, 0});
    assertArrayEquals(new double[] {-4, -6, -5, 4.5, 3.5, 7}, batchCentred, 1e-12);
  }

  @Test
  void cgcGivesVWhenRightForTheRoleElseMinusTwo() {
    // Right for the role: helpful & correct (0, 2), sneaky & incorrect (3, 5). Wrong: 1, 4.
    assertArrayEquals(new double[] {2.0, -2.0, 1.0, 0.5, -2.0, 3.0},
        ProverRewards.cgc(V, CORRECT, HELPFUL, GROUPS), 1e-12);
  }

  @Test
  void goodhartIsTheVerifierScoreAndCorrectnessIgnoresIt() {
    assertArrayEquals(V, ProverRewards.REGISTRY.byName(ProverRewards.GOODHART).rewards(V, CORRECT, HELPFUL, GROUPS),
        1e-12);
    assertArrayEquals(new double[] {1, 0, 1, 0, 1, 0},
        ProverRewards.REGISTRY.byName(ProverRewards.CORRECTNESS).rewards(V, CORRECT, HELPFUL, GROUPS), 1e-12);
  }

  @Test
  void mismatchedLengthsAndUnknownNamesAreOneLineErrors() {
    assertThrows(IllegalArgumentException.class,
        () -> ProverRewards.src(V, new boolean[2], HELPFUL, GROUPS));
    assertThrows(IllegalArgumentException.class, () -> ProverRewards.REGISTRY.byName("nope"));
  }
}
