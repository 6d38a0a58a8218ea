package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;

/**
 * Buffers metric values on the driver and appends them to {@code metrics} in batches. Each flush is one
 * idempotent Delta transaction (appId = run/stage/metrics, version = flush number), so a re-run of the
 * same run adds no duplicate rows.
 */
final class MetricsWriter {
  private final RunContext ctx;
  private final String stage;
  private final List<Row> buffer = new ArrayList<>();
  private long flushes;
  private long highestStep = -1;
  private long flushedThrough = -1;

  MetricsWriter(RunContext ctx, String stage) {
    this.ctx = ctx;
    this.stage = stage;
  }

  void add(long step, String name, double value) {
    if (Double.isNaN(value) || Double.isInfinite(value)) return;
    buffer.add(RowFactory.create(ctx.runId(), stage, step, name, value, null));
    highestStep = Math.max(highestStep, step);
  }

  /**
   * Flushes as transaction = the highest step added, for step-counted stages that resume (sft, dpo, reward): a
   * resumed run repeats the steps after its checkpoint, and their flush repeats its transaction, so rows the killed
   * run committed are not written twice and rows it did not commit are written once. Rows of a step at or below the
   * last flush's are a programming error here, not silently dropped.
   */
  void flushThroughStep() {
    if (buffer.isEmpty()) return;
    if (highestStep <= flushedThrough) {
      throw new IllegalStateException("metrics of step " + highestStep + " after a flush through step " + flushedThrough);
    }
    flush(highestStep);
    flushedThrough = highestStep;
  }

  /**
   * Flushes as transaction {@code txnVersion} (e.g. an iteration number) instead of the flush count, for stages
   * that resume: a resumed run's flush numbers start again at 0, its iterations do not. Use one or the other
   * per writer.
   */
  void flush(long txnVersion) {
    if (buffer.isEmpty()) return;
    ctx.lake().appendOnce(Tables.METRICS, ctx.lake().frame(Tables.METRICS, buffer).drop("created_at"),
        ctx.runId() + "/" + stage + "/metrics", txnVersion);
    buffer.clear();
  }

  void flush() {
    if (buffer.isEmpty()) return;
    ctx.lake().appendOnce(Tables.METRICS, ctx.lake().frame(Tables.METRICS, buffer).drop("created_at"),
        ctx.runId() + "/" + stage + "/metrics", flushes++);
    buffer.clear();
  }
}
