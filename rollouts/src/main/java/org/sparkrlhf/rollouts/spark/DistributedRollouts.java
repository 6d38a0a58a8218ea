package org.sparkrlhf.rollouts.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.rollouts.engine.SamplingParams;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Rollouts for a group of prompts on the executors, shaped as rows of the {@code rollouts} table
 * ({@link Tables#ROLLOUTS_TABLE}): what the {@code rollouts} stage writes once and what GRPO / PPO call every
 * iteration.
 *
 * <pre>
 *   Dataset&lt;Row&gt; rows = DistributedRollouts.generate(prompts, policyBroadcast,
 *           DistributedRollouts.Options.of(runId, "grpo", iteration, 8, sampling).keep("answer"));
 *   lake.appendOnce(Tables.ROLLOUTS, rows.drop("answer"), runId + "/grpo/rollouts", iteration);
 * </pre>
 *
 * <p>Input: a frame with {@code prompt_id} and {@code prompt} (strings; the column names can be changed in the
 * options), and optionally {@code dataset} (else {@link Options#dataset}). Output columns, in the table's order:
 * {@code run_id, stage, iteration, dataset, prompt_id, sample_index, prompt, completion, token_ids,
 * token_logprobs, finish_reason, policy_version, reward (null), reward_parts (null), executor_id}, then the
 * {@link Options#keep} columns (e.g. {@code answer}, for a reward function). {@code created_at} is left to the
 * writer ({@code Lake.conform} fills it).
 *
 * <p><b>Spreading the work.</b> The prompts are hash-partitioned on the prompt id into {@link Options#partitions}
 * partitions (0 = twice the default parallelism, so a lost executor's share is re-run in small pieces and both
 * executors finish together). Hash partitioning keeps each partition's content deterministic across retries;
 * the samples themselves are deterministic per (seed, prompt id, sample index) whatever the partitioning
 * ({@link Generator}). The frame is lazy: the generation runs when it is written or collected, once per action —
 * cache it or read the written table back to inspect it twice.
 */
public final class DistributedRollouts {

    private DistributedRollouts() {
    }

    /**
     * What to generate and how to label it.
     *
     * @param runId       the run's id ({@code run_id} column)
     * @param stage       the stage that samples ({@code stage} column), e.g. "rollouts", "grpo"
     * @param iteration   the stage's iteration ({@code iteration} column)
     * @param dataset     the {@code dataset} value when the input has no {@code dataset} column
     * @param numSamples  samples per prompt, G
     * @param sampling    temperature, top-k/p, max new tokens, stop strings, seed
     * @param batchSize   requests per forward pass on an executor
     * @param partitions  partitions of the prompts (0 = 2 x the default parallelism)
     * @param promptIdCol input column with the prompt id (default {@code prompt_id})
     * @param promptCol   input column with the prompt text (default {@code prompt})
     * @param keep        extra input columns carried to the output after the table's columns
     */
    public record Options(String runId, String stage, int iteration, String dataset, int numSamples,
                          SamplingParams sampling, int batchSize, int partitions, String promptIdCol,
                          String promptCol, List<String> keep) implements Serializable {
        public Options {
            Objects.requireNonNull(runId, "runId");
            Objects.requireNonNull(stage, "stage");
            Objects.requireNonNull(sampling, "sampling");
            if (numSamples < 1) {
                throw new IllegalArgumentException("numSamples must be >= 1, got " + numSamples);
            }
            if (batchSize < 1) {
                throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
            }
            if (partitions < 0) {
                throw new IllegalArgumentException("partitions must be >= 0 (0 = automatic), got " + partitions);
            }
            keep = keep == null ? List.of() : List.copyOf(keep);
        }

        /** Dataset "unknown" unless the input has one, batch size 16, automatic partitions, default columns. */
        public static Options of(String runId, String stage, int iteration, int numSamples, SamplingParams sampling) {
            return new Options(runId, stage, iteration, "unknown", numSamples, sampling, 16, 0, "prompt_id",
                    "prompt", List.of());
        }

        public Options withDataset(String d) {
            return new Options(runId, stage, iteration, d, numSamples, sampling, batchSize, partitions, promptIdCol,
                    promptCol, keep);
        }

        public Options withBatchSize(int b) {
            return new Options(runId, stage, iteration, dataset, numSamples, sampling, b, partitions, promptIdCol,
                    promptCol, keep);
        }

        public Options withPartitions(int p) {
            return new Options(runId, stage, iteration, dataset, numSamples, sampling, batchSize, p, promptIdCol,
                    promptCol, keep);
        }

        public Options withColumns(String idCol, String textCol) {
            return new Options(runId, stage, iteration, dataset, numSamples, sampling, batchSize, partitions, idCol,
                    textCol, keep);
        }

        public Options keep(String... columns) {
            return new Options(runId, stage, iteration, dataset, numSamples, sampling, batchSize, partitions,
                    promptIdCol, promptCol, Arrays.asList(columns));
        }
    }

    /** The rollouts of {@code prompts} under {@code model}, shaped as {@code rollouts} rows (lazy). */
    public static Dataset<Row> generate(Dataset<Row> prompts, ModelBroadcast model, Options o) {
        List<String> have = Arrays.asList(prompts.columns());
        for (String c : List.of(o.promptIdCol(), o.promptCol())) {
            if (!have.contains(c)) {
                throw new IllegalArgumentException("prompts need a '" + c + "' column; they have " + have);
            }
        }
        for (String c : o.keep()) {
            if (!have.contains(c)) {
                throw new IllegalArgumentException("keep: no column '" + c + "' in the prompts (" + have + ")");
            }
        }
        List<Column> in = new ArrayList<>();
        in.add(col(o.promptIdCol()).cast(DataTypes.StringType).as("prompt_id"));
        in.add(col(o.promptCol()).as("prompt"));
        in.add(have.contains("dataset") ? col("dataset") : lit(o.dataset()).as("dataset"));
        for (String k : o.keep()) {
            in.add(col(k).as("keep_" + k));
        }
        int partitions = o.partitions() > 0 ? o.partitions()
                : Math.max(1, 2 * prompts.sparkSession().sparkContext().defaultParallelism());
        // Hashing fixes which prompts share a partition; sorting fixes their order, which a shuffle's read does not
        // (blocks arrive as fetched). The engine batches a partition's requests together and a row's last float bits
        // depend on its batch-mates, so both must hold for a retried task to regenerate its rows bit for bit.
        Dataset<Row> spread = prompts.select(in.toArray(new Column[0])).repartition(partitions, col("prompt_id"))
                .sortWithinPartitions("prompt_id");

        Generator gen = new Generator().setModel(model).setPromptIdCol("prompt_id").setPromptCol("prompt")
                .setNumSamples(o.numSamples()).setSamplingParams(o.sampling()).setBatchSize(o.batchSize());
        Dataset<Row> g = gen.transform(spread);

        List<Column> out = new ArrayList<>(List.of(
                lit(o.runId()).as("run_id"),
                lit(o.stage()).as("stage"),
                lit(o.iteration()).as("iteration"),
                col("dataset"),
                col("prompt_id"),
                col(Generator.SAMPLE_INDEX),
                col("prompt"),
                col(Generator.COMPLETION),
                col(Generator.TOKEN_IDS),
                col(Generator.TOKEN_LOGPROBS),
                col(Generator.FINISH_REASON),
                col(Generator.POLICY_VERSION),
                lit(null).cast(DataTypes.DoubleType).as("reward"),
                lit(null).cast(DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType)).as("reward_parts"),
                col(Generator.EXECUTOR_ID)));
        for (String k : o.keep()) {
            out.add(col("keep_" + k).as(k));
        }
        return g.select(out.toArray(new Column[0]));
    }
}
