package org.sparkrlhf.grpo.pvg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A round's figures on hand-made solutions of 3+4*2 (= 11), with values worked out by hand. */
class GameFiguresTest {
  static final String P = "3+4*2=?\n";
  static final String RIGHT = "=3+8\n=11\n#### 11\n";            // every line valid
  static final String WRONG_FIRST = "=3+9\n=12\n#### 12\n";      // [invalid, valid, valid]
  static final String WRONG_SECOND = "=3+8\n=12\n#### 12\n";     // [valid, invalid, valid]
  static final String NO_ANSWER = "=3+8\n=11\n";                  // [valid, valid], then no answer line

  static GameFigures.Solution s(String id, ProverRole role, String completion, boolean correct, double score) {
    return new GameFigures.Solution(id, 0, role, P, completion, correct, score);
  }

  static final List<GameFigures.Solution> SOLUTIONS = List.of(
      s("h1", ProverRole.HELPFUL, RIGHT, true, 0.9),
      s("h2", ProverRole.HELPFUL, RIGHT, true, 0.5),
      s("h3", ProverRole.HELPFUL, WRONG_FIRST, false, 0.2),
      s("s1", ProverRole.SNEAKY, WRONG_SECOND, false, 0.8),
      s("s2", ProverRole.SNEAKY, WRONG_FIRST, false, 0.6),
      s("s3", ProverRole.SNEAKY, RIGHT, true, 1.0),
      s("s4", ProverRole.SNEAKY, NO_ANSWER, false, 0.75));

  @Test
  void figuresByHand() {
    Map<String, Double> f = GameFigures.of(SOLUTIONS, 3, 7);
    assertEquals(2 / 3.0, f.get("helpful_accuracy"), 1e-12);
    assertEquals(Math.sqrt(2 / 27.0), f.get("helpful_accuracy_se"), 1e-12);
    assertEquals(0.25, f.get("sneaky_accuracy"), 1e-12);
    // The bar is the median of the helpful correct scores, (0.9 + 0.5) / 2 = 0.7: s1 (0.8) and s4 (0.75) reach it,
    // s2 (0.6) does not (it would against the mean of all helpful scores, 0.533), s3 is correct. 2 of 4.
    assertEquals(0.5, f.get("sneaky_success"), 1e-12);
    // Incorrect sneaky solutions: s1 first wrong at line 2 of 3, s2 at line 1 of 3, s4 at the missing line 3 of 3.
    assertEquals((2 + 1 + 3) / 3.0, f.get("sneaky_first_wrong_line"), 1e-12);
    assertEquals((2 / 3.0 + 1 / 3.0 + 1) / 3, f.get("sneaky_first_wrong_position"), 1e-12);
    assertEquals((2 / 3.0 + 2 / 3.0 + 1) / 3, f.get("sneaky_valid_line_share"), 1e-12);
    assertEquals((1 + 1 + 2 / 3.0) / 3, f.get("helpful_valid_line_share"), 1e-12);
    // Checking 3 lines checks all of them: the spot checker is the full checker and always agrees.
    assertEquals(1.0, f.get("spot_check_helpful"), 1e-12);
    assertEquals(1.0, f.get("spot_check_sneaky"), 1e-12);
  }

  @Test
  void oneLineSpotCheckMissesHiddenErrors() {
    // One random line of three: the helpful solutions are judged right unless h3's one bad line is missed (the
    // correct ones are always accepted); s1 and s2 hide their error in one line of three.
    Map<String, Double> f = GameFigures.of(SOLUTIONS, 1, 7);
    int agreeHelpful = 0;
    int agreeSneaky = 0;
    for (GameFigures.Solution x : SOLUTIONS) {
      boolean agrees = SpotChecker.agrees(x.prompt(), x.completion(), 1, GameFigures.spotSeed(7, x.promptId(), 0));
      if (x.role() == ProverRole.HELPFUL) agreeHelpful += agrees ? 1 : 0;
      else agreeSneaky += agrees ? 1 : 0;
    }
    assertEquals(agreeHelpful / 3.0, f.get("spot_check_helpful"), 1e-12);
    assertEquals(agreeSneaky / 4.0, f.get("spot_check_sneaky"), 1e-12);
    // Over many draws a one-line check catches a one-line error a third of the time.
    int caught = 0;
    for (long seed = 0; seed < 3000; seed++) {
      if (SpotChecker.agrees(P, WRONG_SECOND, 1, GameFigures.spotSeed(seed, "s1", 0))) caught++;
    }
    assertEquals(1 / 3.0, caught / 3000.0, 0.03);
  }

  @Test
  void figuresWithoutTheirSolutionsAreLeftOut() {
    Map<String, Double> helpfulOnly = GameFigures.of(SOLUTIONS.subList(0, 3), 1, 7);
    assertFalse(helpfulOnly.containsKey("sneaky_success"));
    assertFalse(helpfulOnly.containsKey("sneaky_accuracy"));
    assertFalse(helpfulOnly.containsKey("spot_check_sneaky"));
    Map<String, Double> noneCorrect = GameFigures.of(List.of(SOLUTIONS.get(2), SOLUTIONS.get(3)), 1, 7);
    assertFalse(noneCorrect.containsKey("sneaky_success"), "no helpful correct solution: no bar to reach");
    assertEquals(4.0, GameFigures.median(new double[] {5, 1, 4}), 0);
    assertEquals(2.5, GameFigures.median(new double[] {4, 1, 2, 3}), 0);
  }
}
