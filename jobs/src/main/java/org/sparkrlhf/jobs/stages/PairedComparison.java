package org.sparkrlhf.jobs.stages;

import java.util.Map;

/**
 * Two evaluations of the same problems compared problem by problem: d_i = correct_B(i) − correct_A(i) in
 * {−1, 0, 1}, its mean (the accuracy difference), and the standard error of that mean, sd(d)/√n with the n−1
 * sample deviation. Pairing removes the problem-difficulty variance both runs share, so the error is far smaller
 * than that of two independent accuracies; only the problems where the two disagree contribute to it.
 *
 * @param n problems evaluated by both (the comparison uses only these)
 * @param accuracyA accuracy of A on those problems
 * @param accuracyB accuracy of B on those problems
 * @param difference mean of d (B − A)
 * @param stderr standard error of {@code difference}
 * @param better problems B answers and A does not
 * @param worse problems A answers and B does not
 */
public record PairedComparison(int n, double accuracyA, double accuracyB, double difference, double stderr,
    int better, int worse) {

  /** Difference in standard errors (0 when the two never disagree). */
  public double z() {
    return stderr > 0 ? difference / stderr : 0;
  }

  /** Compares per-problem correctness keyed by problem id; problems only one side has are left out. */
  public static PairedComparison of(Map<String, Boolean> a, Map<String, Boolean> b) {
    int n = 0;
    int correctA = 0;
    int correctB = 0;
    int better = 0;
    int worse = 0;
    for (Map.Entry<String, Boolean> e : a.entrySet()) {
      Boolean other = b.get(e.getKey());
      if (other == null) continue;
      n++;
      boolean x = e.getValue();
      boolean y = other;
      correctA += x ? 1 : 0;
      correctB += y ? 1 : 0;
      better += y && !x ? 1 : 0;
      worse += x && !y ? 1 : 0;
    }
    if (n == 0) throw new IllegalArgumentException("the two evaluations share no problem");
    double mean = (better - worse) / (double) n;
    // sum of (d - mean)^2 with d = +1 (better times), -1 (worse times), 0 (the rest)
    double ss = better * (1 - mean) * (1 - mean) + worse * (1 + mean) * (1 + mean) + (n - better - worse) * mean * mean;
    double stderr = n > 1 ? Math.sqrt(ss / (n - 1)) / Math.sqrt(n) : 0;
    return new PairedComparison(n, correctA / (double) n, correctB / (double) n, mean, stderr, better, worse);
  }
}
