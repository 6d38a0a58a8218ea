package org.sparkrlhf.grpo.pvg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The time-limited checker on hand-made solutions of 2+3*4 (= 14). */
class SpotCheckerTest {
  static final String PROMPT = "2+3*4=?\n";
  static final String RIGHT = "=2+12\n=14\n#### 14\n";
  /** Wrong in its first step only: 2+13 is not the reduction of 2+3*4; the rest follows from it validly. */
  static final String WRONG_FIRST_STEP = "=2+13\n=15\n#### 15\n";
  /** Every step right, the answer line wrong. */
  static final String WRONG_ANSWER_LINE = "=2+12\n=14\n#### 15\n";
  static final String NO_ANSWER = "=2+12\n=14\n";

  @Test
  void checkingEveryLineIsTheFullChecker() {
    for (long seed = 0; seed < 20; seed++) {
      assertTrue(SpotChecker.accepts(PROMPT, RIGHT, 3, seed));
      assertFalse(SpotChecker.accepts(PROMPT, WRONG_FIRST_STEP, 3, seed));
      assertFalse(SpotChecker.accepts(PROMPT, WRONG_ANSWER_LINE, 3, seed));
      assertFalse(SpotChecker.accepts(PROMPT, NO_ANSWER, 3, seed));
      assertTrue(SpotChecker.agrees(PROMPT, WRONG_FIRST_STEP, 3, seed));
    }
  }

  @Test
  void oneLineCatchesASingleWrongLineOneTimeInThree() {
    int accepted = 0;
    int n = 3000;
    for (long seed = 0; seed < n; seed++) {
      assertTrue(SpotChecker.accepts(PROMPT, RIGHT, 1, seed), "a right solution is always accepted");
      if (SpotChecker.accepts(PROMPT, WRONG_FIRST_STEP, 1, seed)) accepted++;
    }
    // 2 of its 3 lines are valid: accepted with probability 2/3 (sd of the share 0.0086).
    assertEquals(2.0 / 3, accepted / (double) n, 0.04);
    // The same seed draws the same line.
    assertEquals(SpotChecker.accepts(PROMPT, WRONG_FIRST_STEP, 1, 42), SpotChecker.accepts(PROMPT, WRONG_FIRST_STEP, 1, 42));
  }

  @Test
  void aSolutionWithoutAnAnswerIsRejectedAndKMustBePositive() {
    assertFalse(SpotChecker.accepts(PROMPT, NO_ANSWER, 1, 0));
    assertTrue(SpotChecker.agrees(PROMPT, NO_ANSWER, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> SpotChecker.accepts(PROMPT, RIGHT, 0, 0));
  }
}
