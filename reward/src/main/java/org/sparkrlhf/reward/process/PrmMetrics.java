package org.sparkrlhf.reward.process;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a batch (or the held-out set) of a process reward model shows: {@code loss}; {@code accuracy}, the share of
 * steps whose prediction (σ(z) &gt; 0.5) matches the label (a label ≥ 0.5 counts as correct); the same on the steps
 * labelled correct ({@code accuracy_correct_steps}) and on those labelled wrong ({@code accuracy_wrong_steps}, NaN
 * when there are none), since most steps are correct and a model that says "correct" everywhere scores high on
 * {@code accuracy} alone; {@code solution_accuracy}, the share of solutions with every step predicted right (so the
 * first wrong step found where the labels put it); {@code mean_score}, the mean σ(z); and {@code steps}.
 */
public record PrmMetrics(double loss, double accuracy, double accuracyCorrectSteps, double accuracyWrongSteps,
    double solutionAccuracy, double meanScore, int steps) {

  /**
   * The metrics of {@code examples} from their step logits, flattened in example order as
   * {@code SequenceLogProbs.scoresAt} returns them, and the loss already computed.
   */
  public static PrmMetrics of(List<StepExample> examples, float[] logits, double loss) {
    int k = 0;
    int right = 0;
    int pos = 0;
    int posRight = 0;
    int neg = 0;
    int negRight = 0;
    int solutionsRight = 0;
    double prob = 0;
    for (StepExample e : examples) {
      boolean all = true;
      for (float y : e.labels()) {
        float z = logits[k++];
        boolean predicted = z > 0;
        boolean label = y >= 0.5f;
        boolean ok = predicted == label;
        if (ok) right++;
        if (label) {
          pos++;
          if (ok) posRight++;
        } else {
          neg++;
          if (ok) negRight++;
        }
        all &= ok;
        prob += 1 / (1 + Math.exp(-z));
      }
      if (all) solutionsRight++;
    }
    if (k != logits.length || k == 0) {
      throw new IllegalArgumentException(logits.length + " step logits for " + k + " labelled steps");
    }
    return new PrmMetrics(loss, (double) right / k, pos == 0 ? Double.NaN : (double) posRight / pos,
        neg == 0 ? Double.NaN : (double) negRight / neg, (double) solutionsRight / examples.size(), prob / k, k);
  }

  /** The names above, each after {@code prefix} (empty for training steps, {@code eval_} on held-out solutions). */
  public Map<String, Double> asMap(String prefix) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put(prefix + "loss", loss);
    m.put(prefix + "accuracy", accuracy);
    m.put(prefix + "accuracy_correct_steps", accuracyCorrectSteps);
    m.put(prefix + "accuracy_wrong_steps", accuracyWrongSteps);
    m.put(prefix + "solution_accuracy", solutionAccuracy);
    m.put(prefix + "mean_score", meanScore);
    m.put(prefix + "steps", (double) steps);
    return m;
  }
}
