package org.sparkrlhf.core.train;

import ai.djl.training.tracker.Tracker;

/**
 * Linear warm-up from 0 to {@code peak} over {@code warmupSteps}, then cosine decay to
 * {@code peak * minRatio} at {@code totalSteps} (held there after). The schedule of nanoGPT and of the
 * Llama papers; as a DJL {@link Tracker} it drives the optimizer's learning rate.
 */
public record LrSchedule(double peak, int warmupSteps, int totalSteps, double minRatio) implements Tracker {

  public LrSchedule {
    if (peak <= 0 || warmupSteps < 0 || totalSteps < 1 || minRatio < 0 || minRatio > 1) {
      throw new IllegalArgumentException("bad schedule: peak " + peak + " warmup " + warmupSteps
          + " total " + totalSteps + " min_ratio " + minRatio);
    }
  }

  /** Constant rate, no warm-up (RL fine-tuning often wants this). */
  public static LrSchedule constant(double lr) {
    return new LrSchedule(lr, 0, 1, 1.0);
  }

  /** Learning rate for 1-based update number {@code step}. */
  public double at(int step) {
    if (warmupSteps > 0 && step <= warmupSteps) {
      return peak * step / warmupSteps;
    }
    double floor = peak * minRatio;
    if (step >= totalSteps) {
      return floor;
    }
    double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
  }

  @Override
  public float getNewValue(int numUpdate) {
    return (float) at(numUpdate);
  }
}
