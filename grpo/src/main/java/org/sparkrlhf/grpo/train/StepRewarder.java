package org.sparkrlhf.grpo.train;

import java.io.Serializable;
import java.util.List;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.rollouts.engine.Completion;

/**
 * Step rewards of one completion for process-supervised GRPO ({@code advantage = grpo_process}): one reward per
 * line of the completion (a line is a step; its newline ends it), in order.
 */
@FunctionalInterface
public interface StepRewarder extends Serializable {
  double[] stepRewards(GrpoPrompt prompt, Completion completion);

  /**
   * The built-in task's checker as a process reward: 1 for a line that is a valid step on its own
   * ({@link Checker#lineValidity}: the one reduction of the line before, or the answer equal to it), 0 otherwise.
   * A wrong intermediate result is charged to the line that made it, not to the correct arithmetic after it.
   */
  static StepRewarder lineValidity() {
    return (p, c) -> {
      List<Boolean> valid = Checker.lineValidity(p.prompt(), c.text());
      double[] r = new double[valid.size()];
      for (int i = 0; i < r.length; i++) r[i] = valid.get(i) ? 1 : 0;
      return r;
    };
  }
}
