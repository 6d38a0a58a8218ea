package org.sparkrlhf.core.train;

/**
 * The AdamW settings of a stage that trains ({@link PolicyOptimizer}'s arguments), declared once for every
 * trainer's config. A stage config extends this class rather than holding it as a nested object so that the
 * keys stay flat in its section, as users write them ({@code sft.lr}, {@code grpo.weight_decay}): Jackson's
 * {@code @JsonUnwrapped} would keep them flat too, but it stops unknown keys from being reported.
 *
 * <p>Defaults differ per stage (RL and DPO move a converged model with smaller steps than SFT takes from
 * scratch), so each stage passes its own to the constructor and documents them on its config class.
 */
public abstract class OptimizerSettings {
  /** Learning rate: the peak of the schedule, or the constant rate where there is none. */
  public double lr;
  /** AdamW decoupled weight decay on matrices (norm gains are never decayed). */
  public double weightDecay;
  /** Adam beta1. */
  public double beta1;
  /** Adam beta2. */
  public double beta2;
  /** Global gradient-norm clip; 0 disables. */
  public double gradClip;

  protected OptimizerSettings(double lr, double weightDecay, double beta1, double beta2, double gradClip) {
    this.lr = lr;
    this.weightDecay = weightDecay;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.gradClip = gradClip;
  }
}
