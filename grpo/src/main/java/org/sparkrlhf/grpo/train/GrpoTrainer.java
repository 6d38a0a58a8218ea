package org.sparkrlhf.grpo.train;

import java.util.List;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.algos.AdvantageEstimator;
import org.sparkrlhf.grpo.algos.AdvantageEstimators;
import org.sparkrlhf.grpo.algos.AdvantageInput;
import org.sparkrlhf.grpo.rl.Experience;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.grpo.rl.RolloutSource;
import org.sparkrlhf.reward.Rewarder;

/**
 * GRPO (Shao et al. 2024, "DeepSeekMath") on the shared {@link RlTrainer} loop: no critic; each sample's advantage
 * comes from the rewards of its group by the estimator {@code grpo.advantage} selects
 * ({@link AdvantageEstimators}: group-normalised {@code grpo}, {@code dr_grpo}, {@code rloo}, or the token-level
 * {@code grpo_process} over the rewarder's step rewards, a step being a line).
 */
public final class GrpoTrainer extends RlTrainer {
  private final AdvantageEstimator estimator;

  /**
   * @param policy the model to train (its gradients get attached); starts as the reference's copy
   * @param reference frozen reference (never updated; may be null when kl_coef is 0)
   * @param prompts the training prompts (order matters for reproducibility: pass them sorted by id)
   * @param rewarder the outcome rewards and, for {@code grpo_process}, the step rewards
   */
  public GrpoTrainer(GrpoConfig config, LlamaModel policy, LlamaModel reference, TextTokenizer tok,
      List<RlPrompt> prompts, RolloutSource source, Rewarder rewarder) {
    super(config, policy, reference, tok, prompts, source, rewarder);
    this.estimator = AdvantageEstimators.REGISTRY.byName(config.advantage);
  }

  @Override
  protected boolean needsStepRewards() {
    return estimator.needsStepRewards();
  }

  @Override
  protected double[][] advantages(Experience e) {
    int n = e.size();
    double[][] stepRewards = null;
    int[][] stepOfToken = null;
    if (estimator.needsStepRewards()) {
      stepRewards = new double[n][];
      stepOfToken = new int[n][];
      for (int i = 0; i < n; i++) {
        stepRewards[i] = e.samples().get(i).stepRewards();
        stepOfToken[i] = lineOfToken(tok, e.completion(i).tokenIds());
      }
    }
    return estimator.compute(new AdvantageInput(e.rewards(), e.groupIds(), e.lengths(), stepRewards, stepOfToken));
  }

  /** The line of each completion token: the number of newlines decoded before it (a newline ends its own line). */
  static int[] lineOfToken(TextTokenizer tok, int[] ids) {
    int[] line = new int[ids.length];
    int current = 0;
    for (int k = 0; k < ids.length; k++) {
      line[k] = current;
      String piece = tok.decode(new int[] {ids[k]});
      for (int j = 0; j < piece.length(); j++) if (piece.charAt(j) == '\n') current++;
    }
    return line;
  }
}
