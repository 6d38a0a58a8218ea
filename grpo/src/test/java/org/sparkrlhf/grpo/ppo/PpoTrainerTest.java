package org.sparkrlhf.grpo.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.rl.InProcessRollouts;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.core.train.TrainerState;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardResult;

/** PPO on the shared loop: its first update starts at the sampler's log-probs, it learns, it resumes exactly. */
class PpoTrainerTest {
  static final TextTokenizer TOK = new CharTokenizer();

  @BeforeAll
  static void oneThread() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  /** Toy reward: the fraction of the completion's characters that are '1'. */
  static final Rewarder ONES = (prompt, answer, c) -> {
    String t = c.text();
    double r = t.isEmpty() ? 0 : (double) t.chars().filter(ch -> ch == '1').count() / t.length();
    return new RewardResult(r, Map.of("ones", r));
  };

  static List<RlPrompt> prompts(int n) {
    List<RlPrompt> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add(new RlPrompt(String.format("p%03d", i), (i % 7) + "+" + (i % 5) + "=?\n", null));
    return out;
  }

  static PpoConfig config(int iterations) {
    PpoConfig c = new PpoConfig();
    c.seed = 7;
    c.promptsPerIteration = 32;
    c.groupSize = 2;
    c.iterations = iterations;
    c.maxNewTokens = 10;
    c.lr = 3e-3;
    c.criticLr = 3e-3;
    c.klPenaltyCoef = 0.01;
    c.minibatchSize = 32;
    c.temperature = 0.7;
    return c;
  }

  static LlamaModel tinyModel(NDManager m) {
    return LlamaModel.init(LlamaConfig.tiny(TOK.vocabSize(), 32, 1, 2, 2, 64, 64, true), false, 11, m);
  }

  static PpoTrainer trainer(PpoConfig c, LlamaModel policy, LlamaModel ref, LlamaModel critic) {
    return new PpoTrainer(c, policy, ref, critic, TOK, prompts(64), new InProcessRollouts(TOK, 64), ONES);
  }

  @Test
  void theFirstUpdateStartsAtTheSamplersLogProbs() {
    // One minibatch of every sample: the update's log-probs of the packed tokens must be the sampler's (at the
    // sampling temperature), so the ratio is 1, the approximate KL 0 and nothing is clipped.
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      PpoConfig c = config(1);
      c.minibatchSize = 64;
      RlTrainer.Iteration it = trainer(c, policy, policy.copy(m), policy.withScoreHead(5, m)).step();
      Map<String, Double> x = it.metrics();
      assertEquals(0.0, x.get("policy/approxkl_avg"), 1e-5);
      assertEquals(1.0, x.get("val/ratio"), 1e-5);
      assertEquals(0.0, x.get("policy/clipfrac_avg"), 0.0);
      assertEquals(0.0, x.get("objective/kl"), 1e-4, "the reference is the start policy");
      assertEquals(x.get("reward_mean"), x.get("objective/scores"), 1e-12);
      for (String k : List.of("objective/rlhf_reward", "objective/non_score_reward", "objective/entropy",
          "loss/policy_avg", "loss/value_avg", "val/clipfrac_avg", "val/explained_var", "val/vpred", "kl_coef",
          "tokens_per_s", "generate_seconds", "train_seconds")) {
        assertTrue(x.containsKey(k), k);
      }
    }
  }

  @Test
  void aShortRunRaisesTheToyRewardAndTheCriticLearnsIt() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      PpoTrainer t = trainer(config(30), policy, policy.copy(m), policy.withScoreHead(5, m));
      List<Double> rewards = new ArrayList<>();
      List<Double> valueLoss = new ArrayList<>();
      List<Double> explained = new ArrayList<>();
      while (t.hasNext()) {
        Map<String, Double> x = t.step().metrics();
        rewards.add(x.get("reward_mean"));
        valueLoss.add(x.get("loss/value_avg"));
        explained.add(x.get("val/explained_var"));
      }
      double first = mean(rewards.subList(0, 5));
      double last = mean(rewards.subList(rewards.size() - 5, rewards.size()));
      System.out.printf("ppo toy reward %.3f -> %.3f; value loss %.4f -> %.4f; explained variance %.3f -> %.3f%n",
          first, last, mean(valueLoss.subList(0, 5)), mean(valueLoss.subList(25, 30)), mean(explained.subList(0, 5)),
          mean(explained.subList(25, 30)));
      assertTrue(last > first + 0.15 && last > 2 * first, "reward rose: " + rewards);
      assertTrue(mean(valueLoss.subList(25, 30)) < mean(valueLoss.subList(0, 5)), "value loss fell: " + valueLoss);
    }
  }

  static double mean(List<Double> x) {
    return x.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
  }

  @Test
  void resumingAfterIterationKGivesTheSameNextIteration() throws Exception {
    int k = 3;
    PpoConfig c = config(k + 1);
    c.klController = "adaptive";
    c.klTarget = 0.5;
    c.klHorizon = 100;
    c.minibatchSize = 16;
    RlTrainer.Iteration uninterrupted;
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      PpoTrainer t = trainer(c, policy, policy.copy(m), policy.withScoreHead(5, m));
      RlTrainer.Iteration last = null;
      while (t.hasNext()) last = t.step();
      uninterrupted = last;
    }
    String dir = Files.createTempDirectory("ppo-resume").toString();
    double coefAtK;
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      PpoTrainer t = trainer(c, policy, policy.copy(m), policy.withScoreHead(5, m));
      for (int i = 0; i < k; i++) t.step();
      coefAtK = t.klCoef();
      HfCheckpoint.save(policy, TOK.toTokenizerJson(), Map.of(), dir);
      t.state().write(dir, Map.of("reference", "init"));
    }
    assertNotEquals(0.01, coefAtK, "the adaptive controller moved β");
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = HfCheckpoint.load(dir, m).model();
      // The critic passed in is a fresh one: the state must replace its weights and optimizer.
      PpoTrainer t = trainer(c, policy, tinyModel(m), tinyModel(m).withScoreHead(99, m));
      t.restore(TrainerState.read(dir));
      assertEquals(k, t.iteration());
      assertEquals(coefAtK, t.klCoef(), 0);
      RlTrainer.Iteration resumed = t.step();
      assertEquals(k + 1, resumed.iteration());
      for (int i = 0; i < resumed.rollouts().size(); i++) {
        assertEquals(uninterrupted.rollouts().get(i).completion().text(), resumed.rollouts().get(i).completion().text());
        assertEquals(uninterrupted.rollouts().get(i).advantage(), resumed.rollouts().get(i).advantage(), 0);
      }
      for (Map.Entry<String, Double> e : uninterrupted.metrics().entrySet()) {
        if (e.getKey().endsWith("seconds") || e.getKey().equals("tokens_per_s")) continue;
        assertEquals(e.getValue(), resumed.metrics().get(e.getKey()), 0, e.getKey());
      }
    }
  }
}
