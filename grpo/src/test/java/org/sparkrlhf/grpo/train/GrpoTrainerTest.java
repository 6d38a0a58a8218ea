package org.sparkrlhf.grpo.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.rl.InProcessRollouts;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.grpo.rl.RolloutSource;
import org.sparkrlhf.core.train.TrainerState;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardResult;

class GrpoTrainerTest {
  static final TextTokenizer TOK = new CharTokenizer();

  @BeforeAll
  static void oneThread() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  /** Toy reward: the fraction of the completion's characters that are '1' (a random model starts near 1/V). */
  static final Rewarder ONES = (prompt, answer, c) -> {
    String t = c.text();
    long ones = t.chars().filter(ch -> ch == '1').count();
    double r = t.isEmpty() ? 0 : (double) ones / t.length();
    return new RewardResult(r, Map.of("ones", r));
  };

  static List<RlPrompt> prompts(int n) {
    List<RlPrompt> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add(new RlPrompt(String.format("p%03d", i), (i % 7) + "+" + (i % 5) + "=?\n", null));
    return out;
  }

  static GrpoConfig config(int iterations) {
    GrpoConfig c = new GrpoConfig();
    c.seed = 7;
    c.promptsPerIteration = 8;
    c.groupSize = 8;
    c.iterations = iterations;
    c.maxNewTokens = 10;
    c.lr = 3e-3;
    c.klCoef = 0.01;
    c.minibatchSize = 32;
    c.epochs = 1;
    c.rolloutBatchSize = 64;
    return c;
  }

  static LlamaModel tinyModel(NDManager m) {
    return LlamaModel.init(LlamaConfig.tiny(TOK.vocabSize(), 32, 1, 2, 2, 64, 64, true), false, 11, m);
  }

