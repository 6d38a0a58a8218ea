package org.sparkrlhf.rollouts.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.TaskCompletionListener;

import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * A Spark ML {@link Transformer} that runs a broadcast model over the partitions of its input: what the
 * {@link Generator} and the {@link Scorer} (and any later model-backed transformer) share.
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
