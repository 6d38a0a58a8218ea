package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.jobs.stages.CompareConfig;
import org.sparkrlhf.jobs.stages.CompareStage;

/**
 * {@code compare} on a tiny lake: two settings (the second a config file layered over the first), SFT continued in the
 * same run as the stage instance {@code sft_more:sft}, and the table read back against the reports it was made from.
 */
class CompareStageTest {
  static SparkSession spark;
  static String lakeRoot;
  static Path dir;

  static final List<String> SMALL = List.of(
      "data.train_size=60", "data.valid_size=4", "data.test_size=12", "data.test_ood_size=6",
      "data.step_label_problems=0", "data.min_ops=1", "data.max_ops=2",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=8",
      "sft.max_steps=6", "sft.eval_every=6", "sft.checkpoint_every=0", "sft.log_every=6",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "eval.k=0", "eval.max_new_tokens=16", "eval.threads=1");

  /** The two settings: one continuing its SFT, one a file whose SFT reads fewer demonstrations. */
  static Config config(String extra) throws Exception {
    Files.writeString(dir.resolve("few.conf"), "data { dataset = few }\nsft { dataset = few, max_demos = 10 }\n"
        + "eval { dataset = few }\n");
    Files.writeString(dir.resolve("compare.conf"), """
        compare {
          settings = [
            { name = main, stages = [data, sft, eval-sft-test, eval-sft-test_ood,
                "sft_more:sft", eval-sft_more-test, eval-sft_more-test_ood] }
            { name = few, conf = "%s", stages = [data, sft, eval-sft-test, eval-sft-test_ood] }
          ]
          rows = [
            { label = "SFT", setting = main, model = sft }
            { label = "continued SFT", setting = main, model = sft_more }
            { label = "SFT on 10", setting = few, model = sft, cost = [data, sft] }
          ]
        }
        sft_more { init_stage = sft, max_steps = 3, lr = 1e-4 }
        """.formatted(dir.resolve("few.conf")) + extra);
    return StageConfigs.load(dir.resolve("compare.conf").toString(), SMALL);
  }

