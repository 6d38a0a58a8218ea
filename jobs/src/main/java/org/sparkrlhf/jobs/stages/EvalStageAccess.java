package org.sparkrlhf.jobs.stages;

import java.util.List;

/** The eval stage's grading rules, public for tests and notebooks. */
public final class EvalStageAccess {
  private EvalStageAccess() {}

  /** Whether the completion's final answer equals the reference. */
  public static boolean correct(String completion, String answer) {
    return Grading.correct(completion, answer);
  }

  /** Whether any of the samples is correct. */
  public static boolean passAtK(List<String> samples, String answer) {
    return EvalStage.passAtK(samples, answer);
  }

  /** Whether the most frequent final answer among the samples is correct. */
  public static boolean majority(List<String> samples, String answer) {
    return EvalStage.majority(samples, answer);
  }
}
