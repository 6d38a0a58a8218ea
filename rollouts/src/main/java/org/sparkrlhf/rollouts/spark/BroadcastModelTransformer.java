package org.sparkrlhf.rollouts.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.TaskCompletionListener;
import org.sparkrlhf.core.batch.TokenSequence;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * A Spark ML {@link Transformer} that runs a broadcast model over the partitions of its input: what the
 * {@link Generator}, the {@link Scorer} and the {@link RewardScorer} (and any later model-backed transformer) share.
 *
 * <p><b>The model</b> is set with {@link #setModel(ModelBroadcast)}, not as a Spark {@code Param}: Params must
 * encode as JSON for ML persistence, and a broadcast is a live handle into one SparkContext. For the same reason
 * these transformers are not {@code MLWritable}; persist the checkpoint and re-publish it instead. {@link #copy}
 * keeps the model.
 *
 * <p><b>Execution.</b> {@link #transform} maps partitions with the subclass's {@link ModelPartitions}: each task
 * acquires the model from {@link ExecutorModelCache} when its first batch is ready (loaded once per executor and
 * version; an empty partition loads nothing) and releases it when the task completes — also when a downstream
 * {@code limit()} stops reading early, or the task fails. Each batch runs under
 * {@link SparkExecutors#inferenceScope()} (no grad, the task's torch threads); input rows are pulled outside it,
 * since the input may itself be another model's partition. Output rows stream out batch by batch.
 *
 * @param <T> the concrete transformer, so that setters chain
 */
public abstract class BroadcastModelTransformer<T extends BroadcastModelTransformer<T>> extends Transformer {

    private static final long serialVersionUID = 1L;

    private final String uid;
    private ModelBroadcast model;

    protected BroadcastModelTransformer(String uid) {
        this.uid = uid;
    }

    @Override
    public String uid() {
        return uid;
    }

    @SuppressWarnings("unchecked")
    public T setModel(ModelBroadcast model) {
        this.model = model;
        return (T) this;
    }

    public ModelBroadcast getModel() {
        return model;
    }

    @Override
    @SuppressWarnings("unchecked")
    public T copy(ParamMap extra) {
        T c = (T) defaultCopy(extra);
        ((BroadcastModelTransformer<T>) c).model = model;
        return c;
    }

    /** The model, or a clear error when none was set; {@link #transformSchema} implementations start with it. */
    protected ModelBroadcast requireModel() {
        if (model == null) {
            throw new IllegalStateException(getClass().getSimpleName() + " " + uid
                    + ": no model; call setModel(ModelBroadcast) first");
        }
        return model;
    }

    /**
     * Checks that input column {@code name} (named by the param {@code param}) exists with one of the
     * {@code allowed} types; the element nullability of an array does not matter for reading.
     */
    protected void requireColumn(StructType schema, String name, String param, DataType... allowed) {
        String self = getClass().getSimpleName();
        if (!Arrays.asList(schema.fieldNames()).contains(name)) {
            throw new IllegalArgumentException(self + ": input column '" + name + "' (" + param + ") not found;"
                    + " the input has columns " + Arrays.toString(schema.fieldNames()));
        }
        DataType actual = schema.apply(name).dataType();
        for (DataType a : allowed) {
            if (a.equals(actual) || (a instanceof ArrayType at && actual instanceof ArrayType aa
                    && at.elementType().equals(aa.elementType()))) {
                return;
            }
        }
        throw new IllegalArgumentException(self + ": input column '" + name + "' (" + param + ") has type "
                + actual.simpleString() + ", expected " + Arrays.stream(allowed).map(DataType::simpleString)
                .reduce((x, y) -> x + " or " + y).orElse("?"));
    }

    /** A nullable output column {@code name}, refused when the input already has a column of that name. */
    protected StructField outputField(StructType schema, String name, DataType type) {
        if (Arrays.asList(schema.fieldNames()).contains(name)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": output column '" + name
                    + "' already exists in the input; choose another name with the matching set...Col setter");
        }
        return DataTypes.createStructField(name, type, true);
    }

    /**
     * A task's input cut into batches of up to {@code size} rows in arrival order, pulled as they are taken, each
     * turned into output rows by {@code run}.
     */
    protected static Batches<List<Row>> rowBatches(Iterator<Row> input, int size,
            BiFunction<ExecutorModelCache.LoadedModel, List<Row>, List<Row>> run) {
        return new Batches<>() {
            @Override
            public List<Row> take() {
                if (!input.hasNext()) {
                    return null;
                }
                List<Row> rows = new ArrayList<>(size);
                while (rows.size() < size && input.hasNext()) {
                    rows.add(input.next());
                }
                return rows;
            }

            @Override
            public List<Row> run(ExecutorModelCache.LoadedModel model, List<Row> rows) {
                return run.apply(model, rows);
            }
        };
    }

    /**
     * A batch of input rows with the sequences to run: {@code sequences} holds one per row that has one, in row order,
     * and {@code sequenceOfRow[r]} is row r's index into it, or -1 for a row without (e.g. a null input).
     */
    protected record RowSequences(List<Row> rows, List<TokenSequence> sequences, int[] sequenceOfRow) {
        /** Encodes each row; {@code encode} returns null for a row that gets no sequence. */
        public static RowSequences of(List<Row> rows, Function<Row, TokenSequence> encode) {
            List<TokenSequence> seqs = new ArrayList<>(rows.size());
            int[] seqOfRow = new int[rows.size()];
            for (int r = 0; r < rows.size(); r++) {
                TokenSequence s = encode.apply(rows.get(r));
                seqOfRow[r] = s == null ? -1 : seqs.size();
                if (s != null) {
                    seqs.add(s);
                }
            }
            return new RowSequences(rows, seqs, seqOfRow);
        }

        /**
         * The output rows: each input row's {@code inputWidth} values, then {@code extra} new columns filled by
         * {@code fill(k, values, inputWidth)} from sequence k's results, left null for a row without a sequence.
         */
        public List<Row> withColumns(int inputWidth, int extra, ColumnFill fill) {
            List<Row> out = new ArrayList<>(rows.size());
            for (int r = 0; r < rows.size(); r++) {
                Row row = rows.get(r);
                Object[] values = new Object[inputWidth + extra];
                for (int i = 0; i < inputWidth; i++) {
                    values[i] = row.get(i);
                }
                if (sequenceOfRow[r] >= 0) {
                    fill.fill(sequenceOfRow[r], values, inputWidth);
                }
                out.add(RowFactory.create(values));
            }
            return out;
        }
    }

    /** Writes sequence {@code k}'s results into {@code values} from index {@code at} on. */
    protected interface ColumnFill {
        void fill(int k, Object[] values, int at);
    }

    /** What the tasks run for an input of schema {@code input}: column positions and settings, no transformer. */
    protected abstract ModelPartitions<?> partitions(StructType input);

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType in = dataset.schema();
        StructType out = transformSchema(in);
        return dataset.toDF().mapPartitions(partitions(in), Encoders.row(out));
    }

    /**
     * One task's rows cut into batches, each run through the model.
     *
     * @param <B> one batch as taken from the input
     */
    protected interface Batches<B> {
        /** The next batch pulled from the task's input, or null when the input is exhausted. */
        B take();

        /** The output rows of {@code batch}, computed with {@code model} inside the inference scope. */
        List<Row> run(ExecutorModelCache.LoadedModel model, B batch);
    }

    /**
     * The executor side of a subclass: a serializable function holding what its tasks need (never the transformer
     * itself) that cuts a partition into {@link Batches}; the model's lifetime and the iteration are handled here.
     *
     * @param <B> one batch as taken from the input
     */
    protected abstract static class ModelPartitions<B> implements MapPartitionsFunction<Row, Row> {
        private static final long serialVersionUID = 1L;
        private final ModelBroadcast model;

        protected ModelPartitions(ModelBroadcast model) {
            this.model = model;
        }

        /** The batches of one partition, read from {@code input} as they are taken. */
        protected abstract Batches<B> batches(Iterator<Row> input);

        @Override
        public final Iterator<Row> call(Iterator<Row> input) {
            Batches<B> batches = batches(input);
            return new Iterator<>() {
                private ExecutorModelCache.LoadedModel loaded;
                private Iterator<Row> ready = Collections.emptyIterator();

                @Override
                public boolean hasNext() {
                    while (!ready.hasNext()) {
                        B batch = batches.take();
                        if (batch == null) {
                            return false;
                        }
                        ready = run(batch).iterator();
                    }
                    return true;
                }

                @Override
                public Row next() {
                    if (!hasNext()) {
                        throw new NoSuchElementException();
                    }
                    return ready.next();
                }

                private List<Row> run(B batch) {
                    if (loaded == null) {
                        ExecutorModelCache.LoadedModel m = ExecutorModelCache.acquire(model);
                        TaskContext tc = TaskContext.get();
                        if (tc != null) {
                            tc.addTaskCompletionListener((TaskCompletionListener) ctx -> m.release());
                        }
                        loaded = m;
                    }
                    try (AutoCloseable scope = SparkExecutors.inferenceScope()) {
                        return batches.run(loaded, batch);
                    } catch (RuntimeException e) {
                        throw e;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            };
        }
    }
}
