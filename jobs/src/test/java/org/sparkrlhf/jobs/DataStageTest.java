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
      "data.step_label_problems=50");

  @Test
  void writesCheckableRowsOnceAndRefusesADifferentGeneratorUnderTheSameName() {
    Stages.run(spark, lakeRoot, "d1", "data", StageConfigs.load(null, SMALL));
    Lake lake = new Lake(spark, lakeRoot);
    List<Row> demos = lake.read(Tables.SFT_DEMOS).collectAsList();
    assertEquals(260, demos.size());
    for (Row r : demos) {
      Checker.Grade g = Checker.grade(r.getAs("prompt"), r.getAs("completion"));
      assertTrue(g.formatOk() && g.correct() && g.allStepsCorrect(), r.toString());
    }
    // prompts carry the reference answer the checker agrees with
    for (Row r : lake.read(Tables.PROMPTS).limit(50).collectAsList()) {
      String prompt = r.getAs("prompt");
      assertEquals(Long.parseLong(r.getAs("answer")), Checker.grade(prompt, "#### " + r.getAs("answer") + "\n").predicted());
    }
    long labelled = lake.read(Tables.STEP_LABELS).count();
    long wrong = lake.read(Tables.STEP_LABELS).filter("array_contains(labels, false)").count();
    assertTrue(wrong > 0 && wrong < labelled, "both classes of step labels: " + wrong + "/" + labelled);

    // Re-run under another run id: the data is the same, so nothing is added.
    Stages.run(spark, lakeRoot, "d2", "data", StageConfigs.load(null, SMALL));
    assertEquals(260, lake.read(Tables.SFT_DEMOS).count());
    assertEquals(labelled, lake.read(Tables.STEP_LABELS).count());

    List<String> otherSeed = new java.util.ArrayList<>(SMALL);
    otherSeed.add("data.seed=99");
    UserError e = assertThrows(UserError.class,
        () -> Stages.run(spark, lakeRoot, "d3", "data", StageConfigs.load(null, otherSeed)));
    assertTrue(e.getMessage().contains("already exists with other settings"), e.getMessage());
  }
}
