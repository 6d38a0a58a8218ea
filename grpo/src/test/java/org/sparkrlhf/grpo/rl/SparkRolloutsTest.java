package org.sparkrlhf.grpo.rl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/** Rollouts on the executors are the very samples the driver would draw, in request order. */
class SparkRolloutsTest {
  static final CharTokenizer tok = new CharTokenizer();
  static final LlamaConfig cfg = LlamaConfig.tiny(tok.vocabSize(), 32, 1, 2, 1, 64, 64, true);

  @org.junit.jupiter.api.BeforeAll
  static void oneThread() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  @Test
  void executorsAndDriverDrawTheSameSamples() {
    List<PromptRef> requests = new ArrayList<>();
    for (int p = 0; p < 5; p++) {
      for (int g = 0; g < 3; g++) requests.add(new PromptRef("p" + p, (p + 1) + "+" + p + "=?\n", g));
    }
    SamplingParams params = SamplingParams.defaults().withTemperature(1.0).withMaxNewTokens(12).withSeed(9);
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager();
        SparkRollouts spark = new SparkRollouts(TestSpark.session(), tok, 4, 3)) {
      LlamaModel model = LlamaModel.init(cfg, false, 11, m);
      List<Completion> local = new InProcessRollouts(tok, 8).generate(model, 0, requests, params);
      List<Completion> remote = spark.generate(model, 0, requests, params);
      assertEquals(local.size(), remote.size());
      for (int i = 0; i < local.size(); i++) {
        assertEquals(local.get(i).promptId(), remote.get(i).promptId());
        assertEquals(local.get(i).sampleIndex(), remote.get(i).sampleIndex());
        assertArrayEquals(local.get(i).tokenIds(), remote.get(i).tokenIds(), "request " + i);
        assertEquals(local.get(i).text(), remote.get(i).text());
        assertEquals(local.get(i).promptTokens(), remote.get(i).promptTokens());
        for (int t = 0; t < local.get(i).logProbs().length; t++) {
          assertEquals(local.get(i).logProbs()[t], remote.get(i).logProbs()[t], 1e-4);
        }
      }
      assertTrue(spark.lastSyncSeconds() > 0, "the first call publishes the weights");
      double firstSync = spark.weightSyncSeconds();
      assertTrue(firstSync > spark.lastSyncSeconds(), "the executor's load of the weights is counted beside the "
          + "driver's publishing: " + firstSync + " vs " + spark.lastSyncSeconds());
      spark.generate(model, 0, requests, params);
      assertEquals(0.0, spark.lastSyncSeconds(), 0.05, "the same version is not published again");
      assertEquals(firstSync, spark.weightSyncSeconds(), 0.05, "nor loaded again");
      spark.generate(model, 1, requests, params);
      assertTrue(spark.weightSyncSeconds() > firstSync, "a new version is published and loaded");
    }
  }

  /**
   * A partition holds a contiguous slice of the prompts in request order, so its engine call (its requests batched
   * together) is a function of the prompts and the partition count alone: each slice generated on the driver gives
   * the very floats the executors gave. A row's last bits depend on its batch-mates; with a round-robin
   * repartition (slices interleaved as the input's layout decides) some log-probs here came out an ulp apart.
   */
  @Test
  void eachPartitionGeneratesAContiguousSliceOfThePromptsBitForBit() {
    int prompts = 10;
    int group = 3;
    int partitions = 3;
    List<PromptRef> requests = new ArrayList<>();
    for (int p = 0; p < prompts; p++) {
      for (int g = 0; g < group; g++) requests.add(new PromptRef("p" + p, (p * 7 % 23) + "+" + p + "=?\n", g));
    }
    SamplingParams params = SamplingParams.defaults().withTemperature(1.0).withMaxNewTokens(24).withSeed(5);
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager();
        SparkRollouts spark = new SparkRollouts(TestSpark.session(), tok, 4, partitions)) {
      LlamaModel model = LlamaModel.init(LlamaConfig.tiny(tok.vocabSize(), 64, 2, 4, 2, 128, 64, true), false, 3, m);
      List<Completion> remote = spark.generate(model, 0, requests, params);
      List<Completion> local = new ArrayList<>();
      for (int k = 0; k < partitions; k++) {
        // Spark's slices of a local collection: [k n / p, (k + 1) n / p)
        int from = k * prompts / partitions * group;
        int to = (k + 1) * prompts / partitions * group;
        local.addAll(GenerationEngine.generate(model, tok, requests.subList(from, to), params, 4));
      }
      for (int i = 0; i < requests.size(); i++) {
        assertArrayEquals(local.get(i).tokenIds(), remote.get(i).tokenIds(), "tokens of request " + i);
        assertArrayEquals(local.get(i).logProbs(), remote.get(i).logProbs(), "log-probs of request " + i + " bit for bit");
      }
    }
  }

  @Test
  void rewardsComputedOnTheExecutorsEqualTheDriversScoring() {
    List<RlPrompt> prompts = new ArrayList<>();
    for (int p = 0; p < 4; p++) prompts.add(new RlPrompt("p" + p, (p + 1) + "+" + p + "=?\n", Integer.toString(2 * p + 1)));
    // A reward whose value depends on the completion (equal rewards mean the same text was scored), with a part
    // that records whether it ran inside a Spark task.
    Rewarder byLength = (prompt, answer, c) -> new org.sparkrlhf.reward.rules.RewardResult(c.length() + 0.5 * c.text().length(),
        java.util.Map.of("length", (double) c.length(), "answer_chars", (double) answer.length(),
            "in_spark_task", org.apache.spark.TaskContext.get() != null ? 1.0 : 0.0));
    SamplingParams params = SamplingParams.defaults().withTemperature(1.0).withMaxNewTokens(10).withSeed(3);
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager();
        SparkRollouts spark = new SparkRollouts(TestSpark.session(), tok, 4, 2)) {
      LlamaModel model = LlamaModel.init(cfg, false, 5, m);
      List<RolloutSource.Scored> local =
          new InProcessRollouts(tok, 8).sampleAndScore(model, 0, prompts, 3, params, byLength, false);
      List<RolloutSource.Scored> remote = spark.sampleAndScore(model, 0, prompts, 3, params, byLength, false);
      assertEquals(12, remote.size());
      for (int i = 0; i < local.size(); i++) {
        assertEquals(local.get(i).completion().text(), remote.get(i).completion().text(), "rollout " + i);
        assertEquals("p" + (i / 3), remote.get(i).completion().promptId(), "prompt-major order");
        assertEquals(i % 3, remote.get(i).completion().sampleIndex());
        assertEquals(local.get(i).reward().total(), remote.get(i).reward().total(), 1e-12);
        assertEquals(local.get(i).reward().parts().get("length"), remote.get(i).reward().parts().get("length"));
        assertEquals(1.0, remote.get(i).reward().parts().get("answer_chars"), // answers 1, 3, 5, 7
            "the answer travelled with the prompt");
        assertEquals(0.0, local.get(i).reward().parts().get("in_spark_task"));
        assertEquals(1.0, remote.get(i).reward().parts().get("in_spark_task"), "scored inside the generating task");
        assertEquals(null, remote.get(i).stepRewards(), "no step rewards unless asked for");
      }
    }
  }

  /** Step rewards: the completion's length per line, and whether they were computed inside a Spark task. */
  static final class LineLengths implements Rewarder {
    @Override
    public org.sparkrlhf.reward.rules.RewardResult score(String prompt, String answer, Completion c) {
      return new org.sparkrlhf.reward.rules.RewardResult(c.length(), java.util.Map.of());
    }

    @Override
    public double[] stepRewards(String prompt, String answer, Completion c) {
      String[] lines = c.text().split("\n", -1);
      double[] out = new double[lines.length + 1];
      for (int i = 0; i < lines.length; i++) out[i] = lines[i].length();
      out[lines.length] = org.apache.spark.TaskContext.get() != null ? 1.0 : 0.0;
      return out;
    }
  }

  @Test
  void stepRewardsAreComputedOnTheExecutorsWhenAskedFor() {
    List<RlPrompt> prompts = new ArrayList<>();
    for (int p = 0; p < 3; p++) prompts.add(new RlPrompt("p" + p, (p + 1) + "*" + p + "=?\n", null));
    SamplingParams params = SamplingParams.defaults().withTemperature(1.0).withMaxNewTokens(12).withSeed(5);
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager();
        SparkRollouts spark = new SparkRollouts(TestSpark.session(), tok, 4, 2)) {
      LlamaModel model = LlamaModel.init(cfg, false, 5, m);
      Rewarder steps = new LineLengths();
      List<RolloutSource.Scored> local = new InProcessRollouts(tok, 8).sampleAndScore(model, 0, prompts, 2, params,
          steps, true);
      List<RolloutSource.Scored> remote = spark.sampleAndScore(model, 0, prompts, 2, params, steps, true);
      for (int i = 0; i < local.size(); i++) {
        double[] l = local.get(i).stepRewards();
        double[] r = remote.get(i).stepRewards();
        assertEquals(l.length, r.length, "rollout " + i);
        assertArrayEquals(java.util.Arrays.copyOf(l, l.length - 1), java.util.Arrays.copyOf(r, r.length - 1), 0.0);
        assertEquals(0.0, l[l.length - 1]);
        assertEquals(1.0, r[r.length - 1], "step rewards computed inside the generating task");
      }
    }
  }

  @Test
  void aLearnedRewardIsScoredOnTheExecutorsAndAddedToTheRules() {
    List<RlPrompt> prompts = new ArrayList<>();
    for (int p = 0; p < 4; p++) prompts.add(new RlPrompt("p" + p, (p + 1) + "+" + p + "=?\n", Integer.toString(2 * p + 1)));
    SamplingParams params = SamplingParams.defaults().withTemperature(1.0).withMaxNewTokens(10).withSeed(3);
    // The model entry with weight 2, no correct_answer rule: the gold part is added with weight 0.
    org.sparkrlhf.reward.rules.RewardSpec.RuleSpec model = new org.sparkrlhf.reward.rules.RewardSpec.RuleSpec(
        org.sparkrlhf.reward.rules.RewardSpec.MODEL, 2.0);
    model.checkpoint = "test-reward-model";
    org.sparkrlhf.reward.rules.RewardSpec spec = org.sparkrlhf.reward.rules.RewardSpec.of(model,
        new org.sparkrlhf.reward.rules.RewardSpec.RuleSpec(org.sparkrlhf.reward.rules.RewardRules.FORMAT, 0.1));
    Rewarder rules = org.sparkrlhf.reward.rules.RuleRewarder.of(spec);
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel policy = LlamaModel.init(cfg, false, 5, m);
      RewardModel rm = new RewardModel(LlamaModel.init(cfg, true, 8, m), tok, 2.0, "test-reward-model");
      List<RolloutSource.Scored> byRules =
          new InProcessRollouts(tok, 8).sampleAndScore(policy, 0, prompts, 3, params, rules, false);
      List<RolloutSource.Scored> local =
          new InProcessRollouts(tok, 8, rm).sampleAndScore(policy, 0, prompts, 3, params, rules, false);
      List<RolloutSource.Scored> remote;
      try (SparkRollouts spark = new SparkRollouts(TestSpark.session(), tok, 4, 2, rm)) {
        remote = spark.sampleAndScore(policy, 0, prompts, 3, params, rules, false);
      }
      java.util.Set<Double> distinct = new java.util.HashSet<>();
      for (int i = 0; i < local.size(); i++) {
        var l = local.get(i).reward();
        var r = remote.get(i).reward();
        double score = l.parts().get(org.sparkrlhf.reward.rules.RewardSpec.MODEL);
        distinct.add(score);
        // The reward model's score of [bos] prompt completion [eos], scored independently here.
        double expected = org.sparkrlhf.core.batch.SequenceLogProbs.score(rm.model(), List.of(
            org.sparkrlhf.core.batch.TokenSequence.encode(tok, prompts.get(i / 3).prompt(),
                local.get(i).completion().text(), true)), 1.0, true, 1).get(0).score();
        assertEquals(expected, score, 1e-5, "sample " + i);
        assertEquals(byRules.get(i).reward().total() + 2.0 * score, l.total(), 1e-9);
        assertTrue(l.parts().containsKey(org.sparkrlhf.reward.rules.RewardRules.CORRECT_ANSWER), "the gold part");
        assertEquals(score, r.parts().get(org.sparkrlhf.reward.rules.RewardSpec.MODEL), 1e-5, "executors: " + i);
        assertEquals(l.total(), r.total(), 1e-5);
        assertEquals(l.parts().get("correct_answer"), r.parts().get("correct_answer"));
      }
      assertTrue(distinct.size() > 6, "scores depend on the completion: " + distinct);
    }
  }
}
