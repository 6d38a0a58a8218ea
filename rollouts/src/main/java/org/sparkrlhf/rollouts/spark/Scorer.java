package org.sparkrlhf.rollouts.spark;

import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * A Spark ML transformer ({@link BroadcastModelTransformer}) that scores (prompt, completion) rows with a broadcast model on the executors:
 * it adds the per-token log-probs of the completion, their sum and, for a model with a scalar head, the score.
 *
 * <pre>
 *   Scorer scorer = new Scorer().setModel(ModelBroadcast.publish(spark, "policy", step, blob))
 *           .setPromptCol("prompt").setCompletionCol("completion").setBatchSize(16);
 *   Dataset&lt;Row&gt; scored = scorer.transform(rollouts);   // + logprobs, sum_logprob (, score)
 * </pre>
 *
 * <p>Output columns: {@code logprobs} array&lt;float&gt; (one per scored token: the completion's tokens, then the
 * eos when appended), {@code sum_logprob} double, and {@code score} double only when the model has
 * {@code score.weight} — the head's output at the last token of {@code [bos]+prompt+completion+[eos]} (without
 * the eos when it is not appended). Token convention: {@link TokenSequence}; math: {@link SequenceLogProbs}. A row
 * whose prompt or completion is null gets nulls.
 *
 * <p>Each partition scores its rows in batches of {@code batchSize} in arrival order, with the model and the
 * inference scope of every {@link BroadcastModelTransformer}.
 */
public final class Scorer extends PromptCompletionTransformer<Scorer> {

    private static final long serialVersionUID = 1L;

    private final Param<String> completionIdsCol;
    private final Param<String> appendEosCol;
    private final Param<String> logprobsCol;
    private final Param<String> sumLogprobCol;
    private final Param<String> scoreCol;
    private final BooleanParam appendEos;
    private final DoubleParam temperature;

    public Scorer() {
        this(Identifiable.randomUID("scorer"));
    }

    /** Spark ML's copy machinery needs this constructor. */
    public Scorer(String uid) {
        super(uid);
        completionIdsCol = new Param<>(this, "completionIdsCol", "optional input column with the completion's"
                + " token ids (array<int|bigint>, without eos), used instead of encoding the completion text; set it"
                + " for generated rollouts, whose sampled ids need not be the text's canonical encoding");
        appendEosCol = new Param<>(this, "appendEosCol", "optional boolean input column: per row, whether the"
                + " completion ended with end-of-sequence (overrides appendEos; null rows use appendEos)");
        logprobsCol = new Param<>(this, "logprobsCol", "output column: per-token log-probs (array<float>)");
        sumLogprobCol = new Param<>(this, "sumLogprobCol", "output column: sum of the log-probs (double)");
        scoreCol = new Param<>(this, "scoreCol", "output column: scalar-head score at the last token (double),"
                + " added only for a model with score.weight");
        appendEos = new BooleanParam(this, "appendEos", "whether the completion ended with end-of-sequence: eos"
                + " is appended to the sequence and scored");
        temperature = new DoubleParam(this, "temperature", "log-probs of softmax(logits / temperature) (> 0)",
                ParamValidators.gt(0));
        setDefault(logprobsCol, "logprobs");
        setDefault(sumLogprobCol, "sum_logprob");
        setDefault(scoreCol, "score");
        setDefault(appendEos, true);
        setDefault(temperature, 1.0);
    }

    // -------------------------------------------------------------------------------------- params

    public Param<String> completionIdsCol() {
        return completionIdsCol;
    }

    public Param<String> appendEosCol() {
        return appendEosCol;
    }

    public Param<String> logprobsCol() {
        return logprobsCol;
    }

    public Param<String> sumLogprobCol() {
        return sumLogprobCol;
    }

    public Param<String> scoreCol() {
        return scoreCol;
    }

    public BooleanParam appendEos() {
        return appendEos;
    }

    public DoubleParam temperature() {
        return temperature;
    }

    public Scorer setCompletionIdsCol(String v) {
        set(completionIdsCol, v);
        return this;
    }

    public Scorer setAppendEosCol(String v) {
        set(appendEosCol, v);
        return this;
    }

    public Scorer setLogprobsCol(String v) {
        set(logprobsCol, v);
        return this;
    }

    public Scorer setSumLogprobCol(String v) {
        set(sumLogprobCol, v);
        return this;
    }

    public Scorer setScoreCol(String v) {
        set(scoreCol, v);
        return this;
    }

    public Scorer setAppendEos(boolean v) {
        set(appendEos, v);
        return this;
    }

    public boolean getAppendEos() {
        return (Boolean) $(appendEos);
    }

    public Scorer setTemperature(double v) {
        set(temperature, v);
        return this;
    }

    public double getTemperature() {
        return (Double) $(temperature);
    }

    // -------------------------------------------------------------------------------------- schema

