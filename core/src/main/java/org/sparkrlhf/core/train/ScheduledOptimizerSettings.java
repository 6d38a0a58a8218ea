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
}
