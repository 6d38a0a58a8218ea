package org.sparkrlhf.core.lake;

import static org.apache.spark.sql.types.DataTypes.BooleanType;
import static org.apache.spark.sql.types.DataTypes.DoubleType;
import static org.apache.spark.sql.types.DataTypes.FloatType;
import static org.apache.spark.sql.types.DataTypes.IntegerType;
import static org.apache.spark.sql.types.DataTypes.LongType;
import static org.apache.spark.sql.types.DataTypes.StringType;
import static org.apache.spark.sql.types.DataTypes.TimestampType;
import static org.apache.spark.sql.types.DataTypes.createArrayType;
import static org.apache.spark.sql.types.DataTypes.createMapType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.MetadataBuilder;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The lake's tables and their schemas. Every table lives at {@code <lake>/<name>} as a Delta table;
 * the schema below is the one enforced on write (Delta rejects extra columns and wrong types, and
 * {@link Lake} checks the frame against it first to name the offending column). Each column carries
 * a comment, so {@code DESCRIBE} in a notebook documents the lake; docs/tables.md is generated from
 * the same definitions.
 */
public final class Tables {
  public static final String PROMPTS = "prompts";
  public static final String SFT_DEMOS = "sft_demos";
  public static final String PREFERENCES = "preferences";
  public static final String STEP_LABELS = "step_labels";
  public static final String ROLLOUTS = "rollouts";
  public static final String METRICS = "metrics";
  public static final String CHECKPOINTS = "checkpoints";
  public static final String QUARANTINE = "quarantine";

  private Tables() {}

  /** A table's schema and, for data tables, the key that makes re-imports idempotent. */
  public record Table(String name, String description, StructType schema, List<String> key) {}

  private static StructField col(String name, DataType type, boolean nullable, String comment) {
    Metadata md = new MetadataBuilder().putString("comment", comment).build();
    return new StructField(name, type, nullable, md);
  }

  private static final StructField DATASET =
      col("dataset", StringType, false, "dataset name, e.g. 'arith' for the built-in task");
  private static final StructField SPLIT =
      col("split", StringType, false, "train, valid, test or test_ood");
  private static final StructField ID =
      col("id", StringType, false, "row id, unique within the dataset");
  private static final StructField PROMPT = col("prompt", StringType, false, "prompt text");
  private static final StructField SOURCE =
      col("source", StringType, false, "where the row came from: generator settings or file:line");
  private static final StructField RUN_ID = col("run_id", StringType, false, "run that wrote the row");
  private static final StructField CREATED_AT =
      col("created_at", TimestampType, true, "when the row was written");

  public static final Table PROMPTS_TABLE =
      new Table(
          PROMPTS,
          "prompts to generate from, with the reference answer when one is known",
          new StructType(
              new StructField[] {
                DATASET, SPLIT, ID, PROMPT,
                col("answer", StringType, true, "reference final answer, null when unknown"),
                SOURCE, RUN_ID, CREATED_AT
              }),
          List.of("dataset", "id"));

  public static final Table SFT_DEMOS_TABLE =
      new Table(
          SFT_DEMOS,
          "supervised demonstrations: a prompt and the completion to imitate",
          new StructType(
              new StructField[] {
                DATASET, SPLIT, ID, PROMPT,
                col("completion", StringType, false, "demonstrated completion"),
                SOURCE, RUN_ID, CREATED_AT
              }),
          List.of("dataset", "id"));

  public static final Table PREFERENCES_TABLE =
      new Table(
          PREFERENCES,
          "preference pairs: two completions of one prompt, chosen preferred over rejected",
          new StructType(
              new StructField[] {
                DATASET, SPLIT, ID, PROMPT,
                col("chosen", StringType, false, "preferred completion"),
                col("rejected", StringType, false, "dispreferred completion"),
                col("chosen_reward", DoubleType, true, "reward of chosen, when ranked by a reward"),
                col("rejected_reward", DoubleType, true, "reward of rejected"),
                col("margin", DoubleType, true, "chosen_reward - rejected_reward"),
                col("source_run", StringType, true, "run whose rollouts made the pair"),
                col("source_iteration", IntegerType, true, "iteration of those rollouts"),
                SOURCE, RUN_ID, CREATED_AT
              }),
          List.of("dataset", "id"));

  public static final Table STEP_LABELS_TABLE =
      new Table(
          STEP_LABELS,
          "process supervision: a solution split into steps, each labelled correct or not",
          new StructType(
              new StructField[] {
                DATASET, SPLIT, ID, PROMPT,
                col("steps", createArrayType(StringType, true), false, "solution steps in order"),
                col("labels", createArrayType(BooleanType, true), false,
                    "per-step correctness; steps after the first wrong one are not included"),
                col("soft_labels", createArrayType(DoubleType, true), true,
                    "per-step probability of being correct where one is estimated (Math-Shepherd: the share of"
                        + " sampled continuations from the step that reached the answer); null otherwise"),
                col("kind", StringType, false, "'correct', 'corrupted', 'teacher' (the data stage's flawed teacher's own wrong demonstration), 'shepherd' (labelled from sampled continuations) or 'imported'"),
                SOURCE, RUN_ID, CREATED_AT
              }),
          List.of("dataset", "id"));

