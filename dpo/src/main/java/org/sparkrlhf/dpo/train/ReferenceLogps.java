package org.sparkrlhf.dpo.train;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.size;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.rollouts.spark.ModelBroadcast;
import org.sparkrlhf.rollouts.spark.Scorer;

/**
 * The frozen reference's log-probs of the kept pairs, computed once on the executors: the reference checkpoint is
 * broadcast and a {@link Scorer} adds Σ log π_ref of the chosen and of the rejected completion
 * ([bos]+prompt+completion+[eos], eos scored). They are <b>written</b> as a Parquet table (columns {@link #COLUMNS})
 * rather than cached, so they survive the job, can be inspected from a notebook, and the driver never runs the
 * reference model; {@link #read} then attaches them to the driver's encodings for training.
 */
public final class ReferenceLogps {
  private ReferenceLogps() {}

  /** The table's folder name under the stage's run folder. */
  public static final String TABLE = "reference_logps";

  /** The table's columns. */
  public static final String[] COLUMNS = {"id", "prompt", "chosen", "rejected", "ref_chosen_logp",
      "ref_rejected_logp", "ref_chosen_tokens", "ref_rejected_tokens"};

  private static final StructType PAIRS = new StructType().add("id", DataTypes.StringType)
      .add("prompt", DataTypes.StringType).add("chosen", DataTypes.StringType).add("rejected", DataTypes.StringType);

  /**
   * Scores the kept pairs under the reference on the executors and writes the table to {@code path} (overwriting).
   *
   * @param lake builds the executors' input frame from the driver's pairs
   * @param modelKey names the reference's broadcast (e.g. {@code dpo-reference/<run>})
   * @param reference the reference checkpoint's bytes, as loaded before any update
   * @param batchSize sequences per scoring batch; also bounds the partitions (no more than one per batch, nor than
   *     Spark's default parallelism)
   */
  public static void write(Lake lake, String modelKey, byte[] reference, List<PreferencePairs.Kept> kept,
      int batchSize, String path) {
    SparkSession spark = lake.spark();
    List<Row> rows = new ArrayList<>(kept.size());
    for (PreferencePairs.Kept k : kept) {
      PreferencePairs.Pair p = k.pair();
      rows.add(RowFactory.create(p.id(), p.prompt(), p.chosen(), p.rejected()));
    }
    int partitions = Math.max(1, Math.min(spark.sparkContext().defaultParallelism(),
        (rows.size() + batchSize - 1) / batchSize));
    Dataset<Row> df = lake.frame(rows, PAIRS).repartition(partitions);
    ModelBroadcast ref = ModelBroadcast.publish(spark, modelKey, 0, reference);
    try {
      Dataset<Row> scored = scorer(ref, "rejected", batchSize).transform(scorer(ref, "chosen", batchSize).transform(df))
          .withColumn("ref_chosen_tokens", size(col("ref_chosen_logprobs")))
          .withColumn("ref_rejected_tokens", size(col("ref_rejected_logprobs")))
          .selectExpr(COLUMNS);
      scored.write().mode("overwrite").parquet(path);
    } finally {
      ref.destroy();
    }
  }

  /** Adds {@code ref_<side>_logprobs} and {@code ref_<side>_logp} for the completion column {@code side}. */
  private static Scorer scorer(ModelBroadcast ref, String side, int batchSize) {
    return new Scorer().setModel(ref).setPromptCol("prompt").setCompletionCol(side)
        .setLogprobsCol("ref_" + side + "_logprobs").setSumLogprobCol("ref_" + side + "_logp").setBatchSize(batchSize);
  }

  /**
   * The kept pairs' encodings with the reference log-probs of the table at {@code path}, ordered by id.
   *
   * @throws IllegalStateException when the table does not hold exactly the kept pairs, or the executors scored a
   *     different number of tokens than the driver encoded (the two would not sum over the same tokens)
   */
  public static List<PreferenceExample> read(SparkSession spark, String path, List<PreferencePairs.Kept> kept) {
    Map<String, PreferenceExample> encoded = new HashMap<>();
    for (PreferencePairs.Kept k : kept) encoded.put(k.example().id(), k.example());
    List<PreferenceExample> out = new ArrayList<>(kept.size());
    for (Row r : spark.read().parquet(path).orderBy("id").collectAsList()) {
      PreferenceExample e = encoded.get(r.<String>getAs("id"));
      if (e == null) throw new IllegalStateException("pair " + r.getAs("id") + " in " + path + " was not kept");
      if (e.chosen().scoredTokens() != r.<Integer>getAs("ref_chosen_tokens")
          || e.rejected().scoredTokens() != r.<Integer>getAs("ref_rejected_tokens")) {
        throw new IllegalStateException("pair " + e.id() + ": the executors scored a different token count");
      }
      out.add(e.withReference(r.<Double>getAs("ref_chosen_logp"), r.<Double>getAs("ref_rejected_logp")));
    }
    if (out.size() != kept.size()) {
      throw new IllegalStateException(path + " has " + out.size() + " pairs, " + kept.size() + " were kept");
    }
    return out;
  }
}
