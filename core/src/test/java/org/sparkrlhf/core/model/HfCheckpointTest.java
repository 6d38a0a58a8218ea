package org.sparkrlhf.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

public class HfCheckpointTest {

    static NDManager manager;
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    static NDArray batch(NDManager m) {
        return m.create(new long[] {1, 4, 2, 9, 3, 0, 7, 7, 5, 11}, new Shape(2, 5));
    }

    @Test
    void folderRoundTripGivesIdenticalLogitsAndScoresAndHfLayout(@TempDir Path dir) throws IOException {
        LlamaConfig cfg = new LlamaConfig(32, 48, 2, 4, 2, 16, 64, 10000.0, 1e-5, true, 1, 2, 0);
        String tokenizer = "{\"version\":\"1.0\",\"model\":{\"type\":\"WordLevel\"}}";
        Map<String, Object> prov = new LinkedHashMap<>();
        prov.put("sft_demos_version", 3);
        prov.put("stage", "reward");
        String uri = dir.resolve("ckpt").toUri().toString(); // file:/... (a Hadoop URI)
        try (NDManager m = manager.newSubManager(); LlamaModel model = LlamaModel.init(cfg, true, 9, m)) {
            HfCheckpoint.save(model, tokenizer, prov, uri);
            Path ck = dir.resolve("ckpt");
            for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "rlhf_provenance.json")) {
                assertTrue(Files.exists(ck.resolve(f)), f);
            }
            JsonNode config = JSON.readTree(ck.resolve("config.json").toFile());
            assertEquals("llama", config.get("model_type").asText());
            // a model with the scalar head is a one-label sequence classifier to transformers
            assertEquals("LlamaForSequenceClassification", config.get("architectures").get(0).asText());
            assertEquals(1, config.get("num_labels").asInt());
            assertEquals(1, config.get("id2label").size());
            assertEquals(0, config.get("pad_token_id").asInt());
            assertEquals("float32", config.get("torch_dtype").asText());
            assertEquals(2, config.get("num_key_value_heads").asInt());

