package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/** bin/rlhf end to end: the real jar through SparkSubmit on local[2]. */
class LauncherIT {
  @Test
  void dataStageThroughSparkSubmit() throws Exception {
    String lakeRoot = TestSpark.newLake("launcher-it");
    String[] args = {
      "data", "--master", "local[2]", "--lake", lakeRoot, "--run-id", "it-data",
      "--set", "data.train_size=300", "--set", "data.valid_size=50", "--set", "data.test_size=60",
      "--set", "data.test_ood_size=40", "--set", "data.step_label_problems=20"
    };
    Launcher.Result r = Launcher.rlhf(Map.of(), args);
    assertEquals(0, r.code(), r.stderr());
    Path report = Path.of(r.lastLine());
    assertEquals(Path.of(lakeRoot, "runs", "it-data", "data", "report.json"), report, r.stdout());
    JsonNode json = new ObjectMapper().readTree(Files.readString(report));
    assertTrue(json.path("writes").has("prompts"), json.toString());
    assertEquals(300, json.path("problems").path("train").asInt());
    // Spark's own INFO lines go to the run's log file, not to the console
    String log = Files.readString(Path.of(lakeRoot, "runs", "it-data", "data", "spark.log"));
    assertTrue(log.contains(" INFO SparkContext: "), log.substring(0, Math.min(2000, log.length())));
    assertTrue(r.stderr().lines().noneMatch(l -> l.contains(" INFO ")), r.stderr());
    // the run's report page, written through the application jar (its Jinjava and JFreeChart)
    Path html = Path.of(lakeRoot, "runs", "it-data", "report.html");
    assertTrue(r.stdout().contains("run report: " + html), r.stdout() + r.stderr());
    assertTrue(Files.readString(html).contains("problems {train=300"), "the data stage's result on the page");

    SparkSession spark = TestSpark.session();
    Lake lake = new Lake(spark, lakeRoot);
    assertEquals(450, lake.read(Tables.PROMPTS).count());
    assertEquals(450, lake.read(Tables.SFT_DEMOS).count());
    long labels = lake.read(Tables.STEP_LABELS).count();
    assertTrue(labels >= 40, "a correct and a corrupted solution per labelled problem: " + labels);

    // Same run again: nothing is added.
    Launcher.Result again = Launcher.rlhf(Map.of(), args);
    assertEquals(0, again.code(), again.stderr());
    assertEquals(450, lake.read(Tables.PROMPTS).count());
    assertEquals(labels, lake.read(Tables.STEP_LABELS).count());
  }

  @Test
  void helpListsTheStagesAndMistakesAreOneLine() throws Exception {
    Launcher.Result help = Launcher.rlhf(Map.of(), "--help");
    assertEquals(0, help.code(), help.stderr());
    for (String stage : Stages.all().keySet()) {
      assertTrue(help.stdout().contains(stage), help.stdout());
    }

    Launcher.Result badFlag = Launcher.rlhf(Map.of(), "data", "--bogus");
    assertEquals(2, badFlag.code());
    assertOneLine(badFlag.stderr(), "--bogus");

    Launcher.Result badKey = Launcher.rlhf(Map.of(), "data", "--set", "data.trian_size=5");
    assertEquals(2, badKey.code());
    assertOneLine(badKey.stderr(), "data.trian_size");

    Launcher.Result badSection = Launcher.rlhf(Map.of(), "data", "--set", "dta.train_size=5");
    assertEquals(2, badSection.code());
    assertOneLine(badSection.stderr(), "dta");
  }

  /** The user sees exactly one line from us, naming the culprit, and no stack trace. */
  private static void assertOneLine(String stderr, String mentions) {
    String ours = stderr.lines().filter(l -> l.startsWith("rlhf:")).reduce("", (a, b) -> a + b + "\n");
    assertEquals(1, ours.lines().count(), stderr);
    assertTrue(ours.contains(mentions), stderr);
    assertTrue(!stderr.contains("\tat "), "no stack trace: " + stderr);
  }
}
