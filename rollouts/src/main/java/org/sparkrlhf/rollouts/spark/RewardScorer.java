package org.sparkrlhf.rollouts.spark;

import ai.djl.ndarray.NDManager;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;

import java.io.Serializable;
import java.util.Iterator;
import java.util.List;

/**
 * A Spark ML transformer ({@link BroadcastModelTransformer}) that adds a reward column to any frame of prompt and
 * completion text, scored on the executors by a broadcast reward model (a checkpoint with the scalar head).
 *
 * <pre>
 *   RewardScorer rm = new RewardScorer().setModel(ModelBroadcast.publish(spark, "reward", 0, blob));
 *   Dataset&lt;Row&gt; scored = rm.transform(completions);   // + reward
 * </pre>
 *
 * <p>The reward of a row is the head's output at the last token of {@code [bos]+prompt+completion+[eos]}: the
 * sequence and position a reward model is trained on ({@link TokenSequence}, {@link PackedBatch#lastTokenColumns()}),
 * so it is the score the trainer saw. Only the backbone and the head run ({@link SequenceLogProbs#lastTokenScores}),
 * no LM head. A row whose prompt or completion is null gets a null reward.
 */
public final class RewardScorer extends PromptCompletionTransformer<RewardScorer> {

    private static final long serialVersionUID = 1L;

    private final Param<String> rewardCol;

    public RewardScorer() {
        this(Identifiable.randomUID("rewardScorer"));
    }

    /** Spark ML's copy machinery needs this constructor. */
    public RewardScorer(String uid) {
        super(uid);
        rewardCol = new Param<>(this, "rewardCol", "output column: the reward model's score (double)");
        setDefault(rewardCol, "reward");
    }

    // Spark ML finds a transformer's params through public no-argument accessors like these.
    public Param<String> rewardCol() {
        return rewardCol;
    }

    public RewardScorer setRewardCol(String v) {
        set(rewardCol, v);
        return this;
    }

    @Override
    public StructType transformSchema(StructType schema) {
        return withScoreColumn(schema, "a reward model", $(rewardCol), DataTypes.DoubleType);
    }

    @Override
    protected ModelPartitions<?> partitions(StructType in) {
        return new RewardPartition(new Spec(getModel(), in.fieldIndex(getPromptCol()), in.fieldIndex(getCompletionCol()),
                getBatchSize(), in.length()));
    }

    /** What a task needs: column positions and settings, no reference to the transformer itself. */
    private record Spec(ModelBroadcast model, int promptIdx, int completionIdx, int batchSize, int inputWidth)
            implements Serializable {
    }

    /** Runs on the executors: scores {@code batchSize} rows per forward pass, emits them with the reward. */
    private static final class RewardPartition extends ModelPartitions<List<Row>> {
        private static final long serialVersionUID = 1L;
        private final Spec spec;

        RewardPartition(Spec spec) {
            super(spec.model());
            this.spec = spec;
        }

        @Override
        protected Batches<List<Row>> batches(Iterator<Row> input) {
            return rowBatches(input, spec.batchSize(), this::score);
        }

        private List<Row> score(ExecutorModelCache.LoadedModel loaded, List<Row> rows) {
            RowSequences batch = RowSequences.of(rows, row -> row.isNullAt(spec.promptIdx())
                    || row.isNullAt(spec.completionIdx()) ? null : TokenSequence.encode(loaded.tokenizer(),
                    row.getString(spec.promptIdx()), row.getString(spec.completionIdx()), true));
            float[] rewards = new float[0];
            if (!batch.sequences().isEmpty()) {
                LlamaModel model = loaded.model();
                try (NDManager sub = model.manager().newSubManager()) {
                    rewards = SequenceLogProbs.lastTokenScores(model, PackedBatch.pack(batch.sequences(),
                            model.config().padTokenId()), false, sub).toFloatArray();
                }
            }
            float[] r = rewards;
            return batch.withColumns(spec.inputWidth(), 1, (k, values, at) -> values[at] = (double) r[k]);
        }
    }
}
