package org.sparkrlhf.grpo.train;

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
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.algos.AdvantageEstimator;
import org.sparkrlhf.grpo.algos.AdvantageEstimators;
import org.sparkrlhf.grpo.algos.AdvantageInput;
import org.sparkrlhf.grpo.algos.PolicyLoss;
import org.sparkrlhf.grpo.algos.PolicyLosses;
import org.sparkrlhf.core.algos.Kl;
import org.sparkrlhf.grpo.rl.InProcessRollouts;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.grpo.rl.RolloutSource;
import org.sparkrlhf.core.train.TrainerState;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RuleRewarder;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/**
 * Advantage estimators selected by name from {@link GrpoConfig}: a registered one is used by the trainer, an unknown
 * name is refused naming the known ones, and grpo_process gives the token advantages the trainer computed before
 * it was a registered estimator, on a fixed set of worked solutions.
 */
class RegistryTest {
  static final TextTokenizer TOK = GrpoTrainerTest.TOK;
  static final Rewarder RULES = RuleRewarder.of(GrpoConfig.defaultReward());

  /**
   * Two task prompts, four worked solutions each: right, a wrong step, a wrong first step, a skipped step or a wrong
   * answer.
   */
  static final List<RlPrompt> PROMPTS = List.of(new RlPrompt("a", "2+3*4=?\n", "14"),
      new RlPrompt("b", "7-2+1=?\n", "6"));
  static final String[][] SOLUTIONS = {
      {"=2+12\n=14\n#### 14\n", "=2+12\n=15\n#### 15\n", "=5*4\n=20\n#### 20\n", "=14\n#### 14\n"},
      {"=5+1\n=6\n#### 6\n", "=5+1\n=7\n#### 7\n", "=7-3\n=4\n#### 4\n", "=5+1\n=6\n#### 5\n"}};

  /**
   * The token advantages of {@link #SOLUTIONS} (prompt-major, eos last) under grpo_process with the rules' step
   * rewards, recorded from the trainer's own process-advantage code before grpo_process was a registered estimator.
   */
  static final float[][] RECORDED_TOKEN_ADVANTAGES = {
      {1.7516189f, 1.7516189f, 1.7516189f, 1.7516189f, 1.7516189f, 1.7516189f, 1.167746f, 1.167746f, 1.167746f,
          1.167746f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f,
          0.583873f},
      {-0.38924864f, -0.38924864f, -0.38924864f, -0.38924864f, -0.38924864f, -0.38924864f, -0.9731216f, -0.9731216f,
          -0.9731216f, -0.9731216f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f,
          0.583873f, 0.583873f},
      {-0.38924864f, -0.38924864f, -0.38924864f, -0.38924864f, -0.38924864f, 1.167746f, 1.167746f, 1.167746f,
          1.167746f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f,
          0.583873f},
      {-0.9731216f, -0.9731216f, -0.9731216f, -0.9731216f, 0.583873f, 0.583873f, 0.583873f, 0.583873f, 0.583873f,
          0.583873f, 0.583873f, 0.583873f, 0.583873f},
      {1.6583087f, 1.6583087f, 1.6583087f, 1.6583087f, 1.6583087f, 1.1055392f, 1.1055392f, 1.1055392f, 0.5527696f,
          0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f},
      {-0.5527696f, -0.5527696f, -0.5527696f, -0.5527696f, -0.5527696f, -1.1055392f, -1.1055392f, -1.1055392f,
          0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f},
      {-0.5527696f, -0.5527696f, -0.5527696f, -0.5527696f, -0.5527696f, 1.1055392f, 1.1055392f, 1.1055392f,
          0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f, 0.5527696f},
      {-0.5527696f, -0.5527696f, -0.5527696f, -0.5527696f, -0.5527696f, -1.1055392f, -1.1055392f, -1.1055392f,
          -1.6583087f, -1.6583087f, -1.6583087f, -1.6583087f, -1.6583087f, -1.6583087f, -1.6583087f, -1.6583087f}};

