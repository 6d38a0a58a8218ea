package org.sparkrlhf.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/**
 * selftrain on a tiny data → sft lake: rounds write their samples, kept solutions and checkpoints; and the stage
 * never reads an answer: the same prompts with every answer wrong or missing give the same data and weights. On the
 * same lake, hindsight: rollouts placed after the feedback their grade earned, and eval under the positive one.
 */
class SelfTrainStageTest {
  static SparkSession spark;
  static String lakeRoot;

  static final List<String> SETTINGS = List.of(
      "data.train_size=48", "data.valid_size=8", "data.test_size=8", "data.test_ood_size=8",
      "data.step_label_problems=0",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=60", "sft.eval_every=60", "sft.checkpoint_every=0", "sft.log_every=60",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "selftrain.prompts=12", "selftrain.samples=4", "selftrain.rounds=2", "selftrain.temperature=0.3",
      "selftrain.confidence=0.0", "selftrain.max_new_tokens=40", "selftrain.steps=3", "selftrain.batch_size=8",
      "selftrain.threads=1", "selftrain.generation_batch_size=16");

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("selftrain-stage-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    var config = StageConfigs.load(null, SETTINGS);
    Stages.run(spark, lakeRoot, "s0", "data", config);
    Stages.run(spark, lakeRoot, "s0", "sft", config);
    // The same train prompts, ids and text, in a dataset whose answers are all wrong or missing.
    Lake lake = new Lake(spark, lakeRoot);
    var bad = lake.read(Tables.PROMPTS).filter("dataset = 'arith' AND split = 'train'")
        .withColumn("dataset", lit("arith-noanswers"))
        .withColumn("answer", org.apache.spark.sql.functions.when(col("id").endsWith("1"), lit(null).cast("string"))
            .otherwise(lit("-12345")))
        .drop("created_at");
    lake.insertNew(Tables.PROMPTS, bad);
  }

  static String sft(Lake lake) {
    return lake.read(Tables.CHECKPOINTS).filter("run_id = 's0' AND stage = 'sft'").select("path")
        .as(Encoders.STRING()).collectAsList().get(0);
  }

  @Test
  void roundsWriteSamplesKeptSolutionsAndCheckpointsWithoutReadingAnAnswer() throws Exception {
    Lake lake = new Lake(spark, lakeRoot);
    JsonNode r = new ObjectMapper().readTree(Files.readString(Path.of(Stages.run(spark, lakeRoot, "s1", "selftrain",
        StageConfigs.load(null, concat("selftrain.init_checkpoint=" + sft(lake)))))));
    assertEquals(2, r.get("rounds").size());
    assertEquals(2 * 12 * 4, lake.read(Tables.ROLLOUTS).filter("run_id = 's1' AND stage = 'selftrain'").count());
    long kept = lake.read(Tables.SFT_DEMOS).filter("dataset = 'arith-selftrain-s1'").count();
    assertEquals(r.get("rounds").get(0).get("kept_solutions").asLong() + r.get("rounds").get(1).get("kept_solutions")
        .asLong(), kept);
    assertTrue(kept > 0);
    assertEquals(List.of(1L, 2L), lake.read(Tables.CHECKPOINTS).filter("run_id = 's1' AND stage = 'selftrain'")
        .orderBy("step").select("step").as(Encoders.LONG()).collectAsList());
    assertEquals(2, lake.read(Tables.METRICS).filter("run_id = 's1' AND name = 'selftrain/confident_prompts'").count());

    Stages.run(spark, lakeRoot, "s2", "selftrain", StageConfigs.load(null,
        concat("selftrain.init_checkpoint=" + sft(lake), "selftrain.dataset=arith-noanswers")));
    assertEquals(
        lake.read(Tables.SFT_DEMOS).filter("dataset = 'arith-selftrain-s1'").select("id", "prompt", "completion")
            .orderBy("id").collectAsList(),
        lake.read(Tables.SFT_DEMOS).filter("dataset = 'arith-noanswers-selftrain-s2'").select("id", "prompt", "completion")
            .orderBy("id").collectAsList(),
        "the same solutions kept with every answer wrong or missing");
    String w1 = lake.read(Tables.CHECKPOINTS).filter("run_id = 's1' AND stage = 'selftrain' AND step = 2")
        .select("path").as(Encoders.STRING()).first();
    String w2 = lake.read(Tables.CHECKPOINTS).filter("run_id = 's2' AND stage = 'selftrain' AND step = 2")
        .select("path").as(Encoders.STRING()).first();
    assertArrayEquals(Files.readAllBytes(Path.of(w1, "model.safetensors")),
        Files.readAllBytes(Path.of(w2, "model.safetensors")), "the same weights");
  }

