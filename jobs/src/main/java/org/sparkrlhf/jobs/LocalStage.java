package org.sparkrlhf.jobs;

import com.typesafe.config.Config;
import org.sparkrlhf.core.run.RunContext;

/**
 * A stage that reads no table and starts no Spark: it turns the settings into files (e.g. {@code airflow-dag}), so
 * the command line runs it in a plain JVM, without the seconds a Spark application costs.
 */
public interface LocalStage extends Stage {
  /**
   * Runs the stage.
   *
   * @param lake the lake root as the command line resolved it
   * @param runId the run id given with {@code --run-id}, or null when none was given
   * @return what the command prints as its last line (the path of what it wrote)
   */
  String runLocal(String lake, String runId, Config config);

  /** Inside a running Spark application it does the same, under that application's lake and run id. */
  @Override
  default void run(RunContext ctx, Config config) {
    ctx.put("wrote", runLocal(ctx.lake().root(), ctx.runId(), config));
  }
}
