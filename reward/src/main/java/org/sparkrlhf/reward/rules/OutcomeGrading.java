package org.sparkrlhf.reward.rules;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Outcome grading against a reference answer, for evaluation and preference pairs: the reward rules'
 * {@code correct_answer} comparison, so an accuracy in eval and the accuracy RL optimises are the same measure.
 * Also the two ways of reading k samples of one problem: pass@k (any correct) and maj@k (the most voted answer).
 */
public final class OutcomeGrading {
  private OutcomeGrading() {}

  /** Integer answers compare as integers, others as trimmed text; no final answer is never correct. */
  public static boolean correct(String completion, String answer) {
    if (answer == null) return false;
    String got = RewardRules.finalAnswer(completion);
    return got != null && RewardRules.sameAnswer(got, answer);
  }

  /** pass@k with k = the number of samples: at least one sample is correct. */
  public static boolean anyCorrect(List<String> samples, String answer) {
    for (String t : samples) if (correct(t, answer)) return true;
    return false;
  }

  /** maj@k: the most frequent final answer (the first seen wins a tie) is correct; no answer never wins. */
  public static boolean majorityCorrect(List<String> samples, String answer) {
    int i = majorityIndex(samples);
    return i >= 0 && RewardRules.sameAnswer(RewardRules.finalAnswer(samples.get(i)), answer);
  }

  /**
   * Majority voting over final answers: the index of the first sample carrying the most frequent answer (of tied
   * answers, the one seen first), or −1 when no sample has an answer. Answers vote as the (trimmed) text that
   * {@link RewardRules#finalAnswer} reads.
   */
  public static int majorityIndex(List<String> samples) {
    Map<String, int[]> votes = new LinkedHashMap<>();
    for (int i = 0; i < samples.size(); i++) {
      String a = RewardRules.finalAnswer(samples.get(i));
      if (a == null || a.isEmpty()) continue;
      int index = i;
      votes.computeIfAbsent(a, k -> new int[] {0, index})[0]++;
    }
    int best = -1;
    int bestVotes = 0;
    for (int[] v : votes.values()) {
      if (v[0] > bestVotes) {
        best = v[1];
        bestVotes = v[0];
      }
    }
    return best;
  }
}
