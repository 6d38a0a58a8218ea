package org.sparkrlhf.grpo.train;

import java.util.List;
import org.sparkrlhf.grpo.algos.AdvantageEstimators;
import org.sparkrlhf.grpo.rl.RlConfig;

/**
 * Settings of the {@code grpo} stage (config section {@code grpo}), named after TRL's {@code GRPOConfig} where one
 * exists: the shared loop's keys ({@link RlConfig}, documented there with their defaults) and the advantage
 * estimator. On the learning rate (default 1e-4, constant): keep it low for RL: on the quickstart model 2e-4 and
 * 3e-4 lowered greedy accuracy within 20–40 iterations; with filter_groups, 1e-4 gained +0.3 points on test, 5e-5
 * +1.3, 3e-5 +1.8 (the quickstart's setting).
 */
public class GrpoConfig extends RlConfig {
  /**
   * Advantage estimator, by its name in {@code AdvantageEstimators}: {@code grpo} (group mean and std),
   * {@code dr_grpo} (mean only, Dr. GRPO) or {@code rloo} (leave-one-out mean), or {@code grpo_process} (GRPO with
   * process supervision, DeepSeekMath §4.1.3: per-token advantages from the rewarder's step rewards, with the rules
   * the task checker's validity of each line), or one registered there by name. Default {@code grpo}.
   */
  public String advantage = "grpo";

  @Override
  public String section() {
    return "grpo";
  }

  @Override
  protected int minGroupSize() {
    return 2;
  }

  @Override
  protected String groupSizeReason() {
    return " (advantages compare samples of one prompt)";
  }

  @Override
  public List<String> problems() {
    List<String> p = super.problems();
    unknownName(p, "grpo.advantage", advantage, AdvantageEstimators.REGISTRY.names());
    return p;
  }
}
