package org.sparkrlhf.rollouts.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A {@link BroadcastModelTransformer} that reads a prompt and a completion per row and runs the model over
 * {@code batchSize} rows at a time: the params the {@link Scorer} and the {@link RewardScorer} share, declared once.
 *
 * @param <T> the concrete transformer, so that setters chain
 */
public abstract class PromptCompletionTransformer<T extends PromptCompletionTransformer<T>>
        extends BroadcastModelTransformer<T> {

    private static final long serialVersionUID = 1L;

    private final Param<String> promptCol;
    private final Param<String> completionCol;
    private final IntParam batchSize;

    protected PromptCompletionTransformer(String uid) {
        super(uid);
        promptCol = new Param<>(this, "promptCol", "input column with the prompt text (string)");
        completionCol = new Param<>(this, "completionCol", "input column with the completion text (string)");
        batchSize = new IntParam(this, "batchSize", "rows per forward pass (> 0)", ParamValidators.gt(0));
        setDefault(promptCol, "prompt");
        setDefault(completionCol, "completion");
        setDefault(batchSize, 16);
    }

    // Spark ML finds a transformer's params through public no-argument accessors like these.
    public Param<String> promptCol() {
        return promptCol;
    }

    public Param<String> completionCol() {
        return completionCol;
    }

    public IntParam batchSize() {
        return batchSize;
    }

    @SuppressWarnings("unchecked")
    public T setPromptCol(String v) {
        set(promptCol, v);
        return (T) this;
    }

    public String getPromptCol() {
        return $(promptCol);
    }

    @SuppressWarnings("unchecked")
    public T setCompletionCol(String v) {
        set(completionCol, v);
        return (T) this;
    }

    public String getCompletionCol() {
        return $(completionCol);
    }

    @SuppressWarnings("unchecked")
    public T setBatchSize(int v) {
        set(batchSize, v);
        return (T) this;
    }

    public int getBatchSize() {
        return (Integer) $(batchSize);
    }

    /**
     * The output schema of a reward-model transformer (outcome or process): the model must have the score head
     * ({@code kind} names the checkpoint to publish instead), prompt and completion must be strings, and one column
     * {@code outputCol} of {@code type} is added.
     */
    protected StructType withScoreColumn(StructType schema, String kind, String outputCol, DataType type) {
        if (!requireModel().hasScoreHead()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " " + uid() + ": model "
                    + getModel().modelKey() + " has no score head (score.weight); publish " + kind + " checkpoint");
        }
        requireColumn(schema, getPromptCol(), "promptCol", DataTypes.StringType);
        requireColumn(schema, getCompletionCol(), "completionCol", DataTypes.StringType);
        List<StructField> fields = new ArrayList<>(Arrays.asList(schema.fields()));
        fields.add(outputField(schema, outputCol, type));
        return new StructType(fields.toArray(new StructField[0]));
    }
}
