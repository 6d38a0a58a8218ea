package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.task.Solver;
import org.sparkrlhf.grpo.train.GrpoConfig;

/**
 * rbr on hand-made completions of the data stage's prompts, three per prompt: a correct solution, the right answer
 * after a wrong step, and a wrong answer. With correctness alone the first two tie, so a third of the pairs are not
 * ordered; the fitted weights order every held-out pair, and the config file they are written to is one GRPO takes.
 */
class RbrStageTest {
  static SparkSession spark;
  static String lakeRoot;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("rbr-stage-test");
    var config = StageConfigs.load(null, List.of("data.train_size=40", "data.valid_size=4", "data.test_size=4",
        "data.test_ood_size=4", "data.step_label_problems=0"));
    Stages.run(spark, lakeRoot, "r1", "data", config);
    Lake lake = new Lake(spark, lakeRoot);
    String[] fields = Tables.get(Tables.ROLLOUTS).schema().fieldNames();
    List<Row> rows = new ArrayList<>();
    for (Row p : lake.read(Tables.PROMPTS).filter("split = 'train'").select("id", "prompt").collectAsList()) {
      String expr = p.getString(1).substring(0, p.getString(1).indexOf("=?"));
      List<String> steps = Solver.steps(expr);
      long answer = Solver.evaluate(expr);
      List<String> wrongStep = new ArrayList<>(steps);
      wrongStep.set(0, steps.get(0) + "0");
      String[] completions = {Solver.completion(steps, answer), Solver.completion(wrongStep, answer),
          Solver.completion(steps, answer + 1)};
      for (int s = 0; s < completions.length; s++) {
        Object[] v = new Object[fields.length];
        for (int k = 0; k < fields.length; k++) {
          String text = completions[s];
          v[k] = switch (fields[k]) {
            case "run_id" -> "r1";
            case "stage" -> "rollouts";
            case "iteration" -> 0;
            case "dataset" -> "arith";
            case "prompt_id" -> p.getString(0);
            case "sample_index" -> s;
            case "prompt" -> p.getString(1);
            case "completion" -> text;
            case "token_ids" -> new int[text.length() + 1];
            case "token_logprobs" -> new float[text.length() + 1];
            case "finish_reason" -> "eos";
            case "policy_version" -> 0L;
            default -> null;
          };
        }
        rows.add(RowFactory.create(v));
      }
    }
    lake.appendOnce(Tables.ROLLOUTS, lake.frame(Tables.ROLLOUTS, rows).drop("created_at"), "r1/test/rollouts", 0);
  }

  @Test
  void fittedWeightsOrderTheHeldOutPairsAndGoToGrpo() throws Exception {
    var config = StageConfigs.load(null, List.of("rbr.eval_share=0.3"));
    String report = Stages.run(spark, lakeRoot, "r1", "rbr", config);
    JsonNode r = new ObjectMapper().readTree(Files.readString(Path.of(report)));
    assertEquals(120, r.get("completions").asInt());
    assertEquals(3 * 40, r.get("train_pairs").asLong() + r.get("held_out_pairs").asLong(), "3 pairs per prompt");
    assertEquals(2.0 / 3, r.get("held_out_order_accuracy_before").asDouble(), 1e-12, r.toString());
    assertEquals(1.0, r.get("held_out_order_accuracy_after").asDouble(), 1e-12, r.toString());
    JsonNode w = r.get("weights");
    assertTrue(w.get("correct_answer").asDouble() > 0 && w.get("step_validity").asDouble() > 0, w.toString());

    // The fitted reward is a config file GRPO reads: its weights are the report's.
    String conf = r.get("reward_conf").asText();
    GrpoConfig g = StageConfigs.bind(StageConfigs.load(conf, List.of()), "grpo", GrpoConfig.class);
    assertEquals(4, g.reward.rules.size());
    assertEquals(w.get("step_validity").asDouble(), g.reward.rules.get(2).weight, 1e-12);

    // A ranking that is not SQL over the features is a one-line error.
    UserError e = assertThrows(UserError.class, () -> Stages.run(spark, lakeRoot, "r1", "rbr",
        StageConfigs.load(null, List.of("rbr.ranking=[\"no_such_rule = 1\", \"true\"]"))));
    assertTrue(e.getMessage().startsWith("rbr.ranking") && !e.getMessage().contains("\n"), e.getMessage());
  }
}
