package org.sparkrlhf.core.model;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A checkpoint in Hugging Face layout, in a folder given as a local path or any Hadoop URI:
 * <ul>
 *   <li>{@code config.json} — {@link LlamaConfig#toJson()} ({@code LlamaForCausalLM}, float32);</li>
 *   <li>{@code model.safetensors} — F32 weights under HF names; no {@code lm_head.weight} when embeddings are
 *       tied; the scalar head as {@code score.weight};</li>
 *   <li>{@code tokenizer.json} — the tokenizer text as given (omitted when null);</li>
 *   <li>{@code rlhf_provenance.json} — the caller's metadata (e.g. Delta table versions trained on).</li>
 * </ul>
 * {@code config.json} is written last, so a folder without it is an interrupted save.
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
    private static final byte[] MAGIC = "SRLHFCK1".getBytes(StandardCharsets.US_ASCII);

    // ------------------------------------------------------------------------------------- folder IO

    /** Writes the checkpoint folder {@code dirUri} (created if needed, files overwritten). */
    public static void save(LlamaModel model, String tokenizerJson, Map<String, Object> extraMetadata,
                            String dirUri) {
        save(model, tokenizerJson, extraMetadata, dirUri, new Configuration());
    }

    public static void save(LlamaModel model, String tokenizerJson, Map<String, Object> extraMetadata,
                            String dirUri, Configuration hadoopConf) {
        Path dir = new Path(dirUri);
        try {
            FileSystem fs = dir.getFileSystem(hadoopConf);
            fs.mkdirs(dir);
            try (FSDataOutputStream out = fs.create(new Path(dir, WEIGHTS), true)) {
                SafeTensors.write(out, model.toTensors(), Map.of("format", "pt"));
            }
            if (tokenizerJson != null) {
                writeFile(fs, new Path(dir, TOKENIZER), tokenizerJson.getBytes(StandardCharsets.UTF_8));
            }
            writeFile(fs, new Path(dir, PROVENANCE), provenanceJson(extraMetadata));
            writeFile(fs, new Path(dir, CONFIG), model.config().toJsonBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint to " + dirUri, e);
        }
    }

    /** Reads a checkpoint folder; the model's weights go into a child of {@code manager}. */
    public static HfCheckpoint load(String dirUri, NDManager manager) {
        return load(dirUri, manager, new Configuration());
    }

    public static HfCheckpoint load(String dirUri, NDManager manager, Configuration hadoopConf) {
        Path dir = new Path(dirUri);
        try {
            FileSystem fs = dir.getFileSystem(hadoopConf);
            Path cfg = new Path(dir, CONFIG);
            if (!fs.exists(cfg)) {
                throw new IllegalArgumentException("no " + CONFIG + " in " + dirUri + " (not a checkpoint, or an"
                        + " interrupted save)");
            }
            byte[] config = readFile(fs, cfg);
            byte[] weights = readFile(fs, new Path(dir, WEIGHTS));
            Path tok = new Path(dir, TOKENIZER);
            byte[] tokenizer = fs.exists(tok) ? readFile(fs, tok) : null;
            Path prov = new Path(dir, PROVENANCE);
            byte[] provenance = fs.exists(prov) ? readFile(fs, prov) : null;
            return assemble(config, weights, tokenizer, provenance, manager);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read checkpoint from " + dirUri, e);
        }
    }

    // ------------------------------------------------------------------------------------ one blob

    /**
     * The whole checkpoint (config, safetensors, tokenizer, provenance) as one byte array, e.g. for a Spark
     * broadcast: magic {@code SRLHFCK1}, then per file a UTF name, an int64 length (-1 = absent) and the bytes.
     */
    public static byte[] toBytes(LlamaModel model, String tokenizerJson, Map<String, Object> extraMetadata) {
        try {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bos);
            out.write(MAGIC);
            section(out, CONFIG, model.config().toJsonBytes());
            section(out, WEIGHTS, SafeTensors.write(model.toTensors(), Map.of("format", "pt")));
            section(out, TOKENIZER, tokenizerJson == null ? null : tokenizerJson.getBytes(StandardCharsets.UTF_8));
            section(out, PROVENANCE, provenanceJson(extraMetadata));
            out.flush();
            return bos.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@link #toBytes(LlamaModel, String, Map)} of this checkpoint. */
    public byte[] toBytes() {
        return toBytes(model, tokenizerJson, provenance);
    }

    /** Rebuilds a checkpoint from {@link #toBytes}; the model's weights go into a child of {@code manager}. */
    public static HfCheckpoint fromBytes(byte[] blob, NDManager manager) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(blob))) {
            byte[] magic = in.readNBytes(MAGIC.length);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                throw new IllegalArgumentException("not a checkpoint blob");
            }
            Map<String, byte[]> files = new LinkedHashMap<>();
            for (int i = 0; i < 4; i++) {
                String name = in.readUTF();
                long len = in.readLong();
                files.put(name, len < 0 ? null : in.readNBytes(Math.toIntExact(len)));
            }
            return assemble(files.get(CONFIG), files.get(WEIGHTS), files.get(TOKENIZER), files.get(PROVENANCE),
                    manager);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        model.close();
    }

    // ------------------------------------------------------------------------------------ helpers

    private static HfCheckpoint assemble(byte[] config, byte[] weights, byte[] tokenizer, byte[] provenance,
                                         NDManager manager) throws IOException {
        if (config == null || weights == null) {
            throw new IllegalArgumentException("checkpoint lacks " + (config == null ? CONFIG : WEIGHTS));
        }
        LlamaConfig cfg = LlamaConfig.fromJson(config);
        SafeTensors.Contents st = SafeTensors.read(weights);
        LlamaModel model = LlamaModel.fromTensors(cfg, st.tensors(), manager);
        Map<String, Object> prov = provenance == null ? Map.of()
                : JSON.readValue(provenance, new TypeReference<LinkedHashMap<String, Object>>() { });
        return new HfCheckpoint(model, tokenizer == null ? null : new String(tokenizer, StandardCharsets.UTF_8),
                Collections.unmodifiableMap(prov));
    }

    private static byte[] provenanceJson(Map<String, Object> extra) throws IOException {
        return JSON.writeValueAsBytes(extra == null ? Map.of() : extra);
    }

    private static void section(DataOutputStream out, String name, byte[] data) throws IOException {
        out.writeUTF(name);
        out.writeLong(data == null ? -1 : data.length);
        if (data != null) {
            out.write(data);
        }
    }

    private static void writeFile(FileSystem fs, Path p, byte[] data) throws IOException {
        try (FSDataOutputStream out = fs.create(p, true)) {
            out.write(data);
        }
    }

    private static byte[] readFile(FileSystem fs, Path p) throws IOException {
        try (FSDataInputStream in = fs.open(p)) {
            return in.readAllBytes();
        }
    }
}
