package org.sparkrlhf.grpo.algos;

/**
 * Generalized Advantage Estimation (Schulman et al. 2016, "High-Dimensional Continuous Control Using Generalized
 * Advantage Estimation") over the response tokens of each row, as verl's {@code compute_gae_advantage_return} and
 * TRL's PPO trainer compute it:
 * <pre>
 * δ_t = r_t + γ·V_{t+1} − V_t          (V past the last response token is 0: the episode ends there)
 * A_t = δ_t + γλ·A_{t+1}
 * R_t = A_t + V_t                      (the critic's regression target)
 * </pre>
 * Only positions where {@code mask} is 1 take part: a masked position (a prompt column, a pad after eos) gets
 * advantage and return 0 and is skipped, so "t+1" is the next unmasked position of the row.
 */
public final class Gae {
  private Gae() {}

  /** Per-token advantages and returns, each [B][T] like the inputs; 0 at masked positions. */
  public record Result(double[][] advantages, double[][] returns) {}

  /**
   * @param rewards [B][T] per-token rewards (the score at the last response token, the KL penalty on each)
   * @param values [B][T] the critic's values V_t of the state before each token
   * @param mask [B][T] 1 on response tokens, 0 elsewhere
   * @param gamma discount γ (1.0 in RLHF: the reward arrives once, at the end)
   * @param lambda GAE's λ (0.95)
   */
  public static Result compute(double[][] rewards, double[][] values, float[][] mask, double gamma, double lambda) {
    int b = rewards.length;
    if (values.length != b || mask.length != b) {
      throw new IllegalArgumentException("rewards, values and mask need the same rows");
    }
    double[][] adv = new double[b][];
    double[][] ret = new double[b][];
    for (int r = 0; r < b; r++) {
      int t = rewards[r].length;
      if (values[r].length != t || mask[r].length != t) {
        throw new IllegalArgumentException("row " + r + ": rewards, values and mask differ in length");
      }
      adv[r] = new double[t];
      ret[r] = new double[t];
      double nextValue = 0;
      double nextAdvantage = 0;
      for (int k = t - 1; k >= 0; k--) {
        if (mask[r][k] == 0) continue;
        double delta = rewards[r][k] + gamma * nextValue - values[r][k];
        double a = delta + gamma * lambda * nextAdvantage;
        adv[r][k] = a;
        ret[r][k] = a + values[r][k];
        nextValue = values[r][k];
        nextAdvantage = a;
      }
    }
    return new Result(adv, ret);
  }
}