    private String optional(Param<String> p) {
        return isDefined(p) ? $(p) : null;
    }

    private boolean withScore() {
        return getModel().hasScoreHead();
    }

    @Override
    public StructType transformSchema(StructType schema) {
        requireModel();
        String ids = optional(completionIdsCol);
        requireColumn(schema, getPromptCol(), "promptCol", DataTypes.StringType);
        if (ids == null) {
            requireColumn(schema, getCompletionCol(), "completionCol", DataTypes.StringType);
        } else {
            requireColumn(schema, ids, "completionIdsCol", DataTypes.createArrayType(DataTypes.IntegerType),
                    DataTypes.createArrayType(DataTypes.LongType));
        }
        String eosCol = optional(appendEosCol);
        if (eosCol != null) {
            requireColumn(schema, eosCol, "appendEosCol", DataTypes.BooleanType);
        }
        List<StructField> fields = new ArrayList<>(Arrays.asList(schema.fields()));
        fields.add(outputField(schema, $(logprobsCol), DataTypes.createArrayType(DataTypes.FloatType, false)));
        fields.add(outputField(schema, $(sumLogprobCol), DataTypes.DoubleType));
        if (withScore()) {
            fields.add(outputField(schema, $(scoreCol), DataTypes.DoubleType));
        }
        return new StructType(fields.toArray(new StructField[0]));
    }

    // ----------------------------------------------------------------------------------- transform

    @Override
    protected ModelPartitions<?> partitions(StructType in) {
        String ids = optional(completionIdsCol);
        String eosCol = optional(appendEosCol);
        Spec spec = new Spec(getModel(), in.fieldIndex(getPromptCol()),
                ids == null ? in.fieldIndex(getCompletionCol()) : -1,
                ids == null ? -1 : in.fieldIndex(ids),
                eosCol == null ? -1 : in.fieldIndex(eosCol),
                getBatchSize(), getAppendEos(), getTemperature(), withScore(), in.length());
        return new ScorePartition(spec);
    }

    /** What a task needs: column positions and settings, no reference to the Scorer itself. */
    private record Spec(ModelBroadcast model, int promptIdx, int completionIdx, int idsIdx, int eosIdx,
                        int batchSize, boolean appendEos, double temperature, boolean withScore, int inputWidth)
            implements Serializable {
    }

    /** Runs on the executors: lazily pulls {@code batchSize} rows, scores them, emits them with the new columns. */
    private static final class ScorePartition extends ModelPartitions<List<Row>> {
        private static final long serialVersionUID = 1L;
        private final Spec spec;

        ScorePartition(Spec spec) {
            super(spec.model());
            this.spec = spec;
        }

        @Override
        protected Batches<List<Row>> batches(Iterator<Row> input) {
            return rowBatches(input, spec.batchSize(), this::score);
        }

        private List<Row> score(ExecutorModelCache.LoadedModel loaded, List<Row> rows) {
            TextTokenizer tok = loaded.tokenizer();
            RowSequences batch = RowSequences.of(rows, row -> encode(tok, row));
            List<SequenceLogProbs.SequenceScore> results = SequenceLogProbs.score(loaded.model(), batch.sequences(),
                    spec.temperature(), spec.withScore(), Math.max(1, batch.sequences().size()));
            return batch.withColumns(spec.inputWidth(), spec.withScore() ? 3 : 2, (k, values, at) -> {
                SequenceLogProbs.SequenceScore res = results.get(k);
                values[at] = res.tokenLogProbs();
                values[at + 1] = res.sumLogProb();
                if (spec.withScore()) {
                    values[at + 2] = res.score();
                }
            });
        }

        /** The row's sequence by the token convention, or null when an input is null. */
        private TokenSequence encode(TextTokenizer tok, Row row) {
            if (row.isNullAt(spec.promptIdx())) {
                return null;
            }
            String prompt = row.getString(spec.promptIdx());
            String completion = null;
            int[] ids = null;
            if (spec.idsIdx() >= 0) {
                if (row.isNullAt(spec.idsIdx())) {
                    return null;
                }
                List<Object> list = row.getList(spec.idsIdx());
                ids = new int[list.size()];
                for (int i = 0; i < ids.length; i++) {
                    Object v = list.get(i);
                    if (v == null) {
                        throw new IllegalArgumentException("null token id in the completion ids column");
                    }
                    ids[i] = ((Number) v).intValue();
                }
            } else {
                if (row.isNullAt(spec.completionIdx())) {
                    return null;
                }
                completion = row.getString(spec.completionIdx());
            }
            boolean eos = spec.eosIdx() >= 0 && !row.isNullAt(spec.eosIdx())
                    ? row.getBoolean(spec.eosIdx()) : spec.appendEos();
            return ids != null ? TokenSequence.encode(tok, prompt, ids, eos)
                    : TokenSequence.encode(tok, prompt, completion, eos);
        }
    }
}
