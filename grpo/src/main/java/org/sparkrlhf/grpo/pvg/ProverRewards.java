package org.sparkrlhf.grpo.pvg;

import java.util.HashMap;
import java.util.Map;
import org.sparkrlhf.core.algos.Registry;

/**
 * The prover's rewards of Kirchner et al. 2024 by config name ({@code pvg.reward}):
 *
 * <ul>
 *   <li>{@value #SRC}, signed relative convincingness: with V′ = V − mean of V over the solutions of the same
 *       prompt and role, R = (2·correct − 1)·(2·helpful − 1)·V′ when V′ &gt; 0, else −1. A solution scores only by
 *       being more convincing than its siblings, and only when it is right for its role;
 *   <li>{@value #CGC}, correctness-gated convincingness: R = V when the solution is right for its role (correct for
 *       the helpful, incorrect for the sneaky), else the constant V₀ = {@value #CGC_PENALTY};
 *   <li>{@value #GOODHART}, the plain verifier reward R = V, whatever the role and the checker say (the paper's
 *       "goodharting" baseline);
 *   <li>{@value #CORRECTNESS}, R = 1 for a correct answer and 0 otherwise, the verifier ignored: correctness-only RL,
 *       the baseline the legibility measure is compared against.
 * </ul>
 */
public final class ProverRewards {
  public static final String SRC = "src";
  public static final String CGC = "cgc";
  public static final String GOODHART = "goodhart";
  public static final String CORRECTNESS = "correctness";
  /** CGC's reward for a solution wrong for its role (the paper's V₀). */
  public static final double CGC_PENALTY = -2.0;

  public static final Registry<ProverReward> REGISTRY = new Registry<ProverReward>("prover reward")
      .register(SRC, ProverRewards::src)
      .register(CGC, ProverRewards::cgc)
      .register(GOODHART, (v, c, h, g) -> v.clone())
      .register(CORRECTNESS, ProverRewards::correctness);

  private ProverRewards() {}

  /** Signed relative convincingness (see the class comment). */
  public static double[] src(double[] scores, boolean[] correct, boolean[] helpful, int[] groups) {
    check(scores, correct, helpful, groups);
    double[] centred = centredInGroups(scores, groups);
    double[] r = new double[scores.length];
    for (int i = 0; i < r.length; i++) {
      r[i] = centred[i] > 0 ? sign(correct[i]) * sign(helpful[i]) * centred[i] : -1.0;
    }
    return r;
  }

  /** Correctness-gated convincingness (see the class comment). */
  public static double[] cgc(double[] scores, boolean[] correct, boolean[] helpful, int[] groups) {
    check(scores, correct, helpful, groups);
    double[] r = new double[scores.length];
    for (int i = 0; i < r.length; i++) r[i] = helpful[i] == correct[i] ? scores[i] : CGC_PENALTY;
    return r;
  }

  /** 1 for a correct answer, else 0. */
  public static double[] correctness(double[] scores, boolean[] correct, boolean[] helpful, int[] groups) {
    check(scores, correct, helpful, groups);
    double[] r = new double[scores.length];
    for (int i = 0; i < r.length; i++) r[i] = correct[i] ? 1 : 0;
    return r;
  }

  /** V minus the mean V of its group. */
  static double[] centredInGroups(double[] v, int[] groups) {
    Map<Integer, double[]> sums = new HashMap<>();
    for (int i = 0; i < v.length; i++) {
      double[] s = sums.computeIfAbsent(groups[i], k -> new double[2]);
      s[0] += v[i];
      s[1]++;
    }
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      double[] s = sums.get(groups[i]);
      out[i] = v[i] - s[0] / s[1];
    }
    return out;
  }

  private static double sign(boolean b) {
    return b ? 1 : -1;
  }

  private static void check(double[] v, boolean[] c, boolean[] h, int[] g) {
    if (c.length != v.length || h.length != v.length || g.length != v.length) {
      throw new IllegalArgumentException("prover reward: " + v.length + " scores, " + c.length + " verdicts, "
          + h.length + " roles, " + g.length + " groups");
    }
  }
}
