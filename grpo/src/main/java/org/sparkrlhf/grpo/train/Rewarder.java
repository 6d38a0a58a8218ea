package org.sparkrlhf.grpo.train;

import java.io.Serializable;
import org.sparkrlhf.reward.rules.RewardFunction;
import org.sparkrlhf.reward.rules.RewardInput;
import org.sparkrlhf.reward.rules.RewardResult;
import org.sparkrlhf.reward.rules.RewardSpec;
import org.sparkrlhf.rollouts.engine.Completion;

/** The reward of one sampled completion. Serializable so it can run on executors. */
@FunctionalInterface
public interface Rewarder extends Serializable {
  RewardResult score(GrpoPrompt prompt, Completion completion);

  /** The rule-based reward of a spec (see {@code RewardRules}). */
  static Rewarder of(RewardSpec spec) {
    RewardFunction f = RewardFunction.of(spec);
    return (p, c) -> f.apply(new RewardInput(p.prompt(), c.text(), p.answer(), c.length(), finishReason(c)));
  }

  /** The rollout engine says {@code eos}; the reward rules call that {@code stop}. */
  static String finishReason(Completion c) {
    return Completion.LENGTH.equals(c.finishReason()) ? RewardInput.FINISH_LENGTH : RewardInput.FINISH_STOP;
  }
}
