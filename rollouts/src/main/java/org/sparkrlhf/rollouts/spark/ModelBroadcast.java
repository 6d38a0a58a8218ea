package org.sparkrlhf.rollouts.spark;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;
import org.apache.spark.sql.SparkSession;
import org.sparkrlhf.core.model.CheckpointBlob;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;

import java.io.Serializable;
import java.util.Map;
import java.util.Objects;

/**
 * A model's weights shipped to executors as a versioned Spark broadcast: a small serializable handle
 * (model key, version, {@code Broadcast<byte[]>}) that tasks capture in their closures. The broadcast holds a whole
 * checkpoint blob ({@link HfCheckpoint#toBytes}: config, safetensors, tokenizer.json, provenance), so executors
 * need nothing but the broadcast — no shared file system, no path that exists only on the driver. Executors turn
 * it into a model through {@link ExecutorModelCache#acquire}, which loads each (key, version) once per JVM.
 *
 * <p><b>Keys and versions.</b> The key names a role ({@code "policy"}, {@code "reference"}, {@code "reward"}); the
 * version orders the weights published under it (e.g. the optimizer step). On each executor a newer version of a
 * key replaces the older ones as soon as no task uses them, so two models that must stay resident side by side
 * (policy and reference) need two keys.
 *
 * <p><b>Lifetime.</b> Spark keeps a broadcast's blocks on the driver and on every executor that fetched it until
 * {@link #unpersist()} (executor copies; refetched if used again) or {@link #destroy()} (everywhere, final). A
 * training loop publishes version v+1 and destroys v once no job needs it — {@link #replace} does both. This
 * frees the serialized blob; the loaded NDArrays on executors are freed by {@link ExecutorModelCache}.
 *
 * <p><b>Size.</b> One blob is one Java array, so a checkpoint must stay under 2 GiB (a float32 model of up to
 * ~500M parameters). A larger model would need the weights split over several broadcasts.
 *
 * <p>The handle also carries what the driver needs to plan a job without loading the weights: the config and
 * whether the model has a scalar head (read from the blob's config.json and safetensors header at publish time).
 */
public final class ModelBroadcast implements Serializable {

    private static final long serialVersionUID = 1L;

    private final String modelKey;
    private final long version;
    private final Broadcast<byte[]> blob;
    private final String configJson;
    private final boolean scoreHead;
    private final long sizeBytes;
    /** Executors' load time, nanoseconds summed over the JVMs that loaded this publication (see {@link #loadSeconds}). */
    private final LongAccumulator loadNanos;
    /** How many executor JVMs loaded this publication. */
    private final LongAccumulator loads;

    private ModelBroadcast(String modelKey, long version, Broadcast<byte[]> blob, String configJson,
                           boolean scoreHead, long sizeBytes, LongAccumulator loadNanos, LongAccumulator loads) {
        this.modelKey = modelKey;
        this.version = version;
        this.blob = blob;
        this.configJson = configJson;
        this.scoreHead = scoreHead;
        this.sizeBytes = sizeBytes;
        this.loadNanos = loadNanos;
        this.loads = loads;
    }

    // ---------------------------------------------------------------------------------- publishing

    /**
     * Broadcasts a checkpoint blob ({@link HfCheckpoint#toBytes}) as {@code modelKey} at {@code version}.
     * The blob is checked here, on the driver (format, config.json, a tokenizer.json present), so a bad
     * checkpoint fails before any task starts.
     */
    public static ModelBroadcast publish(JavaSparkContext jsc, String modelKey, long version, byte[] checkpointBlob) {
        Objects.requireNonNull(modelKey, "modelKey");
        if (modelKey.isBlank()) {
            throw new IllegalArgumentException("modelKey must not be blank");
        }
        BlobInfo info = inspect(checkpointBlob);
        // Accumulators, not a static on the executors: on a cluster the loads happen in other JVMs, and Spark merges
        // a task's updates into the driver's value when the task ends.
        String label = modelKey + " v" + version;
        return new ModelBroadcast(modelKey, version, jsc.broadcast(checkpointBlob), info.configJson(),
                info.scoreHead(), checkpointBlob.length, jsc.sc().longAccumulator(label + " load ns"),
                jsc.sc().longAccumulator(label + " loads"));
    }

    public static ModelBroadcast publish(SparkSession spark, String modelKey, long version, byte[] checkpointBlob) {
        return publish(JavaSparkContext.fromSparkContext(spark.sparkContext()), modelKey, version, checkpointBlob);
    }

