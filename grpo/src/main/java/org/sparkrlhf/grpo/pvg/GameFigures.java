package org.sparkrlhf.grpo.pvg;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.task.Checker;

/**
 * A round's figures on held-out solutions of the prover in both roles, scored by the round's verifier: what the game
 * did to accuracy, to the verifier's robustness and to legibility. Every figure is a share or a mean over solutions;
 * one that has no solution to be measured on is left out rather than given as 0.
 */
public final class GameFigures {
  private GameFigures() {}

  /**
   * One held-out solution.
   *
   * @param prompt the task prompt, without the role line
   * @param correct the checker's verdict on the final answer
   * @param score the verifier's score
   */
  public record Solution(String promptId, int sampleIndex, ProverRole role, String prompt, String completion,
      boolean correct, double score) {}

  /**
   * The figures, by metric name:
   *
   * <ul>
   *   <li>{@code helpful_accuracy} and its binomial standard error {@code helpful_accuracy_se}, {@code
   *       sneaky_accuracy};
   *   <li>{@code sneaky_success}: the share of sneaky solutions that are incorrect and scored at least the median
   *       score of the helpful solutions that are correct (Kirchner et al.'s measure of a sneaky prover fooling the
   *       verifier);
   *   <li>the sneaky prover's subtlety, over its incorrect solutions: {@code sneaky_first_wrong_line} (the 1-based
   *       line of its first invalid line, {@link Checker#lineValidity}), {@code sneaky_first_wrong_position} (that
   *       line over the solution's line count: near 1 hides the error at the end), {@code sneaky_valid_line_share}
   *       (the share of its lines that are valid); {@code helpful_valid_line_share} beside it;
   *   <li>the legibility proxy: {@code spot_check_helpful} and {@code spot_check_sneaky}, the share of each role's
   *       solutions a checker that verifies only {@code spotLines} random lines judges as the full checker does
   *       ({@link SpotChecker#agrees}).
   * </ul>
   *
   * @param seed the spot checker's draw; each solution's lines are drawn from it, its prompt id and sample index
   */
  public static Map<String, Double> of(List<Solution> solutions, int spotLines, long seed) {
    Map<String, Double> m = new LinkedHashMap<>();
    List<Solution> helpful = new ArrayList<>();
    List<Solution> sneaky = new ArrayList<>();
    for (Solution s : solutions) (s.role() == ProverRole.HELPFUL ? helpful : sneaky).add(s);
    if (!helpful.isEmpty()) {
      double acc = correctShare(helpful);
      m.put("helpful_accuracy", acc);
      m.put("helpful_accuracy_se", Math.sqrt(acc * (1 - acc) / helpful.size()));
    }
    if (!sneaky.isEmpty()) m.put("sneaky_accuracy", correctShare(sneaky));
    double[] helpfulCorrect = helpful.stream().filter(Solution::correct).mapToDouble(Solution::score).toArray();
    if (!sneaky.isEmpty() && helpfulCorrect.length > 0) {
      double median = median(helpfulCorrect);
      long fooled = sneaky.stream().filter(s -> !s.correct() && s.score() >= median).count();
      m.put("sneaky_success", fooled / (double) sneaky.size());
    }
    double line = 0;
    double position = 0;
    double validShare = 0;
    int wrong = 0;
    for (Solution s : sneaky) {
      if (s.correct()) continue;
      List<Boolean> valid = Checker.lineValidity(s.prompt(), s.completion());
      int first = valid.indexOf(false);
      // An incorrect solution whose every line is valid stops before its answer line: its error is the missing
      // last line, one past the end.
      int at = first < 0 ? valid.size() : first;
      line += at + 1;
      position += (at + 1) / (double) Math.max(1, first < 0 ? valid.size() + 1 : valid.size());
      validShare += validShare(valid);
      wrong++;
    }
    if (wrong > 0) {
      m.put("sneaky_first_wrong_line", line / wrong);
      m.put("sneaky_first_wrong_position", position / wrong);
      m.put("sneaky_valid_line_share", validShare / wrong);
    }
    if (!helpful.isEmpty()) {
      double share = 0;
      for (Solution s : helpful) share += validShare(Checker.lineValidity(s.prompt(), s.completion()));
      m.put("helpful_valid_line_share", share / helpful.size());
      m.put("spot_check_helpful", spotAgreement(helpful, spotLines, seed));
    }
    if (!sneaky.isEmpty()) m.put("spot_check_sneaky", spotAgreement(sneaky, spotLines, seed));
    return m;
  }

  /** The median of {@code xs} (the mean of the two middle values for an even count). */
  public static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }

  /** The spot checker's seed for one solution. */
  public static long spotSeed(long seed, String promptId, int sampleIndex) {
    return seed * 0x9E3779B97F4A7C15L + promptId.hashCode() * 31L + sampleIndex;
  }

  private static double spotAgreement(List<Solution> solutions, int k, long seed) {
    int agree = 0;
    for (Solution s : solutions) {
      if (SpotChecker.agrees(s.prompt(), s.completion(), k, spotSeed(seed, s.promptId(), s.sampleIndex()))) agree++;
    }
    return agree / (double) solutions.size();
  }

  private static double correctShare(List<Solution> solutions) {
    return solutions.stream().filter(Solution::correct).count() / (double) solutions.size();
  }

  private static double validShare(List<Boolean> valid) {
    if (valid.isEmpty()) return 0;
    return valid.stream().filter(b -> b).count() / (double) valid.size();
  }
}
