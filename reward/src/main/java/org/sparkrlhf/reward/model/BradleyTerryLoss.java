package org.sparkrlhf.reward.model;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.model.Scalars;

/**
 * The Bradley-Terry loss of an outcome reward model, as TRL's {@code RewardTrainer} computes it: for the scores
 * r_c of the chosen and r_r of the rejected completions of a batch of pairs, with an optional per-pair margin m,
 *
 * <pre>
 *   loss = mean(−log σ(r_c − r_r − m))  +  coef · mean((r_c + r_r)²)
 * </pre>
 *
 * The first term is the negative log-likelihood that chosen beats rejected under P = σ(r_c − r_r) (by at least m,
 * InstructGPT / Llama 2's margin). The second, TRL's {@code center_rewards_coefficient}, pulls the pair sums toward
 * 0: the Bradley-Terry term sees only differences, so without it the rewards may drift by any constant. −log σ(z)
 * is computed as softplus(−z), which neither overflows for a very negative z nor loses the gradient at a large one.
 */
public final class BradleyTerryLoss {
  private BradleyTerryLoss() {}

  /**
   * {@code −log σ(r_c − r_r − m)} per pair, [B].
   *
   * @param margin [B] per-pair margins, or null for none
   */
  public static NDArray perPair(NDArray chosen, NDArray rejected, NDArray margin) {
    NDArray z = chosen.sub(rejected);
    if (margin != null) z = z.sub(margin);
    return z.neg().getNDArrayInternal().softPlus();
  }

  /**
   * The batch loss (a scalar): the mean of {@link #perPair} plus {@code centerCoef · mean((r_c + r_r)²)} when
   * {@code centerCoef > 0}. Differentiable.
   */
  public static NDArray loss(NDArray chosen, NDArray rejected, NDArray margin, double centerCoef) {
    NDArray loss = perPair(chosen, rejected, margin).mean();
    if (centerCoef > 0) loss = loss.add(Scalars.times(chosen.add(rejected).square().mean(), centerCoef));
    return loss;
  }

  /**
   * The verifier loss of Kirchner et al. 2024 (prover-verifier games), a scalar:
   *
   * <pre>
   *   loss = mean(−log σ((V₁ − V₂) · sign(c₁ − c₂)))  +  λ · mean(V²)
   * </pre>
   *
   * over pairs of solutions (z₁, z₂) of one prompt with checker verdicts c₁ ≠ c₂ (sign ±1 per pair), the second
   * mean over every score of the batch (V₁ and V₂ of each pair): it centres V at 0, which the pairwise term alone
   * leaves free, so a score's sign says which side of the typical solution it is on. Differentiable.
   *
   * @param sign [B] +1 where z₁ is the correct one, −1 where z₂ is
   */
  public static NDArray signedWithScorePenalty(NDArray v1, NDArray v2, NDArray sign, double lambda) {
    NDArray loss = v1.sub(v2).mul(sign).neg().getNDArrayInternal().softPlus().mean();
    if (lambda > 0) loss = loss.add(Scalars.times(v1.square().add(v2.square()).mean().div(2), lambda));
    return loss;
  }
}
