package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/**
 * The scarce setting (conf/scarce.conf) at a few steps: SFT reads no more demonstrations than configured, GRPO
 * learns from prompts and their answers only and never reads a solution.
 */
class ScarceDemosTest {
  static SparkSession spark;
  static String lakeRoot;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("scarce-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  static final List<String> SMALL = List.of(
      "data.train_size=200", "data.valid_size=8", "data.test_size=8", "data.test_ood_size=8",
      "data.step_label_problems=0", "sft.max_demos=24",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=8",
      "sft.max_steps=4", "sft.eval_every=4", "sft.checkpoint_every=0", "sft.log_every=4",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "grpo.prompts_per_iteration=4", "grpo.group_size=2", "grpo.iterations=2", "grpo.max_new_tokens=16",
      "grpo.minibatch_size=8", "grpo.checkpoint_every=2", "grpo.eval_every=0", "grpo.threads=1",
      "eval.k=2", "eval.max_new_tokens=16", "eval.threads=1", "eval.sampled_problems=4");

  @Test
  void sftReadsOnlyTheConfiguredDemonstrationsAndRlNeverReadsASolution() throws Exception {
    var config = StageConfigs.load(System.getProperty("user.dir") + "/../conf/scarce.conf", SMALL);
    ConfigSections.checkKnown(config);
    List<String> stages = config.getStringList("quickstart.stages");
    assertTrue(stages.containsAll(List.of("data", "sft", "grpo")), stages.toString());
    for (String s : stages) Stages.run(spark, lakeRoot, "s1", s, config);

    ObjectMapper json = new ObjectMapper();
    JsonNode sft = json.readTree(Files.readString(Path.of(lakeRoot, "runs", "s1", "sft", "report.json")));
    assertEquals(24, sft.get("train_examples").asInt(), "of 200 train demonstrations, only max_demos are read");

    JsonNode grpo = json.readTree(Files.readString(Path.of(lakeRoot, "runs", "s1", "grpo", "report.json")));
    List<String> read = new ArrayList<>();
    grpo.path("reads").fieldNames().forEachRemaining(read::add);
    assertTrue(read.contains(Tables.PROMPTS), read.toString());
    assertFalse(read.contains(Tables.SFT_DEMOS) || read.contains(Tables.STEP_LABELS) || read.contains(Tables.PREFERENCES),
        "RL reads no solution: " + read);
    // It trains on prompts SFT never saw a solution of.
    Lake lake = new Lake(spark, lakeRoot);
    Set<String> sampled = lake.read(Tables.ROLLOUTS).filter("run_id = 's1' AND stage = 'grpo'")
        .select("prompt_id").distinct().collectAsList().stream().map(r -> r.getString(0)).collect(Collectors.toSet());
    assertTrue(sampled.stream().anyMatch(id -> id.compareTo("train-000024") >= 0), sampled.toString());

    org.junit.jupiter.api.Assertions.assertThrows(UserError.class,
        () -> Stages.get("sft").check(StageConfigs.load(null, List.of("sft.max_demos=-1"))));
  }
}