  public static final Table ROLLOUTS_TABLE =
      new Table(
          ROLLOUTS,
          "sampled completions with token log-probs and reward parts",
          new StructType(
              new StructField[] {
                RUN_ID,
                col("stage", StringType, false, "stage that sampled the rows"),
                col("iteration", IntegerType, false, "iteration of that stage (0 for one-shot)"),
                col("dataset", StringType, false, "dataset of the prompt"),
                col("prompt_id", StringType, false, "id of the prompt in prompts"),
                col("sample_index", IntegerType, false, "0..G-1 within the prompt's group"),
                PROMPT,
                col("completion", StringType, false, "generated text"),
                col("token_ids", createArrayType(IntegerType, true), false, "generated token ids"),
                col("token_logprobs", createArrayType(FloatType, true), false,
                    "log-prob of each generated token under the sampling policy"),
                col("finish_reason", StringType, false, "eos, stop or length"),
                col("policy_version", LongType, false, "weight version that generated the row"),
                col("reward", DoubleType, true, "total reward, filled by a reward stage"),
                col("reward_parts", createMapType(StringType, DoubleType, true), true,
                    "named reward components"),
                col("executor_id", StringType, true, "Spark executor that generated the row"),
                CREATED_AT
              }),
          List.of("run_id", "stage", "iteration", "prompt_id", "sample_index"));

  public static final Table METRICS_TABLE =
      new Table(
          METRICS,
          "one row per metric value: long format, pivot in a notebook",
          new StructType(
              new StructField[] {
                RUN_ID,
                col("stage", StringType, false, "stage that logged the value"),
                col("step", LongType, false, "optimizer step or iteration"),
                col("name", StringType, false, "metric name, e.g. loss, lr, rewards/margins"),
                col("value", DoubleType, false, "metric value"),
                CREATED_AT
              }),
          List.of("run_id", "stage", "step", "name"));

  public static final Table CHECKPOINTS_TABLE =
      new Table(
          CHECKPOINTS,
          "every checkpoint written, with the data versions that made it",
          new StructType(
              new StructField[] {
                RUN_ID,
                col("stage", StringType, false, "stage that wrote the checkpoint"),
                col("step", LongType, false, "step or iteration"),
                col("path", StringType, false, "checkpoint folder (Hugging Face layout)"),
                col("kind", StringType, false, "policy, reward, value, prm or verifier"),
                col("data_versions", createMapType(StringType, LongType, true), false,
                    "Delta version of each table read"),
                col("parent", StringType, true, "checkpoint this one was trained from"),
                col("config_json", StringType, false, "the stage config that trained it"),
                CREATED_AT
              }),
          List.of("run_id", "stage", "step", "kind"));

  public static final Table QUARANTINE_TABLE =
      new Table(
          QUARANTINE,
          "rows refused on the way in, with the reason",
          new StructType(
              new StructField[] {
                RUN_ID,
                col("stage", StringType, false, "stage that refused the row"),
                col("target_table", StringType, true, "table the row was meant for"),
                col("source_file", StringType, false, "file the row came from"),
                col("line", LongType, false, "1-based line (JSONL) or row number (Parquet)"),
                col("reason", StringType, false, "why the row was refused"),
                col("raw", StringType, true, "the row as read (truncated), for inspection"),
                CREATED_AT
              }),
          List.of("run_id", "stage", "source_file", "line"));

  /** All tables in documentation order. */
  public static final Map<String, Table> ALL = new LinkedHashMap<>();

  static {
    for (Table t :
        List.of(
            PROMPTS_TABLE, SFT_DEMOS_TABLE, PREFERENCES_TABLE, STEP_LABELS_TABLE, ROLLOUTS_TABLE,
            METRICS_TABLE, CHECKPOINTS_TABLE, QUARANTINE_TABLE)) {
      ALL.put(t.name(), t);
    }
  }

  public static Table get(String name) {
    Table t = ALL.get(name);
    if (t == null) {
      throw new IllegalArgumentException("no table named " + name + "; tables: " + ALL.keySet());
    }
    return t;
  }

  /** Markdown for docs/tables.md: one section per table, one row per column. */
  public static String markdown() {
    StringBuilder sb = new StringBuilder("# Lake tables\n\n");
    sb.append("Generated from `core/src/main/java/org/sparkrlhf/core/lake/Tables.java`. Every table is a ")
        .append("Delta table at `<lake>/<name>`; writes are checked against these schemas.\n");
    for (Table t : ALL.values()) {
      sb.append("\n## `").append(t.name()).append("`\n\n").append(t.description()).append(".");
      sb.append(" Key: `").append(String.join("`, `", t.key())).append("`.\n\n");
      sb.append("| column | type | nullable | meaning |\n| --- | --- | --- | --- |\n");
      for (StructField f : t.schema().fields()) {
        sb.append("| `").append(f.name()).append("` | ").append(f.dataType().simpleString())
            .append(" | ").append(f.nullable() ? "yes" : "no").append(" | ")
            .append(f.metadata().contains("comment") ? f.metadata().getString("comment") : "")
            .append(" |\n");
      }
    }
    return sb.toString();
  }
}
