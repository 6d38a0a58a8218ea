package org.sparkrlhf.core.run;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.lake.Lake;

/**
 * What a stage runs with: the Spark session, the lake, its run id and run folder
 * ({@code <lake>/runs/<run-id>/<stage>}), and the report it fills. {@link #finish()} writes
 * {@code report.json} with the stage's own figures plus the Delta versions it read and wrote.
 */
public final class RunContext {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Lake lake;
  private final String runId;
  private final String stage;
  private final Instant started = Instant.now();
  private final Map<String, Object> report = new LinkedHashMap<>();

  public RunContext(Lake lake, String runId, String stage) {
    this.lake = lake;
    this.runId = runId;
    this.stage = stage;
    report.put("stage", stage);
    report.put("run_id", runId);
    report.put("lake", lake.root());
    report.put("started_at", started.toString());
  }

  public SparkSession spark() {
    return lake.spark();
  }

  public Lake lake() {
    return lake;
  }

  public String runId() {
    return runId;
  }

  public String stage() {
    return stage;
  }

  /** {@code <lake>/runs/<run-id>/<stage>}: reports, checkpoints and other files of this stage. */
  public String runDir() {
    return lake.root() + "/runs/" + runId + "/" + stage;
  }

  /** Folder of another stage of the same run, e.g. the sft checkpoint for the eval stage. */
  public String runDir(String otherStage) {
    return lake.root() + "/runs/" + runId + "/" + otherStage;
  }

  /** Adds a figure to the report (insertion order is kept). */
  public RunContext put(String key, Object value) {
    report.put(key, value);
    return this;
  }

  /**
   * The stage's result in one line, in its own words (report key {@code summary}): what the quickstart prints per
   * stage, so no caller has to guess a stage's figures from its report keys.
   */
  public RunContext summary(String line) {
    return put("summary", line);
  }

  public Map<String, Object> report() {
    return report;
  }

  /** Writes report.json and returns its path. */
  public String finish() {
    Instant done = Instant.now();
    report.put("finished_at", done.toString());
    report.put("seconds", (done.toEpochMilli() - started.toEpochMilli()) / 1000.0);
    report.put("reads", new LinkedHashMap<>(lake.reads()));
    report.put("writes", new LinkedHashMap<>(lake.writes()));
    // commits that lost to another writer of the same table and were tried again (idempotent, so safe)
    report.put("write_conflicts_retried", lake.conflictsRetried());
    String path = runDir() + "/report.json";
    HadoopFiles.writeText(path, toJson(report));
    return path;
  }

  public static String toJson(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
