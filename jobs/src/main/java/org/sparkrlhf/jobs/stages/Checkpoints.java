package org.sparkrlhf.jobs.stages;

import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sparkrlhf.core.NonFiniteError;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

/**
 * Writes checkpoints in Hugging Face layout under {@code <run>/<stage>/checkpoints/step-N} and registers
 * each in the {@code checkpoints} table with the Delta versions the stage read, so any checkpoint names
 * the exact data that made it. A model that is not finite is never saved, and a training that diverges ends with
 * the last checkpoint saved here named in its error ({@link #training}).
 */
final class Checkpoints {
  /** The provenance key of {@link org.sparkrlhf.core.run.Numerics#current()} (and Spark's default parallelism). */
  static final String NUMERICS = "numerics";

  private final RunContext ctx;
  private final String stage;
  private final String kind;
  private final String parent;
  private final String configJson;
  /** The newest checkpoint saved (or resumed from) by this stage in this run; null before the first. */
  private String last;

  Checkpoints(RunContext ctx, String stage, String kind, String parent, String configJson) {
    this.ctx = ctx;
    this.stage = stage;
    this.kind = kind;
    this.parent = parent;
    this.configJson = configJson;
  }

  String save(long step, LlamaModel model, TextTokenizer tok, Map<String, Object> provenance) {
    return save(step, model, tok, provenance, dir -> {});
  }

  /**
   * Saves, lets {@code beside} write more files into the folder (e.g. a trainer state), then registers the
   * checkpoint: a registered checkpoint is always complete.
   */
  String save(long step, LlamaModel model, TextTokenizer tok, Map<String, Object> provenance,
      java.util.function.Consumer<String> beside) {
    String path = ctx.runDir(stage) + "/checkpoints/step-" + String.format("%06d", step);
    // What besides config and data decides the weights (kernels, threads, how Spark splits the work): reproduce
    // compares it, so a rerun elsewhere says why it differs.
    Map<String, Object> recorded = new java.util.LinkedHashMap<>(provenance);
    Map<String, Object> numerics = org.sparkrlhf.core.run.Numerics.current();
    numerics.put("spark_default_parallelism", ctx.spark().sparkContext().defaultParallelism());
    recorded.put(NUMERICS, numerics);
    try {
      HfCheckpoint.save(model, tok.toTokenizerJson(), recorded, path);
    } catch (NonFiniteError e) {
      throw e.after(last);
    }
    beside.accept(path);
    Map<String, Long> versions = new java.util.LinkedHashMap<>(ctx.lake().reads());
    Row row = RowFactory.create(ctx.runId(), stage, step, path, kind,
        scala.jdk.javaapi.CollectionConverters.asScala(versions), parent, configJson, null);
    ctx.lake().appendOnce(Tables.CHECKPOINTS, ctx.lake().frame(Tables.CHECKPOINTS, List.of(row)).drop("created_at"),
        ctx.runId() + "/" + stage + "/checkpoints/" + kind, step);
    last = path;
    return path;
  }

  /**
   * Registers a checkpoint another run wrote as this stage's output too (a stage that runs others, like
   * {@code rsdpo}, names its result so {@code eval-<stage>-<split>} finds it): same path, the data versions and config
   * its own row records, parent {@link #parent}.
   */
  String adopt(long step, String path) {
    List<Row> own = ctx.lake().read(Tables.CHECKPOINTS)
        .filter(org.apache.spark.sql.functions.col("path").equalTo(path)).limit(1).collectAsList();
    if (own.isEmpty()) throw new IllegalStateException("no checkpoints row for " + path);
    Row source = own.get(0);
    Row row = RowFactory.create(ctx.runId(), stage, step, path, kind, source.getAs("data_versions"), parent,
        source.getAs("config_json"), null);
    ctx.lake().appendOnce(Tables.CHECKPOINTS, ctx.lake().frame(Tables.CHECKPOINTS, List.of(row)).drop("created_at"),
        ctx.runId() + "/" + stage + "/checkpoints/" + kind, step);
    last = path;
    return path;
  }

  /** {@code path} when one is given, else the newest {@code kind} checkpoint {@code stage} wrote in the run. */
  static String orLatest(Lake lake, String runId, String path, String stage, String kind) {
    return path.isBlank() ? latest(lake, runId, stage, kind) : path;
  }