  /** Each solution with its eos and made-up sampling log-probs. */
  static Completion solution(String promptId, int sample) {
    int p = promptId.equals("a") ? 0 : 1;
    String text = SOLUTIONS[p][sample];
    int[] ids = TOK.encode(text);
    int[] withEos = java.util.Arrays.copyOf(ids, ids.length + 1);
    withEos[ids.length] = TOK.eosId();
    float[] lp = new float[withEos.length];
    for (int k = 0; k < lp.length; k++) lp[k] = -1.5f - 0.01f * k - 0.1f * sample;
    return new Completion(promptId, sample, org.sparkrlhf.core.batch.TokenSequence.promptIds(TOK, PROMPTS.get(p).prompt()).length,
        withEos, text, lp, Completion.EOS);
  }

  /** Returns {@link #solution}s instead of sampling, so the advantages are known. */
  static final class Solutions implements RolloutSource {
    @Override
    public List<Completion> generate(LlamaModel policy, long policyVersion, List<PromptRef> requests,
        SamplingParams params) {
      List<Completion> out = new ArrayList<>(requests.size());
      for (PromptRef r : requests) out.add(solution(r.promptId(), r.sampleIndex()));
      return out;
    }
  }

  static GrpoConfig config(String advantage) {
    GrpoConfig c = GrpoTrainerTest.config(1);
    c.promptsPerIteration = 2;
    c.groupSize = 4;
    c.advantage = advantage;
    return c;
  }

  @BeforeAll
  static void oneThread() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  @Test
  void grpoProcessThroughTheRegistryGivesTheRecordedTokenAdvantages() {
    int n = 8;
    int[] groups = new int[n];
    int[] lengths = new int[n];
    double[][] steps = new double[n][];
    int[][] stepOfToken = new int[n][];
    for (int i = 0; i < n; i++) {
      RlPrompt p = PROMPTS.get(i / 4);
      Completion c = solution(p.id(), i % 4);
      groups[i] = i / 4;
      lengths[i] = c.length();
      steps[i] = RULES.stepRewards(p.prompt(), p.answer(), c);
      stepOfToken[i] = GrpoTrainer.lineOfToken(TOK, c.tokenIds());
    }
    double[][] adv = AdvantageEstimators.REGISTRY.byName("grpo_process")
        .compute(new AdvantageInput(new double[n], groups, lengths, steps, stepOfToken));
    for (int i = 0; i < n; i++) {
      float[] asTrained = new float[adv[i].length];
      for (int k = 0; k < asTrained.length; k++) asTrained[k] = (float) adv[i][k];
      assertArrayEquals(RECORDED_TOKEN_ADVANTAGES[i], asTrained, 0f, "completion " + i);
    }
  }

  @Test
  void theTrainerTakesGrpoProcessStepRewardsFromTheRewarder() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = GrpoTrainerTest.tinyModel(m);
      GrpoTrainer t = new GrpoTrainer(config("grpo_process"), policy, policy.copy(m), TOK, PROMPTS, new Solutions(),
          RULES);
      RlTrainer.Iteration it = t.step();
      for (RlTrainer.Rollout r : it.rollouts()) {
        int i = (r.prompt().id().equals("a") ? 0 : 4) + r.completion().sampleIndex();
        assertEquals(RECORDED_TOKEN_ADVANTAGES[i][0], (float) r.advantage(), 0f, "rollout " + i);
      }
      // Recorded from the same run before grpo_process was registered (the loss depends on every token's advantage).
      assertEquals(0.1071237325668335, it.metrics().get("policy_loss"), 1e-6);

