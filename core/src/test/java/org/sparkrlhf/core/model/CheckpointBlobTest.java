package org.sparkrlhf.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CheckpointBlobTest {

    static byte[] weights() {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        t.put("model.norm.weight", new SafeTensors.Tensor(new long[] {2}, new float[] {1f, 2f}));
        t.put(LlamaModel.SCORE, new SafeTensors.Tensor(new long[] {1, 2}, new float[] {0.5f, -0.5f}));
        return SafeTensors.write(t, Map.of("format", "pt"));
    }

    static byte[] blob(byte[] tokenizer) {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(HfCheckpoint.CONFIG, "{\"a\":1}".getBytes(StandardCharsets.UTF_8));
        files.put(HfCheckpoint.WEIGHTS, weights());
        files.put(HfCheckpoint.TOKENIZER, tokenizer);
        files.put(HfCheckpoint.PROVENANCE, "{}".getBytes(StandardCharsets.UTF_8));
        return CheckpointBlob.write(files);
    }

    @Test
    void readsBackEveryFileAndTheTensorNamesWithoutDecodingWeights() {
        CheckpointBlob b = CheckpointBlob.parse(blob("tok".getBytes(StandardCharsets.UTF_8)));
        assertEquals("{\"a\":1}", b.text(HfCheckpoint.CONFIG));
        assertArrayEquals(weights(), b.file(HfCheckpoint.WEIGHTS));
        assertEquals("tok", b.text(HfCheckpoint.TOKENIZER));
        assertEquals(CheckpointBlob.FILES, b.sections().keySet().stream().toList());
        assertEquals(Set.of("model.norm.weight", LlamaModel.SCORE), b.tensorNames());
    }

    @Test
    void anAbsentFileIsNullNotEmpty() {
        CheckpointBlob b = CheckpointBlob.parse(blob(null));
        assertFalse(b.has(HfCheckpoint.TOKENIZER));
        assertNull(b.file(HfCheckpoint.TOKENIZER));
        assertTrue(b.has(HfCheckpoint.PROVENANCE));
    }

    @Test
    void aTruncatedBlobNamesTheSectionItEndsIn() {
        byte[] whole = blob("tok".getBytes(StandardCharsets.UTF_8));
        // cut inside the weights (the tokenizer and provenance sections after them take 59 bytes)
        int cut = whole.length - 100;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CheckpointBlob.parse(Arrays.copyOf(whole, cut)));
        assertTrue(e.getMessage().startsWith("truncated checkpoint blob: model.safetensors needs "), e.getMessage());
        // cut inside the first section header
        e = assertThrows(IllegalArgumentException.class, () -> CheckpointBlob.parse(Arrays.copyOf(whole, 11)));
        assertTrue(e.getMessage().startsWith("truncated checkpoint blob: it ends inside its table of contents"),
                e.getMessage());
    }

    @Test
    void otherBytesAreNotABlob() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CheckpointBlob.parse("PK\u0003\u0004 a zip".getBytes(StandardCharsets.ISO_8859_1)));
        assertEquals("not a checkpoint blob (HfCheckpoint.toBytes)", e.getMessage());
    }

    @Test
    void writingNeedsAnEntryForEveryFile() {
        assertThrows(IllegalArgumentException.class,
                () -> CheckpointBlob.write(Map.of(HfCheckpoint.CONFIG, new byte[0])));
    }

    @Test
    void aBadSafetensorsHeaderIsRefusedByTheSameReaderAsAFile() {
        byte[] bad = new byte[16];
        bad[0] = 100; // header length 100 > 8 bytes left
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SafeTensors.tensorNames(bad, 0, bad.length));
        assertEquals("bad safetensors header length 100 in a file of 16 bytes", e.getMessage());
        assertEquals(e.getMessage(), assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(bad))
                .getMessage());
    }
}
