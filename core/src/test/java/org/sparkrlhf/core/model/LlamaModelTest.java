package org.sparkrlhf.core.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LlamaModelTest {

    static NDManager manager;

    /** vocab 16, hidden 32, 2 layers, 4 query heads, 2 kv heads (GQA), head_dim 8. */
    static final LlamaConfig GQA = LlamaConfig.tiny(16, 32, 2, 4, 2, 48, 64, false);

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager("PyTorch");
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    static NDArray ids(NDManager m, long[][] rows) {
        int b = rows.length;
        int t = rows[0].length;
        long[] flat = new long[b * t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(rows[i], 0, flat, i * t, t);
        }
        return m.create(flat, new Shape(b, t));
    }

    static float maxAbsDiff(NDArray a, NDArray b) {
        float[] x = a.toFloatArray();
        float[] y = b.toFloatArray();
        assertEquals(x.length, y.length);
        float m = 0;
        for (int i = 0; i < x.length; i++) {
            m = Math.max(m, Math.abs(x[i] - y[i]));
        }
        return m;
    }

    // ------------------------------------------------------------------------------ building blocks

    @Test
    void rmsNormMatchesHandComputation() {
        try (NDManager m = manager.newSubManager()) {
            NDArray x = m.create(new float[] {1, 2, 3, 4, -2, 0, 0, 2}, new Shape(2, 4));
            NDArray w = m.create(new float[] {1, 0.5f, 2, 1});
            float[] out = LlamaModel.rmsNorm(x, w, 1e-5).toFloatArray();
            // row 0: mean(x^2) = (1+4+9+16)/4 = 7.5 ; row 1: (4+0+0+4)/4 = 2
            double r0 = 1 / Math.sqrt(7.5 + 1e-5);
            double r1 = 1 / Math.sqrt(2 + 1e-5);
            float[] expected = {
                (float) (1 * r0 * 1), (float) (2 * r0 * 0.5), (float) (3 * r0 * 2), (float) (4 * r0 * 1),
                (float) (-2 * r1 * 1), 0f, 0f, (float) (2 * r1 * 1)};
            assertArrayEquals(expected, out, 1e-6f);
        }
    }

    @Test
    void swiGluMatchesHandComputation() {
        try (NDManager m = manager.newSubManager()) {
            // x = [1, -2]; gate = [[1,0],[0.5,0.5]] ; up = [[2,1],[0,-1]] ; down = [[1,-1]]   ([out,in] layout)
            NDArray x = m.create(new float[] {1, -2}, new Shape(1, 2));
            NDArray gate = m.create(new float[] {1, 0, 0.5f, 0.5f}, new Shape(2, 2));
            NDArray up = m.create(new float[] {2, 1, 0, -1}, new Shape(2, 2));
            NDArray down = m.create(new float[] {1, -1}, new Shape(1, 2));
            // gate(x) = [1, -0.5] ; up(x) = [0, 2]
            // silu(z) = z / (1 + e^-z): silu(1) = 0.7310586, silu(-0.5) = -0.5/(1+e^0.5) = -0.1887703
            // h = [0.7310586 * 0, -0.1887703 * 2] = [0, -0.3775406] ; down(h) = 0 - (-0.3775406) = 0.3775406
            double siluMinusHalf = -0.5 / (1 + Math.exp(0.5));
            float expected = (float) (-(siluMinusHalf * 2));
            float[] out = LlamaModel.swiGlu(x, gate, up, down).toFloatArray();
            assertEquals(1, out.length);
            assertEquals(0.3775406f, expected, 1e-6f);
            assertEquals(expected, out[0], 1e-6f);
        }
    }

    @Test
    void rotaryEmbeddingMatchesHandComputation() {
        try (NDManager m = manager.newSubManager()) {
            // head_dim d = 4, rope_theta = 100: inv_freq_i = 100^(-2i/d) = [1, 0.1]; position p = 2 → angles [2, 0.2]
            // HF layout: cos = [cos 2, cos 0.2, cos 2, cos 0.2] (same for sin); rotate_half([a,b,c,e]) = [-c,-e,a,b]
            // so dim i is paired with dim i + d/2:
            //   out0 = x0 cos2 - x2 sin2     out1 = x1 cos.2 - x3 sin.2
            //   out2 = x2 cos2 + x0 sin2     out3 = x3 cos.2 + x1 sin.2
            NDList tables = LlamaModel.ropeTables(m, 3, 4, 100.0);
            NDArray cos = tables.get(0).get(2).reshape(1, 1, 1, 4);
            NDArray sin = tables.get(1).get(2).reshape(1, 1, 1, 4);
            assertArrayEquals(new float[] {(float) Math.cos(2), (float) Math.cos(0.2), (float) Math.cos(2),
                (float) Math.cos(0.2)}, cos.toFloatArray(), 1e-6f);
            NDArray x = m.create(new float[] {1, 2, 3, 4}, new Shape(1, 1, 1, 4));
            double c2 = Math.cos(2);
            double s2 = Math.sin(2);
            double c02 = Math.cos(0.2);
            double s02 = Math.sin(0.2);
            float[] expected = {
                (float) (1 * c2 - 3 * s2), (float) (2 * c02 - 4 * s02),
                (float) (3 * c2 + 1 * s2), (float) (4 * c02 + 2 * s02)};
            assertArrayEquals(expected, LlamaModel.applyRope(x, cos, sin).toFloatArray(), 1e-6f);
            // position 0 is the identity
            NDArray cos0 = tables.get(0).get(0).reshape(1, 1, 1, 4);
            NDArray sin0 = tables.get(1).get(0).reshape(1, 1, 1, 4);
            assertArrayEquals(x.toFloatArray(), LlamaModel.applyRope(x, cos0, sin0).toFloatArray(), 1e-7f);
        }
    }

    @Test
    void tokenLogProbsAndEntropyMatchHandComputation() {
        try (NDManager m = manager.newSubManager()) {
            // logits [0, ln 2, ln 3] → p = [1/6, 2/6, 3/6]
            NDArray logits = m.create(new float[] {0, (float) Math.log(2), (float) Math.log(3)}, new Shape(1, 1, 3));
            NDArray target = m.create(new long[] {1}, new Shape(1, 1));
            NDArray lp = LlamaModel.tokenLogProbs(logits, target);
            assertEquals(new Shape(1, 1), lp.getShape());
            assertEquals((float) Math.log(2.0 / 6), lp.getFloat(0, 0), 1e-6f);
            double h = -(1.0 / 6 * Math.log(1.0 / 6) + 2.0 / 6 * Math.log(2.0 / 6) + 3.0 / 6 * Math.log(3.0 / 6));
            assertEquals((float) h, LlamaModel.entropy(logits).getFloat(0, 0), 1e-6f);
        }
    }

    // ------------------------------------------------------------------------------------ the model

    @Test
    void initIsDeterministicAndHasHfNamesAndShapes() {
        try (LlamaModel a = LlamaModel.init(GQA, true, 7, manager);
             LlamaModel b = LlamaModel.init(GQA, true, 7, manager);
             LlamaModel c = LlamaModel.init(GQA, true, 8, manager)) {
            assertEquals(a.parameters().keySet(), b.parameters().keySet());
            for (String name : a.parameters().keySet()) {
                assertArrayEquals(a.parameters().get(name).toFloatArray(), b.parameters().get(name).toFloatArray(), 0f,
                        name);
            }
            assertFalse(maxAbsDiff(a.parameters().get(LlamaModel.EMBED), c.parameters().get(LlamaModel.EMBED)) == 0f);
            assertEquals(new Shape(16, 32), a.parameters().get("model.embed_tokens.weight").getShape());
            assertEquals(new Shape(16, 32), a.parameters().get("model.layers.1.self_attn.k_proj.weight").getShape());
            assertEquals(new Shape(48, 32), a.parameters().get("model.layers.0.mlp.gate_proj.weight").getShape());
            assertEquals(new Shape(32, 48), a.parameters().get("model.layers.0.mlp.down_proj.weight").getShape());
            assertEquals(new Shape(1, 32), a.parameters().get("score.weight").getShape());
            assertEquals(new Shape(16, 32), a.parameters().get("lm_head.weight").getShape());
            assertArrayEquals(new float[32], a.parameters().get("model.norm.weight").sub(1f).toFloatArray(), 0f);
            assertEquals(GQA.parameterCount(true), a.parameterCount());
            // std of normal(0, 0.02) init
            float[] e = a.parameters().get(LlamaModel.EMBED).toFloatArray();
            double ss = 0;
            for (float v : e) {
                ss += v * v;
            }
            assertEquals(0.02, Math.sqrt(ss / e.length), 0.003);
        }
    }

    @Test
    void causalMaskingHidesLaterTokens() {
        try (NDManager m = manager.newSubManager(); LlamaModel model = LlamaModel.init(GQA, false, 1, m)) {
            long[] a = {3, 1, 4, 1, 5, 9, 2, 6};
            long[] b = a.clone();
            b[5] = 11;
            b[7] = 0;
            NDArray la = model.logits(ids(m, new long[][] {a}), null, null, null);
            NDArray lb = model.logits(ids(m, new long[][] {b}), null, null, null);
            assertEquals(new Shape(1, 8, 16), la.getShape());
            assertEquals(0f, maxAbsDiff(la.get(":, :5"), lb.get(":, :5")), 1e-6f);
            assertTrue(maxAbsDiff(la.get(":, 5:"), lb.get(":, 5:")) > 1e-4f, "later positions must see the change");
        }
    }

    @Test
    void groupedQueryAttentionEqualsMhaWithDuplicatedKvHeads() {
        LlamaConfig mha = LlamaConfig.tiny(16, 32, 2, 4, 4, 48, 64, false);
        int d = GQA.headDim();
        try (NDManager m = manager.newSubManager(); LlamaModel gqa = LlamaModel.init(GQA, false, 3, m)) {
            Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>(gqa.toTensors());
            for (int l = 0; l < GQA.numHiddenLayers(); l++) {
                for (String proj : new String[] {"k_proj", "v_proj"}) {
                    String name = "model.layers." + l + ".self_attn." + proj + ".weight";
                    float[] src = t.get(name).data();
                    float[] dst = new float[mha.numKeyValueHeads() * d * 32];
                    // query head j reads kv head j / groups (HF repeat_kv): copy that kv head's rows to head j
                    for (int j = 0; j < 4; j++) {
                        int kv = j / GQA.numKeyValueGroups();
                        System.arraycopy(src, kv * d * 32, dst, j * d * 32, d * 32);
                    }
                    t.put(name, new SafeTensors.Tensor(new long[] {4L * d, 32}, dst));
                }
            }
            try (LlamaModel full = LlamaModel.fromTensors(mha, t, m)) {
                NDArray x = ids(m, new long[][] {{1, 2, 3, 4, 5, 6}, {7, 7, 8, 9, 10, 15}});
                NDArray lg = gqa.logits(x, null, null, null);
                NDArray lf = full.logits(x, null, null, null);
                assertTrue(maxAbsDiff(lg, lf) < 1e-5f, "GQA != MHA with duplicated kv heads");
            }
            // the assignment matters: query head j -> kv head j % kvHeads (wrong layout) gives other logits
            Map<String, SafeTensors.Tensor> wrong = new LinkedHashMap<>(gqa.toTensors());
            for (int l = 0; l < GQA.numHiddenLayers(); l++) {
                for (String proj : new String[] {"k_proj", "v_proj"}) {
                    String name = "model.layers." + l + ".self_attn." + proj + ".weight";
                    float[] src = wrong.get(name).data();
                    float[] dst = new float[4 * d * 32];
                    for (int j = 0; j < 4; j++) {
                        System.arraycopy(src, (j % GQA.numKeyValueHeads()) * d * 32, dst, j * d * 32, d * 32);
                    }
                    wrong.put(name, new SafeTensors.Tensor(new long[] {4L * d, 32}, dst));
                }
            }
            try (LlamaModel interleaved = LlamaModel.fromTensors(mha, wrong, m)) {
                NDArray x = ids(m, new long[][] {{1, 2, 3, 4, 5, 6}});
                assertTrue(maxAbsDiff(gqa.logits(x, null, null, null), interleaved.logits(x, null, null, null)) > 1e-5f);
            }
        }
    }

    @Test
    void kvCacheMatchesFullForwardWithoutMask() {
        try (NDManager m = manager.newSubManager(); LlamaModel model = LlamaModel.init(GQA, true, 5, m)) {
            long[][] rows = {{1, 5, 2, 8, 3, 9, 4, 12}, {2, 2, 7, 1, 1, 0, 6, 6}};
            NDArray all = ids(m, rows);
            NDArray full = model.logits(all, null, null, null);
            try (LlamaModel.KvCache cache = model.newCache(m)) {
                NDArray first = model.logits(all.get(":, :5"), null, null, cache);
                assertEquals(5, cache.length());
                assertEquals(new Shape(2, 2, 5, 8), cache.keys(0).getShape());
                assertTrue(maxAbsDiff(first, full.get(":, :5")) < 1e-4f);
                for (int t = 5; t < 8; t++) {
                    NDArray step = model.logits(all.get(new NDIndex(":, {}:{}", t, t + 1)), null, null, cache);
                    assertTrue(maxAbsDiff(step, full.get(new NDIndex(":, {}:{}", t, t + 1))) < 1e-4f, "step " + t);
                }
                assertEquals(8, cache.length());
            }
            // scores follow the same path
            NDArray s = model.scores(all, null, null, null);
            assertEquals(new Shape(2, 8), s.getShape());
        }
    }

    /** Logits of one unpadded sequence from position 0, [T, V]: the ground truth for slot decoding. */
    static float[][] aloneLogits(LlamaModel model, NDManager m, long[] seq) {
        float[] flat = model.logits(ids(m, new long[][] {seq}), null, null, null).toFloatArray();
        int v = model.config().vocabSize();
        float[][] out = new float[seq.length][];
        for (int t = 0; t < seq.length; t++) {
            out[t] = java.util.Arrays.copyOfRange(flat, t * v, (t + 1) * v);
        }
        return out;
    }

    static float[] row(float[] flat, int r, int v) {
        return java.util.Arrays.copyOfRange(flat, r * v, (r + 1) * v);
    }

    @Test
    void slotCacheGivesEachSlotItsOwnSequencesLogitsAcrossRefillsAndMoves() {
        try (NDManager m = manager.newSubManager(); LlamaModel model = LlamaModel.init(GQA, false, 13, m)) {
            int v = GQA.vocabSize();
            // three sequences of different prompt lengths in a 3-slot cache, prefilled into slots 2, 0, 1
            long[][] seq = {{4, 9, 2, 7, 3, 1, 2, 3, 4}, {5, 1, 8, 4, 5, 6, 7, 8, 9}, {6, 6, 10, 2, 7, 8, 9, 10, 11}};
            int[] prompt = {5, 2, 4};
            int[] slotOf = {2, 0, 1};
            try (LlamaModel.SlotCache cache = model.newSlotCache(m, 3, 12)) {
                long[] padded = new long[3 * 5];
                for (int r = 0; r < 3; r++) {
                    System.arraycopy(seq[r], 0, padded, r * 5, prompt[r]);
                }
                float[] first = model.prefillSlots(m.create(padded, new Shape(3, 5)), slotOf, prompt, cache)
                        .toFloatArray();
                float[][][] truth = new float[3][][];
                for (int r = 0; r < 3; r++) {
                    truth[r] = aloneLogits(model, m, seq[r]);
                    assertArrayEquals(truth[r][prompt[r] - 1], row(first, r, v), 1e-5f, "prefill row " + r);
                }
                // decode: every slot feeds its sequence's next token at its own position
                int[] length = new int[3];
                int[] fed = new int[3];
                for (int r = 0; r < 3; r++) {
                    length[slotOf[r]] = prompt[r];
                    fed[r] = prompt[r];
                }
                for (int step = 0; step < 3; step++) {
                    long[] next = new long[3];
                    for (int r = 0; r < 3; r++) {
                        next[slotOf[r]] = seq[r][fed[r]];
                    }
                    float[] out = model.decodeSlots(m.create(next, new Shape(3, 1)), length, cache).toFloatArray();
                    for (int r = 0; r < 3; r++) {
                        assertArrayEquals(truth[r][fed[r]], row(out, slotOf[r], v), 1e-5f, "step " + step + " row " + r);
                        fed[r]++;
                        length[slotOf[r]]++;
                    }
                }
                // refill slot 2 (holding 8 positions) with a 2-token prompt: its old keys past 2 must not be seen
                long[] fresh = {7, 3, 12, 5};
                float[][] freshTruth = aloneLogits(model, m, fresh);
                float[] pre = model.prefillSlots(m.create(new long[] {7, 3}, new Shape(1, 2)), new int[] {2},
                        new int[] {2}, cache).toFloatArray();
                assertArrayEquals(freshTruth[1], pre, 1e-5f);
                length[2] = 2;
                long[] next = new long[3];
                next[2] = fresh[2];
                next[0] = seq[1][fed[1]];
                next[1] = seq[2][fed[2]];
                float[] out = model.decodeSlots(m.create(next, new Shape(3, 1)), length, cache).toFloatArray();
                assertArrayEquals(freshTruth[2], row(out, 2, v), 1e-5f, "refilled slot");
                assertArrayEquals(truth[1][fed[1]], row(out, 0, v), 1e-5f, "slot 0 unaffected by the refill");
                assertArrayEquals(truth[2][fed[2]], row(out, 1, v), 1e-5f, "slot 1 unaffected by the refill");
                fed[1]++;
                fed[2]++;
                length[0]++;
                length[1]++;
                length[2]++;
                // slot 0's sequence is done: the refilled one moves from slot 2 to 0 and two slots decode on
                cache.moveSlots(new int[] {2}, new int[] {0});
                int[] two = {length[2], length[1]};
                float[] moved = model.decodeSlots(m.create(new long[] {fresh[3], seq[2][fed[2]]}, new Shape(2, 1)),
                        two, cache).toFloatArray();
                assertArrayEquals(freshTruth[3], row(moved, 0, v), 1e-5f, "moved slot");
                assertArrayEquals(truth[2][fed[2]], row(moved, 1, v), 1e-5f, "slot 1 after the move");
            }
        }
    }

    @Test
    void kvCacheWithLeftPaddedBatchMatchesFullForwardAndUnpaddedRows() {
        try (NDManager m = manager.newSubManager(); LlamaModel model = LlamaModel.init(GQA, false, 11, m)) {
            // prompts of lengths 5, 3, 4 left-padded (pad id 0) to 5, then 3 generated tokens each
            long[][] prompt = {{4, 9, 2, 7, 3}, {0, 0, 5, 1, 8}, {0, 6, 6, 2, 10}};
            long[][] gen = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
            int p = 5;
            int g = 3;
            long[][] seq = new long[3][p + g];
            long[][] msk = new long[3][p + g];
            int[] pads = {0, 2, 1};
            for (int i = 0; i < 3; i++) {
                System.arraycopy(prompt[i], 0, seq[i], 0, p);
                System.arraycopy(gen[i], 0, seq[i], p, g);
                for (int j = 0; j < p + g; j++) {
                    msk[i][j] = j < pads[i] ? 0 : 1;
                }
            }
            NDArray ids = ids(m, seq);
            NDArray mask = ids(m, msk);
            NDArray full = model.logits(ids, null, mask, null);

            // incremental: prompt once, then one token per step with the growing mask
            NDArray[] inc = new NDArray[p + g];
            try (LlamaModel.KvCache cache = model.newCache(m)) {
                NDArray first = model.logits(ids.get(":, :5"), null, mask.get(":, :5"), cache);
                for (int t = 0; t < p; t++) {
                    inc[t] = first.get(new NDIndex(":, {}", t));
                }
                for (int t = p; t < p + g; t++) {
                    NDArray step = model.logits(ids.get(new NDIndex(":, {}:{}", t, t + 1)), null,
                            mask.get(new NDIndex(":, :{}", t + 1)), cache);
                    inc[t] = step.get(":, 0");
                }
            }
            for (int i = 0; i < 3; i++) {
                // each row alone, unpadded, positions 0.. — the ground truth for the real tokens
                long[] real = java.util.Arrays.copyOfRange(seq[i], pads[i], p + g);
                NDArray alone = model.logits(ids(m, new long[][] {real}), null, null, null);
                for (int t = pads[i]; t < p + g; t++) {
                    NDArray f = full.get(new NDIndex("{}, {}", i, t));
                    NDArray c = inc[t].get(i);
                    NDArray a = alone.get(new NDIndex("0, {}", t - pads[i]));
                    assertTrue(maxAbsDiff(f, c) < 1e-4f, "cached != full at row " + i + " pos " + t);
                    assertTrue(maxAbsDiff(f, a) < 1e-4f, "padded != unpadded at row " + i + " pos " + t);
                }
            }
            assertFalse(full.isNaN().any().getBoolean(), "pad rows must stay finite");
        }
    }

    @Test
    void explicitPositionIdsEqualDerivedOnes() {
        try (NDManager m = manager.newSubManager(); LlamaModel model = LlamaModel.init(GQA, false, 2, m)) {
            NDArray x = ids(m, new long[][] {{0, 0, 3, 4}});
            NDArray mask = ids(m, new long[][] {{0, 0, 1, 1}});
            NDArray pos = ids(m, new long[][] {{0, 0, 0, 1}});
            NDArray a = model.logits(x, null, mask, null);
            NDArray b = model.logits(x, pos, mask, null);
            assertTrue(maxAbsDiff(a.get(":, 2:"), b.get(":, 2:")) < 1e-6f);
            // hidden has [B,T,H]
            assertEquals(new Shape(1, 4, 32), model.hidden(x, pos, mask, null).getShape());
        }
    }

    @Test
    void copyIsIndependentAndFrozen() {
        try (NDManager m = manager.newSubManager(); LlamaModel a = LlamaModel.init(GQA, false, 2, m)) {
            a.attachGradient();
            try (LlamaModel ref = a.copy(m)) {
                NDArray x = ids(m, new long[][] {{1, 2, 3}});
                assertEquals(0f, maxAbsDiff(a.logits(x, null, null, null), ref.logits(x, null, null, null)));
                a.parameters().get(LlamaModel.NORM).stopGradient().muli(2f);
                assertTrue(maxAbsDiff(a.logits(x, null, null, null), ref.logits(x, null, null, null)) > 1e-4f);
                assertFalse(ref.parameters().get(LlamaModel.EMBED).hasGradient());
            }
        }
    }

    // ------------------------------------------------------------------------------------- training

    @Test
    void adamWStepsLowerNextTokenLossAndEveryParameterGetsAGradient() {
        Random rnd = new Random(0);
        long[][] batch = new long[4][13];
        for (long[] row : batch) {
            for (int j = 0; j < row.length; j++) {
                row[j] = rnd.nextInt(16);
            }
        }
        try (NDManager m = manager.newSubManager(); LlamaModel model = LlamaModel.init(GQA, false, 42, m)) {
            model.attachGradient();
            Optimizer adamW = Optimizer.adamW().optLearningRateTracker(Tracker.fixed(1e-2f))
                    .optWeightDecays(0.01f).build();
            NDArray all = ids(m, batch);
            NDArray inputs = all.get(":, :-1");
            NDArray targets = all.get(":, 1:");
            float first = Float.NaN;
            float last = Float.NaN;
            for (int step = 0; step < 25; step++) {
                try (NDManager stepManager = m.newSubManager()) {
                    NDArray in = inputs.duplicate();
                    NDArray tg = targets.duplicate();
                    stepManager.attachAll(in, tg);
                    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                        NDArray logits = model.logits(in, null, null, null);
                        NDArray loss = LlamaModel.tokenLogProbs(logits, tg).mean().neg();
                        gc.backward(loss);
                        float l = loss.getFloat();
                        if (step == 0) {
                            first = l;
                        }
                        last = l;
                        for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
                            NDArray grad = e.getValue().getGradient();
                            if (step == 0) {
                                assertTrue(grad.abs().sum().getFloat() > 0f, "no gradient for " + e.getKey());
                            }
                            adamW.update(e.getKey(), e.getValue(), grad);
                            grad.close();
                        }
                    }
                }
            }
            assertEquals(Math.log(16), first, 0.3, "initial loss should be near ln V");
            assertTrue(last < 0.7 * first, "loss did not fall: " + first + " -> " + last);
        }
    }
}
