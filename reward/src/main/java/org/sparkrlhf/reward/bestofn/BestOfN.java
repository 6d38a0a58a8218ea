package org.sparkrlhf.reward.bestofn;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Best-of-N accuracy by Lightman et al.'s protocol: from the M candidates sampled for each problem, many random
 * subsets of N (without replacement, in random order) are drawn; a picker answers each problem from its subset, and
 * a draw's accuracy is the share of problems answered correctly. The mean over draws estimates best-of-N accuracy
 * and their standard deviation its spread from the choice of samples. Every draw is a function of (seed, N, draw,
 * problem), so a curve is reproducible and every picker sees the same subsets.
 */
public final class BestOfN {
  private BestOfN() {}

  /**
   * Accuracy of one picker at one N.
   *
   * @param mean the mean over draws of the share of problems answered correctly
   * @param std the standard deviation of that share over draws
   * @param perProblem each problem's share of draws answered correctly (for paired comparisons)
   */
  public record Accuracy(int n, double mean, double std, double[] perProblem) {}

  /**
   * @param problems each problem's M candidates (M ≥ n)
   * @param draws subsets drawn per problem (one is enough when n = M and the picker ignores order)
   */
  public static Accuracy accuracy(List<List<Candidate>> problems, Pickers.Picker picker, int n, int draws, long seed) {
    if (n < 1 || draws < 1) throw new IllegalArgumentException("n and draws must be >= 1");
    double[] perDraw = new double[draws];
    double[] perProblem = new double[problems.size()];
    for (int p = 0; p < problems.size(); p++) {
      List<Candidate> all = problems.get(p);
      if (all.size() < n) {
        throw new IllegalArgumentException("problem " + p + " has " + all.size() + " candidates, fewer than N = " + n);
      }
      for (int d = 0; d < draws; d++) {
        List<Candidate> subset = subset(all, n, new SplittableRandom(mix(seed, n, d, p)));
        if (subset.get(picker.pick(subset)).correct()) {
          perDraw[d]++;
          perProblem[p]++;
        }
      }
    }
    double sum = 0;
    for (int d = 0; d < draws; d++) {
      perDraw[d] /= problems.size();
      sum += perDraw[d];
    }
    double mean = sum / draws;
    double var = 0;
    for (double a : perDraw) var += (a - mean) * (a - mean);
    for (int p = 0; p < perProblem.length; p++) perProblem[p] /= draws;
    return new Accuracy(n, mean, draws > 1 ? Math.sqrt(var / (draws - 1)) : 0, perProblem);
  }

  /** n distinct candidates in random order (a partial Fisher-Yates shuffle). */
  static List<Candidate> subset(List<Candidate> all, int n, SplittableRandom rnd) {
    List<Candidate> pool = new ArrayList<>(all);
    for (int i = 0; i < n; i++) {
      int j = i + rnd.nextInt(pool.size() - i);
      Candidate t = pool.get(i);
      pool.set(i, pool.get(j));
      pool.set(j, t);
    }
    return pool.subList(0, n);
  }

  /**
   * The paired difference of two pickers at the same N over the same problems and draws: the mean of the per-problem
   * differences and its standard error (their standard deviation over √problems).
   */
  public static double[] pairedDifference(Accuracy a, Accuracy b) {
    int m = a.perProblem().length;
    double mean = 0;
    for (int p = 0; p < m; p++) mean += (a.perProblem()[p] - b.perProblem()[p]) / m;
    double var = 0;
    for (int p = 0; p < m; p++) {
      double d = a.perProblem()[p] - b.perProblem()[p] - mean;
      var += d * d;
    }
    return new double[] {mean, m > 1 ? Math.sqrt(var / (m - 1) / m) : 0};
  }

  private static long mix(long seed, int n, int draw, int problem) {
    long h = seed * 0x9E3779B97F4A7C15L;
    h = (h ^ n) * 0xBF58476D1CE4E5B9L;
    h = (h ^ draw) * 0x94D049BB133111EBL;
    return (h ^ problem) * 0x9E3779B97F4A7C15L;
  }
}
