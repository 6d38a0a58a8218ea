package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.sparkrlhf.core.task.Checker;

class DataStageTest {
  static SparkSession spark;
  static String lakeRoot;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("data-test");
  }

  private static final List<String> SMALL = List.of(
      "data.train_size=200", "data.valid_size=20", "data.test_size=30", "data.test_ood_size=10",
      "data.step_label_problems=50", "data.teacher.pair_share=0");

  @Test
  void writesCheckableRowsOnceAndRefusesADifferentGeneratorUnderTheSameName() {
    Stages.run(spark, lakeRoot, "d1", "data", StageConfigs.load(null, SMALL));
    Lake lake = new Lake(spark, lakeRoot);
    List<Row> demos = lake.read(Tables.SFT_DEMOS).filter("dataset = 'arith'").collectAsList();
    assertEquals(260, demos.size());
    for (Row r : demos) {
      Checker.Grade g = Checker.grade(r.getAs("prompt"), r.getAs("completion"));
      assertTrue(g.formatOk() && g.correct() && g.allStepsCorrect(), r.toString());
    }
    // prompts carry the reference answer the checker agrees with
    for (Row r : lake.read(Tables.PROMPTS).filter("dataset = 'arith'").limit(50).collectAsList()) {
      String prompt = r.getAs("prompt");
      assertEquals(Long.parseLong(r.getAs("answer")), Checker.grade(prompt, "#### " + r.getAs("answer") + "\n").predicted());
    }
    // Operators per problem: 1..3 in the in-distribution splits, exactly max_ops + 1 (ood_extra_ops 1) in test_ood.
    for (Row r : lake.read(Tables.PROMPTS).filter("dataset = 'arith'").collectAsList()) {
      String expression = r.<String>getAs("prompt").split("=")[0];
      long operators = expression.chars().skip(1).filter(ch -> ch == '+' || ch == '-' || ch == '*').count();
      if (r.<String>getAs("split").equals("test_ood")) {
        assertEquals(4, operators, expression);
      } else {
        assertTrue(operators >= 1 && operators <= 3, expression);
      }
    }
    long labelled = lake.read(Tables.STEP_LABELS).filter("dataset = 'arith'").count();
    long wrong = lake.read(Tables.STEP_LABELS).filter("dataset = 'arith' and array_contains(labels, false)").count();
    assertTrue(wrong > 0 && wrong < labelled, "both classes of step labels: " + wrong + "/" + labelled);

    // Re-run under another run id: the data is the same, so nothing is added.
    Stages.run(spark, lakeRoot, "d2", "data", StageConfigs.load(null, SMALL));
    assertEquals(260, lake.read(Tables.SFT_DEMOS).filter("dataset = 'arith'").count());
    assertEquals(labelled, lake.read(Tables.STEP_LABELS).filter("dataset = 'arith'").count());

    List<String> otherSeed = new java.util.ArrayList<>(SMALL);
    otherSeed.add("data.seed=99");
    UserError e = assertThrows(UserError.class,
        () -> Stages.run(spark, lakeRoot, "d3", "data", StageConfigs.load(null, otherSeed)));
    assertTrue(e.getMessage().contains("already exists with other settings"), e.getMessage());
  }

  @Test
  void aFlawedTeachersWrongStepsReachTheDemosAndStepLabelsWhileAnswersStayTrue() throws Exception {
    List<String> flawed = new java.util.ArrayList<>(SMALL);
    flawed.addAll(List.of("data.dataset=flawed", "data.train_size=2000", "data.step_label_problems=2000",
        "data.teacher.pair_share=0.28", "data.teacher.error_rate=0.7"));
    String report = Stages.run(spark, lakeRoot, "f1", "data", StageConfigs.load(null, flawed));
    Lake lake = new Lake(spark, lakeRoot);
    List<Row> demos = lake.read(Tables.SFT_DEMOS).filter("dataset = 'flawed'").collectAsList();
    java.util.Map<String, String> answers = new java.util.HashMap<>();
    for (Row r : lake.read(Tables.PROMPTS).filter("dataset = 'flawed'").collectAsList()) {
      answers.put(r.getAs("id"), r.getAs("answer"));
    }
    java.util.Set<String> wrongDemos = new java.util.HashSet<>();
    int trainDemos = 0;
    int trainCorrect = 0;
    for (Row r : demos) {
      String prompt = r.getAs("prompt");
      Checker.Grade g = Checker.grade(prompt, r.getAs("completion"));
      // prompts keep the true answer whatever the teacher wrote
      assertEquals(org.sparkrlhf.core.task.Solver.evaluate(Checker.expressionOf(prompt)),
          Long.parseLong(answers.get(r.<String>getAs("id"))));
      assertTrue(g.formatOk(), r.toString());
      if (r.getAs("split").equals("train")) {
        trainDemos++;
        trainCorrect += g.correct() ? 1 : 0;
        if (!g.allStepsCorrect()) wrongDemos.add(r.getAs("id"));
      } else {
        assertTrue(g.correct() && g.allStepsCorrect(), "held-out splits keep the true solution: " + r);
      }
    }
    // The reward GRPO optimises and the grade eval reports read the prompt's true answer: the teacher's wrong
    // demonstrations score 0 there, the true solutions 1.
    var reward = org.sparkrlhf.reward.rules.RewardFunction.of(org.sparkrlhf.grpo.train.GrpoConfig.defaultReward());
    int gradedWrong = 0;
    for (Row r : demos) {
      String id = r.getAs("id");
      String completion = r.getAs("completion");
      boolean teacherRight = Checker.grade(r.getAs("prompt"), completion).correct();
      var result = reward.apply(new org.sparkrlhf.reward.rules.RewardInput(r.getAs("prompt"), completion,
          answers.get(id), completion.length(), org.sparkrlhf.reward.rules.RewardInput.FINISH_STOP));
      assertEquals(teacherRight ? 1.0 : 0.0, result.parts().get("correct_answer"), id);
      assertEquals(teacherRight, org.sparkrlhf.reward.rules.OutcomeGrading.correct(completion, answers.get(id)), id);
      gradedWrong += teacherRight ? 0 : 1;
    }
    assertTrue(gradedWrong > 100, "wrong demonstrations graded wrong: " + gradedWrong);
    double accuracy = (double) trainCorrect / trainDemos;
    assertTrue(accuracy > 0.80 && accuracy < 0.90, "teacher accuracy " + accuracy);
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(new java.io.File(report));
    assertEquals(accuracy, json.path("teacher").path("accuracy").asDouble(), 1e-12);
    assertEquals(0.7, json.path("teacher").path("measured_error_rate").asDouble(), 0.05);
    assertEquals(28, json.path("teacher").path("flawed_reductions").size());

    // Every wrong demonstration of a labelled problem has a 'teacher' row, false exactly at its first wrong step.
    List<Row> teacherRows = lake.read(Tables.STEP_LABELS).filter("dataset = 'flawed' and kind = 'teacher'").collectAsList();
    assertEquals(wrongDemos.size(), teacherRows.size());
    for (Row r : teacherRows) {
      String id = r.getAs("id");
      assertTrue(wrongDemos.contains(id.substring(0, id.length() - 2)), id);
      List<Boolean> labels = r.getList(r.fieldIndex("labels"));
      List<String> steps = r.getList(r.fieldIndex("steps"));
      assertEquals(labels.size() - 1, labels.indexOf(false), r.toString());
      assertEquals(labels, Checker.labelSteps(
          org.sparkrlhf.core.task.Expression.parse(Checker.expressionOf(r.getAs("prompt"))), steps));
    }
  }
}
