package org.sparkrlhf.core.train;

/**
 * {@link OptimizerSettings} plus the {@link LrSchedule} of a stage whose learning rate warms up and then
 * decays: linear warm-up to {@link #lr} over {@link #warmupSteps}, cosine decay to {@code lr * min_lr_ratio}
 * at the last step. Stages that train at a constant rate (GRPO) extend {@link OptimizerSettings} instead, so
 * their sections do not accept keys they would ignore.
 */
public abstract class ScheduledOptimizerSettings extends OptimizerSettings {
  /** Linear warm-up steps. */
  public int warmupSteps;
  /** Final learning rate as a fraction of the peak (cosine decay); 1.0 = constant after warm-up. */
  public double minLrRatio;

  protected ScheduledOptimizerSettings(double lr, int warmupSteps, double minLrRatio, double weightDecay,
      double beta1, double beta2, double gradClip) {
    super(lr, weightDecay, beta1, beta2, gradClip);
    this.warmupSteps = warmupSteps;
    this.minLrRatio = minLrRatio;
  }
}