      // A rewarder without step rewards cannot drive grpo_process.
      GrpoConfig noKl = config("grpo_process");
      noKl.klCoef = 0;
      GrpoTrainer outcomeOnly = new GrpoTrainer(noKl, policy, null, TOK, PROMPTS, new Solutions(),
          (prompt, answer, c) -> RULES.score(prompt, answer, c));
      IllegalStateException e = assertThrows(IllegalStateException.class, outcomeOnly::step);
      assertTrue(e.getMessage().contains("needs step rewards"), e.getMessage());
    }
  }

  @Test
  void anEstimatorRegisteredByNameIsSelectedFromTheConfig() {
    // REINFORCE without a baseline: the advantage is the reward itself, on every token.
    AdvantageEstimators.REGISTRY.register("registry_test_reinforce",
        AdvantageEstimator.outcome((scores, groups) -> scores.clone()));
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = GrpoTrainerTest.tinyModel(m);
      GrpoConfig c = config("registry_test_reinforce");
      c.klCoef = 0;
      RlTrainer.Iteration it = new GrpoTrainer(c, policy, null, TOK, PROMPTS, new Solutions(), RULES).step();
      // The rules: correct_answer + 0.1 format; every solution is well formed, so 1.1 when right, 0.1 when not.
      for (RlTrainer.Rollout r : it.rollouts()) {
        double expected = r.reward().parts().get("correct_answer") == 1.0 ? 1.1 : 0.1;
        assertEquals(expected, r.advantage(), 1e-12, r.completion().toString());
      }
    }
  }

  @Test
  void anUnknownNameIsRefusedInOneLineListingTheKnownOnes() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = GrpoTrainerTest.tinyModel(m);
      GrpoConfig c = config("gae");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new GrpoTrainer(c, policy, policy.copy(m), TOK, PROMPTS, new Solutions(), RULES));
      assertTrue(e.getMessage().startsWith("grpo.advantage 'gae' is unknown; known: "), e.getMessage());
      for (String known : List.of("dr_grpo", "grpo", "grpo_process", "rloo")) {
        assertTrue(e.getMessage().contains(known), e.getMessage());
      }
      assertTrue(!e.getMessage().contains("\n"), "one line");
    }
  }

  @Test
  void aPolicyLossAndAKlEstimatorRegisteredByNameAreSelectedFromTheConfig() {
    // A surrogate that reports a clip fraction no real loss gives, and a KL estimator that is 1 on every token: the
    // iteration's figures show exactly that the loop used them.
    PolicyLosses.REGISTRY.register("registry_test_marked", (logp, old, adv, mask, lo, hi, agg) ->
        new PolicyLoss.Result(agg.apply(logp.mul(adv.getShape().dimension() == 1 ? adv.expandDims(1) : adv).neg(),
            mask), 0.625f, 0f));
    Kl.REGISTRY.register("registry_test_one", (logp, ref) -> logp.sub(ref).mul(0f).add(1f));
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = GrpoTrainerTest.tinyModel(m);
      GrpoConfig c = config("grpo");
      c.policyLoss = "registry_test_marked";
      c.klEstimator = "registry_test_one";
      Map<String, Double> figures = new GrpoTrainer(c, policy, policy.copy(m), TOK, PROMPTS, new Solutions(), RULES)
          .step().metrics();
      assertEquals(0.625, figures.get("clip_fraction"), 0.0);
      assertEquals(1.0, figures.get("kl_loss"), 1e-7);

      // The defaults are ppo_clip and k3; from the reference's copy the first minibatch's KL is 0 (to rounding).
      assertEquals(PolicyLosses.PPO_CLIP, new GrpoConfig().policyLoss);
      assertEquals(Kl.K3, new GrpoConfig().klEstimator);
      GrpoConfig d = config("grpo");
      d.minibatchSize = 64;
      LlamaModel fresh = GrpoTrainerTest.tinyModel(m);
      assertEquals(0.0, new GrpoTrainer(d, fresh, fresh.copy(m), TOK, PROMPTS, new Solutions(), RULES).step()
          .metrics().get("kl_loss"), 1e-6);
    }
  }

  @Test
  void anUnknownPolicyLossOrKlEstimatorIsAOneLineProblemOfTheConfig() {
    GrpoConfig c = config("grpo");
    c.policyLoss = "ppo_dual";
    c.klEstimator = "k9";
    List<String> problems = c.problems();
    assertTrue(problems.contains("grpo.policy_loss 'ppo_dual' is unknown; known: "
        + String.join(", ", PolicyLosses.REGISTRY.names())), problems.toString());
    assertTrue(problems.stream().anyMatch(p -> p.startsWith("grpo.kl_estimator 'k9' is unknown; known: k1, k2, k3")),
        problems.toString());
  }
}