  /** The newest checkpoint saved by {@link #save} (or given to {@link #resumedFrom}); null when none. */
  String last() {
    return last;
  }

  /** A resumed stage's good starting checkpoint, the last good one until this run saves another. */
  void resumedFrom(String path) {
    last = path;
  }

  /**
   * Runs {@code training}; when it stops on a non-finite step, runs {@code beforeFailing} (e.g. writing the
   * metrics measured so far, which say how it diverged) and rethrows the error naming {@link #last()}.
   */
  <T> T training(java.util.function.Supplier<T> training, Runnable beforeFailing) {
    try {
      return training.get();
    } catch (NonFiniteError e) {
      beforeFailing.run();
      throw e.after(last);
    }
  }

  /**
   * The newest checkpoint {@code stage} wrote in the run with a trainer state beside it (what {@code --resume}
   * continues from); a one-line error when there is none.
   */
  static String resumePoint(Lake lake, String runId, String stage) {
    return resumePoint(lake, runId, stage, "policy");
  }

  /** As {@link #resumePoint(Lake, String, String)}, for checkpoints of {@code kind} (e.g. {@code reward}). */
  static String resumePoint(Lake lake, String runId, String stage, String kind) {
    String path;
    try {
      path = latest(lake, runId, stage, kind);
    } catch (UserError e) {
      path = null;
    }
    if (path == null || !org.sparkrlhf.core.train.TrainerState.exists(path)) {
      throw new UserError(stage + " --resume: no " + stage + " checkpoint with a trainer state in run '" + runId
          + "' to resume from (run " + stage + " without --resume to start)");
    }
    return path;
  }

  /**
   * The checkpoints row that registered {@code path} (the first, when a stage such as {@code rsdpo} adopted it too);
   * null when the checkpoint was not made in this lake (brought from elsewhere). Paths compare as absolute, normalized
   * local paths when they have no scheme, so {@code ./lake/runs/r/sft/checkpoints/step-000010/} finds its row.
   */
  static Row registered(Lake lake, String path) {
    return registered(registered(lake), path);
  }

  /** Every row of the checkpoints table, oldest first: read once when looking up several paths. */
  static List<Row> registered(Lake lake) {
    return lake.read(Tables.CHECKPOINTS).orderBy("created_at").collectAsList();
  }

  /** As {@link #registered(Lake, String)}, among {@code rows}. */
  static Row registered(List<Row> rows, String path) {
    String want = normalized(path);
    for (Row r : rows) {
      if (normalized(r.getAs("path")).equals(want)) return r;
    }
    return null;
  }

  static String normalized(String path) {
    String p = path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
    if (p.startsWith("file:")) p = java.net.URI.create(p).getPath();
    if (p.contains("://")) return p;
    return java.nio.file.Path.of(p).toAbsolutePath().normalize().toString();
  }

  /** The newest checkpoint a stage wrote in a run, from the checkpoints table. */
  static String latest(Lake lake, String runId, String stage, String kind) {
    List<Row> rows = lake.read(Tables.CHECKPOINTS)
        .filter(org.apache.spark.sql.functions.col("run_id").equalTo(runId)
            .and(org.apache.spark.sql.functions.col("stage").equalTo(stage))
            .and(org.apache.spark.sql.functions.col("kind").equalTo(kind)))
        .orderBy(org.apache.spark.sql.functions.col("step").desc()).limit(1).collectAsList();
    if (rows.isEmpty()) {
      throw new UserError("no " + kind + " checkpoint from stage '" + stage + "' in run '" + runId
          + "' (run that stage first, or pass --checkpoint PATH)");
    }
    return rows.get(0).getAs("path");
  }

  /** The numerics a checkpoint recorded when it was saved; null for one saved before they were recorded. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> numerics(String checkpoint) {
    String file = checkpoint + "/" + org.sparkrlhf.core.model.HfCheckpoint.PROVENANCE;
    if (!org.sparkrlhf.core.io.HadoopFiles.exists(file)) return null;
    try {
      Map<String, Object> p = new com.fasterxml.jackson.databind.ObjectMapper().readValue(org.sparkrlhf.core.io.HadoopFiles.readText(file), Map.class);
      Object n = p.get(NUMERICS);
      return n instanceof Map<?, ?> m ? (Map<String, Object>) m : null;
    } catch (java.io.IOException e) {
      throw new UserError("cannot read " + file + ": " + e.getMessage());
    }
  }
}
