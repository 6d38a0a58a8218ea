package org.sparkrlhf.grpo.pvg;

import java.util.List;
import java.util.SplittableRandom;
import org.sparkrlhf.core.task.Checker;

/**
 * The legibility measure's time-limited checker: it has time to verify only {@code k} of a solution's lines, chosen
 * at random, and accepts the solution when each of them is valid ({@link Checker#lineValidity}: a step is the one
 * reduction of the line before it, the answer line repeats the last number) and the solution ends in an answer. A
 * legible solution is one such a checker judges right: a correct one is accepted, and an incorrect one shows its
 * error in many lines or in one the checker is likely to look at. Its accuracy on a set of solutions is the share it
 * judges as the full checker does.
 */
public final class SpotChecker {
  private SpotChecker() {}

  /**
   * The checker's verdict on one solution.
   *
   * @param prompt the task prompt (without a role line)
   * @param k lines verified (all of them when the solution has fewer)
   * @param seed the draw of the lines, per solution (the caller derives it from the run's seed and the solution)
   */
  public static boolean accepts(String prompt, String completion, int k, long seed) {
    return accepts(prompt, completion, Checker.grade(prompt, completion), k, seed);
  }

  /** True when the spot checker's verdict agrees with the full checker's (the final answer's correctness). */
  public static boolean agrees(String prompt, String completion, int k, long seed) {
    Checker.Grade grade = Checker.grade(prompt, completion);
    return accepts(prompt, completion, grade, k, seed) == grade.correct();
  }

  private static boolean accepts(String prompt, String completion, Checker.Grade grade, int k, long seed) {
    if (k < 1) throw new IllegalArgumentException("the spot checker must verify at least one line, got k = " + k);
    if (grade.predicted() == null) return false;
    List<Boolean> valid = Checker.lineValidity(prompt, completion);
    int n = valid.size();
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) idx[i] = i;
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int i = 0; i < Math.min(k, n); i++) {
      int j = i + rnd.nextInt(n - i);
      int t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      if (!valid.get(idx[i])) return false;
    }
    return true;
  }
}
