package org.sparkrlhf.grpo.pvg;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * The verifier's training mix of round r: solutions sampled on the verifier's prompts from the initial prover and
 * from every later round's prover before r, each round's turned into pairs of a correct and an incorrect solution of
 * the same prompt, so the mix is balanced between correct and incorrect by construction. Each earlier round gives the
 * same number of pairs (at most {@code pairsPerRound}, and no more than the scarcest round that gives any has), so
 * the provers that were easiest to pair do not crowd out the others; which pairs a round gives is a seeded draw. A
 * round whose solutions were all correct or all incorrect gives none.
 */
public final class VerifierMix {
  private VerifierMix() {}

  /** One sampled solution of a verifier prompt: the round of the prover that wrote it, the checker's verdict. */
  public record Solution(int round, String promptId, String prompt, String completion, boolean correct) {}

  /** A pair for the verifier: a correct and an incorrect solution of one prompt from one round's prover. */
  public record Pair(int round, String promptId, String prompt, String correct, String incorrect) {}

  /**
   * The pairs of {@code solutions}, from every round present in them.
   *
   * @param pairsPerRound at most this many pairs from each round
   */
  public static List<Pair> pairs(List<Solution> solutions, int pairsPerRound, long seed) {
    if (pairsPerRound < 1) throw new IllegalArgumentException("pairs_per_round must be positive");
    TreeMap<Integer, List<Pair>> byRound = new TreeMap<>();
    Map<Integer, Map<String, List<Solution>>> grouped = new TreeMap<>();
    for (Solution s : solutions) {
      grouped.computeIfAbsent(s.round(), r -> new LinkedHashMap<>())
          .computeIfAbsent(s.promptId(), p -> new ArrayList<>()).add(s);
    }
    for (Map.Entry<Integer, Map<String, List<Solution>>> round : grouped.entrySet()) {
      List<Pair> pairs = new ArrayList<>();
      for (List<Solution> ofPrompt : round.getValue().values()) {
        List<Solution> right = new ArrayList<>();
        List<Solution> wrong = new ArrayList<>();
        for (Solution s : ofPrompt) (s.correct() ? right : wrong).add(s);
        for (int i = 0; i < Math.min(right.size(), wrong.size()); i++) {
          Solution c = right.get(i);
          pairs.add(new Pair(round.getKey(), c.promptId(), c.prompt(), c.completion(), wrong.get(i).completion()));
        }
      }
      byRound.put(round.getKey(), pairs);
    }
    int take = pairsPerRound;
    for (List<Pair> p : byRound.values()) if (!p.isEmpty()) take = Math.min(take, p.size());
    List<Pair> out = new ArrayList<>();
    for (Map.Entry<Integer, List<Pair>> e : byRound.entrySet()) {
      List<Pair> p = new ArrayList<>(e.getValue());
      if (p.isEmpty()) continue;
      SplittableRandom rnd = new SplittableRandom(seed * 31 + e.getKey());
      for (int i = 0; i < take; i++) {
        int j = i + rnd.nextInt(p.size() - i);
        Pair t = p.get(i);
        p.set(i, p.get(j));
        p.set(j, t);
      }
      out.addAll(p.subList(0, take));
    }
    return out;
  }
}
