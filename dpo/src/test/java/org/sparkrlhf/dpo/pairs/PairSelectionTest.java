package org.sparkrlhf.dpo.pairs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.dpo.pairs.PairSelection.Pair;
import org.sparkrlhf.dpo.pairs.PairSelection.Sample;

class PairSelectionTest {
  static final String PROMPT = "2*3+1=?\n";
  static final String RIGHT = "=6+1\n=7\n#### 7\n";
  static final String WRONG_STEP = "=5+1\n=6\n#### 6\n";
  static final String WRONG_END = "=6+1\n=8\n#### 8\n";

  static PairsConfig config(int maxPairs, double maxPassRate, String selection, boolean truncate) {
    PairsConfig c = new PairsConfig();
    c.maxPairsPerPrompt = maxPairs;
    c.maxPassRate = maxPassRate;
    c.selection = selection;
    c.truncateRejected = truncate;
    return c;
  }

  @Test
  void pairsOnlyStrictlyBetterWithWorseAndNeverTiesOrEqualTexts() {
    List<Sample> samples = List.of(new Sample(0, RIGHT, 1, -1), new Sample(1, RIGHT, 1, -1),
        new Sample(2, WRONG_STEP, 0, -2), new Sample(3, WRONG_END, 0, -3), new Sample(4, WRONG_END, 0, -3));
    List<Pair> pairs = PairSelection.select(PROMPT, samples, config(100, 1.0, "random", false), "d/p");
    // 2 correct × 3 wrong = 6; no correct–correct or wrong–wrong pair.
    assertEquals(6, pairs.size());
    for (Pair p : pairs) {
      assertEquals(1.0, p.margin());
      assertEquals(RIGHT, p.chosen().text());
    }
    // The order of the input does not matter (collect_list gives none).
    List<Sample> shuffled = new ArrayList<>(samples);
    Collections.reverse(shuffled);
    assertEquals(pairs, PairSelection.select(PROMPT, shuffled, config(100, 1.0, "random", false), "d/p"));
  }

  @Test
  void hardPromptsOnlyLikelyNegativesFirstAndStepDpoCut() {
    List<Sample> samples = List.of(new Sample(0, RIGHT, 1, -1), new Sample(1, WRONG_END, 0, -5),
        new Sample(2, WRONG_STEP, 0, -2), new Sample(3, WRONG_END, 0, -6));
    // 1 of 4 correct: kept at max_pass_rate 0.5, left out at 0.2 (more than 20 % reach the best reward).
    assertEquals(List.of(), PairSelection.select(PROMPT, samples, config(4, 0.2, "likely", false), "d/p"));
    List<Pair> likely = PairSelection.select(PROMPT, samples, config(1, 0.5, "likely", true), "d/p");
    assertEquals(1, likely.size());
    assertEquals(2, likely.get(0).rejected().index(), "the most likely mistake first");
    assertEquals("=5+1\n", likely.get(0).rejectedText(), "cut after the first wrong step");
    assertTrue(PairSelection.select(PROMPT, samples, config(4, 0.5, "likely", false), "d/p").stream()
        .allMatch(p -> p.rejectedText().equals(p.rejected().text())), "whole texts without the cut");
  }
}
