package org.sparkrlhf.reward.process;

import java.util.Arrays;

/**
 * Automatic step labels as Math-Shepherd makes them (Wang et al. 2024, "Math-Shepherd: Verify and Reinforce LLMs
 * Step-by-step without Human Annotations"): from the prefix of a solution through step k, K continuations are
 * sampled, and the step is as good as the chance that finishing from it reaches the reference answer. The hard label
 * says some continuation did (the step is still on a path to the answer); the soft label is the share that did.
 * Labels run to the first step with a hard label of false and stop there, the {@code step_labels} convention that
 * nothing after a mistake is labelled.
 *
 * @param hard per labelled step, some continuation reached the answer
 * @param soft per labelled step, the share of continuations that did
 */
public record MathShepherd(boolean[] hard, double[] soft) {

  /**
   * The labels of a solution from {@code reached[k]}, the number of the {@code samples} continuations from the
   * prefix through step k that reached the answer, truncated after the first step none reached.
   */
  public static MathShepherd of(int[] reached, int samples) {
    if (samples < 1) throw new IllegalArgumentException("samples must be >= 1, got " + samples);
    int n = 0;
    while (n < reached.length) {
      if (reached[n] < 0 || reached[n] > samples) {
        throw new IllegalArgumentException("step " + n + ": " + reached[n] + " of " + samples + " continuations");
      }
      n++;
      if (reached[n - 1] == 0) break;
    }
    boolean[] hard = new boolean[n];
    double[] soft = new double[n];
    for (int k = 0; k < n; k++) {
      hard[k] = reached[k] > 0;
      soft[k] = (double) reached[k] / samples;
    }
    return new MathShepherd(hard, soft);
  }

  /** How many steps are labelled. */
  public int steps() {
    return hard.length;
  }

  @Override
  public String toString() {
    return "MathShepherd" + Arrays.toString(soft);
  }
}
