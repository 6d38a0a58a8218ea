package org.sparkrlhf.reward.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What TRL's {@code RewardTrainer} logs for a batch of pairs, under its names: {@code loss}, {@code accuracy} (the
 * share of pairs whose chosen score is strictly above the rejected one: a tie is not a win), {@code margin} (mean of
 * r_c − r_r), and {@code mean_reward}, {@code min_reward}, {@code max_reward} over the chosen and the rejected scores
 * together.
 */
public record RewardMetrics(double loss, double accuracy, double margin, double meanReward, double minReward,
    double maxReward) {

  /** The metrics of one batch from its scores and its (already computed) loss. */
  public static RewardMetrics of(float[] chosen, float[] rejected, double loss) {
    if (chosen.length != rejected.length || chosen.length == 0) {
      throw new IllegalArgumentException(chosen.length + " chosen and " + rejected.length + " rejected scores");
    }
    int wins = 0;
    double diff = 0;
    double sum = 0;
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < chosen.length; i++) {
      if (chosen[i] > rejected[i]) wins++;
      diff += chosen[i] - rejected[i];
      for (double r : new double[] {chosen[i], rejected[i]}) {
        sum += r;
        min = Math.min(min, r);
        max = Math.max(max, r);
      }
    }
    int n = chosen.length;
    return new RewardMetrics(loss, (double) wins / n, diff / n, sum / (2.0 * n), min, max);
  }

  /** TRL's names, each after {@code prefix} (empty for training steps, {@code eval_} on held-out pairs). */
  public Map<String, Double> asMap(String prefix) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put(prefix + "loss", loss);
    m.put(prefix + "accuracy", accuracy);
    m.put(prefix + "margin", margin);
    m.put(prefix + "mean_reward", meanReward);
    m.put(prefix + "min_reward", minReward);
    m.put(prefix + "max_reward", maxReward);
    return m;
  }
}
