package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.run.Numerics;

/** bin/rlhf pins libtorch's kernels to the values the DAG generator and the numerics record name: one set of pins. */
class KernelPinsTest {
  @Test
  void theLauncherExportsEveryPinWithItsValueAndPassesItToTheExecutors() throws Exception {
    String script = Files.readString(Path.of(System.getProperty("rlhf.repoRoot", "..")).resolve("bin/rlhf"));
    for (Map.Entry<String, String> pin : Numerics.REPRODUCIBLE.entrySet()) {
      String k = pin.getKey();
      assertTrue(script.contains("export " + k + "=\"${" + k + ":-" + pin.getValue() + "}\""), k + " not exported as " + pin);
      assertTrue(script.contains("spark.executorEnv." + k + "=$" + k), k + " not passed to the executors");
      assertTrue(Numerics.PINS.contains(k), k + " is not among the variables a checkpoint records");
    }
  }
}
