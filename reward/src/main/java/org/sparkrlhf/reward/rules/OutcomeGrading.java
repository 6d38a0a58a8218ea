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
    Map<String, Integer> votes = new LinkedHashMap<>();
    for (String t : samples) {
      String a = RewardRules.finalAnswer(t);
      if (a != null && !a.isEmpty()) votes.merge(a, 1, Integer::sum);
    }
    String best = null;
    int bestVotes = 0;
    for (Map.Entry<String, Integer> e : votes.entrySet()) {
      if (e.getValue() > bestVotes) {
        best = e.getKey();
        bestVotes = e.getValue();
      }
    }
    return best != null && RewardRules.sameAnswer(best, answer);
  }
}
