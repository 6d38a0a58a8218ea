package org.sparkrlhf.reward.bestofn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Each picker on a hand-made set (ties included), and Lightman's subset protocol on cases with known answers. */
class BestOfNTest {
  static Candidate c(String text, boolean correct, double orm, double... steps) {
    return new Candidate(text, correct, orm, steps);
  }

  static int pick(String picker, List<Candidate> cs) {
    return Pickers.REGISTRY.byName(picker).pick(cs);
  }

  @Test
  void eachPickerOnAHandMadeSet() {
    // Answers 5, 7, 7, none. ORM: B and C tie at 0.9. Products: A .45, B .36, C .38, D .3; minima: .5, .6, .4, .3.
    List<Candidate> set = List.of(
        c("=5\n#### 5\n", false, 0.2, 0.9, 0.5),
        c("=7\n#### 7\n", true, 0.9, 0.6, 0.6),
        c("=7\n#### 7\n", true, 0.9, 0.95, 0.4),
        c("=7\n", false, 0.1, 0.3));
    assertEquals(0, pick(Pickers.FIRST, set));
    assertEquals(1, pick(Pickers.MAJORITY, set), "7 has two votes; its first candidate");
    assertEquals(1, pick(Pickers.ORM, set), "a tie goes to the earlier candidate");
    assertEquals(0, pick(Pickers.PRM_PRODUCT, set));
    assertEquals(1, pick(Pickers.PRM_MIN, set));
  }

  @Test
  void tiesAndMissingAnswersAndMissingScores() {
    // One vote each: the first answer seen wins.
    List<Candidate> split = List.of(c("#### 3\n", false, 0.5, 0.5), c("#### 4\n", true, 0.5, 0.5));
    assertEquals(0, pick(Pickers.MAJORITY, split));
    assertEquals(0, pick(Pickers.PRM_PRODUCT, split), "equal products: the earlier");
    assertEquals(0, pick(Pickers.PRM_MIN, split));
    // No final answer anywhere: majority has nothing to count and answers with the first.
    assertEquals(0, pick(Pickers.MAJORITY, List.of(c("=1\n", false, 0), c("=2\n", false, 0))));
    // A later answer outvotes an earlier single one.
    assertEquals(1, pick(Pickers.MAJORITY, List.of(c("#### 3\n", false, 0), c("#### 04\n", true, 0),
        c("#### 04\n", true, 0))));
    assertThrows(IllegalArgumentException.class, () -> pick(Pickers.ORM, List.of(c("#### 1\n", true, Double.NaN))));
    assertThrows(IllegalArgumentException.class,
        () -> pick(Pickers.PRM_MIN, List.of(new Candidate("#### 1\n", true, 0, null))));
  }

  @Test
  void lightmansProtocolOnCasesWithKnownAnswers() {
    // One right and one wrong candidate per problem; the ORM always prefers the right one.
    List<List<Candidate>> problems = List.of(
        List.of(c("#### 1\n", false, 0.1), c("#### 2\n", true, 0.9)),
        List.of(c("#### 3\n", true, 0.8), c("#### 4\n", false, 0.2)));
    BestOfN.Accuracy orm2 = BestOfN.accuracy(problems, Pickers.REGISTRY.byName(Pickers.ORM), 2, 50, 7);
    assertEquals(1.0, orm2.mean(), 0);
    assertEquals(0.0, orm2.std(), 0);
    // The first of a random order, or a single random sample: right half the time, in expectation.
    BestOfN.Accuracy first2 = BestOfN.accuracy(problems, Pickers.REGISTRY.byName(Pickers.FIRST), 2, 2000, 7);
    BestOfN.Accuracy orm1 = BestOfN.accuracy(problems, Pickers.REGISTRY.byName(Pickers.ORM), 1, 2000, 7);
    assertEquals(0.5, first2.mean(), 0.03);
    assertEquals(0.5, orm1.mean(), 0.03, "with N = 1 there is nothing to pick from");
    assertTrue(first2.std() > 0.2, "draws differ: " + first2.std());
    // The same (seed, N) draws the same subsets: two pickers that agree give equal figures.
    assertArrayEquals(first2.perProblem(),
        BestOfN.accuracy(problems, Pickers.REGISTRY.byName(Pickers.FIRST), 2, 2000, 7).perProblem(), 0);
    double[] d = BestOfN.pairedDifference(orm2, BestOfN.accuracy(problems, Pickers.REGISTRY.byName(Pickers.FIRST), 2,
        50, 7));
    assertEquals(0.5, d[0], 0.15);
    assertThrows(IllegalArgumentException.class,
        () -> BestOfN.accuracy(problems, Pickers.REGISTRY.byName(Pickers.FIRST), 3, 1, 7));
  }
}
