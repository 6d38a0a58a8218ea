package org.sparkrlhf.grpo.algos;

/**
 * Statistics over the masked positions of a [B][T] batch only (a prompt column or a pad never counts), as TRL's
 * {@code masked_mean}, {@code masked_var} and {@code masked_whiten}.
 */
public final class MaskedStats {
  private MaskedStats() {}

  /** Mean over positions where {@code mask} is 1; 0 when there are none. */
  public static double mean(double[][] x, float[][] mask) {
    double s = 0;
    long n = 0;
    for (int r = 0; r < x.length; r++) {
      for (int k = 0; k < x[r].length; k++) {
        if (mask[r][k] != 0) {
          s += x[r][k];
          n++;
        }
      }
    }
    return n == 0 ? 0 : s / n;
  }

  /** The unbiased variance (Bessel's n − 1) over masked positions; 0 for fewer than two. */
  public static double variance(double[][] x, float[][] mask) {
    double mu = mean(x, mask);
    double s = 0;
    long n = 0;
    for (int r = 0; r < x.length; r++) {
      for (int k = 0; k < x[r].length; k++) {
        if (mask[r][k] != 0) {
          s += (x[r][k] - mu) * (x[r][k] - mu);
          n++;
        }
      }
    }
    return n < 2 ? 0 : s / (n - 1);
  }

  /**
   * Whitening over the batch's masked positions: {@code (x − mean) / sqrt(var + 1e-8)}, the mean added back when
   * {@code shiftMean} is false (TRL whitens advantages with the shift, rewards without). Masked positions are 0.
   */
  public static double[][] whiten(double[][] x, float[][] mask, boolean shiftMean) {
    double mu = mean(x, mask);
    double inv = 1 / Math.sqrt(variance(x, mask) + 1e-8);
    double[][] out = new double[x.length][];
    for (int r = 0; r < x.length; r++) {
      out[r] = new double[x[r].length];
      for (int k = 0; k < x[r].length; k++) {
        if (mask[r][k] != 0) out[r][k] = (x[r][k] - mu) * inv + (shiftMean ? 0 : mu);
      }
    }
    return out;
  }

  /**
   * The share of the returns' variance the values explain, {@code 1 − Var(R − V) / Var(R)} over masked positions
   * (1 perfect, 0 no better than the mean, negative worse); NaN when the returns do not vary.
   */
  public static double explainedVariance(double[][] returns, double[][] values, float[][] mask) {
    double[][] residual = new double[returns.length][];
    for (int r = 0; r < returns.length; r++) {
      residual[r] = new double[returns[r].length];
      for (int k = 0; k < returns[r].length; k++) residual[r][k] = returns[r][k] - values[r][k];
    }
    double varR = variance(returns, mask);
    return varR == 0 ? Double.NaN : 1 - variance(residual, mask) / varR;
  }
}
