package org.sparkrlhf.jobs.stages;

import java.util.List;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.ppo.PpoConfig;
import org.sparkrlhf.grpo.ppo.PpoTrainer;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.grpo.rl.RolloutSource;
import org.sparkrlhf.reward.Rewarder;

/**
 * {@code ppo}: PPO with a critic on the shared RL stage ({@link RlStage}); config section {@code ppo}. The critic
 * starts from {@code ppo.critic_checkpoint} (a reward model, as InstructGPT's value model does) or, when that is
 * empty, from the start policy with a fresh score head (seeded by {@code ppo.seed}). On {@code --resume} the
 * trainer state's critic replaces it.
 */
public final class PpoStage extends RlStage<PpoConfig> {
  @Override
  public String name() {
    return "ppo";
  }

  @Override
  public String description() {
    return "PPO with a critic: rollouts, rewards with a KL penalty, GAE, clipped policy and value updates (--resume continues)";
  }

  @Override
  protected Class<PpoConfig> configClass() {
    return PpoConfig.class;
  }

  @Override
  protected RlTrainer trainer(PpoConfig config, LlamaModel policy, LlamaModel reference, TextTokenizer tok,
      List<RlPrompt> prompts, RolloutSource source, Rewarder rewarder) {
    LlamaModel critic;
    if (config.criticCheckpoint == null || config.criticCheckpoint.isBlank()) {
      critic = reference.withScoreHead(config.seed, policy.manager());
    } else {
      Models.Loaded loaded = Models.load(config.criticCheckpoint, policy.manager());
      critic = loaded.model();
      if (!critic.hasScoreHead()) {
        throw new UserError("ppo.critic_checkpoint " + config.criticCheckpoint
            + " has no score head (give a reward-model checkpoint, or leave it empty to start from the policy)");
      }
      if (critic.config().vocabSize() != policy.config().vocabSize()) {
        throw new UserError("ppo.critic_checkpoint " + config.criticCheckpoint + " has a vocabulary of "
            + critic.config().vocabSize() + " tokens, the policy " + policy.config().vocabSize());
      }
    }
    System.out.printf("ppo: critic from %s%n", config.criticCheckpoint == null || config.criticCheckpoint.isBlank()
        ? "the start policy with a fresh score head" : config.criticCheckpoint);
    return new PpoTrainer(config, policy, reference, critic, tok, prompts, source, rewarder);
  }
}