    /** Serializes {@code model} (with its tokenizer.json and provenance) and broadcasts it. */
    public static ModelBroadcast publish(SparkSession spark, String modelKey, long version, LlamaModel model,
                                         String tokenizerJson, Map<String, Object> provenance) {
        return publish(spark, modelKey, version, HfCheckpoint.toBytes(model, tokenizerJson, provenance));
    }

    /**
     * Publishes {@code checkpointBlob} as the next version of {@code previous}'s key and destroys
     * {@code previous} (non-blocking). Call it only when no running or later job still needs the old version.
     */
    public static ModelBroadcast replace(SparkSession spark, ModelBroadcast previous, byte[] checkpointBlob) {
        ModelBroadcast next = publish(spark, previous.modelKey, previous.version + 1, checkpointBlob);
        previous.destroy();
        return next;
    }

    // -------------------------------------------------------------------------------------- access

    public String modelKey() {
        return modelKey;
    }

    public long version() {
        return version;
    }

    /** The underlying Spark broadcast. */
    public Broadcast<byte[]> broadcast() {
        return blob;
    }

    /** Spark's id of the broadcast (distinguishes two publications of the same key and version). */
    public long broadcastId() {
        return blob.id();
    }

    /** The checkpoint blob; on an executor this fetches the broadcast blocks the first time. */
    public byte[] blob() {
        return blob.value();
    }

    /** The model's config (parsed from the blob's config.json at publish time). */
    public LlamaConfig config() {
        return LlamaConfig.fromJson(configJson);
    }

    /** True when the checkpoint has a scalar head ({@code score.weight}). */
    public boolean hasScoreHead() {
        return scoreHead;
    }

    /** Size of the blob in bytes. */
    public long sizeBytes() {
        return sizeBytes;
    }

    /**
     * Records, on an executor, that its JVM fetched and decoded this publication in {@code nanos}
     * ({@link ExecutorModelCache} calls it once per JVM and publication).
     */
    void recordLoad(long nanos) {
        loadNanos.add(nanos);
        loads.add(1);
    }

    /**
     * Mean seconds an executor JVM spent fetching and decoding this publication, over the JVMs that loaded it in
     * tasks finished so far (0 before any). Executors load side by side, so this is what a weight update adds to a
     * job's critical path beside the driver's publishing; tasks of the same JVM wait for the one load.
     */
    public double loadSeconds() {
        long n = loads.value();
        return n == 0 ? 0 : loadNanos.value() / 1e9 / n;
    }

    /** Executor JVMs that loaded this publication, in tasks finished so far. */
    public long loadCount() {
        return loads.value();
    }

    // ------------------------------------------------------------------------------------ lifetime

    /** Drops the executors' copies (non-blocking); a later use fetches the blob again from the driver. */
    public void unpersist() {
        blob.unpersist(false);
    }

    /** Drops the blob everywhere, driver included; the handle is unusable afterwards. */
    public void destroy() {
        blob.destroy();
    }

    @Override
    public String toString() {
        return "ModelBroadcast(" + modelKey + " v" + version + ", broadcast " + blob.id() + ", " + sizeBytes
                + " bytes" + (scoreHead ? ", score head" : "") + ")";
    }

    // ------------------------------------------------------------------------------ blob inspection

    private record BlobInfo(String configJson, boolean scoreHead) {
    }

    /**
     * Reads the blob's table of contents without decoding the weights: the config.json text, the safetensors
     * header's tensor names (for the score head), and that a tokenizer.json is present (every consumer encodes).
     */
    private static BlobInfo inspect(byte[] blob) {
        Objects.requireNonNull(blob, "checkpointBlob");
        CheckpointBlob files = CheckpointBlob.parse(blob);
        String config = files.text(HfCheckpoint.CONFIG);
        if (config == null || !files.has(HfCheckpoint.WEIGHTS)) {
            throw new IllegalArgumentException("checkpoint blob lacks " + (config == null ? HfCheckpoint.CONFIG
                    : HfCheckpoint.WEIGHTS));
        }
        boolean head = files.tensorNames().contains(LlamaModel.SCORE);
        if (!files.has(HfCheckpoint.TOKENIZER)) {
            throw new IllegalArgumentException("checkpoint blob lacks " + HfCheckpoint.TOKENIZER
                    + ": executors need the tokenizer to encode prompts and completions");
        }
        LlamaConfig.fromJson(config); // rejects configs the model cannot compute, here on the driver
        return new BlobInfo(config, head);
    }
}
