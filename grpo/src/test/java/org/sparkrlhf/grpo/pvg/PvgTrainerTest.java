package org.sparkrlhf.grpo.pvg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.task.ArithmeticTask;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.core.task.Problem;
import org.sparkrlhf.core.task.TaskSpec;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.algos.Advantages;
import org.sparkrlhf.grpo.rl.InProcessRollouts;
import org.sparkrlhf.grpo.rl.RewardModel;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.reward.rules.RewardRules;
import org.sparkrlhf.reward.rules.RewardSpec;
import org.sparkrlhf.reward.rules.RuleRewarder;

/** The prover's iteration: the verifier reads the roleless prompt, the reward is SRC's, the advantages GRPO's of it. */
class PvgTrainerTest {
  static final TextTokenizer TOK = new CharTokenizer();

  @BeforeAll
  static void oneThread() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  static List<RlPrompt> rolePrompts(int n) {
    List<RlPrompt> out = new ArrayList<>();
    for (Problem q : ArithmeticTask.generate(new TaskSpec(1, 1, 0, 9, "+", 3), "train", n)) {
      for (ProverRole r : ProverRole.values()) {
        out.add(new RlPrompt(q.id() + "/" + r.configName(), r.prompt(q.prompt()), Long.toString(q.answer())));
      }
    }
    out.sort((a, b) -> a.id().compareTo(b.id()));
    return out;
  }

  static PvgConfig config() {
    PvgConfig c = new PvgConfig();
    c.seed = 5;
    c.promptsPerIteration = 6;
    c.groupSize = 4;
    c.iterations = 2;
    c.maxNewTokens = 12;
    c.temperature = 1.0;
    c.lr = 1e-3;
    c.klCoef = 0;
    c.minibatchSize = 24;
    c.rolloutBatchSize = 24;
    return c;
  }

