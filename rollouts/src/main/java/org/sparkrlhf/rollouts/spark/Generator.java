package org.sparkrlhf.rollouts.spark;

import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * A Spark ML transformer ({@link BroadcastModelTransformer}) that samples completions from a broadcast policy on the executors: every input
 * row (a prompt with its id) becomes {@code numSamples} output rows, one per sample index 0..G-1.
 *
 * <pre>
 *   Generator gen = new Generator().setModel(ModelBroadcast.publish(spark, "policy", step, blob))
 *           .setPromptCol("prompt").setPromptIdCol("prompt_id").setNumSamples(8)
 *           .setTemperature(1.0).setMaxNewTokens(160).setSeed(1234);
 *   Dataset&lt;Row&gt; rollouts = gen.transform(prompts);
 * </pre>
 *
 * <p>Output: the input columns, then {@code sample_index} int, {@code completion} string, {@code token_ids}
 * array&lt;int&gt; (eos included when sampled, see {@link Completion#tokenIds()}), {@code token_logprobs}
 * array&lt;float&gt; (one per token, under the sampling distribution), {@code finish_reason} string
 * ({@code eos}, {@code stop}, {@code length}), {@code policy_version} bigint (the broadcast's version) and
 * {@code executor_id} string ({@link SparkExecutors#executorId()}). A null prompt or prompt id is an error.
 *
 * <p><b>Determinism.</b> A row's completion depends only on (model, sampling params, seed, prompt id, sample
 * index) — not on partitioning, batch size, row order or retries ({@link GenerationEngine}). So a task re-run
 * after an executor is lost regenerates exactly the rows it lost, and 1 or 3 partitions give the same rows.
 * Prompt ids should therefore be unique within a job: two rows with the same id and text get the same samples.
 *
 * <p><b>Execution.</b> As every {@link BroadcastModelTransformer} (model acquired once per task from
 * {@link ExecutorModelCache}, inference scope, rows streamed out batch by batch): each task takes its input rows
 * in order, expands each into its G requests, and hands them to the engine {@value #SLOT_FILLS} x {@code batchSize}
 * requests at a time: the engine runs {@code batchSize} of them at once and refills a finished row's slot with the
 * next of the call (continuous batching), so a call of only {@code batchSize} requests would wait for its longest
 * row again. Output rows stream out per call, so a task holds at most that many completions.
 */
public final class Generator extends BroadcastModelTransformer<Generator> {

    private static final long serialVersionUID = 1L;

    /**
     * Requests per engine call, in units of {@code batchSize}: enough waiting requests that freed slots are refilled
     * for most of a call, few enough that a task's output streams out in bounded pieces (2,048 completions at batch
     * 64). On 102,540 tokens of mixed lengths (bench, 2,560 requests per task) Spark ran at 0.59 of the in-process
     * rate with calls of one batch, 0.86 with 8 batches, 0.94 with 32.
     */
    public static final int SLOT_FILLS = 32;

    /** Output column names. */
    public static final String SAMPLE_INDEX = "sample_index";
    public static final String COMPLETION = "completion";
    public static final String TOKEN_IDS = "token_ids";
    public static final String TOKEN_LOGPROBS = "token_logprobs";
    public static final String FINISH_REASON = "finish_reason";
    public static final String POLICY_VERSION = "policy_version";
    public static final String EXECUTOR_ID = "executor_id";

    private static final List<String> OUTPUTS = List.of(SAMPLE_INDEX, COMPLETION, TOKEN_IDS, TOKEN_LOGPROBS,
            FINISH_REASON, POLICY_VERSION, EXECUTOR_ID);

    private final Param<String> promptCol;
    private final Param<String> promptIdCol;
    private final IntParam numSamples;
    private final DoubleParam temperature;
    private final IntParam topK;
    private final DoubleParam topP;
    private final IntParam maxNewTokens;
    private final StringArrayParam stop;
    private final LongParam seed;
    private final IntParam batchSize;
    private final BooleanParam useKvCache;

    public Generator() {
        this(Identifiable.randomUID("generator"));
    }

    /** Spark ML's copy machinery needs this constructor. */
    public Generator(String uid) {
        super(uid);
        promptCol = new Param<>(this, "promptCol", "input column with the prompt text (string)");
        promptIdCol = new Param<>(this, "promptIdCol", "input column with the prompt's stable id (string); with"
                + " the seed and sample index it decides the row's random numbers");
        numSamples = new IntParam(this, "numSamples", "samples per prompt, G (>= 1): each input row becomes G"
                + " rows with sample_index 0..G-1", ParamValidators.gtEq(1));
        temperature = new DoubleParam(this, "temperature", "softmax temperature (>= 0; 0 = greedy)",
                ParamValidators.gtEq(0));
        topK = new IntParam(this, "topK", "keep the k most likely tokens (0 = off)", ParamValidators.gtEq(0));
        topP = new DoubleParam(this, "topP", "nucleus mass in (0, 1] (1 = off)",
                ParamValidators.inRange(0, 1, false, true));
        maxNewTokens = new IntParam(this, "maxNewTokens", "most tokens generated per row, eos included (>= 0)",
                ParamValidators.gtEq(0));
        stop = new StringArrayParam(this, "stop", "stop strings: a row ends as soon as its text contains one");
        seed = new LongParam(this, "seed", "base seed; a row's randomness is a function of (seed, prompt id,"
                + " sample index)");
        batchSize = new IntParam(this, "batchSize", "requests (prompt x sample) per forward pass (> 0)",
                ParamValidators.gt(0));
        useKvCache = new BooleanParam(this, "useKvCache", "decode through the KV cache (false recomputes the"
                + " whole sequence every step: same tokens, slower; for benchmarks)");
        setDefault(promptCol, "prompt");
        setDefault(promptIdCol, "prompt_id");
        setDefault(numSamples, 1);
        setDefault(temperature, SamplingParams.DEFAULT_TEMPERATURE);
        setDefault(topK, SamplingParams.DEFAULT_TOP_K);
        setDefault(topP, SamplingParams.DEFAULT_TOP_P);
        setDefault(maxNewTokens, SamplingParams.DEFAULT_MAX_NEW_TOKENS);
        setDefault(stop, new String[0]);
        setDefault(seed, SamplingParams.DEFAULT_SEED);
        setDefault(batchSize, GenerationEngine.DEFAULT_BATCH_SIZE);
        setDefault(useKvCache, true);
    }

    // -------------------------------------------------------------------------------------- params

    public Param<String> promptCol() {
        return promptCol;
    }

    public Param<String> promptIdCol() {
        return promptIdCol;
    }

    public IntParam numSamples() {
        return numSamples;
    }

    public DoubleParam temperature() {
        return temperature;
    }

    public IntParam topK() {
        return topK;
    }

    public DoubleParam topP() {
        return topP;
    }

    public IntParam maxNewTokens() {
        return maxNewTokens;
    }

    public StringArrayParam stop() {
        return stop;
    }

    public LongParam seed() {
        return seed;
    }

    public IntParam batchSize() {
        return batchSize;
    }

    public BooleanParam useKvCache() {
        return useKvCache;
    }

    public Generator setPromptCol(String v) {
        set(promptCol, v);
        return this;
    }

    public String getPromptCol() {
        return $(promptCol);
    }

    public Generator setPromptIdCol(String v) {
        set(promptIdCol, v);
        return this;
    }

    public String getPromptIdCol() {
        return $(promptIdCol);
    }

    public Generator setNumSamples(int v) {
        set(numSamples, v);
        return this;
    }

    public int getNumSamples() {
        return (Integer) $(numSamples);
    }

    public Generator setTemperature(double v) {
        set(temperature, v);
        return this;
    }

    public double getTemperature() {
        return (Double) $(temperature);
    }

    public Generator setTopK(int v) {
        set(topK, v);
        return this;
    }

    public int getTopK() {
        return (Integer) $(topK);
    }

    public Generator setTopP(double v) {
        set(topP, v);
        return this;
    }

    public double getTopP() {
        return (Double) $(topP);
    }

    public Generator setMaxNewTokens(int v) {
        set(maxNewTokens, v);
        return this;
    }

    public int getMaxNewTokens() {
        return (Integer) $(maxNewTokens);
    }

    public Generator setStop(String... v) {
        set(stop, v);
        return this;
    }

    public String[] getStop() {
        return $(stop);
    }

    public Generator setSeed(long v) {
        set(seed, v);
        return this;
    }

    public long getSeed() {
        return (Long) $(seed);
    }

    public Generator setBatchSize(int v) {
        set(batchSize, v);
        return this;
    }

    public int getBatchSize() {
        return (Integer) $(batchSize);
    }

    public Generator setUseKvCache(boolean v) {
        set(useKvCache, v);
        return this;
    }

    public boolean getUseKvCache() {
        return (Boolean) $(useKvCache);
    }

    /** Sets temperature, top-k, top-p, max new tokens, stop strings and seed from {@code p}. */
    public Generator setSamplingParams(SamplingParams p) {
        return setTemperature(p.temperature()).setTopK(p.topK()).setTopP(p.topP())
                .setMaxNewTokens(p.maxNewTokens()).setStop(p.stop().toArray(new String[0])).setSeed(p.seed());
    }

    /** The sampling parameters these Params describe. */
    public SamplingParams getSamplingParams() {
        return new SamplingParams(getTemperature(), getTopK(), getTopP(), getMaxNewTokens(),
                Arrays.asList(getStop()), getSeed());
    }

    // -------------------------------------------------------------------------------------- schema

    @Override
    public StructType transformSchema(StructType schema) {
        requireModel();
        requireString(schema, $(promptCol), "promptCol");
        requireString(schema, $(promptIdCol), "promptIdCol");
        List<StructField> fields = new ArrayList<>(Arrays.asList(schema.fields()));
        List<String> names = Arrays.asList(schema.fieldNames());
        for (String o : OUTPUTS) {
            if (names.contains(o)) {
                throw new IllegalArgumentException("Generator: output column '" + o + "' already exists in the"
                        + " input; drop or rename it first (input columns " + names + ")");
            }
        }
        fields.add(DataTypes.createStructField(SAMPLE_INDEX, DataTypes.IntegerType, false));
        fields.add(DataTypes.createStructField(COMPLETION, DataTypes.StringType, false));
        fields.add(DataTypes.createStructField(TOKEN_IDS,
                DataTypes.createArrayType(DataTypes.IntegerType, false), false));
        fields.add(DataTypes.createStructField(TOKEN_LOGPROBS,
                DataTypes.createArrayType(DataTypes.FloatType, false), false));
        fields.add(DataTypes.createStructField(FINISH_REASON, DataTypes.StringType, false));
        fields.add(DataTypes.createStructField(POLICY_VERSION, DataTypes.LongType, false));
        fields.add(DataTypes.createStructField(EXECUTOR_ID, DataTypes.StringType, true));
        return new StructType(fields.toArray(new StructField[0]));
    }

    private static void requireString(StructType schema, String name, String param) {
        if (!Arrays.asList(schema.fieldNames()).contains(name)) {
            throw new IllegalArgumentException("Generator: input column '" + name + "' (" + param + ") not found;"
                    + " the input has columns " + Arrays.toString(schema.fieldNames()));
        }
        DataType t = schema.apply(name).dataType();
        if (!t.equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("Generator: input column '" + name + "' (" + param + ") has type "
                    + t.simpleString() + ", expected string");
        }
    }

    // ----------------------------------------------------------------------------------- transform

    @Override
    protected ModelPartitions<?> partitions(StructType in) {
        return new GeneratePartition(new Spec(getModel(), in.fieldIndex($(promptCol)), in.fieldIndex($(promptIdCol)),
                getNumSamples(), getSamplingParams(), getBatchSize(), getUseKvCache(), in.length()));
    }

    /** What a task needs: column positions and settings, no reference to the Generator itself. */
    private record Spec(ModelBroadcast model, int promptIdx, int idIdx, int numSamples, SamplingParams params,
                        int batchSize, boolean useKvCache, int inputWidth) implements Serializable {
    }

    /** One forward pass's requests (prompt x sample index) and the input row each expands. */
    private record Batch(List<Row> sources, List<PromptRef> refs) {
    }

    /** Runs on the executors: expands rows into requests, generates a call's worth at a time, emits output rows. */
    private static final class GeneratePartition extends ModelPartitions<Batch> {
        private static final long serialVersionUID = 1L;
        private final Spec spec;

        GeneratePartition(Spec spec) {
            super(spec.model());
            this.spec = spec;
        }

        @Override
        protected Batches<Batch> batches(Iterator<Row> input) {
            return new Batches<>() {
                private Row current;     // the input row being expanded
                private int nextSample;  // its next sample index

                @Override
                public Batch take() {
                    if (current == null && !input.hasNext()) {
                        return null;
                    }
                    int call = spec.batchSize() * SLOT_FILLS;
                    List<Row> sources = new ArrayList<>(call);
                    List<PromptRef> refs = new ArrayList<>(call);
                    while (refs.size() < call) {
                        if (current == null) {
                            if (!input.hasNext()) {
                                break;
                            }
                            current = input.next();
                            nextSample = 0;
                            if (current.isNullAt(spec.promptIdx()) || current.isNullAt(spec.idIdx())) {
                                throw new IllegalArgumentException("Generator: a row has a null prompt or prompt"
                                        + " id: " + current);
                            }
                        }
                        refs.add(new PromptRef(current.getString(spec.idIdx()), current.getString(spec.promptIdx()),
                                nextSample));
                        sources.add(current);
                        if (++nextSample >= spec.numSamples()) {
                            current = null;
                        }
                    }
                    return new Batch(sources, refs);
                }

                @Override
                public List<Row> run(ExecutorModelCache.LoadedModel loaded, Batch batch) {
                    return generate(loaded, batch.sources(), batch.refs());
                }

                private List<Row> generate(ExecutorModelCache.LoadedModel loaded, List<Row> sources,
                                           List<PromptRef> refs) {
                    List<Completion> done = GenerationEngine.generate(loaded.model(), loaded.tokenizer(), refs,
                            spec.params(), spec.batchSize(), spec.useKvCache());
                    String executor = SparkExecutors.executorId();
                    long version = spec.model().version();
                    int w = spec.inputWidth();
                    List<Row> out = new ArrayList<>(done.size());
                    for (int i = 0; i < done.size(); i++) {
                        Row src = sources.get(i);
                        Completion c = done.get(i);
                        Object[] values = new Object[w + OUTPUTS.size()];
                        for (int k = 0; k < w; k++) {
                            values[k] = src.get(k);
                        }
                        values[w] = c.sampleIndex();
                        values[w + 1] = c.text();
                        values[w + 2] = c.tokenIds();
                        values[w + 3] = c.logProbs();
                        values[w + 4] = c.finishReason();
                        values[w + 5] = version;
                        values[w + 6] = executor;
                        out.add(RowFactory.create(values));
                    }
                    return out;
                }
            };
        }
    }
}
