package org.sparkrlhf.core.train;

/**
 * The AdamW settings of a stage that trains ({@link PolicyOptimizer}'s arguments), declared once for every
 * trainer's config. A stage config extends this class rather than holding it as a nested object so that the
 * keys stay flat in its section, as users write them ({@code sft.lr}, {@code grpo.weight_decay}): Jackson's
 * {@code @JsonUnwrapped} would keep them flat too, but it stops unknown keys from being reported.
 *
 * <p>The defaults here are Adam's (β1 0.9, β2 0.999, no weight decay) with the gradient clipped at norm 1.0.
 * Stages train differently (RL and DPO move a converged model with smaller steps than SFT takes from scratch),
 * so each stage's constructor sets its learning rate and what else it changes, and its class documents the
 * resulting defaults.
 */
public abstract class OptimizerSettings {
  /** Learning rate: the peak of the schedule, or the constant rate where there is none. Set by each stage. */
  public double lr;
  /** AdamW decoupled weight decay on matrices (norm gains are never decayed). Default 0. */
  public double weightDecay = 0.0;
  /** Adam beta1. Default 0.9. */
  public double beta1 = 0.9;
  /** Adam beta2. Default 0.999. */
  public double beta2 = 0.999;
  /** Global gradient-norm clip; 0 disables. Default 1.0. */
  public double gradClip = 1.0;
  /**
   * Optimizer steps whose loss or gradient norm is NaN or infinite that are skipped (gradients discarded, weights
   * unchanged, counted in {@code metrics} as {@code skipped_steps}) before the stage stops with a one-line error
   * naming the step and the last good checkpoint; 0 stops at the first. Default 10.
   */
  public int maxSkippedSteps = PolicyOptimizer.DEFAULT_MAX_SKIPPED_STEPS;

  /** Adds what is wrong with the keys checked here, named in section {@code section}, to {@code problems}. */
  protected void optimizerProblems(String section, java.util.List<String> problems) {
    if (maxSkippedSteps < 0) {
      problems.add(section + ".max_skipped_steps must not be negative, got " + maxSkippedSteps);
    }
  }
}