  @Test
  void anIterationsRewardsAreSrcOfTheVerifiersScoresOnTheRolelessPrompts() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = LlamaModel.init(LlamaConfig.tiny(TOK.vocabSize(), 32, 1, 2, 2, 64, 64, true), false, 3, m);
      LlamaModel verifierModel =
          LlamaModel.init(LlamaConfig.tiny(TOK.vocabSize(), 16, 1, 2, 1, 32, 64, true), true, 4, m);
      RewardModel verifier = new RewardModel(verifierModel, TOK, 0.0, "test-verifier");
      RuleRewarder rules = RuleRewarder.of(RewardSpec.of(new RewardSpec.RuleSpec(RewardRules.CORRECT_ANSWER, 1.0)));
      PvgTrainer t = new PvgTrainer(config(), policy, null, TOK, rolePrompts(20), new InProcessRollouts(TOK, 24),
          rules, verifier);
      RlTrainer.Iteration it = t.step();
      List<RlTrainer.Rollout> rollouts = it.rollouts();
      int n = rollouts.size();
      assertEquals(24, n);
      List<String> base = new ArrayList<>();
      List<String> texts = new ArrayList<>();
      boolean[] correct = new boolean[n];
      boolean[] helpful = new boolean[n];
      int[] groups = new int[n];
      for (int i = 0; i < n; i++) {
        RlTrainer.Rollout r = rollouts.get(i);
        base.add(ProverRole.base(r.prompt().prompt()));
        texts.add(r.completion().text());
        correct[i] = Checker.grade(ProverRole.base(r.prompt().prompt()), r.completion().text()).correct();
        helpful[i] = r.prompt().id().endsWith("/helpful");
        groups[i] = i / 4;
      }
      // The verifier scored the prompt without its role line (scored with it, the scores differ).
      double[] v = verifier.score(base, texts, 7);
      assertArrayEquals(v, t.lastScores(), 1e-5);
      List<String> withRoles = new ArrayList<>();
      for (RlTrainer.Rollout r : rollouts) withRoles.add(r.prompt().prompt());
      double[] vRole = verifier.score(withRoles, texts, 7);
      double diff = 0;
      for (int i = 0; i < n; i++) diff += Math.abs(vRole[i] - v[i]);
      assertTrue(diff > 1e-3, "a role line changes the verifier's input");
      // The checker's verdict came from the roleless prompt too: the rules' part equals the checker's grade.
      for (int i = 0; i < n; i++) {
        assertEquals(correct[i] ? 1.0 : 0.0, rollouts.get(i).reward().parts().get(RewardRules.CORRECT_ANSWER), texts.get(i));
      }
      double[] r = ProverRewards.src(t.lastScores(), correct, helpful, groups);
      assertArrayEquals(r, t.lastRewards(), 1e-12);
      double[] a = Advantages.grpo(r, groups, true, Advantages.DEFAULT_EPS);
      for (int i = 0; i < n; i++) assertEquals(a[i], rollouts.get(i).advantage(), 1e-6, "advantage " + i);
      assertTrue(it.metrics().containsKey("helpful_accuracy") && it.metrics().containsKey("sneaky_accuracy"));
      assertEquals(-1.0 * countNonPositive(r) / n + sumPositive(r) / n, it.metrics().get("prover_reward_mean"), 1e-9);
      // An adversary's success: the share of sneaky samples that are incorrect and reach the bar, recounted here.
      double bar = v[0];
      int sneaky = 0;
      int fooled = 0;
      for (int i = 0; i < n; i++) {
        if (helpful[i]) continue;
        sneaky++;
        if (!correct[i] && v[i] >= bar) fooled++;
      }
      assertEquals(fooled / (double) sneaky, t.lastSneakySuccess(bar), 1e-12);
    }
  }

  @Test
  void figuresPerRoleByHand() {
    double[] v = {1, 2, 3, 4, 5};
    double[] r = {0.5, -1, 1, -1, 0};
    boolean[] correct = {true, false, false, true, true};
    boolean[] helpful = {true, true, false, false, true};
    Map<String, Double> m = PvgTrainer.figures(v, r, correct, helpful);
    assertEquals(-0.1, m.get("prover_reward_mean"), 1e-12);
    assertEquals(3.0, m.get("verifier_score_mean"), 1e-12);
    assertEquals(2 / 3.0, m.get("helpful_accuracy"), 1e-12);
    assertEquals(0.5, m.get("sneaky_accuracy"), 1e-12);
    assertEquals(8 / 3.0, m.get("helpful_score"), 1e-12);
    assertEquals(3.5, m.get("sneaky_score"), 1e-12);
    // helpful and correct: samples 0 and 4; sneaky and incorrect: sample 2 alone
    assertEquals(3.0, m.get("helpful_correct_score"), 1e-12);
    assertEquals(3.0, m.get("sneaky_incorrect_score"), 1e-12);
  }

  private static double countNonPositive(double[] r) {
    int k = 0;
    for (double x : r) if (x == -1.0) k++;
    return k;
  }

  private static double sumPositive(double[] r) {
    double s = 0;
    for (double x : r) if (x != -1.0) s += x;
    return s;
  }

  @Test
  void aPromptWithoutARoleIsRefused() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = LlamaModel.init(LlamaConfig.tiny(TOK.vocabSize(), 16, 1, 2, 1, 32, 64, true), false, 3, m);
      RewardModel verifier = new RewardModel(
          LlamaModel.init(LlamaConfig.tiny(TOK.vocabSize(), 16, 1, 2, 1, 32, 64, true), true, 4, m), TOK, 0, "v");
      RuleRewarder rules = RuleRewarder.of(RewardSpec.of(new RewardSpec.RuleSpec(RewardRules.CORRECT_ANSWER, 1.0)));
      List<RlPrompt> plain = List.of(new RlPrompt("p", "1+2=?\n", "3"));
      assertThrows(IllegalArgumentException.class,
          () -> new PvgTrainer(config(), policy, null, TOK, plain, new InProcessRollouts(TOK, 24), rules, verifier));
    }
  }
}
