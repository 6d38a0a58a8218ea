package org.sparkrlhf.core.train;

/**
 * {@link OptimizerSettings} plus the {@link LrSchedule} of a stage whose learning rate warms up and then
 * decays: linear warm-up to {@link #lr} over {@link #warmupSteps}, cosine decay to {@code lr * min_lr_ratio}
 * at the last step. Stages that train at a constant rate (GRPO) extend {@link OptimizerSettings} instead, so
 * their sections do not accept keys they would ignore.
 */
public abstract class ScheduledOptimizerSettings extends OptimizerSettings {
  /** Linear warm-up steps. Set by each stage. */
  public int warmupSteps;
  /** Final learning rate as a fraction of the peak (cosine decay). Default 1.0 (constant after warm-up). */
  public double minLrRatio = 1.0;

  /** Sets {@code target}'s optimizer and schedule keys to these (for a trainer run with another stage's settings). */
  public <T extends ScheduledOptimizerSettings> T copyTo(T target) {
    target.lr = lr;
    target.weightDecay = weightDecay;
    target.beta1 = beta1;
    target.beta2 = beta2;
    target.gradClip = gradClip;
    target.maxSkippedSteps = maxSkippedSteps;
    target.warmupSteps = warmupSteps;
    target.minLrRatio = minLrRatio;
    return target;
  }
}
