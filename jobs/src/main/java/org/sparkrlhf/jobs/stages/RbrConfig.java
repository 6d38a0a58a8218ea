package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.reward.rules.RewardRules;
import org.sparkrlhf.reward.rules.RewardSpec;

/**
 * Settings of the {@code rbr} stage (config section {@code rbr}): the weights of a rule-based reward fitted to a
 * ranking, as in RBR (Mu et al. 2024).
 */
public class RbrConfig {
  /** Run whose rollouts are the ranked completions; empty = this run. Default empty. */
  public String sourceRun = "";
  /** Stage of those rollouts. Default {@code rollouts}. */
  public String sourceStage = "rollouts";
  /** Dataset in prompts (its reference answers feed the rules). Default {@code arith}. */
  public String dataset = "arith";
  /** Split of the prompts whose completions are used; empty = every split. Default {@code train}. */
  public String split = "train";
  /** Completions used (the first by prompt id and sample index); 0 = all. Default 0. */
  public int limit = 0;
  /**
   * The features and the weights before the fit, as a reward spec: each rule is a feature (its score), an entry
   * {@code {name: model, checkpoint: ...}} adds a reward model's score, scored on the executors. Default
   * correct_answer 1, format 0, step_validity 0, repetition 0.
   */
  public RewardSpec reward = defaultFeatures();
  /**
   * The ranking the total reward must respect: Spark SQL predicates over the feature columns (named as the rules,
   * {@code model} for the reward model), best first; a completion's class is the first it satisfies, one that
   * satisfies none is left out. Default: correct with every step valid, then correct, then well formed, then the rest.
   */
  public List<String> ranking = new ArrayList<>(List.of("correct_answer = 1 AND step_validity = 1",
      "correct_answer = 1", "format = 1", "true"));
  /** Share of the prompts (by a hash of the id and the seed) whose pairs are held out from the fit. Default 0.2. */
  public double evalShare = 0.2;
  /** L2 penalty of the logistic regression (keeps the weights finite when the ranking can be met exactly). Default 1e-3. */
  public double regParam = 1e-3;
  /** Seed of the held-out choice. Default 1234. */
  public long seed = 1234;
  /** Rows per reward-model forward pass. Default 64. */
  public int batchSize = 64;
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;

  static RewardSpec defaultFeatures() {
    return RewardSpec.of(new RewardSpec.RuleSpec(RewardRules.CORRECT_ANSWER, 1.0),
        new RewardSpec.RuleSpec(RewardRules.FORMAT, 0.0), new RewardSpec.RuleSpec(RewardRules.STEP_VALIDITY, 0.0),
        new RewardSpec.RuleSpec(RewardRules.REPETITION, 0.0));
  }

  /** Checks ranges; the problems found, each naming its key. */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (ranking == null || ranking.size() < 2) p.add("rbr.ranking needs at least two classes");
    if (!(evalShare >= 0 && evalShare < 1)) p.add("rbr.eval_share must be in [0, 1)");
    if (!(regParam >= 0)) p.add("rbr.reg_param must be >= 0");
    if (limit < 0) p.add("rbr.limit must be >= 0");
    if (batchSize < 1) p.add("rbr.batch_size must be >= 1");
    if (reward == null || reward.rules == null || reward.rules.isEmpty()) p.add("rbr.reward needs at least one rule");
    return p;
  }
}
