package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/** Where the stages that train on preference pairs (dpo, reward) find them. */
final class PreferenceData {
  private PreferenceData() {}

  /** The configured dataset, else {@code arith-pairs-<run>}: what the pairs stage writes from this run's rollouts. */
  static String dataset(String configured, String runId) {
    return configured.isBlank() ? "arith-pairs-" + runId : configured;
  }

  /** The rows of {@code dataset} in {@code preferences} (the table is created empty when the lake has none). */
  static Dataset<Row> read(Lake lake, String dataset) {
    lake.ensure(Tables.PREFERENCES);
    return lake.read(Tables.PREFERENCES).filter(col("dataset").equalTo(dataset));
  }
}
