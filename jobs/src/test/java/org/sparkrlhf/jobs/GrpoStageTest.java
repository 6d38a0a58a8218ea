package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.train.TrainerState;

/** data → sft → grpo on a tiny model: rollouts and metrics land once per iteration, --resume continues. */
class GrpoStageTest {
  static SparkSession spark;
  static String lakeRoot;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("grpo-stage-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  static final List<String> SETTINGS = List.of(
      "data.train_size=64", "data.valid_size=8", "data.test_size=8", "data.test_ood_size=8",
      "data.step_label_problems=0",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=5", "sft.eval_every=5", "sft.checkpoint_every=0", "sft.log_every=5",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "grpo.prompts_per_iteration=4", "grpo.group_size=4", "grpo.iterations=3", "grpo.max_new_tokens=24",
      "grpo.minibatch_size=8", "grpo.checkpoint_every=2", "grpo.threads=1", "grpo.lr=1e-3",
      // one sampling round per iteration, so the row counts below are exact (filtering: the last test)
      "grpo.filter_groups=false");

  static long count(Lake lake, String table, String where) {
    return lake.read(table).filter(where).count();
  }

  @Test
  void grpoWritesOnceAndResumes() throws Exception {
    var config = StageConfigs.load(null, SETTINGS);
    Stages.run(spark, lakeRoot, "r1", "data", config);
    Stages.run(spark, lakeRoot, "r1", "sft", config);

    // Nothing to resume yet: a one-line user error, not a silent fresh start.
    List<String> resume = new ArrayList<>(SETTINGS);
    resume.add("grpo.resume=true");
    UserError e = assertThrows(UserError.class,
        () -> Stages.run(spark, lakeRoot, "r1", "grpo", StageConfigs.load(null, resume)));
    assertTrue(e.getMessage().contains("no grpo checkpoint") && !e.getMessage().contains("\n"), e.getMessage());

    String report = Stages.run(spark, lakeRoot, "r1", "grpo", config);
    assertTrue(Files.exists(Path.of(report)));
    Lake lake = new Lake(spark, lakeRoot);
    String mine = "run_id = 'r1' AND stage = 'grpo'";
    assertEquals(3 * 16, count(lake, Tables.ROLLOUTS, mine));
    assertEquals(3 * 16, lake.read(Tables.ROLLOUTS).filter(mine)
        .select("iteration", "prompt_id", "sample_index").distinct().count());
    assertEquals(0, count(lake, Tables.ROLLOUTS, mine + " AND (reward IS NULL OR reward_parts IS NULL)"));
    assertEquals(3 * 16, count(lake, Tables.ROLLOUTS, mine + " AND reward_parts['correct_answer'] IS NOT NULL"));
    // The report's mean KL to the reference is the mean of the iterations' k3 terms (kl_loss rows), never negative.
    double k3Mean = lake.read(Tables.METRICS).filter(mine + " AND name = 'kl_loss'")
        .agg(org.apache.spark.sql.functions.avg("value")).first().getDouble(0);
    var firstReport = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(Path.of(report)));
    assertEquals(k3Mean, firstReport.path("kl_k3_mean").asDouble(Double.NaN), 1e-12);
    assertTrue(k3Mean >= 0, "k3 " + k3Mean);
    for (String metric : List.of("reward_mean", "accuracy", "kl_ref", "clip_fraction", "entropy", "tokens_per_s",
        "generate_seconds", "train_seconds", "completion_length")) {
      assertEquals(3, count(lake, Tables.METRICS, mine + " AND name = '" + metric + "'"), metric);
    }
    // The greedy valid-accuracy probe: before the first iteration and after the last (eval_every 10 > 3).
    assertEquals(List.of(0L, 3L), lake.read(Tables.METRICS).filter(mine + " AND name = 'valid_accuracy'")
        .orderBy("step").select("step").as(org.apache.spark.sql.Encoders.LONG()).collectAsList());
    List<Row> ckpts = lake.read(Tables.CHECKPOINTS).filter(mine).orderBy("step").collectAsList();
    assertEquals(List.of(2L, 3L), ckpts.stream().map(r -> r.<Long>getAs("step")).toList());
    for (Row r : ckpts) {
      String dir = r.getAs("path");
      assertTrue(TrainerState.exists(dir), dir);
      assertEquals(r.<Long>getAs("step").intValue(), TrainerState.read(dir).iteration());
    }

    // The same run again under the same run id adds nothing.
    long metricRows = count(lake, Tables.METRICS, mine);
    Stages.run(spark, lakeRoot, "r1", "grpo", config);
    assertEquals(3 * 16, count(lake, Tables.ROLLOUTS, mine));
    assertEquals(metricRows, count(lake, Tables.METRICS, mine));

    // --resume with more iterations continues after iteration 3.
    List<String> more = new ArrayList<>(resume);
    more.add("grpo.iterations=4");
    String resumed = Stages.run(spark, lakeRoot, "r1", "grpo", StageConfigs.load(null, more));
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(Path.of(resumed)));
    assertEquals(3, json.get("start_iteration").asInt());
    // It resumed from the checkpoint written at iteration 3 (the newest), not from a fresh start or the SFT model.
    String newest = lake.read(Tables.CHECKPOINTS).filter(mine + " AND step = 3").select("path")
        .as(org.apache.spark.sql.Encoders.STRING()).collectAsList().get(0);
    assertTrue(json.get("resumed_from").isTextual(), json.toString());
    assertEquals(newest, json.get("resumed_from").asText());
    assertTrue(Files.isDirectory(Path.of(newest)), newest);
    assertEquals(4 * 16, count(lake, Tables.ROLLOUTS, mine));
    assertEquals(16, count(lake, Tables.ROLLOUTS, mine + " AND iteration = 4 AND policy_version = 3"));
    assertEquals(4, count(lake, Tables.METRICS, mine + " AND name = 'reward_mean'"));
    assertEquals(3, count(lake, Tables.METRICS, mine + " AND name = 'valid_accuracy'"), "no second probe at 3");

    // Dynamic sampling (the quickstart's setting): every sampled round is written, the metrics say how many rounds
    // ran and how many groups trained.
    List<String> filtered = new ArrayList<>(SETTINGS);
    String sft = lake.read(Tables.CHECKPOINTS).filter("run_id = 'r1' AND stage = 'sft'").orderBy("step")
        .select("path").as(org.apache.spark.sql.Encoders.STRING()).collectAsList().get(0);
    filtered.addAll(List.of("grpo.filter_groups=true", "grpo.max_generation_rounds=3", "grpo.iterations=2",
        "grpo.init_checkpoint=" + sft));
    Stages.run(spark, lakeRoot, "r2", "grpo", StageConfigs.load(null, filtered));
    String r2 = "run_id = 'r2' AND stage = 'grpo'";
    List<Row> rounds = lake.read(Tables.METRICS).filter(r2 + " AND name = 'generation_rounds'").collectAsList();
    assertEquals(2, rounds.size());
    long sampled = 0;
    for (Row r : rounds) {
      double v = r.<Double>getAs("value");
      assertTrue(v >= 1 && v <= 3, "rounds " + v);
      sampled += (long) v * 16;
    }
    assertEquals(sampled, count(lake, Tables.ROLLOUTS, r2));
    assertEquals(sampled, lake.read(Tables.ROLLOUTS).filter(r2).select("iteration", "prompt_id", "sample_index")
        .distinct().count());
    assertEquals(2, count(lake, Tables.METRICS, r2 + " AND name = 'train_groups' AND value <= 4"));
  }
}