  @Test
  void hindsightTrainsAfterTheFeedbackAndIsEvaluatedUnderThePositiveOne() throws Exception {
    Lake lake = new Lake(spark, lakeRoot);
    List<String> settings = concat("rollouts.limit=6", "rollouts.num_samples=2", "rollouts.max_new_tokens=40",
        "rollouts.threads=1", "rollouts.checkpoint=" + sft(lake), "hindsight.init_checkpoint=" + sft(lake),
        "hindsight.steps=3", "hindsight.batch_size=4", "hindsight.threads=1", "eval.limit=4", "eval.k=0",
        "eval.max_new_tokens=40", "eval.threads=1", "eval.model=hindsight");
    Stages.run(spark, lakeRoot, "h1", "rollouts", StageConfigs.load(null, settings));
    JsonNode h = new ObjectMapper().readTree(Files.readString(Path.of(
        Stages.run(spark, lakeRoot, "h1", "hindsight", StageConfigs.load(null, settings)))));
    assertEquals(12, h.get("rollouts").asInt());
    // each demonstration's prompt is the rollout's prompt and the feedback its grade earned, by the checker
    var rolled = lake.read(Tables.ROLLOUTS).filter("run_id = 'h1' AND stage = 'rollouts'")
        .select("prompt_id", "sample_index", "prompt", "completion").collectAsList();
    var demos = lake.read(Tables.SFT_DEMOS).filter("dataset = 'arith-hindsight-h1'").collectAsList();
    assertEquals(12, demos.size());
    for (var r : rolled) {
      boolean ok = org.sparkrlhf.core.task.Checker.grade(r.getString(2), r.getString(3)).correct();
      String id = r.getString(0) + "-0-" + r.getInt(1);
      var d = demos.stream().filter(x -> x.<String>getAs("id").equals(id)).findFirst().orElseThrow();
      assertEquals(r.getString(2) + (ok ? "#+\n" : "#-\n"), d.<String>getAs("prompt"));
      assertEquals(r.getString(3), d.<String>getAs("completion"));
    }
    // eval reads the positive feedback from the checkpoint and generates after it: the greedy completions are the
    // model's on prompt + "#+\n", computed here directly
    JsonNode e = new ObjectMapper().readTree(Files.readString(Path.of(
        Stages.run(spark, lakeRoot, "h1", "eval-hindsight-train", StageConfigs.load(null, settings)))));
    assertEquals("#+\n", e.get("prompt_suffix").asText());
    String checkpoint = e.get("checkpoint").asText();
    List<String> lines = Files.readAllLines(Path.of(lakeRoot.replace("file:", ""), "runs", "h1",
        "eval-hindsight-train", "completions.jsonl"));
    try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager();
        org.sparkrlhf.core.model.HfCheckpoint ck = org.sparkrlhf.core.model.HfCheckpoint.load(checkpoint, m)) {
      var tok = org.sparkrlhf.core.tokenizer.HfTokenizer.fromJson(ck.tokenizerJson());
      List<org.sparkrlhf.rollouts.engine.PromptRef> refs = new java.util.ArrayList<>();
      List<String> expected = new java.util.ArrayList<>();
      for (String line : lines) {
        JsonNode j = new ObjectMapper().readTree(line);
        refs.add(new org.sparkrlhf.rollouts.engine.PromptRef(j.get("id").asText(), j.get("prompt").asText() + "#+\n", 0));
        expected.add(j.get("completion").asText());
      }
      List<String> direct = org.sparkrlhf.rollouts.engine.GenerationEngine.generate(ck.model(), tok, refs,
          org.sparkrlhf.rollouts.engine.SamplingParams.greedy(40), 64).stream()
          .map(org.sparkrlhf.rollouts.engine.Completion::text).toList();
      assertEquals(expected, direct);
    }
  }

  static List<String> concat(String... more) {
    java.util.ArrayList<String> all = new java.util.ArrayList<>(SETTINGS);
    all.addAll(List.of(more));
    return all;
  }
}
