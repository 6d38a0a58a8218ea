package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.size;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/**
 * The rollouts a stage learns from (shepherd's solutions, rbr's ranked completions, hindsight's graded ones): the rows
 * one run's stage wrote to {@code rollouts} for a dataset, joined with their prompts' split and reference answer, in
 * a fixed order (prompt id, iteration, sample index), the first {@code limit} of them. Columns: {@code prompt_id,
 * iteration, sample_index, split, prompt, completion, tokens} (the completion's token count), {@code finish_reason,
 * answer}.
 */
final class SourceRollouts {
  private SourceRollouts() {}

  /** @param split a split of the prompts, or empty for every split; @param limit 0 = all */
  static Dataset<Row> read(Lake lake, String run, String stage, String dataset, String split, int limit) {
    Dataset<Row> prompts = lake.read(Tables.PROMPTS).filter(col("dataset").equalTo(dataset))
        .select(col("id").as("pid"), col("split"), col("answer"));
    if (!split.isBlank()) prompts = prompts.filter(col("split").equalTo(split));
    Dataset<Row> rows = lake.read(Tables.ROLLOUTS)
        .filter(col("run_id").equalTo(run).and(col("stage").equalTo(stage)).and(col("dataset").equalTo(dataset)))
        .join(prompts, col("prompt_id").equalTo(col("pid")))
        .select(col("prompt_id"), col("iteration"), col("sample_index"), col("split"), col("prompt"),
            col("completion"), size(col("token_ids")).as("tokens"), col("finish_reason"), col("answer"))
        .orderBy("prompt_id", "iteration", "sample_index");
    return limit > 0 ? rows.limit(limit) : rows;
  }

  /** The one-line error for a source with nothing to read ({@code what}: e.g. "rollouts with steps to label"). */
  static UserError none(Lake lake, String what, String run, String stage, String dataset, String split) {
    return new UserError("no " + what + " for run '" + run + "' stage '" + stage + "' dataset '" + dataset + "'"
        + (split.isBlank() ? "" : " split '" + split + "'") + " in " + lake.path(Tables.ROLLOUTS)
        + " (run the rollouts stage first)");
  }
}
