package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/** sft then eval in one run: checkpoints carry their data versions, metrics land once, eval re-grades. */
class SftEvalStageTest {
  static SparkSession spark;
  static String lakeRoot;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("sft-eval-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  static final List<String> SETTINGS = List.of(
      "data.train_size=300", "data.valid_size=20", "data.test_size=24", "data.test_ood_size=8",
      "data.step_label_problems=0",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=40", "sft.eval_every=20", "sft.checkpoint_every=20", "sft.log_every=10",
      "sft.eval_accuracy_problems=8", "sft.threads=1",
      "eval.k=2", "eval.max_new_tokens=40", "eval.threads=1");

  static List<String> concat(List<String> base, String... more) {
    List<String> out = new java.util.ArrayList<>(base);
    out.addAll(List.of(more));
    return out;
  }

  @Test
  void sftThenEvalInOneRun() throws Exception {
    var config = StageConfigs.load(null, SETTINGS);
    Stages.run(spark, lakeRoot, "r1", "data", config);
    String sftReport = Stages.run(spark, lakeRoot, "r1", "sft", config);
    Lake lake = new Lake(spark, lakeRoot);
    long demosVersion = lake.version(Tables.SFT_DEMOS);

    List<Row> ckpts = lake.read(Tables.CHECKPOINTS).filter("run_id = 'r1' AND stage = 'sft'").orderBy("step").collectAsList();
    assertEquals(2, ckpts.size(), "every 20 steps, the last one being the final");
    for (Row r : ckpts) {
      assertEquals(demosVersion, ((scala.collection.Map<String, Object>) r.getAs("data_versions")).apply(Tables.SFT_DEMOS));
      Path dir = Path.of(r.<String>getAs("path"));
      assertTrue(Files.exists(dir.resolve("config.json")) && Files.exists(dir.resolve("model.safetensors"))
          && Files.exists(dir.resolve("tokenizer.json")), dir.toString());
    }
    long lossRows = lake.read(Tables.METRICS).filter("run_id = 'r1' AND stage = 'sft' AND name = 'loss'").count();
    assertEquals(4, lossRows, "one loss row per 10 steps");
    JsonNode sft = new ObjectMapper().readTree(Files.readString(Path.of(sftReport)));
    for (String key : List.of("train_loss", "valid_loss", "tokens_per_s", "mfu", "checkpoint")) {
      assertTrue(sft.hasNonNull(key), "report has " + key + ": " + sft);
    }
    assertEquals(demosVersion, sft.path("reads").path(Tables.SFT_DEMOS).asLong());

    String evalReport = Stages.run(spark, lakeRoot, "r1", "eval-sft-test", config);
    JsonNode eval = new ObjectMapper().readTree(Files.readString(Path.of(evalReport)));
    assertEquals(24, eval.get("n").asInt());
    assertEquals(ckpts.get(1).<String>getAs("path"), eval.get("checkpoint").asText(), "the newest sft checkpoint");
    List<String> lines = Files.readAllLines(Path.of(eval.get("completions").asText()));
    assertEquals(24, lines.size());
    int correct = 0;
    for (String l : lines) {
      JsonNode n = new ObjectMapper().readTree(l);
      boolean regraded = org.sparkrlhf.reward.rules.OutcomeGrading.correct(n.get("completion").asText(), n.get("answer").asText());
      assertEquals(regraded, n.get("correct").asBoolean(), "anyone can re-grade the raw text");
      correct += regraded ? 1 : 0;
    }
    assertEquals(correct / 24.0, eval.get("greedy_accuracy").asDouble(), 1e-9);
    assertTrue(eval.has("pass_at_k") && eval.has("format_rate"));

    // Compared problem by problem against itself (the same checkpoint under another stage name): no difference.
    var againstSft = StageConfigs.load(null, concat(SETTINGS, "eval.baseline=eval-sft-test", "eval.k=0"));
    JsonNode same = new ObjectMapper().readTree(Files.readString(Path.of(Stages.run(spark, lakeRoot, "r1", "eval", againstSft))));
    assertEquals(24, same.path("paired").path("n").asInt(), same.toString());
    assertEquals(0.0, same.path("paired").path("difference").asDouble(-1), 0.0);
    assertEquals(0, same.path("paired").path("worse").asInt(-1));
    assertEquals(eval.get("greedy_accuracy").asDouble(), same.path("paired").path("baseline_accuracy").asDouble(), 1e-12);
    var missing = StageConfigs.load(null, concat(SETTINGS, "eval.baseline=eval-dpo-test", "eval.k=0"));
    org.sparkrlhf.core.UserError e = org.junit.jupiter.api.Assertions.assertThrows(org.sparkrlhf.core.UserError.class,
        () -> Stages.run(spark, lakeRoot, "r1", "eval", missing));
    assertTrue(e.getMessage().contains("eval.baseline"), e.getMessage());

    // The same eval again under the same run id: metrics are not duplicated.
    Stages.run(spark, lakeRoot, "r1", "eval-sft-test", config);
    assertEquals(1, lake.read(Tables.METRICS).filter("run_id = 'r1' AND stage = 'eval-sft-test' AND name = 'greedy_accuracy'").count());
  }
}
