package org.sparkrlhf.grpo.algos;

import org.sparkrlhf.core.algos.Registry;

/**
 * The coefficient β of the KL penalty in RLHF-PPO's reward, fixed or adapted toward a target KL (Ziegler et al.
 * 2019, §2.2; TRL's {@code AdaptiveKLController}), selected by name: {@value #FIXED}, {@value #ADAPTIVE}.
 */
public interface KlController {
  String FIXED = "fixed";
  String ADAPTIVE = "adaptive";

  /** The coefficient to use now. */
  double value();

  /**
   * After an iteration whose samples had mean (per-sequence summed) KL {@code currentKl}, over {@code nSteps}
   * samples.
   */
  void update(double currentKl, int nSteps);

  /** Replaces the coefficient (restoring a saved run). */
  void set(double value);

  /** Settings from which a controller is made: the starting β, the target KL, the horizon. */
  record Settings(double init, double target, double horizon) {}

  /** The controllers by name. */
  Registry<java.util.function.Function<Settings, KlController>> REGISTRY =
      new Registry<java.util.function.Function<Settings, KlController>>("KL controller")
          .register(FIXED, s -> new Fixed(s.init()))
          .register(ADAPTIVE, s -> new Adaptive(s.init(), s.target(), s.horizon()));

  /** A constant β. */
  final class Fixed implements KlController {
    private double value;

    public Fixed(double value) {
      this.value = value;
    }

    @Override
    public double value() {
      return value;
    }

    @Override
    public void update(double currentKl, int nSteps) {}

    @Override
    public void set(double value) {
      this.value = value;
    }
  }

  /**
   * Ziegler et al.'s proportional controller: {@code e = clip(KL / target − 1, −0.2, 0.2)},
   * {@code β ← β · (1 + e · nSteps / horizon)}: β grows while the KL is above the target and shrinks below it, by
   * at most 0.2·nSteps/horizon per update.
   */
  final class Adaptive implements KlController {
    private double value;
    private final double target;
    private final double horizon;

    public Adaptive(double init, double target, double horizon) {
      if (!(target > 0) || !(horizon > 0)) throw new IllegalArgumentException("KL target and horizon must be > 0");
      this.value = init;
      this.target = target;
      this.horizon = horizon;
    }

    @Override
    public double value() {
      return value;
    }

    @Override
    public void update(double currentKl, int nSteps) {
      double error = Math.max(-0.2, Math.min(0.2, currentKl / target - 1));
      value *= 1 + error * nSteps / horizon;
    }

    @Override
    public void set(double value) {
      this.value = value;
    }
  }
}
