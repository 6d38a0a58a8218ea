package org.sparkrlhf.reward.process;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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

  /**
   * The text a continuation is sampled from for step {@code through}: the prompt, then steps 0..through, each with
   * its newline, so the policy goes on where the solution's step ended.
   */
  public static String prefix(String prompt, List<String> steps, int through) {
    StringBuilder b = new StringBuilder(prompt);
    for (int k = 0; k <= through; k++) b.append(steps.get(k)).append('\n');
    return b.toString();
  }

  /**
   * How automatic labels agree with true ones, summed over solutions: the steps both label (the shorter of the two,
   * each running to its first wrong step), how many of them agree, the false positives (an automatic "correct" on a
   * wrong step) and false negatives (an automatic "wrong" on a correct step), and the solutions whose first wrong
   * step (or none) is the same by both.
   */
  public record Agreement(int solutions, int sameFirstError, int steps, int agreeing, int falsePositives,
      int falseNegatives) {
    public static final Agreement NONE = new Agreement(0, 0, 0, 0, 0, 0);

    /** One solution's automatic hard labels against its true ones. */
    public static Agreement of(boolean[] auto, List<Boolean> truth) {
      int n = Math.min(auto.length, truth.size());
      int agree = 0;
      int fp = 0;
      int fn = 0;
      for (int k = 0; k < n; k++) {
        boolean t = truth.get(k);
        if (auto[k] == t) agree++;
        else if (auto[k]) fp++;
        else fn++;
      }
      boolean same = firstWrong(auto) == firstWrong(truth);
      return new Agreement(1, same ? 1 : 0, n, agree, fp, fn);
    }

    private static int firstWrong(boolean[] labels) {
      for (int k = 0; k < labels.length; k++) if (!labels[k]) return k;
      return -1;
    }

    private static int firstWrong(List<Boolean> labels) {
      return labels.indexOf(Boolean.FALSE);
    }

    public Agreement plus(Agreement o) {
      return new Agreement(solutions + o.solutions, sameFirstError + o.sameFirstError, steps + o.steps,
          agreeing + o.agreeing, falsePositives + o.falsePositives, falseNegatives + o.falseNegatives);
    }

    /** Shares: {@code step_agreement}, {@code first_error_agreement}, {@code false_positive_steps}, {@code false_negative_steps}. */
    public Map<String, Double> asMap(String prefix) {
      Map<String, Double> m = new LinkedHashMap<>();
      m.put(prefix + "step_agreement", steps == 0 ? Double.NaN : (double) agreeing / steps);
      m.put(prefix + "first_error_agreement", solutions == 0 ? Double.NaN : (double) sameFirstError / solutions);
      m.put(prefix + "false_positive_steps", steps == 0 ? Double.NaN : (double) falsePositives / steps);
      m.put(prefix + "false_negative_steps", steps == 0 ? Double.NaN : (double) falseNegatives / steps);
      m.put(prefix + "compared_steps", (double) steps);
      m.put(prefix + "solutions", (double) solutions);
      return m;
    }
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
