package org.sparkrlhf.rollouts.spark;

import ai.djl.ndarray.NDManager;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.StepSequence;
import org.sparkrlhf.core.model.LlamaModel;

/**
 * A Spark ML transformer ({@link BroadcastModelTransformer}) that adds per-step scores to any frame of prompt and
 * completion text, scored on the executors by a broadcast process reward model: for each step of the completion (each
 * line but the final answer, {@link StepSequence#steps}), the model's probability σ(z) that the step is correct,
 * z being the head at the step's newline, the position and sequence the PRM trainer reads.
 *
 * <pre>
 *   StepRewardScorer prm = new StepRewardScorer().setModel(ModelBroadcast.publish(spark, "prm", 0, blob));
 *   Dataset&lt;Row&gt; scored = prm.transform(completions);   // + step_scores: array&lt;double&gt;
 * </pre>
 *
 * <p>A completion with no step gets an empty array; a row whose prompt or completion is null gets null.
 */
public final class StepRewardScorer extends PromptCompletionTransformer<StepRewardScorer> {

    private static final long serialVersionUID = 1L;

    private final Param<String> stepScoresCol;

    public StepRewardScorer() {
        this(Identifiable.randomUID("stepRewardScorer"));
    }

    /** Spark ML's copy machinery needs this constructor. */
    public StepRewardScorer(String uid) {
        super(uid);
        stepScoresCol = new Param<>(this, "stepScoresCol",
                "output column: each step's probability of being correct (array<double>)");
        setDefault(stepScoresCol, "step_scores");
    }

    public Param<String> stepScoresCol() {
        return stepScoresCol;
    }

    public StepRewardScorer setStepScoresCol(String v) {
        set(stepScoresCol, v);
        return this;
    }

    @Override
    public StructType transformSchema(StructType schema) {
        return withScoreColumn(schema, "a process reward model", $(stepScoresCol),
                DataTypes.createArrayType(DataTypes.DoubleType, false));
    }

    @Override
    protected ModelPartitions<?> partitions(StructType in) {
        return new StepPartition(new Spec(getModel(), in.fieldIndex(getPromptCol()), in.fieldIndex(getCompletionCol()),
                getBatchSize(), in.length()));
    }

    private record Spec(ModelBroadcast model, int promptIdx, int completionIdx, int batchSize, int inputWidth)
            implements Serializable {
    }

    /** Runs on the executors: one forward pass per {@code batchSize} rows, all their steps read at once. */
    private static final class StepPartition extends ModelPartitions<List<Row>> {
        private static final long serialVersionUID = 1L;
        private final Spec spec;

        StepPartition(Spec spec) {
            super(spec.model());
            this.spec = spec;
        }

        @Override
        protected Batches<List<Row>> batches(Iterator<Row> input) {
            return rowBatches(input, spec.batchSize(), this::score);
        }

        private List<Row> score(ExecutorModelCache.LoadedModel loaded, List<Row> rows) {
            List<int[]> ends = new ArrayList<>();
            RowSequences batch = RowSequences.of(rows, row -> {
                if (row.isNullAt(spec.promptIdx()) || row.isNullAt(spec.completionIdx())) {
                    return null;
                }
                StepSequence s = StepSequence.encode(loaded.tokenizer(), row.getString(spec.promptIdx()),
                        StepSequence.steps(row.getString(spec.completionIdx())));
                ends.add(s.stepEnds());
                return s.sequence();
            });
            double[][] probs = new double[batch.sequences().size()][];
            if (!batch.sequences().isEmpty()) {
                LlamaModel model = loaded.model();
                float[] z;
                try (NDManager sub = model.manager().newSubManager()) {
                    z = SequenceLogProbs.scoresAt(model, PackedBatch.pack(batch.sequences(),
                            model.config().padTokenId()), ends.toArray(new int[0][]), false, sub).toFloatArray();
                }
                int k = 0;
                for (int s = 0; s < probs.length; s++) {
                    probs[s] = new double[ends.get(s).length];
                    for (int j = 0; j < probs[s].length; j++) {
                        probs[s][j] = 1 / (1 + Math.exp(-z[k++]));
                    }
                }
            }
            return batch.withColumns(spec.inputWidth(), 1, (k, values, at) -> values[at] = probs[k]);
        }
    }
}
