package org.sparkrlhf.core.run;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
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
    String path = runDir() + "/report.json";
    writeText(path, toJson(report));
    return path;
  }

  public static String toJson(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Writes a text file on any Hadoop file system (local by default). */
  public static void writeText(String file, String text) {
    Path p = new Path(file);
    try {
      FileSystem fs = p.getFileSystem(new org.apache.hadoop.conf.Configuration());
      fs.mkdirs(p.getParent());
      try (OutputStream out = fs.create(p, true)) {
        out.write(text.getBytes(StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  /** True when {@code file} (any Hadoop path) exists. */
  public static boolean exists(String file) {
    Path p = new Path(file);
    try {
      return p.getFileSystem(new org.apache.hadoop.conf.Configuration()).exists(p);
    } catch (IOException e) {
      return false;
    }
  }

  public static String readText(String file) {
    Path p = new Path(file);
    try {
      FileSystem fs = p.getFileSystem(new org.apache.hadoop.conf.Configuration());
      try (var in = fs.open(p)) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }
}
