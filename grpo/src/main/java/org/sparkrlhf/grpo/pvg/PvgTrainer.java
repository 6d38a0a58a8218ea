package org.sparkrlhf.grpo.pvg;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.algos.AdvantageEstimator;
import org.sparkrlhf.grpo.algos.AdvantageEstimators;
import org.sparkrlhf.grpo.algos.AdvantageInput;
import org.sparkrlhf.grpo.rl.Experience;
import org.sparkrlhf.grpo.rl.RewardModel;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.grpo.rl.RolloutSource;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardRules;

/**
 * The prover's RL in a prover-verifier game, on the shared {@link RlTrainer} loop: each prompt is a task prompt under
 * a role ({@link ProverRole}), so a GRPO group is the solutions of one prompt and one role; the verifier scores each
 * solution against the prompt without its role, the rules give the checker's verdict (also without the role:
 * {@link ProverRole#roleless}), and the prover's reward ({@code pvg.prover_reward}, {@link ProverRewards}) turns the
 * scores, verdicts and roles into the rewards whose group-relative advantages ({@code pvg.advantage}) the update
 * follows. The verifier is frozen here; a round of the game trains a fresh one before the prover's turn.
 */
public final class PvgTrainer extends RlTrainer {
  private final PvgConfig config;
  private final AdvantageEstimator estimator;
  private final ProverReward proverReward;
  private final RewardModel verifier;
  private Map<String, Double> lastFigures = Map.of();
  private double[] lastScores = new double[0];
  private double[] lastRewards = new double[0];
  private boolean[] lastCorrect = new boolean[0];
  private boolean[] lastHelpful = new boolean[0];

  /**
   * @param prompts role prompts ({@link ProverRole#prompt}), sorted by id
   * @param rewarder the rules, with a {@code correct_answer} rule; wrapped here so it grades the roleless prompt
   * @param verifier the frozen verifier (a model with the score head)
   */
  public PvgTrainer(PvgConfig config, LlamaModel policy, LlamaModel reference, TextTokenizer tok,
      List<RlPrompt> prompts, RolloutSource source, Rewarder rewarder, RewardModel verifier) {
    super(config, policy, reference, tok, checkedRoles(prompts), source, ProverRole.roleless(rewarder));
    this.config = config;
    this.estimator = AdvantageEstimators.REGISTRY.byName(config.advantage);
    if (estimator.needsStepRewards()) {
      throw new IllegalArgumentException("pvg.advantage must be an outcome estimator, got " + config.advantage);
    }
    this.proverReward = ProverRewards.REGISTRY.byName(config.proverReward);
    this.verifier = verifier;
  }

  private static List<RlPrompt> checkedRoles(List<RlPrompt> prompts) {
    for (RlPrompt p : prompts) {
      if (ProverRole.of(p.prompt()) == null) {
        throw new IllegalArgumentException("prompt " + p.id() + " has no role line (ProverRole.prompt)");
      }
    }
    return prompts;
  }

  /** The verifier's scores and the prover's rewards of the last iteration's samples, in sample order. */
  public double[] lastScores() {
    return lastScores.clone();
  }

  public double[] lastRewards() {
    return lastRewards.clone();
  }

  /**
   * The share of the last iteration's sneaky solutions that are incorrect and scored at least {@code threshold}: an
   * adversary's success against a verifier (NaN without sneaky solutions).
   */
  public double lastSneakySuccess(double threshold) {
    int sneaky = 0;
    int fooled = 0;
    for (int i = 0; i < lastScores.length; i++) {
      if (lastHelpful[i]) continue;
      sneaky++;
      if (!lastCorrect[i] && lastScores[i] >= threshold) fooled++;
    }
    return sneaky == 0 ? Double.NaN : fooled / (double) sneaky;
  }

  @Override
  protected double[][] advantages(Experience e) {
    int n = e.size();
    List<String> prompts = new ArrayList<>(n);
    List<String> completions = new ArrayList<>(n);
    boolean[] correct = new boolean[n];
    boolean[] helpful = new boolean[n];
    for (int i = 0; i < n; i++) {
      String prompt = e.promptOf(i).prompt();
      prompts.add(ProverRole.base(prompt));
      completions.add(e.completion(i).text());
      Double ok = e.reward(i).parts().get(RewardRules.CORRECT_ANSWER);
      if (ok == null) throw new IllegalStateException("pvg needs a correct_answer rule in pvg.reward");
      correct[i] = ok > 0.5;
      helpful[i] = ProverRole.of(prompt) == ProverRole.HELPFUL;
    }
    double[] v = verifier.score(prompts, completions, config.verifierBatchSize);
    double[] r = proverReward.rewards(v, correct, helpful, e.groupIds());
    lastScores = v;
    lastRewards = r;
    lastCorrect = correct;
    lastHelpful = helpful;
    lastFigures = figures(v, r, correct, helpful);
    return estimator.compute(new AdvantageInput(r, e.groupIds(), e.lengths(), null, null));
  }

  @Override
  protected Map<String, Double> iterationMetrics(Experience e, Map<String, Double> m) {
    return lastFigures;
  }

  /**
   * The iteration's game figures: prover_reward_mean, verifier_score_mean, and per role the accuracy and the mean
   * verifier score (helpful_accuracy, sneaky_accuracy, helpful_score, sneaky_score), and the mean scores of the
   * helpful prover's correct and the sneaky prover's incorrect solutions (helpful_correct_score,
   * sneaky_incorrect_score: the round's early end compares them).
   */
  static Map<String, Double> figures(double[] v, double[] r, boolean[] correct, boolean[] helpful) {
    Map<String, Double> m = new LinkedHashMap<>();
    double rs = 0;
    double vs = 0;
    double[] acc = new double[2];
    double[] score = new double[2];
    int[] count = new int[2];
    double[] aimed = new double[2];  // helpful and correct, sneaky and incorrect: each role's aim reached
    int[] aimedCount = new int[2];
    for (int i = 0; i < v.length; i++) {
      rs += r[i];
      vs += v[i];
      int k = helpful[i] ? 0 : 1;
      acc[k] += correct[i] ? 1 : 0;
      score[k] += v[i];
      count[k]++;
      if (correct[i] == helpful[i]) {
        aimed[k] += v[i];
        aimedCount[k]++;
      }
    }
    m.put("prover_reward_mean", rs / v.length);
    m.put("verifier_score_mean", vs / v.length);
    String[] names = {"helpful", "sneaky"};
    for (int k = 0; k < 2; k++) {
      if (count[k] == 0) continue;
      m.put(names[k] + "_accuracy", acc[k] / count[k]);
      m.put(names[k] + "_score", score[k] / count[k]);
    }
    if (aimedCount[0] > 0) m.put("helpful_correct_score", aimed[0] / aimedCount[0]);
    if (aimedCount[1] > 0) m.put("sneaky_incorrect_score", aimed[1] / aimedCount[1]);
    return m;
  }
}
