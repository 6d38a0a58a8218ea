package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.SafeTensors;

/**
 * {@code sft --set sft.lr=1e5 --set sft.grad_clip=0}: the loss turns NaN within a few steps. The stage must end
 * with one line naming the step and the last good checkpoint, with no checkpoint holding a NaN weight in the
 * {@code checkpoints} table or the run's folder, and the skips counted in {@code metrics}.
 */
class NonFiniteTrainingTest {
  static SparkSession spark;
  static String lakeRoot;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("non-finite-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  /** Every float of a checkpoint folder's weights file is finite. */
  static boolean finite(Path checkpoint) throws IOException {
    for (SafeTensors.Tensor t : SafeTensors.read(Files.readAllBytes(checkpoint.resolve(HfCheckpoint.WEIGHTS)))
        .tensors().values()) {
      for (float v : t.data()) {
        if (!Float.isFinite(v)) return false;
      }
    }
    return true;
  }

  @Test
  void aDivergingSftEndsWithOneLineAndRegistersNoNonFiniteCheckpoint() throws IOException {
    var config = StageConfigs.load(null, SftEvalStageTest.concat(SftEvalStageTest.SETTINGS,
        "sft.lr=1e5", "sft.grad_clip=0", "sft.max_steps=60", "sft.checkpoint_every=4", "sft.log_every=1",
        "sft.eval_every=0", "sft.eval_accuracy_problems=0"));
    Stages.run(spark, lakeRoot, "nan", "data", config);
    UserError e = assertThrows(UserError.class, () -> Stages.run(spark, lakeRoot, "nan", "sft", config));
    String msg = e.getMessage();
    assertFalse(msg.contains("\n"), msg);
    assertTrue(msg.matches("(optimizer step \\d+: .*more than max_skipped_steps 10|refusing to write .*NaN or infinite)"
        + "; last good checkpoint: (none|\\S+/runs/nan/sft/checkpoints/step-\\d{6}) \\(.*\\)"), msg);

    Lake lake = new Lake(spark, lakeRoot);
    List<Row> registered = lake.read(Tables.CHECKPOINTS).filter("run_id = 'nan' AND stage = 'sft'")
        .orderBy("step").collectAsList();
    for (Row r : registered) {
      assertTrue(finite(Path.of(r.<String>getAs("path"))), "registered checkpoint with a non-finite weight: " + r);
    }
    String named = msg.replaceAll(".*; last good checkpoint: (\\S+) \\(.*", "$1");
    assertEquals(registered.isEmpty() ? "none" : registered.get(registered.size() - 1).getAs("path"), named,
        "the last good checkpoint named is the newest registered one");
    Path folder = Path.of(lakeRoot, "runs", "nan", "sft", "checkpoints");
    List<Path> written = new ArrayList<>();
    if (Files.isDirectory(folder)) {
      try (Stream<Path> dirs = Files.list(folder)) {
        dirs.forEach(written::add);
      }
    }
    for (Path dir : written) {
      assertTrue(finite(dir), "a checkpoint folder with a non-finite weight: " + dir);
    }
    assertEquals(registered.size(), written.size(), "every folder written is registered: " + written);

    // The skips are in the metrics, up to the last step logged before the stop.
    List<Row> skipped = lake.read(Tables.METRICS)
        .filter("run_id = 'nan' AND stage = 'sft' AND name = 'skipped_steps'").orderBy("step").collectAsList();
    assertFalse(skipped.isEmpty(), "skipped_steps rows were flushed before the error");
    double most = skipped.get(skipped.size() - 1).<Double>getAs("value");
    assertTrue(most >= 1 && most <= 10, "skips counted: " + most);
    System.out.printf("non-finite sft: %s | %d checkpoints registered | skipped_steps %s%n", msg, registered.size(),
        skipped.stream().map(r -> r.getAs("step") + ":" + r.getAs("value")).toList());
  }
}