  @BeforeAll
  static void start() throws Exception {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("compare-stage-test");
    dir = Files.createTempDirectory("compare-conf");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  private static JsonNode read(String path) throws Exception {
    return new ObjectMapper().readTree(Files.readString(Path.of(path)));
  }

  @Test
  void runsEverySettingAndTabulatesWhatItsReportsSay() throws Exception {
    Config config = config("");
    ConfigSections.checkKnown(config);
    JsonNode report = read(Stages.run(spark, lakeRoot, "c1", "compare", config));
    Lake lake = new Lake(spark, lakeRoot);

    // The instance wrote under its own name, from the run's SFT policy, with its own (layered) settings.
    Row more = lake.read(Tables.CHECKPOINTS).filter("run_id = 'c1-main' AND stage = 'sft_more'").first();
    String sft = lake.read(Tables.CHECKPOINTS).filter("run_id = 'c1-main' AND stage = 'sft'").select("path")
        .as(Encoders.STRING()).first();
    assertEquals(sft, more.getAs("parent"), "continued SFT starts from the run's sft policy");
    assertEquals(3L, (long) more.getAs("step"), "sft_more's own max_steps, layered over sft's");
    assertTrue(((String) more.getAs("path")).contains("/c1-main/sft_more/checkpoints/"), more.toString());
    // The second setting's file was layered: its SFT read its own dataset, at most 10 demonstrations.
    JsonNode few = read(lakeRoot + "/runs/c1-few/sft/report.json");
    assertEquals("few", few.path("config").path("dataset").asText());
    assertEquals(10, few.path("config").path("maxDemos").asInt());

    JsonNode rows = report.get("rows");
    assertEquals(3, rows.size());
    JsonNode sftEval = read(lakeRoot + "/runs/c1-main/eval-sft-test/report.json");
    JsonNode moreEval = read(lakeRoot + "/runs/c1-main/eval-sft_more-test/report.json");
    assertEquals(sftEval.get("greedy_accuracy").asDouble(), rows.get(0).get("accuracy").asDouble());
    assertFalse(rows.get(0).has("difference"), "SFT is the baseline, not paired against itself");
    assertEquals(moreEval.get("greedy_accuracy").asDouble(), rows.get(1).get("accuracy").asDouble());
    assertEquals(moreEval.path("paired").path("difference").asDouble(), rows.get(1).get("difference").asDouble());
    assertTrue(moreEval.path("paired").path("completions").asText().endsWith("/c1-main/eval-sft-test/completions.jsonl"),
        "paired against the setting's SFT");
    assertEquals(read(lakeRoot + "/runs/c1-main/sft_more/report.json").get("seconds").asDouble(),
        rows.get(1).get("seconds").asDouble(), 1e-9);
    assertEquals(read(lakeRoot + "/runs/c1-few/data/report.json").get("seconds").asDouble()
        + read(lakeRoot + "/runs/c1-few/sft/report.json").get("seconds").asDouble(),
        rows.get(2).get("seconds").asDouble(), 1e-9, "a row's cost adds up the stages it names");
    assertEquals(read(lakeRoot + "/runs/c1-few/eval-sft-test_ood/report.json").get("greedy_accuracy").asDouble(),
        rows.get(2).get("ood_accuracy").asDouble());
    String md = Files.readString(Path.of(report.get("table").asText()));
    assertEquals(2 + 3, md.lines().count(), md);
    assertTrue(md.lines().toList().get(3).startsWith("| continued SFT | main | "), md);
  }

  @Test
  void aMissingReportIsAOneLineError() throws Exception {
    CompareConfig c = StageConfigs.bind(config(""), "compare", CompareConfig.class);
    UserError e = assertThrows(UserError.class, () -> CompareStage.table(lakeRoot, "never-ran", c));
    assertTrue(e.getMessage().startsWith("compare: no report at ") && !e.getMessage().contains("\n"), e.getMessage());
  }

  @Test
  void mistakesAreCaughtBeforeAnythingRuns() throws Exception {
    List<String> errors = new ArrayList<>();
    for (String extra : List.of(
        // a row whose evaluation the pipeline does not run
        "compare.rows += { label = GRPO, setting = main, model = grpo }",
        // a row of a setting that does not exist
        "compare.rows += { label = X, setting = other, model = sft }",
        // a stage that cannot run under another name
        "compare.settings += { name = two, stages = [\"grpo_b:grpo\"] }",
        // compare inside compare
        "compare.settings += { name = nested, stages = [compare] }",
        // a section that no stage or instance reads
        "sft_mor { max_steps = 1 }")) {
      Config config = config("\n" + extra + "\n");
      UserError e = assertThrows(UserError.class, () -> {
        ConfigSections.checkKnown(config);
        Stages.check("compare", config);
      }, extra);
      assertFalse(e.getMessage().contains("\n"), e.getMessage());
      errors.add(e.getMessage());
    }
    assertTrue(errors.get(0).contains("'eval-grpo-test'"), errors.get(0));
    assertTrue(errors.get(1).contains("setting 'other'"), errors.get(1));
    assertTrue(errors.get(2).contains("cannot run under another name"), errors.get(2));
    assertTrue(errors.get(3).contains("cannot run 'compare'"), errors.get(3));
    assertTrue(errors.get(4).contains("unknown config section 'sft_mor'"), errors.get(4));
  }

  @Test
  void theCommandLineStillWinsOverASettingsFile() throws Exception {
    config("");
    Config config = StageConfigs.load(dir.resolve("compare.conf").toString(), List.of("sft.max_demos=7", "sft.dataset=other"));
    CompareConfig c = StageConfigs.bind(config, "compare", CompareConfig.class);
    Config few = StageConfigs.layered(c.settings.get(1).conf, config);
    assertEquals(7, few.getInt("sft.max_demos"), "--set over the file's max_demos = 10");
    assertEquals("other", few.getString("sft.dataset"));
    assertEquals("few", few.getString("data.dataset"), "the file over the rest");
  }
}
