package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/**
 * rsdpo on a tiny lake of one-operator expressions of digits (a briefly trained model gets some right, so its samples pair up): each
 * round's pairs are a new Delta version of a dataset naming the round, drawn from that round's rollouts only, and each
 * round's DPO starts from the one before.
 */
class RsDpoStageTest {
  static SparkSession spark;
  static String lakeRoot;

  static final List<String> SETTINGS = List.of(
      "data.train_size=40", "data.valid_size=2", "data.test_size=6", "data.test_ood_size=4",
      "data.step_label_problems=0", "data.min_ops=1", "data.max_ops=1", "data.operand_max=9",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=120", "sft.eval_every=120", "sft.checkpoint_every=0", "sft.log_every=120",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "rollouts.split=train", "rollouts.limit=16", "rollouts.num_samples=4", "rollouts.max_new_tokens=16",
      "rollouts.threads=1", "pairs.max_pass_rate=1.0",
      "dpo.max_steps=2", "dpo.batch_size=4", "dpo.threads=1", "dpo.lr=1e-3",
      "eval.k=0", "eval.max_new_tokens=16", "eval.threads=1",
      "rsdpo.rounds=2", "rsdpo.prompts=24");

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("rsdpo-stage-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    var config = StageConfigs.load(null, SETTINGS);
    Stages.run(spark, lakeRoot, "t1", "data", config);
    Stages.run(spark, lakeRoot, "t1", "sft", config);
  }

  @Test
  void eachRoundPairsItsOwnRolloutsIntoANewVersionAndStartsFromTheLastPolicy() throws Exception {
    Lake lake = new Lake(spark, lakeRoot);
    long before = lake.version(Tables.PREFERENCES);
    JsonNode r = new ObjectMapper().readTree(Files.readString(Path.of(
        Stages.run(spark, lakeRoot, "t1", "rsdpo", StageConfigs.load(null, SETTINGS)))));
    assertEquals(2, r.get("rounds").size());
    assertTrue(r.has("start_accuracy"));
    Set<String> ids = new HashSet<>();
    for (int k = 1; k <= 2; k++) {
      JsonNode round = r.get("rounds").get(k - 1);
      String dataset = "arith-pairs-t1-r" + k;
      assertEquals(List.of(dataset), List.of(round.get("pairs_datasets").get(0).asText()));
      long pairs = lake.read(Tables.PREFERENCES).filter("dataset = '" + dataset + "'").count();
      assertEquals(round.get("pairs").asLong(), pairs);
      assertTrue(pairs > 0, "round " + k + " has pairs");
      // only that round's rollouts, and no pair twice
      assertEquals(pairs, lake.read(Tables.PREFERENCES).filter("dataset = '" + dataset + "' AND source_run = 't1-r"
          + k + "'").count());
      for (String id : lake.read(Tables.PREFERENCES).filter("dataset = '" + dataset + "'")
          .selectExpr("concat(prompt, '|', chosen, '|', rejected)").as(Encoders.STRING()).collectAsList()) {
        assertTrue(ids.add(id), "a pair reused across rounds: " + id);
      }
      assertTrue(round.has("accuracy") && round.has("paired_against_start"), round.toString());
    }
    assertTrue(lake.version(Tables.PREFERENCES) >= before + 2, "a new preferences version per round");
    String r1 = lake.read(Tables.CHECKPOINTS).filter("run_id = 't1-r1' AND stage = 'dpo'").select("path")
        .as(Encoders.STRING()).first();
    String parent2 = lake.read(Tables.CHECKPOINTS).filter("run_id = 't1-r2' AND stage = 'dpo'").select("parent")
        .as(Encoders.STRING()).first();
    assertEquals(r1, parent2, "round 2's DPO starts from (and is referenced to) round 1's policy");
    assertEquals(24 * 4, lake.read(Tables.ROLLOUTS).filter("run_id = 't1-r1'").count(),
        "rsdpo.prompts prompts per round (not rollouts.limit's 16), 4 samples each");
    // The last round's policy is the stage's own: eval-rsdpo-<split> finds it in the run rsdpo ran in.
    String r2 = lake.read(Tables.CHECKPOINTS).filter("run_id = 't1-r2' AND stage = 'dpo'").select("path")
        .as(Encoders.STRING()).first();
    assertEquals(r2, lake.read(Tables.CHECKPOINTS).filter("run_id = 't1' AND stage = 'rsdpo'").select("path")
        .as(Encoders.STRING()).first());
    JsonNode e = new ObjectMapper().readTree(Files.readString(Path.of(
        Stages.run(spark, lakeRoot, "t1", "eval-rsdpo-test", StageConfigs.load(null, SETTINGS)))));
    assertEquals(r2, e.get("checkpoint").asText());
  }
}
