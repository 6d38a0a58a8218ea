package org.sparkrlhf.grpo.pvg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.grpo.pvg.VerifierMix.Pair;
import org.sparkrlhf.grpo.pvg.VerifierMix.Solution;

class VerifierMixTest {
  /** {@code right} correct and {@code wrong} incorrect solutions of one prompt from one round's prover. */
  static void add(List<Solution> out, int round, String prompt, int right, int wrong) {
    for (int i = 0; i < right; i++) out.add(new Solution(round, prompt, prompt + "=?\n", "r" + round + "-" + i, true));
    for (int i = 0; i < wrong; i++) out.add(new Solution(round, prompt, prompt + "=?\n", "w" + round + "-" + i, false));
  }

  static List<Solution> threeRounds() {
    List<Solution> s = new ArrayList<>();
    add(s, 0, "a", 3, 1);   // 1 pair
    add(s, 0, "b", 2, 2);   // 2 pairs
    add(s, 0, "c", 4, 0);   // none: no incorrect solution
    add(s, 1, "a", 1, 3);   // 1 pair
    add(s, 1, "d", 2, 5);   // 2 pairs
    add(s, 2, "b", 5, 5);   // 5 pairs
    return s;
  }

  @Test
  void everyPairIsOneCorrectAndOneIncorrectSolutionOfOnePromptAndRound() {
    Map<String, Solution> byText = new HashMap<>();
    List<Solution> all = threeRounds();
    for (Solution s : all) byText.put(s.promptId() + "/" + s.completion(), s);
    for (Pair p : VerifierMix.pairs(all, 100, 1)) {
      Solution c = byText.get(p.promptId() + "/" + p.correct());
      Solution w = byText.get(p.promptId() + "/" + p.incorrect());
      assertTrue(c.correct() && !w.correct(), p.toString());
      assertEquals(p.round(), c.round());
      assertEquals(p.round(), w.round());
    }
  }

  @Test
  void eachEarlierRoundGivesTheSameNumberOfPairs() {
    List<Pair> pairs = VerifierMix.pairs(threeRounds(), 100, 1);
    Map<Integer, Integer> perRound = new HashMap<>();
    for (Pair p : pairs) perRound.merge(p.round(), 1, Integer::sum);
    // Rounds 0 and 1 can give 3 pairs each, round 2 five: three from each, so the mix draws from every round.
    assertEquals(Map.of(0, 3, 1, 3, 2, 3), perRound);
    // The cap.
    Map<Integer, Integer> capped = new HashMap<>();
    for (Pair p : VerifierMix.pairs(threeRounds(), 2, 1)) capped.merge(p.round(), 1, Integer::sum);
    assertEquals(Map.of(0, 2, 1, 2, 2, 2), capped);
    // No solution is used twice within a round.
    Set<String> used = new HashSet<>();
    for (Pair p : pairs) {
      assertTrue(used.add(p.round() + p.promptId() + p.correct()), p.correct());
      assertTrue(used.add(p.round() + p.promptId() + p.incorrect()), p.incorrect());
    }
    // The draw is seeded.
    assertEquals(pairs, VerifierMix.pairs(threeRounds(), 100, 1));
  }
}
