package org.sparkrlhf.jobs.stages;

import java.util.List;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.grpo.rl.RolloutSource;
import org.sparkrlhf.grpo.train.GrpoConfig;
import org.sparkrlhf.grpo.train.GrpoTrainer;
import org.sparkrlhf.reward.Rewarder;

/** {@code grpo}: GRPO with rule-based rewards on the shared RL stage ({@link RlStage}); config section {@code grpo}. */
public final class GrpoStage extends RlStage<GrpoConfig> {
  @Override
  public String name() {
    return "grpo";
  }

  @Override
  public String description() {
    return "GRPO with rule-based rewards: rollouts, rewards, group advantages, clipped updates (--resume continues)";
  }

  @Override
  protected Class<GrpoConfig> configClass() {
    return GrpoConfig.class;
  }

  @Override
  protected RlTrainer trainer(GrpoConfig config, LlamaModel policy, LlamaModel reference, TextTokenizer tok,
      List<RlPrompt> prompts, RolloutSource source, Rewarder rewarder) {
    return new GrpoTrainer(config, policy, reference, tok, prompts, source, rewarder);
  }
}
