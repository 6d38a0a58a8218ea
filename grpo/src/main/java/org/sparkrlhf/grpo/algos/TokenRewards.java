package org.sparkrlhf.grpo.algos;

/**
 * RLHF-PPO's per-token reward (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences"; Ouyang et
 * al. 2022): the KL penalty {@code −β·kl_t} on every response token, plus the sequence's scalar score on its
 * <em>last real</em> response token. Finding that token from the mask, rather than taking the row's last column,
 * is what keeps the score off a pad after eos when rows are right-padded (TRL issue #1893).
 */
public final class TokenRewards {
  private TokenRewards() {}

  /**
   * @param scores [B] each sequence's score (the rule rewards, a reward model's output, or a weighted sum)
   * @param kl [B][T] the per-token KL estimate to the reference (e.g. k1 = logπ_old − logπ_ref)
   * @param mask [B][T] 1 on response tokens
   * @param beta the KL coefficient β
   * @return [B][T]; 0 at masked positions
   * @throws IllegalArgumentException for a row with no response token (there is nowhere to put its score)
   */
  public static double[][] withScore(double[] scores, double[][] kl, float[][] mask, double beta) {
    int b = scores.length;
    if (kl.length != b || mask.length != b) throw new IllegalArgumentException("scores, kl and mask need the same rows");
    double[][] out = new double[b][];
    for (int r = 0; r < b; r++) {
      if (kl[r].length != mask[r].length) throw new IllegalArgumentException("row " + r + ": kl and mask differ");
      out[r] = new double[mask[r].length];
      int last = lastRealToken(mask[r]);
      if (last < 0) throw new IllegalArgumentException("row " + r + " has no response token for its score");
      for (int k = 0; k < mask[r].length; k++) {
        if (mask[r][k] != 0) out[r][k] = -beta * kl[r][k];
      }
      out[r][last] += scores[r];
    }
    return out;
  }

  /** The last position where {@code mask} is 1, or −1. */
  public static int lastRealToken(float[] mask) {
    for (int k = mask.length - 1; k >= 0; k--) if (mask[k] != 0) return k;
    return -1;
  }
}
