package org.sparkrlhf.jobs.stages;

import org.sparkrlhf.reward.rules.RewardRules;

/**
 * Outcome grading for eval and pairs: the reward rules' {@code correct_answer} comparison, so an
 * accuracy in eval and the accuracy GRPO optimises are the same measure.
 */
final class Grading {
  private Grading() {}

  /** The text after the last {@code #### } (trimmed), or null. */
  static String finalAnswer(String completion) {
    return RewardRules.finalAnswer(completion);
  }

  /** Integer answers compare as integers; others as trimmed text. */
  static boolean correct(String completion, String answer) {
    if (answer == null) return false;
    String got = finalAnswer(completion);
    return got != null && RewardRules.sameAnswer(got, answer);
  }
}
