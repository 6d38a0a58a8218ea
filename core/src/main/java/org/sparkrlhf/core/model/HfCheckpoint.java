package org.sparkrlhf.core.model;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.sparkrlhf.core.NonFiniteError;
import org.sparkrlhf.core.io.HadoopFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A checkpoint in Hugging Face layout, in a folder given as a local path or any Hadoop URI:
 * <ul>
 *   <li>{@code config.json} — {@link LlamaConfig#toJson(boolean)}: {@code LlamaForCausalLM}, or
 *       {@code LlamaForSequenceClassification} with {@code num_labels} 1 for a model with the scalar head;
 *       float32;</li>
 *   <li>{@code model.safetensors} — F32 weights under HF names; no {@code lm_head.weight} when embeddings are
 *       tied; the scalar head as {@code score.weight} (an untied LM head stays beside it, which transformers'
 *       sequence classifier skips as an unused weight);</li>
 *   <li>{@code tokenizer.json} — the tokenizer text as given (omitted when null);</li>
 *   <li>{@code rlhf_provenance.json} — the caller's metadata (e.g. Delta table versions trained on).</li>
 * </ul>
 * {@code config.json} is written last, so a folder without it is an interrupted save. A model with a NaN or
 * infinite weight is never written (a {@link NonFiniteError} instead): such a checkpoint is worthless, and one
 * registered as a run's newest would be picked up by every later stage.
 *
 * <p>A loaded checkpoint owns its model: {@link #close()} frees the weights.
 *
 * @param model         the model (owned by this checkpoint)
 * @param tokenizerJson tokenizer.json text, or null
 * @param provenance    contents of rlhf_provenance.json (empty if absent)
 */
public record HfCheckpoint(LlamaModel model, String tokenizerJson, Map<String, Object> provenance)
        implements AutoCloseable {

    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String TOKENIZER = "tokenizer.json";
    public static final String PROVENANCE = "rlhf_provenance.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    // ------------------------------------------------------------------------------------- folder IO

    /** Writes the checkpoint folder {@code dirUri} (created if needed, files overwritten). */
    public static void save(LlamaModel model, String tokenizerJson, Map<String, Object> extraMetadata,
                            String dirUri) {
        save(model, tokenizerJson, extraMetadata, dirUri, new Configuration());
    }

    public static void save(LlamaModel model, String tokenizerJson, Map<String, Object> extraMetadata,
                            String dirUri, Configuration hadoopConf) {
        byte[] provenance = provenanceJson(extraMetadata);
        Map<String, SafeTensors.Tensor> tensors = finiteTensors(model, dirUri);
        HadoopFiles.write(file(dirUri, WEIGHTS), hadoopConf,
                out -> SafeTensors.write(out, tensors, Map.of("format", "pt")));
        if (tokenizerJson != null) {
            byte[] tokenizer = tokenizerJson.getBytes(StandardCharsets.UTF_8);
            HadoopFiles.write(file(dirUri, TOKENIZER), hadoopConf, out -> out.write(tokenizer));
        }
        HadoopFiles.write(file(dirUri, PROVENANCE), hadoopConf, out -> out.write(provenance));
        byte[] config = model.config().toJsonBytes(model.hasScoreHead());
        HadoopFiles.write(file(dirUri, CONFIG), hadoopConf, out -> out.write(config));
    }

    /** Reads a checkpoint folder; the model's weights go into a child of {@code manager}. */
    public static HfCheckpoint load(String dirUri, NDManager manager) {
        return load(dirUri, manager, new Configuration());
    }

    public static HfCheckpoint load(String dirUri, NDManager manager, Configuration hadoopConf) {
        if (!HadoopFiles.exists(file(dirUri, CONFIG), hadoopConf)) {
            throw new IllegalArgumentException("no " + CONFIG + " in " + dirUri + " (not a checkpoint, or an"
                    + " interrupted save)");
        }
        byte[] config = HadoopFiles.readBytes(file(dirUri, CONFIG), hadoopConf);
        byte[] weights = HadoopFiles.readBytes(file(dirUri, WEIGHTS), hadoopConf);
        String tok = file(dirUri, TOKENIZER);
        byte[] tokenizer = HadoopFiles.exists(tok, hadoopConf) ? HadoopFiles.readBytes(tok, hadoopConf) : null;
        String prov = file(dirUri, PROVENANCE);
        byte[] provenance = HadoopFiles.exists(prov, hadoopConf) ? HadoopFiles.readBytes(prov, hadoopConf) : null;
        return assemble(config, weights, tokenizer, provenance, manager);
    }

    // ------------------------------------------------------------------------------------ one blob

    /**
     * The whole checkpoint (config, safetensors, tokenizer, provenance) as one byte array, e.g. for a Spark
     * broadcast; the format is {@link CheckpointBlob}'s.
     */
    public static byte[] toBytes(LlamaModel model, String tokenizerJson, Map<String, Object> extraMetadata) {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(CONFIG, model.config().toJsonBytes(model.hasScoreHead()));
        files.put(WEIGHTS, SafeTensors.write(finiteTensors(model, "a checkpoint blob"), Map.of("format", "pt")));
        files.put(TOKENIZER, tokenizerJson == null ? null : tokenizerJson.getBytes(StandardCharsets.UTF_8));
        files.put(PROVENANCE, provenanceJson(extraMetadata));
        return CheckpointBlob.write(files);
    }

    /** {@link #toBytes(LlamaModel, String, Map)} of this checkpoint. */
    public byte[] toBytes() {
        return toBytes(model, tokenizerJson, provenance);
    }

    /** Rebuilds a checkpoint from {@link #toBytes}; the model's weights go into a child of {@code manager}. */
    public static HfCheckpoint fromBytes(byte[] blob, NDManager manager) {
        CheckpointBlob files = CheckpointBlob.parse(blob);
        return assemble(files.file(CONFIG), files.file(WEIGHTS), files.file(TOKENIZER), files.file(PROVENANCE),
                manager);
    }

    @Override
    public void close() {
        model.close();
    }

    // ------------------------------------------------------------------------------------ helpers

    /** The model's tensors, refused with a {@link NonFiniteError} naming the first weight holding NaN or infinity. */
    static Map<String, SafeTensors.Tensor> finiteTensors(LlamaModel model, String where) {
        Map<String, SafeTensors.Tensor> tensors = model.toTensors();
        for (Map.Entry<String, SafeTensors.Tensor> e : tensors.entrySet()) {
            int bad = 0;
            for (float v : e.getValue().data()) {
                if (!Float.isFinite(v)) {
                    bad++;
                }
            }
            if (bad > 0) {
                throw new NonFiniteError("refusing to write " + where + ": weight " + e.getKey() + " has " + bad
                        + " of " + e.getValue().data().length + " values NaN or infinite",
                        "the training diverged: lower the learning rate or enable grad_clip");
            }
        }
        return tensors;
    }

    private static String file(String dirUri, String name) {
        return new Path(new Path(dirUri), name).toString();
    }

    private static HfCheckpoint assemble(byte[] config, byte[] weights, byte[] tokenizer, byte[] provenance,
                                         NDManager manager) {
        if (config == null || weights == null) {
            throw new IllegalArgumentException("checkpoint lacks " + (config == null ? CONFIG : WEIGHTS));
        }
        LlamaConfig cfg = LlamaConfig.fromJson(config);
        SafeTensors.Contents st = SafeTensors.read(weights);
        LlamaModel model = LlamaModel.fromTensors(cfg, st.tensors(), manager);
        Map<String, Object> prov;
        try {
            prov = provenance == null ? Map.of()
                    : JSON.readValue(provenance, new TypeReference<LinkedHashMap<String, Object>>() { });
        } catch (IOException e) {
            model.close();
            throw new UncheckedIOException("unreadable " + PROVENANCE, e);
        }
        return new HfCheckpoint(model, tokenizer == null ? null : new String(tokenizer, StandardCharsets.UTF_8),
                Collections.unmodifiableMap(prov));
    }

    private static byte[] provenanceJson(Map<String, Object> extra) {
        try {
            return JSON.writeValueAsBytes(extra == null ? Map.of() : extra);
        } catch (IOException e) {
            throw new UncheckedIOException("provenance is not JSON-serializable", e);
        }
    }
}
