package org.sparkrlhf.reward.bestofn;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.algos.Registry;
import org.sparkrlhf.reward.rules.OutcomeGrading;

/**
 * Best-of-N pickers, selected by name ({@link #REGISTRY}), each a pure function from N candidates to the index of the
 * one it answers with, as "Let's Verify Step by Step" (Lightman et al. 2023) compares them: {@value #FIRST} (no
 * selection: one sample), {@value #MAJORITY} (majority voting over final answers), {@value #ORM} (the outcome reward
 * model's argmax), {@value #PRM_PRODUCT} and {@value #PRM_MIN} (the process reward model's argmax, a solution's
 * score being the product or the minimum of its steps' probabilities of being correct). Ties go to the earliest
 * candidate; a picker that needs scores the candidates lack is an error.
 */
public final class Pickers {
  public static final String FIRST = "first";
  public static final String MAJORITY = "majority";
  public static final String ORM = "orm";
  public static final String PRM_PRODUCT = "prm_product";
  public static final String PRM_MIN = "prm_min";

  /** A picker: the index of the chosen candidate, in [0, N). */
  @FunctionalInterface
  public interface Picker {
    int pick(List<Candidate> candidates);
  }

  /** The pickers by name. */
  public static final Registry<Picker> REGISTRY = new Registry<Picker>("best-of-N picker")
      .register(FIRST, c -> 0)
      .register(MAJORITY, Pickers::majority)
      .register(ORM, c -> argmax(c, Pickers::outcome))
      .register(PRM_PRODUCT, c -> argmax(c, x -> aggregate(x, true)))
      .register(PRM_MIN, c -> argmax(c, x -> aggregate(x, false)));

  private Pickers() {}

  /** The most voted final answer's first candidate; with no answer at all, the first candidate. */
  static int majority(List<Candidate> candidates) {
    List<String> texts = new ArrayList<>(candidates.size());
    for (Candidate c : candidates) texts.add(c.text());
    int i = OutcomeGrading.majorityIndex(texts);
    return i < 0 ? 0 : i;
  }

  private static double outcome(Candidate c) {
    if (Double.isNaN(c.outcomeScore())) throw new IllegalArgumentException("the orm picker needs outcome scores");
    return c.outcomeScore();
  }

  /**
   * A solution's process score: the product (the probability that every step is correct, if independent) or the
   * minimum (the weakest step) of its step probabilities. A solution with no step scores 1 by either, as an empty
   * product and an empty minimum over probabilities do.
   */
  public static double aggregate(Candidate c, boolean product) {
    if (c.stepScores() == null) throw new IllegalArgumentException("the prm pickers need step scores");
    double v = 1;
    for (double p : c.stepScores()) v = product ? v * p : Math.min(v, p);
    return v;
  }

  private static int argmax(List<Candidate> candidates, java.util.function.ToDoubleFunction<Candidate> score) {
    int best = 0;
    double bestScore = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < candidates.size(); i++) {
      double s = score.applyAsDouble(candidates.get(i));
      if (s > bestScore) {
        best = i;
        bestScore = s;
      }
    }
    return best;
  }
}