            // a plain safetensors reader: u64 LE header length, JSON header, contiguous data
            byte[] file = Files.readAllBytes(ck.resolve("model.safetensors"));
            long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, n % 8, "header padded to 8 bytes");
            String headerText = new String(file, 8, (int) n, StandardCharsets.UTF_8);
            assertTrue(headerText.startsWith("{"));
            JsonNode header = JSON.readTree(headerText.trim());
            Set<String> names = new HashSet<>();
            List<long[]> ranges = new ArrayList<>();
            for (Iterator<String> it = header.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (name.equals("__metadata__")) {
                    continue;
                }
                names.add(name);
                JsonNode t = header.get(name);
                assertEquals("F32", t.get("dtype").asText());
                long count = 1;
                for (JsonNode d : t.get("shape")) {
                    count *= d.asLong();
                }
                long begin = t.get("data_offsets").get(0).asLong();
                long end = t.get("data_offsets").get(1).asLong();
                assertEquals(4 * count, end - begin, name);
                ranges.add(new long[] {begin, end});
            }
            ranges.sort((a, b) -> Long.compare(a[0], b[0]));
            long cursor = 0;
            for (long[] r : ranges) {
                assertEquals(cursor, r[0], "tensors are contiguous");
                cursor = r[1];
            }
            assertEquals(file.length - 8 - n, cursor, "data section fully used");
            assertEquals(model.parameters().keySet(), names);
            assertTrue(names.contains("model.embed_tokens.weight"));
            assertTrue(names.contains("model.layers.1.self_attn.q_proj.weight"));
            assertTrue(names.contains("model.layers.0.mlp.down_proj.weight"));
            assertTrue(names.contains("model.layers.0.post_attention_layernorm.weight"));
            assertTrue(names.contains("model.norm.weight"));
            assertTrue(names.contains("score.weight"));
            assertFalse(names.contains("lm_head.weight"), "tied: no lm_head.weight");
            // the bytes of one tensor are the model's values, little-endian
            JsonNode norm = header.get("model.layers.1.input_layernorm.weight");
            int off = (int) (8 + n + norm.get("data_offsets").get(0).asLong());
            float[] stored = new float[32];
            ByteBuffer.wrap(file, off, 128).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(stored);
            assertArrayEquals(model.parameters().get("model.layers.1.input_layernorm.weight").toFloatArray(), stored);

            try (HfCheckpoint back = HfCheckpoint.load(uri, m)) {
                assertEquals(cfg, back.model().config());
                assertTrue(back.model().hasScoreHead());
                assertEquals(tokenizer, back.tokenizerJson());
                assertEquals(3, ((Number) back.provenance().get("sft_demos_version")).intValue());
                assertEquals("reward", back.provenance().get("stage"));
                NDArray x = batch(m);
                assertArrayEquals(model.logits(x, null, null, null).toFloatArray(),
                        back.model().logits(x, null, null, null).toFloatArray(), 0f);
                assertArrayEquals(model.scores(x, null, null, null).toFloatArray(),
                        back.model().scores(x, null, null, null).toFloatArray(), 0f);
            }
            // a plain local path works too
            try (HfCheckpoint back = HfCheckpoint.load(ck.toString(), m)) {
                assertEquals(model.parameterCount(), back.model().parameterCount());
            }
        }
    }

    @Test
    void untiedModelWritesLmHeadAndBlobRoundTrips() {
        LlamaConfig cfg = LlamaConfig.tiny(16, 32, 1, 4, 4, 40, 32, false);
        try (NDManager m = manager.newSubManager(); LlamaModel model = LlamaModel.init(cfg, false, 4, m)) {
            byte[] blob = HfCheckpoint.toBytes(model, null, Map.of("prompts_version", 12));
            try (HfCheckpoint back = HfCheckpoint.fromBytes(blob, m)) {
                assertNull(back.tokenizerJson());
                assertFalse(back.model().hasScoreHead());
                assertTrue(back.model().parameters().containsKey("lm_head.weight"));
                assertEquals(12, ((Number) back.provenance().get("prompts_version")).intValue());
                NDArray x = batch(m);
                assertArrayEquals(model.logits(x, null, null, null).toFloatArray(),
                        back.model().logits(x, null, null, null).toFloatArray(), 0f);
                // and the blob of the loaded checkpoint is the same bytes
                assertArrayEquals(blob, back.toBytes());
            }
        }
    }

    /** One NaN weight: the folder gets no file at all and the blob is refused, each with a one-line error. */
    @Test
    void aModelWithANonFiniteWeightIsNeverWritten(@TempDir Path dir) throws IOException {
        LlamaConfig cfg = LlamaConfig.tiny(16, 32, 1, 4, 4, 40, 32, false);
        try (NDManager m = manager.newSubManager(); LlamaModel model = LlamaModel.init(cfg, false, 4, m)) {
            model.parameters().get("lm_head.weight").set(new ai.djl.ndarray.index.NDIndex("3, 5"), Float.NaN);
            String target = dir.resolve("step-000010").toString();
            org.sparkrlhf.core.NonFiniteError e = assertThrows(org.sparkrlhf.core.NonFiniteError.class,
                    () -> HfCheckpoint.save(model, null, Map.of(), target));
            assertEquals("refusing to write " + target + ": weight lm_head.weight has 1 of "
                    + model.parameters().get("lm_head.weight").size() + " values NaN or infinite; last good checkpoint: none (the training diverged: lower the"
                    + " learning rate or enable grad_clip)", e.getMessage());
            assertFalse(Files.exists(dir.resolve("step-000010")), "nothing of the checkpoint was written");
            assertThrows(org.sparkrlhf.core.NonFiniteError.class, () -> HfCheckpoint.toBytes(model, null, Map.of()));
            model.parameters().get("lm_head.weight").set(new ai.djl.ndarray.index.NDIndex("3, 5"),
                    Float.NEGATIVE_INFINITY);
            assertThrows(org.sparkrlhf.core.NonFiniteError.class, () -> HfCheckpoint.save(model, null, Map.of(), target));
        }
    }

    @Test
    void loadingAFolderWithoutConfigFails(@TempDir Path dir) {
        assertThrows(IllegalArgumentException.class, () -> HfCheckpoint.load(dir.toString(), manager));
    }

    // ------------------------------------------------------------------------------- safetensors

    /** Builds a safetensors file by hand: a BF16 [3] tensor and an F16 [2,2] tensor, with metadata. */
    public static byte[] handWrittenHalfFile() {
        short[] bf16 = {(short) 0x3F80 /* 1.0 */, (short) 0xC020 /* -2.5 */, (short) 0x3E20 /* 0.15625 */};
        short[] f16 = {(short) 0x3C00 /* 1.0 */, (short) 0xC000 /* -2.0 */, (short) 0x7BFF /* 65504 */,
            (short) 0x0001 /* 2^-24, smallest subnormal */};
        String header = "{\"b\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[6,14]},"
                + "\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 14).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        for (short s : bf16) {
            buf.putShort(s);
        }
        for (short s : f16) {
            buf.putShort(s);
        }
        return buf.array();
    }

    @Test
    void readsBf16AndF16AsFloat32() {
        SafeTensors.Contents c = SafeTensors.read(handWrittenHalfFile());
        assertEquals("pt", c.metadata().get("format"));
        assertArrayEquals(new long[] {3}, c.tensors().get("a").shape());
        assertArrayEquals(new float[] {1.0f, -2.5f, 0.15625f}, c.tensors().get("a").data(), 0f);
        assertArrayEquals(new long[] {2, 2}, c.tensors().get("b").shape());
        assertArrayEquals(new float[] {1.0f, -2.0f, 65504f, (float) Math.pow(2, -24)}, c.tensors().get("b").data(), 0f);
        // the F16 one becomes a float32 NDArray
        try (NDManager m = manager.newSubManager()) {
            NDArray b = c.tensors().get("b").toNDArray(m);
            assertEquals(ai.djl.ndarray.types.DataType.FLOAT32, b.getDataType());
            assertEquals(-2.0f, b.getFloat(0, 1));
        }
        // a few more half values: 0.333 ≈ 0x3555, -0 and infinity
        assertEquals(0.33325195f, SafeTensors.halfToFloat((short) 0x3555), 0f);
        assertEquals(Float.floatToIntBits(-0f), Float.floatToIntBits(SafeTensors.halfToFloat((short) 0x8000)));
        assertEquals(Float.POSITIVE_INFINITY, SafeTensors.halfToFloat((short) 0x7C00));
        assertTrue(Float.isNaN(SafeTensors.halfToFloat((short) 0x7E00)));
        assertEquals(6.1035156e-5f, SafeTensors.halfToFloat((short) 0x0400), 0f); // smallest normal 2^-14
    }

    @Test
    void writeThenReadF32KeepsNamesOrderAndValues() {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        t.put("z.weight", new SafeTensors.Tensor(new long[] {2, 3}, new float[] {1, -2, 3.5f, 0, 1e-8f, -7}));
        t.put("a.bias", new SafeTensors.Tensor(new long[] {1}, new float[] {42}));
        byte[] bytes = SafeTensors.write(t, Map.of("note", "x"));
        SafeTensors.Contents c = SafeTensors.read(bytes);
        assertEquals(List.of("z.weight", "a.bias"), new ArrayList<>(c.tensors().keySet()));
        assertArrayEquals(t.get("z.weight").data(), c.tensors().get("z.weight").data(), 0f);
        assertArrayEquals(new long[] {2, 3}, c.tensors().get("z.weight").shape());
        assertEquals("x", c.metadata().get("note"));
    }

    @Test
    void rejectsUnsupportedDtypeAndBadOffsets() {
        String header = "{\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 2).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(buf.array()));
        String bad = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}";
        byte[] hb = bad.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b2 = ByteBuffer.allocate(8 + hb.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b2.putLong(hb.length).put(hb);
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(b2.array()));
    }
}
