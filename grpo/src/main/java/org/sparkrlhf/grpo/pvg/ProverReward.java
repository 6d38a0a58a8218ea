package org.sparkrlhf.grpo.pvg;

/**
 * A prover's reward for a batch of solutions from the verifier's scores, the checker's verdicts and the roles they
 * were written under ({@link ProverRewards} holds them by name). Pure: the same inputs give the same rewards.
 */
@FunctionalInterface
public interface ProverReward {
  /**
   * @param scores the verifier's score V(x, z) of each solution
   * @param correct the checker's verdict on each solution's final answer
   * @param helpful each solution's role: true for helpful, false for sneaky
   * @param groups each solution's batch group: solutions of the same prompt and role share one (SRC centres V in
   *     it)
   * @return one reward per solution
   */
  double[] rewards(double[] scores, boolean[] correct, boolean[] helpful, int[] groups);
}