  @Test
  void aShortRunRaisesTheToyReward() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      LlamaModel ref = policy.copy(m);
      GrpoTrainer t = new GrpoTrainer(config(40), policy, ref, TOK, prompts(32), new InProcessRollouts(TOK, 64), ONES);
      List<Double> rewards = new ArrayList<>();
      long start = System.nanoTime();
      while (t.hasNext()) {
        RlTrainer.Iteration it = t.step();
        assertEquals(64, it.rollouts().size());
        rewards.add(it.metrics().get("reward_mean"));
        for (String k : List.of("reward_std", "kl_ref", "loss", "clip_fraction", "entropy", "completion_length",
            "tokens_per_s", "generate_seconds", "train_seconds")) {
          assertTrue(it.metrics().containsKey(k), k);
        }
      }
      double first = rewards.subList(0, 5).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
      double last = rewards.subList(rewards.size() - 5, rewards.size()).stream().mapToDouble(Double::doubleValue)
          .average().orElseThrow();
      System.out.printf("toy reward: first-5 mean %.3f, last-5 mean %.3f, %.1f s%n", first, last,
          (System.nanoTime() - start) / 1e9);
      assertTrue(last > first + 0.15 && last > 2 * first, "reward rose: " + rewards);
    }
  }

  @Test
  void resumingAfterIterationKGivesTheSameNextIteration() throws Exception {
    int k = 3;
    RlTrainer.Iteration uninterrupted;
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      GrpoTrainer t = new GrpoTrainer(config(k + 1), policy, policy.copy(m), TOK, prompts(32),
          new InProcessRollouts(TOK, 64), ONES);
      RlTrainer.Iteration last = null;
      while (t.hasNext()) last = t.step();
      uninterrupted = last;
    }
    String dir = Files.createTempDirectory("grpo-resume").toString();
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      GrpoTrainer t = new GrpoTrainer(config(k + 1), policy, policy.copy(m), TOK, prompts(32),
          new InProcessRollouts(TOK, 64), ONES);
      for (int i = 0; i < k; i++) t.step();
      org.sparkrlhf.core.model.HfCheckpoint.save(policy, TOK.toTokenizerJson(), Map.of(), dir);
      t.state().write(dir, Map.of("reference", "init"));
    }
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = org.sparkrlhf.core.model.HfCheckpoint.load(dir, m).model();
      LlamaModel ref = tinyModel(m);
      GrpoTrainer t = new GrpoTrainer(config(k + 1), policy, ref, TOK, prompts(32), new InProcessRollouts(TOK, 64),
          ONES);
      t.restore(TrainerState.read(dir));
      assertEquals(k, t.iteration());
      RlTrainer.Iteration resumed = t.step();
      assertEquals(k + 1, resumed.iteration());
      assertEquals(uninterrupted.rollouts().size(), resumed.rollouts().size());
      for (int i = 0; i < resumed.rollouts().size(); i++) {
        assertEquals(uninterrupted.rollouts().get(i).completion().text(), resumed.rollouts().get(i).completion().text());
      }
      for (String name : RlTrainer.DETERMINISTIC_METRICS) {
        Double a = uninterrupted.metrics().get(name);
        Double b = resumed.metrics().get(name);
        if (a == null) {
          assertEquals(null, b, name);
          continue;
        }
        assertEquals(a, b, 1e-5, name);
      }
      assertTrue(Math.abs(resumed.metrics().get("kl_ref")) > 0, "the policy moved away from the reference");
    }
  }

  /** Even-numbered prompts always get reward 1 (their groups carry no signal); odd ones the toy reward. */
  static final Rewarder HALF_CONSTANT = (prompt, answer, c) -> Integer.parseInt(c.promptId().substring(1)) % 2 == 0
      ? new RewardResult(1.0, Map.of("ones", 1.0)) : ONES.score(prompt, answer, c);

  @Test
  void filterGroupsSamplesMoreRoundsAndTrainsOnlyGroupsWhoseRewardsDiffer() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      GrpoConfig c = config(1);
      c.promptsPerIteration = 4;
      c.filterGroups = true;
      c.maxGenerationRounds = 4;
      GrpoTrainer t = new GrpoTrainer(c, policy, policy.copy(m), TOK, prompts(32), new InProcessRollouts(TOK, 64),
          HALF_CONSTANT);
      RlTrainer.Iteration it = t.step();
      int rounds = it.metrics().get("generation_rounds").intValue();
      // A round of 4 random prompts holds 4 odd ones with probability ~1/16, so 4 differing groups need >= 2 rounds.
      assertTrue(rounds >= 2 && rounds <= 4, "rounds " + rounds);
      assertEquals(rounds * 4 * 8, it.rollouts().size(), "every sampled rollout is returned");
      java.util.Set<String> ids = new java.util.LinkedHashSet<>();
      for (RlTrainer.Rollout r : it.rollouts()) ids.add(r.prompt().id());
      assertEquals(rounds * 4, ids.size(), "rounds draw fresh prompts");
      // Round 0 is the unfiltered draw; each round's samples depend on (seed, iteration, round) only.
      GrpoConfig plain = config(1);
      plain.promptsPerIteration = 4;
      plain.klCoef = 0;
      GrpoTrainer unfiltered = new GrpoTrainer(plain, tinyModel(m), null, TOK, prompts(32),
          new InProcessRollouts(TOK, 64), HALF_CONSTANT);
      assertEquals(unfiltered.sampler().promptsOf(1, 0), t.sampler().promptsOf(1, 0));
      assertEquals(t.sampler().promptsOf(1, 1), it.rollouts().subList(32, 64).stream().filter(r -> r.completion().sampleIndex() == 0)
          .map(RlTrainer.Rollout::prompt).toList());
      int differing = 0;
      for (int q = 0; q < rounds * 4; q++) {
        java.util.Set<Double> rewards = new java.util.HashSet<>();
        for (int j = 0; j < 8; j++) rewards.add(it.rollouts().get(q * 8 + j).reward().total());
        boolean signal = rewards.size() > 1;
        differing += signal ? 1 : 0;
        // Trained on exactly the first 4 groups whose rewards differ, in sampling order, all 8 samples of each:
        // an equal-reward group is never trained on, whatever its advantages are.
        boolean wanted = signal && differing <= 4;
        for (int j = 0; j < 8; j++) {
          assertEquals(wanted, it.rollouts().get(q * 8 + j).trained(), "group " + q + " sample " + j);
        }
        if (!signal) {
          for (int j = 0; j < 8; j++) assertEquals(0.0, it.rollouts().get(q * 8 + j).advantage(), 0.0);
        }
      }
      assertEquals(Math.min(4, differing), it.metrics().get("train_groups").intValue());
      assertEquals(4, it.metrics().get("train_groups").intValue(), "4 groups with differing rewards were found");
    }
  }

  @Test
  void filterGroupsWithNoSignalStopsAfterTheLastRoundAndLeavesTheWeights() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      LlamaModel before = policy.copy(m);
      GrpoConfig c = config(1);
      c.promptsPerIteration = 4;
      c.filterGroups = true;
      c.maxGenerationRounds = 3;
      Rewarder constant = (prompt, answer, cmp) -> new RewardResult(1.0, Map.of("ones", 1.0));
      GrpoTrainer t = new GrpoTrainer(c, policy, before, TOK, prompts(32), new InProcessRollouts(TOK, 64), constant);
      RlTrainer.Iteration it = t.step();
      assertEquals(3.0, it.metrics().get("generation_rounds"));
      assertEquals(0.0, it.metrics().get("train_groups"));
      assertEquals(1.0, it.metrics().get("zero_std_groups"));
      assertEquals(96, it.rollouts().size());
      assertTrue(!it.metrics().containsKey("loss") && !it.metrics().containsKey("grad_norm"), "no update, no update figures");
      for (Map.Entry<String, ai.djl.ndarray.NDArray> e : policy.parameters().entrySet()) {
        assertArrayEquals(before.parameters().get(e.getKey()).toFloatArray(), e.getValue().toFloatArray(), 0f,
            e.getKey() + " unchanged: no group carried a signal, so no optimizer step");
      }
    }
  }

  @Test
  void tokensMapToTheLineTheyBelongTo() {
    // "=3\n#### 3\n" then eos: a newline belongs to the line it ends; the eos after the last newline is on line 2.
    int[] ids = TOK.encode("=3\n#### 3\n");
    int[] withEos = java.util.Arrays.copyOf(ids, ids.length + 1);
    withEos[ids.length] = TOK.eosId();
    assertArrayEquals(new int[] {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2}, GrpoTrainer.lineOfToken(TOK, withEos));
  }

  /**
   * A reward that is NaN (a broken reward function) makes every policy loss NaN: each such update is skipped and
   * counted in the iteration's skipped_steps, the policy is left bit-identical, and past max_skipped_steps the run
   * stops with one line naming the step. Two updates per iteration (64 samples, minibatches of 32).
   */
  @Test
  void nonFiniteUpdatesAreSkippedThenStopTheRunWithOneLine() {
    Rewarder broken = (prompt, answer, c) -> new RewardResult(Double.NaN, Map.of("ones", Double.NaN));
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      LlamaModel ref = policy.copy(m);
      float[] before = policy.parameters().get(LlamaModel.EMBED).toFloatArray();
      GrpoConfig c = config(10);
      c.maxSkippedSteps = 2;
      GrpoTrainer t = new GrpoTrainer(c, policy, ref, TOK, prompts(32), new InProcessRollouts(TOK, 64), broken);
      RlTrainer.Iteration first = t.step();
      assertEquals(2.0, first.metrics().get("skipped_steps"), first.metrics().toString());
      org.sparkrlhf.core.NonFiniteError e = org.junit.jupiter.api.Assertions.assertThrows(
          org.sparkrlhf.core.NonFiniteError.class, t::step);
      assertEquals("optimizer step 3: loss NaN, gradient norm NaN; 3 non-finite steps skipped, more than "
          + "max_skipped_steps 2; last good checkpoint: none (lower the learning rate or enable grad_clip)",
          e.getMessage());
      assertArrayEquals(before, policy.parameters().get(LlamaModel.EMBED).toFloatArray(), "no update was applied");
    }
  }
}
