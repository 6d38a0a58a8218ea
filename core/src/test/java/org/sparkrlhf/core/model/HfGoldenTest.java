package org.sparkrlhf.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Checkpoints written by Hugging Face {@code transformers} itself ({@code resources/golden/}, made by
 * {@code tools/hf-reference/make_golden.py}) load through {@link HfCheckpoint} and give the logits transformers
 * computed for them, every one within {@link #TOLERANCE}. The cases cover grouped-, multi- and multi-query
 * attention, tied and untied embeddings, non-default rope_theta and rms_norm_eps, and weights stored as bfloat16
 * (the reference then is transformers' float32 forward of the same bf16 weights, which is what this project
 * computes, so the same tolerance holds).
 *
 * <p>Each case is also saved back by {@link HfCheckpoint#save} into {@code target/hf-export/<case>/} with the
 * logits computed here, for {@code tools/hf-reference/check_export.py} to load with transformers and compare.
 */
class HfGoldenTest {

    /** Largest allowed |project - transformers| per logit (float32 forward on both sides). */
    static final double TOLERANCE = 1e-4;

    /** check_export.py's greedy comparison: this many ids of the first row, then this many generated tokens. */
    static final int GREEDY_PREFIX = 8;
    static final int GREEDY_STEPS = 16;

    static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"gqa-untied", "mha-tied", "mqa-tied-bf16"})
    void logitsMatchTransformers(String name) throws IOException, URISyntaxException {
        Path dir = Path.of(HfGoldenTest.class.getResource("/golden/" + name).toURI());
        JsonNode expected = JSON.readTree(dir.resolve("expected.json").toFile());
        long[][] rows = JSON.treeToValue(expected.get("input_ids"), long[][].class);
        SafeTensors.Tensor want = SafeTensors.read(Files.readAllBytes(dir.resolve("expected_logits.safetensors")))
                .tensors().get("logits");
        try (NDManager m = NDManager.newBaseManager("PyTorch");
             HfCheckpoint ckpt = HfCheckpoint.load(dir.toString(), m)) {
            NDArray ids = m.create(Arrays.stream(rows).flatMapToLong(Arrays::stream).toArray(),
                    new Shape(rows.length, rows[0].length));
            float[] got;
            try (AutoCloseable noGrad = LlamaModel.noGrad()) {
                NDArray logits = ckpt.model().logits(ids, null, null, null);
                assertArrayEquals(want.shape(), logits.getShape().getShape(), name + ": logits shape");
                got = logits.toFloatArray();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            double maxDiff = 0;
            int worst = 0;
            for (int i = 0; i < got.length; i++) {
                double d = Math.abs(got[i] - want.data()[i]);
                if (d > maxDiff) {
                    maxDiff = d;
                    worst = i;
                }
            }
            System.out.printf("golden %s: max |logit - transformers| = %.3g over %d logits%n", name, maxDiff,
                    got.length);
            assertTrue(maxDiff <= TOLERANCE, name + ": logit " + worst + " is " + got[worst] + ", transformers "
                    + want.data()[worst] + " (|diff| " + maxDiff + " > " + TOLERANCE + ")");

            export(name, ckpt.model(), rows, got, want.shape(), m);
        }
    }

    /** Greedy tokens after the first row's first {@link #GREEDY_PREFIX} ids, recomputing the whole sequence per step. */
    private static long[] greedy(LlamaModel model, long[] row, NDManager parent) {
        long[] seq = Arrays.copyOf(row, GREEDY_PREFIX + GREEDY_STEPS);
        try (NDManager m = parent.newSubManager(); AutoCloseable noGrad = LlamaModel.noGrad()) {
            for (int t = GREEDY_PREFIX; t < seq.length; t++) {
                NDArray ids = m.create(Arrays.copyOf(seq, t), new Shape(1, t));
                seq[t] = model.logits(ids, null, null, null).get(0, t - 1).argMax().getLong();
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        return Arrays.copyOfRange(seq, GREEDY_PREFIX, seq.length);
    }

    /** The checkpoint as this project writes it, with its logits and greedy tokens, for check_export.py. */
    private static void export(String name, LlamaModel model, long[][] rows, float[] logits, long[] shape,
                               NDManager manager) throws IOException {
        Path out = Path.of("target", "hf-export", name);
        HfCheckpoint.save(model, null, Map.of(), out.toString());
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("input_ids", rows);
        expected.put("greedy_prefix", GREEDY_PREFIX);
        expected.put("greedy_tokens", greedy(model, rows[0], manager));
        expected.put("computed_by", "spark-rlhf LlamaModel (DJL PyTorch, float32)");
        JSON.writerWithDefaultPrettyPrinter().writeValue(out.resolve("expected.json").toFile(), expected);
        Files.write(out.resolve("expected_logits.safetensors"),
                SafeTensors.write(Map.of("logits", new SafeTensors.Tensor(shape, logits)), Map.of()));
    }
}
