package org.sparkrlhf.jobs.stages;

import org.sparkrlhf.core.task.Checker;

/** Outcome grading shared by eval and the reward rules: the final {@code #### N} answer against a reference. */
final class Grading {
  private Grading() {}

  /** The text after the last {@code #### } (trimmed), or null. */
  static String finalAnswer(String completion) {
    int at = completion.lastIndexOf("#### ");
    if (at < 0) return null;
    String rest = completion.substring(at + 5);
    int nl = rest.indexOf('\n');
    return (nl < 0 ? rest : rest.substring(0, nl)).trim();
  }

  /** Integer answers compare as integers (the built-in task's checker); others as trimmed text. */
  static boolean correct(String completion, String answer) {
    if (answer == null) return false;
    Long predicted = Checker.predictedAnswer(completion);
    try {
      long want = Long.parseLong(answer.trim());
      return predicted != null && predicted == want;
    } catch (NumberFormatException e) {
      String got = finalAnswer(completion);
      return got != null && got.equals(answer.trim());
    }
  }
}
