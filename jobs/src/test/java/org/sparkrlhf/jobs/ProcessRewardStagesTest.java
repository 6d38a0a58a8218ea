package org.sparkrlhf.jobs;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/**
 * On one tiny data → sft → rollouts lake: shepherd (Math-Shepherd labels into step_labels, idempotent), reward with
 * kind=prm (on the data stage's labels and on the automatic ones, measured against the checker), and bestofn with
 * the PRM's pickers (the pick at N = M read back from the rollouts table independently).
 */
class ProcessRewardStagesTest {
  static SparkSession spark;
  static String lakeRoot;

  static final List<String> SETTINGS = List.of(
      "data.train_size=48", "data.valid_size=8", "data.test_size=8", "data.test_ood_size=8",
      "data.step_label_problems=24",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=5", "sft.eval_every=5", "sft.checkpoint_every=0", "sft.log_every=5",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "rollouts.limit=6", "rollouts.num_samples=2", "rollouts.max_new_tokens=40", "rollouts.threads=1",
      "shepherd.samples=2", "shepherd.max_new_tokens=40", "shepherd.threads=1", "shepherd.batch_size=16",
      "reward.kind=prm", "reward.max_steps=4", "reward.batch_size=8", "reward.eval_share=0.3", "reward.threads=1",
      "reward.lr=1e-3");

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("prm-stages-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    var config = StageConfigs.load(null, SETTINGS);
    for (String stage : List.of("data", "sft", "rollouts")) Stages.run(spark, lakeRoot, "m1", stage, config);
  }

  static JsonNode report(String path) throws Exception {
    return new ObjectMapper().readTree(Files.readString(Path.of(path)));
  }

  @Test
  void shepherdLabelsTrainAPrmWhosePicksBestOfNUses() throws Exception {
    Lake lake = new Lake(spark, lakeRoot);
    var config = StageConfigs.load(null, SETTINGS);
    JsonNode shep = report(Stages.run(spark, lakeRoot, "m1", "shepherd", config));
    String auto = "dataset = 'arith-shepherd-m1'";
    long rows = lake.read(Tables.STEP_LABELS).filter(auto).count();
    assertEquals(shep.get("solutions").asLong(), rows);
    assertTrue(rows > 0 && rows <= 12, "at most the 6 x 2 rollouts: " + rows);
    // hard = some continuation reached the answer = a soft label above 0; labels end at the first dead step
    for (Row r : lake.read(Tables.STEP_LABELS).filter(auto).select("steps", "labels", "soft_labels", "kind")
        .collectAsList()) {
      List<Boolean> hard = r.getList(1);
      List<Double> soft = r.getList(2);
      assertEquals(r.getList(0).size(), hard.size());
      assertEquals(hard.size(), soft.size());
      assertEquals("shepherd", r.getString(3));
      for (int k = 0; k < hard.size(); k++) {
        assertEquals(soft.get(k) > 0, hard.get(k), "step " + k);
        if (k < hard.size() - 1) assertTrue(hard.get(k), "only the last labelled step may be dead");
      }
    }
    assertTrue(shep.path("agreement_with_checker").has("step_agreement"), shep.toString());
    Stages.run(spark, lakeRoot, "m1", "shepherd", config);
    assertEquals(rows, lake.read(Tables.STEP_LABELS).filter(auto).count(), "a re-run adds nothing");

    // A PRM on the data stage's labels, measured on its held-out share and against the checker.
    JsonNode prm = report(Stages.run(spark, lakeRoot, "m1", "reward", config));
    assertEquals("prm", prm.get("kind").asText());
    assertTrue(prm.get("eval_solutions").asInt() > 0 && prm.path("eval_checker").has("eval_checker_accuracy"),
        prm.toString());
    String prmRun = "run_id = 'm1' AND stage = 'prm'";
    assertEquals(4, lake.read(Tables.METRICS).filter(prmRun + " AND name = 'loss'").count());
    assertEquals(2, lake.read(Tables.METRICS).filter(prmRun + " AND name = 'eval_loss'").count());
    String checkpoint = lake.read(Tables.CHECKPOINTS).filter(prmRun + " AND kind = 'prm'").select("path")
        .as(Encoders.STRING()).collectAsList().get(0);

    // One on the automatic labels, soft, measured on the data stage's rows.
    List<String> onAuto = new ArrayList<>(SETTINGS);
    onAuto.addAll(List.of("reward.step_dataset=arith-shepherd-m1", "reward.soft_labels=true",
        "reward.eval_dataset=arith", "reward.eval_split=train", "reward.split="));
    JsonNode prm2 = report(Stages.run(spark, lakeRoot, "m2", "reward", StageConfigs.load(null, onAuto).withFallback(
        StageConfigs.load(null, List.of("reward.init_checkpoint=" + sft(lake))))));
    assertEquals("arith", prm2.get("eval_dataset").asText());
    assertEquals(lake.read(Tables.STEP_LABELS).filter("dataset = 'arith'").count(),
        prm2.get("eval_solutions").asLong());

    // bestofn with the PRM: at N = M every draw holds all samples, so prm_min picks each problem's sample with the
    // highest weakest step, read back from the rollouts' parts.
    List<String> bon = new ArrayList<>(SETTINGS);
    bon.addAll(List.of("bestofn.limit=4", "bestofn.samples=3", "bestofn.ns=[1, 3]", "bestofn.draws=4",
        "bestofn.max_new_tokens=40", "bestofn.threads=1", "bestofn.process_reward_model=" + checkpoint,
        "bestofn.checkpoint=" + sft(lake)));
    JsonNode b = report(Stages.run(spark, lakeRoot, "b1", "bestofn", StageConfigs.load(null, bon)));
    String mine = "run_id = 'b1' AND stage = 'bestofn'";
    for (String part : List.of("prm_product", "prm_min")) {
      assertEquals(12, lake.read(Tables.ROLLOUTS).filter(mine + " AND reward_parts['" + part + "'] BETWEEN 0 AND 1")
          .count(), part);
      double expected = lake.read(Tables.ROLLOUTS).filter(mine).groupBy("prompt_id")
          .agg(functions.max_by(col("reward_parts").getItem("correct_answer"),
              col("reward_parts").getItem(part)).as("ok"))
          .agg(functions.avg("ok")).first().getDouble(0);
      double atM = lake.read(Tables.METRICS).filter(mine + " AND name = 'best_of_n/" + part + "' AND step = 3")
          .select("value").as(Encoders.DOUBLE()).first();
      assertEquals(expected, atM, 1e-12, part);
    }
    assertEquals(2, b.path("curves").path("prm_min").size());
  }

  static String sft(Lake lake) {
    return lake.read(Tables.CHECKPOINTS).filter("run_id = 'm1' AND stage = 'sft'").select("path")
        .as(Encoders.STRING()).collectAsList().get(0);
  }
}
