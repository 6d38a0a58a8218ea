package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/**
 * data → sft → grpo, then rows appended to the tables they read: {@code lineage} names the Delta versions each
 * checkpoint was trained on, and {@code reproduce} reruns each stage at those versions (the appended rows unread)
 * to weights bit for bit equal to the originals.
 */
class LineageReproduceTest {
  static SparkSession spark;
  static String lakeRoot;
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("lineage-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  static final List<String> SETTINGS = List.of(
      "data.train_size=64", "data.valid_size=8", "data.test_size=8", "data.test_ood_size=8",
      "data.step_label_problems=0",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=10", "sft.eval_every=10", "sft.checkpoint_every=5", "sft.log_every=5",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "grpo.prompts_per_iteration=4", "grpo.group_size=4", "grpo.iterations=2", "grpo.max_new_tokens=24",
      "grpo.minibatch_size=8", "grpo.checkpoint_every=1", "grpo.threads=1", "grpo.lr=1e-3", "grpo.eval_every=0");

  static JsonNode report(String path) throws Exception {
    return JSON.readTree(Files.readString(Path.of(path)));
  }

  static String checkpoint(String run, String stage, int step) {
    return lakeRoot + "/runs/" + run + "/" + stage + "/checkpoints/" + String.format("step-%06d", step);
  }

  @Test
  void lineageNamesTheVersionsAndReproduceGivesTheSameWeightsAfterNewRows() throws Exception {
    var config = StageConfigs.load(null, SETTINGS);
    Stages.run(spark, lakeRoot, "r", "data", config);
    Stages.run(spark, lakeRoot, "r", "sft", config);
    Lake lake = new Lake(spark, lakeRoot);
    long demosVersion = lake.version(Tables.SFT_DEMOS);
    long promptsVersion = lake.version(Tables.PROMPTS);
    Stages.run(spark, lakeRoot, "r", "grpo", config);

    JsonNode chain = report(Stages.run(spark, lakeRoot, "l", "lineage",
        StageConfigs.load(null, List.of("lineage.checkpoint=\"" + checkpoint("r", "grpo", 2) + "/\"")))).get("chain");
    assertEquals(3, chain.size(), chain.toString());
    assertEquals("grpo", chain.get(0).get("stage").asText());
    assertEquals(promptsVersion, chain.get(0).get("data_versions").get(Tables.PROMPTS).asLong(), chain.toString());
    assertEquals(checkpoint("r", "sft", 10), chain.get(0).get("parent").asText());
    assertEquals("sft", chain.get(1).get("stage").asText());
    assertEquals(10, chain.get(1).get("step").asLong());
    assertEquals(demosVersion, chain.get(1).get("data_versions").get(Tables.SFT_DEMOS).asLong(), chain.toString());
    assertEquals("init:seed=1234", chain.get(1).get("parent").asText(), "the SFT model was new: " + chain);
    assertTrue(chain.get(2).get("new_model").asBoolean(), chain.toString());
    // Each checkpoint names the numerics that made it: the libtorch build, the torch threads the test set.
    assertEquals("2.7.1", chain.get(1).get("numerics").get("libtorch").asText(), chain.toString());
    assertEquals(1, chain.get(1).get("numerics").get("torch_threads").asInt(), chain.toString());

    // new rows in the tables both stages read, after they ran
    List<org.apache.spark.sql.Row> demos = new ArrayList<>();
    List<org.apache.spark.sql.Row> prompts = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      demos.add(RowFactory.create("arith", "train", "late-" + i, i + "+7=?\n", "#### " + (i + 7) + "\n", "test", "late",
          null));
      prompts.add(RowFactory.create("arith", "train", "late-" + i, i + "+7=?\n", String.valueOf(i + 7), "test", "late",
          null));
    }
    lake.insertNew(Tables.SFT_DEMOS, lake.frame(Tables.SFT_DEMOS, demos));
    lake.insertNew(Tables.PROMPTS, lake.frame(Tables.PROMPTS, prompts));
    assertTrue(lake.version(Tables.SFT_DEMOS) > demosVersion);

    JsonNode sft = report(Stages.run(spark, lakeRoot, "x", "reproduce",
        StageConfigs.load(null, List.of("reproduce.checkpoint=\"" + checkpoint("r", "sft", 10) + "\""))));
    assertTrue(sft.get("identical").asBoolean(), sft.toString());
    assertEquals(0, sft.get("numerics_differences").size(), sft.toString());
    assertEquals(demosVersion, report(sft.get("reproduction_report").asText()).get("reads").get(Tables.SFT_DEMOS).asLong(),
        "the reproduction read the recorded version, not the newer one");
    JsonNode grpo = report(Stages.run(spark, lakeRoot, "y", "reproduce",
        StageConfigs.load(null, List.of("reproduce.checkpoint=\"" + checkpoint("r", "grpo", 2) + "\""))));
    assertTrue(grpo.get("identical").asBoolean(), grpo.toString());
    assertEquals(checkpoint("r-reproduce", "grpo", 2), grpo.get("reproduced").asText());

    UserError e = assertThrows(UserError.class, () -> Stages.run(spark, lakeRoot, "z", "reproduce",
        StageConfigs.load(null, List.of("reproduce.checkpoint=/no/such/checkpoint"))));
    assertTrue(e.getMessage().contains("not a checkpoint registered"), e.getMessage());
  }
}
