package org.sparkrlhf.grpo.pvg;

import java.util.List;
import org.sparkrlhf.grpo.train.GrpoConfig;

/**
 * Settings of a prover's RL against a verifier (config section {@code pvg}): GRPO's keys ({@link GrpoConfig}; the
 * rules in {@code reward} give the checker's verdict, {@code correct_answer}, which the prover's reward reads) and
 * the prover's reward.
 */
public class PvgConfig extends GrpoConfig {
  /**
   * The prover's reward by its name in {@link ProverRewards}: {@code src} (signed relative convincingness),
   * {@code cgc} (correctness-gated), {@code goodhart} (the verifier's score alone) or {@code correctness} (the
   * checker alone, the baseline). Default {@code src}.
   */
  public String proverReward = ProverRewards.SRC;
  /** Solutions per forward pass of the verifier when it scores an iteration's samples. Default 128. */
  public int verifierBatchSize = 128;

  @Override
  public String section() {
    return "pvg";
  }

  @Override
  public List<String> problems() {
    List<String> p = super.problems();
    unknownName(p, "pvg.prover_reward", proverReward, ProverRewards.REGISTRY.names());
    if (verifierBatchSize < 1) p.add("pvg.verifier_batch_size must be positive");
    return p;
  }
}
