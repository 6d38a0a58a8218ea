package org.sparkrlhf.rollouts.engine;

import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GenerationEngineTest {

    static NDManager manager;
    static final TextTokenizer TOK = new CharTokenizer();
    /** vocab 22 (CharTokenizer), hidden 32, 2 layers, 4 query / 2 kv heads, context 96, untied head. */
    static final LlamaConfig CONFIG = LlamaConfig.tiny(22, 32, 2, 4, 2, 64, 96, false);
    static LlamaModel model;

    static final List<String> PROMPTS = List.of("12+7*3-5=?\n", "3=?\n", "", "1+2=?\n", "40*2-17+8=?\n");

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager("PyTorch");
        // Tiny models are all per-op overhead: one intra-op thread is as fast, and on a shared 2-core machine
        // libtorch's default of 2 spinning threads made these tests 10-30x slower.
        JniUtils.setNumThreads(1);
        model = LlamaModel.init(CONFIG, false, 7, manager);
    }

    @AfterAll
    static void tearDown() {
        model.close();
        manager.close();
    }

    static List<PromptRef> refs(List<String> prompts, int samples) {
        List<PromptRef> r = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            for (int s = 0; s < samples; s++) {
                r.add(new PromptRef("p" + i, prompts.get(i), s));
            }
        }
        return r;
    }

    static void assertSameCompletions(List<Completion> a, List<Completion> b, float lpTol) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            Completion x = a.get(i);
            Completion y = b.get(i);
            assertEquals(x.promptId(), y.promptId());
            assertEquals(x.sampleIndex(), y.sampleIndex());
            assertArrayEquals(x.tokenIds(), y.tokenIds(), "tokens of " + x.promptId() + "#" + x.sampleIndex());
            assertEquals(x.text(), y.text());
            assertEquals(x.finishReason(), y.finishReason());
            assertEquals(x.promptTokens(), y.promptTokens());
            assertArrayEquals(x.logProbs(), y.logProbs(), lpTol);
        }
    }

    // ------------------------------------------------------------------------------ cache, log-probs

    /**
     * A row's numbers do not depend on its batch: the same requests in one call of 16 slots, shuffled through 5
     * slots, one at a time, and in calls of 4 through 2 slots give the very same tokens and log-probs, bit for bit.
     * What it takes (LlamaModel.MIN_GEMM_ROWS, a decoding step over the whole cache, prefill widths by a row's own
     * length): without any one of them some rows here came out an ulp apart, and so would a run whose prompts
     * were split over another number of Spark partitions.
     */
    @Test
    void aRowsTokensAndLogProbsDoNotDependOnTheRowsItRunsWith() {
        List<String> prompts = List.of("12+7*3-5=?\n", "3=?\n", "", "1+2=?\n", "40*2-17+8+91*3-77*2=?\n",
                "6*6=?\n", "9-8+7-6+5-4+3=?\n");
        List<PromptRef> req = refs(prompts, 3);
        SamplingParams p = SamplingParams.defaults().withTemperature(1.0).withMaxNewTokens(40).withSeed(17);
        List<Completion> together = GenerationEngine.generate(model, TOK, req, p, 16, true);
        assertTrue(together.stream().mapToInt(Completion::length).distinct().count() > 3, "rows of mixed lengths");

        List<PromptRef> shuffled = new ArrayList<>(req);
        java.util.Collections.shuffle(shuffled, new java.util.Random(4));
        List<Completion> mixed = new ArrayList<>(GenerationEngine.generate(model, TOK, shuffled, p, 5, true));
        java.util.Map<String, Integer> order = new java.util.HashMap<>();
        for (int i = 0; i < req.size(); i++) {
            order.put(req.get(i).promptId() + "#" + req.get(i).sampleIndex(), i);
        }
        mixed.sort(java.util.Comparator.comparingInt(c -> order.get(c.promptId() + "#" + c.sampleIndex())));
        List<Completion> alone = new ArrayList<>();
        List<Completion> inFours = new ArrayList<>();
        for (int i = 0; i < req.size(); i++) {
            alone.addAll(GenerationEngine.generate(model, TOK, req.subList(i, i + 1), p, 1, true));
            if (i % 4 == 0) {
                inFours.addAll(GenerationEngine.generate(model, TOK, req.subList(i, Math.min(req.size(), i + 4)), p, 2,
                        true));
            }
        }
        for (List<Completion> other : List.of(mixed, alone, inFours)) {
            assertEquals(together.size(), other.size());
            for (int i = 0; i < together.size(); i++) {
                Completion a = together.get(i);
                Completion b = other.get(i);
                assertEquals(a.promptId() + "#" + a.sampleIndex(), b.promptId() + "#" + b.sampleIndex());
                assertArrayEquals(a.tokenIds(), b.tokenIds(), "tokens of " + a.promptId() + "#" + a.sampleIndex());
                assertArrayEquals(a.logProbs(), b.logProbs(), "log-probs of " + a.promptId() + "#" + a.sampleIndex());
            }
        }
    }

    @Test
    void cachedAndUncachedGreedyAgreeOnLeftPaddedBatch() {
        SamplingParams p = SamplingParams.greedy(24);
        List<PromptRef> req = refs(PROMPTS, 1);
        List<Completion> cached = GenerationEngine.generate(model, TOK, req, p, 8, true);
        List<Completion> uncached = GenerationEngine.generate(model, TOK, req, p, 8, false);
        assertSameCompletions(cached, uncached, 1e-4f);
        assertTrue(cached.stream().anyMatch(c -> c.length() > 5), "some rows should run several steps");
        for (int i = 0; i < req.size(); i++) {
            assertEquals(1 + PROMPTS.get(i).length(), cached.get(i).promptTokens(), "bos + one token per char");
        }
    }

    @Test
    void recordedLogProbsEqualTheSharedLogProbs() {
        for (SamplingParams p : List.of(SamplingParams.greedy(20),
                SamplingParams.defaults().withTemperature(0.7).withMaxNewTokens(20).withSeed(3))) {
            List<PromptRef> req = refs(PROMPTS, 2);
            List<Completion> gen = GenerationEngine.generate(model, TOK, req, p, 4);
            List<TokenSequence> items = new ArrayList<>();
            for (int i = 0; i < req.size(); i++) {
                items.add(TokenSequence.encode(TOK, req.get(i).text(), gen.get(i).tokenIds(), false));
            }
            // greedy decoding records log_softmax(logits): it is re-scored at temperature 1
            double t = p.temperature() > 0 ? p.temperature() : 1.0;
            List<SequenceLogProbs.SequenceScore> tf = SequenceLogProbs.score(model, items, t, false, 3);
            List<SequenceLogProbs.SequenceScore> wide = SequenceLogProbs.score(model, items, t, false, 10);
            for (int i = 0; i < req.size(); i++) {
                assertArrayEquals(gen.get(i).logProbs(), tf.get(i).tokenLogProbs(), 1e-4f, "T=" + t + " row " + i);
                assertEquals(gen.get(i).sumLogProb(), wide.get(i).sumLogProb(), 1e-3);
                for (float lp : tf.get(i).tokenLogProbs()) {
                    assertTrue(lp <= 0 && Float.isFinite(lp));
                }
            }
        }
    }

    @Test
    void topKSamplesStayInTheModelsTopK() {
        SamplingParams p = SamplingParams.defaults().withTemperature(2.0).withTopK(3).withMaxNewTokens(12).withSeed(11);
        List<PromptRef> req = refs(PROMPTS, 3);
        List<Completion> gen = GenerationEngine.generate(model, TOK, req, p, 16);
        int checked = 0;
        for (int i = 0; i < req.size(); i++) {
            int[] prompt = TokenSequence.promptIds(TOK, req.get(i).text());
            int[] comp = gen.get(i).tokenIds();
            long[] seq = new long[prompt.length + comp.length];
            for (int j = 0; j < prompt.length; j++) {
                seq[j] = prompt[j];
            }
            for (int j = 0; j < comp.length; j++) {
                seq[prompt.length + j] = comp[j];
            }
            try (NDManager m = manager.newSubManager()) {
                float[] logits = model.logits(m.create(seq, new Shape(1, seq.length)), null, null, null)
                        .toFloatArray();
                int v = CONFIG.vocabSize();
                for (int j = 0; j < comp.length; j++) {
                    int off = (prompt.length - 1 + j) * v;
                    int rank = 0;
                    for (int t = 0; t < v; t++) {
                        if (logits[off + t] > logits[off + comp[j]]) {
                            rank++;
                        }
                    }
                    assertTrue(rank < 3, "sampled token of rank " + rank);
                    checked++;
                }
            }
        }
        assertTrue(checked > 50);
    }

    // ------------------------------------------------------------------------------- determinism

    @Test
    void sameSeedSameSamplesWhateverTheBatching() {
        SamplingParams p = SamplingParams.defaults().withTopP(0.95).withMaxNewTokens(16).withSeed(42);
        List<PromptRef> req = refs(PROMPTS, 3);
        List<Completion> all = GenerationEngine.generate(model, TOK, req, p, req.size());
        assertSameCompletions(all, GenerationEngine.generate(model, TOK, req, p, 1), 1e-5f);
        assertSameCompletions(all, GenerationEngine.generate(model, TOK, req, p, 3), 1e-5f);
        List<PromptRef> reversed = new ArrayList<>(req);
        Collections.reverse(reversed);
        List<Completion> rev = new ArrayList<>(GenerationEngine.generate(model, TOK, reversed, p, 4));
        Collections.reverse(rev);
        assertSameCompletions(all, rev, 1e-5f);
        assertSameCompletions(all, GenerationEngine.generate(model, TOK, req, p, 4, false), 1e-4f);

        // samples of one prompt differ from each other, and another seed changes them
        assertFalse(Arrays.equals(all.get(0).tokenIds(), all.get(1).tokenIds())
                && Arrays.equals(all.get(1).tokenIds(), all.get(2).tokenIds()));
        List<Completion> other = GenerationEngine.generate(model, TOK, req, p.withSeed(43), 8);
        int differ = 0;
        for (int i = 0; i < req.size(); i++) {
            if (!Arrays.equals(all.get(i).tokenIds(), other.get(i).tokenIds())) {
                differ++;
            }
        }
        assertTrue(differ >= req.size() - 1, "a new seed should change nearly every sample, changed " + differ);
    }

    // ----------------------------------------------------------------------------- continuous batching

    /** Five prompts of 1 to 12 tokens, 4 samples each: 20 requests, more than any slot count tested. */
    static final List<PromptRef> MIXED = refs(PROMPTS, 4);

    @Test
    void continuousBatchingGivesTheReferenceSamplesInRequestOrder() {
        // at temperature 1 the random model ends rows by eos, by the stop string "7" or by length, at different
        // steps: slots free up at different times and are refilled with the next request
        SamplingParams p = SamplingParams.defaults().withMaxNewTokens(14).withSeed(21).withStop(List.of("7"));
        List<Completion> reference = GenerationEngine.generate(model, TOK, MIXED, p, 4, false);
        Set<String> reasons = new HashSet<>();
        Set<Integer> lengths = new HashSet<>();
        reference.forEach(c -> {
            reasons.add(c.finishReason());
            lengths.add(c.length());
        });
        assertEquals(Set.of(Completion.EOS, Completion.STOP, Completion.LENGTH), reasons);
        assertTrue(lengths.size() >= 6, "completion lengths should vary, got " + lengths);
        for (int slots : new int[] {1, 3, 16}) {
            List<Completion> out = GenerationEngine.generate(model, TOK, MIXED, p, slots);
            for (int i = 0; i < MIXED.size(); i++) {
                assertEquals(MIXED.get(i).promptId(), out.get(i).promptId(), "request order, slots " + slots);
                assertEquals(MIXED.get(i).sampleIndex(), out.get(i).sampleIndex(), "request order, slots " + slots);
            }
            assertSameCompletions(reference, out, 1e-4f);
        }
    }

    @Test
    void continuousBatchingGivesTheReferenceGreedyCompletions() {
        // the random model's greedy texts repeat patterns ("+#3" or "1 ") after prompt-dependent starts: these
        // stop strings end them at different steps, and the texts without either run to the limit
        SamplingParams p = SamplingParams.greedy(30).withStop(List.of("81", "+#3+#3+#3+#3+#3+"));
        List<PromptRef> req = refs(List.of("12+7*3-5=?\n", "3=?\n", "", "1+2=?\n", "40*2-17+8=?\n", "9*9=?\n",
                "7-", "2+2+2+2+2+2+2=?\n"), 1);
        List<Completion> reference = GenerationEngine.generate(model, TOK, req, p, 3, false);
        for (int slots : new int[] {1, 3, 16}) {
            assertSameCompletions(reference, GenerationEngine.generate(model, TOK, req, p, slots), 1e-4f);
        }
        Set<Integer> lengths = new HashSet<>();
        reference.forEach(c -> lengths.add(c.length()));
        Set<String> reasons = new HashSet<>();
        reference.forEach(c -> reasons.add(c.finishReason()));
        assertEquals(Set.of(Completion.STOP, Completion.LENGTH), reasons);
        assertTrue(lengths.size() >= 3, "completion lengths should vary, got " + lengths);
    }

    @Test
    void maxNewTokensGivesLengthAndZeroGivesEmpty() {
        List<PromptRef> req = refs(PROMPTS, 1);
        for (Completion c : GenerationEngine.generate(model, TOK, req, SamplingParams.greedy(0), 4)) {
            assertEquals(0, c.length());
            assertEquals(Completion.LENGTH, c.finishReason());
            assertEquals("", c.text());
        }
        // rows that do not sample eos stop on length, with exactly maxNewTokens tokens
        for (Completion c : GenerationEngine.generate(model, TOK, req,
                SamplingParams.defaults().withMaxNewTokens(7).withSeed(5), 4)) {
            if (!c.finishReason().equals(Completion.EOS)) {
                assertEquals(Completion.LENGTH, c.finishReason());
                assertEquals(7, c.length());
            } else {
                assertEquals(CharTokenizer.EOS, c.tokenIds()[c.length() - 1]);
            }
        }
    }

    @Test
    void modelVocabularyLargerThanTheTokenizersIsSampledAndScoredWhole() {
        // 32 model ids, 22 tokenizer ids: ids 22..31 have no text but are real choices with real log-probs
        LlamaConfig padded = LlamaConfig.tiny(32, 32, 1, 2, 2, 32, 64, true);
        try (NDManager m = manager.newSubManager(); LlamaModel big = LlamaModel.init(padded, false, 3, m)) {
            List<PromptRef> req = refs(PROMPTS, 2);
            SamplingParams p = SamplingParams.defaults().withMaxNewTokens(20).withSeed(8);
            List<Completion> out = GenerationEngine.generate(big, TOK, req, p, 5);
            int unknown = 0;
            List<TokenSequence> items = new ArrayList<>();
            for (int i = 0; i < out.size(); i++) {
                Completion c = out.get(i);
                int chars = 0;
                for (int id : c.tokenIds()) {
                    unknown += id >= TOK.vocabSize() ? 1 : 0;
                    chars += id >= 4 && id < TOK.vocabSize() ? 1 : 0;
                }
                assertEquals(chars, c.text().length());
                items.add(TokenSequence.encode(TOK, req.get(i).text(), c.tokenIds(), false));
            }
            assertTrue(unknown > 0, "a near-uniform model over 32 ids should pick some of the 10 extra ones");
            List<SequenceLogProbs.SequenceScore> tf = SequenceLogProbs.score(big, items, 1.0, false, 8);
            for (int i = 0; i < out.size(); i++) {
                assertArrayEquals(out.get(i).logProbs(), tf.get(i).tokenLogProbs(), 1e-4f);
            }
        }
    }

    @Test
    void contextLimitCapsGeneration() {
        // context 96: a 90-token prompt (bos + 89 chars) leaves room for 6 tokens
        String longPrompt = "1+".repeat(44) + "1";
        Completion c = GenerationEngine.generate(model, TOK, List.of(PromptRef.of("long", longPrompt)),
                SamplingParams.greedy(50).withStop(List.of()), 2).get(0);
        assertEquals(90, c.promptTokens());
        assertTrue(c.length() <= 6);
        if (!c.finishReason().equals(Completion.EOS)) {
            assertEquals(6, c.length());
            assertEquals(Completion.LENGTH, c.finishReason());
        }
    }

    @Test
    void aPromptLongerThanTheContextIsAUserErrorNamingIt() {
        // context 96: bos + 97 characters do not fit
        String tooLong = "1+".repeat(48) + "1";
        org.sparkrlhf.core.UserError e = org.junit.jupiter.api.Assertions.assertThrows(
                org.sparkrlhf.core.UserError.class, () -> GenerationEngine.generate(model, TOK,
                        List.of(PromptRef.of("p-7", tooLong)), SamplingParams.greedy(4), 2));
        assertEquals("prompt p-7 has 98 tokens, more than the model's context of 96 (max_position_embeddings): "
                + "shorten or leave out such prompts", e.getMessage());
    }

    // ------------------------------------------------------------------- end to end on a trained model

    static final String P1 = "12+7*3-5=?\n";
    static final String C1 = "=12+21-5\n=33-5\n=28\n#### 28\n";
    static final String P2 = "3*4=?\n";
    static final String C2 = "=12\n#### 12\n";

    /** [bos] + prompt + completion + [eos], the SFT layout. */
    static long[] trainingSequence(String prompt, String completion) {
        int[] pr = TokenSequence.promptIds(TOK, prompt);
        int[] co = TOK.encode(completion);
        long[] s = new long[pr.length + co.length + 1];
        for (int i = 0; i < pr.length; i++) {
            s[i] = pr[i];
        }
        for (int i = 0; i < co.length; i++) {
            s[pr.length + i] = co[i];
        }
        s[s.length - 1] = TOK.eosId();
        return s;
    }

    @Test
    void modelTrainedOnTwoSequencesReproducesThemAndStops() {
        LlamaConfig cfg = LlamaConfig.tiny(22, 64, 2, 4, 2, 128, 64, false);
        try (NDManager m = manager.newSubManager(); LlamaModel trained = LlamaModel.init(cfg, false, 1, m)) {
            long[][] seqs = {trainingSequence(P1, C1), trainingSequence(P2, C2)};
            trained.attachGradient();
            Optimizer adamW = Optimizer.adamW().optLearningRateTracker(Tracker.fixed(1e-2f)).optWeightDecays(0f)
                    .build();
            float loss = Float.NaN;
            for (int step = 0; step < 60; step++) {
                try (NDManager sm = m.newSubManager();
                     GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                    NDArray total = null;
                    for (long[] s : seqs) {
                        NDArray in = sm.create(Arrays.copyOfRange(s, 0, s.length - 1), new Shape(1, s.length - 1));
                        NDArray tg = sm.create(Arrays.copyOfRange(s, 1, s.length), new Shape(1, s.length - 1));
                        NDArray l = LlamaModel.tokenLogProbs(trained.logits(in, null, null, null), tg).mean().neg();
                        total = total == null ? l : total.add(l);
                    }
                    gc.backward(total);
                    loss = total.getFloat();
                    for (Map.Entry<String, NDArray> e : trained.parameters().entrySet()) {
                        NDArray g = e.getValue().getGradient();
                        adamW.update(e.getKey(), e.getValue(), g);
                        g.close();
                    }
                }
            }
            assertTrue(loss < 0.2, "training loss " + loss);

            List<PromptRef> req = List.of(PromptRef.of("a", P1), PromptRef.of("b", P2));
            for (boolean cached : new boolean[] {true, false}) {
                List<Completion> out = GenerationEngine.generate(trained, TOK, req, SamplingParams.greedy(40), 2,
                        cached);
                assertEquals(C1, out.get(0).text());
                assertEquals(C2, out.get(1).text());
                for (Completion c : out) {
                    assertEquals(Completion.EOS, c.finishReason());
                    assertEquals(TOK.eosId(), c.tokenIds()[c.length() - 1]);
                    assertEquals(c.text().length() + 1, c.length(), "one token per char, plus eos");
                    assertTrue(c.sumLogProb() > -2.0, "memorized: high likelihood, got " + c.sumLogProb());
                }
            }
            // stop strings: "#### " appears in both; the text keeps it
            List<Completion> stopped = GenerationEngine.generate(trained, TOK, req,
                    SamplingParams.greedy(40).withStop(List.of("#### ", "=33")), 2);
            assertEquals("=12+21-5\n=33", stopped.get(0).text());
            assertEquals("=12\n#### ", stopped.get(1).text());
            stopped.forEach(c -> assertEquals(Completion.STOP, c.finishReason()));
            // maxNewTokens
            List<Completion> cut = GenerationEngine.generate(trained, TOK, req, SamplingParams.greedy(5), 2);
            assertEquals("=12+2", cut.get(0).text());
            assertEquals("=12\n#", cut.get(1).text());
            cut.forEach(c -> assertEquals(Completion.LENGTH, c.finishReason()));
            // low-temperature sampling from a memorized model follows it too
            List<Completion> sampled = GenerationEngine.generate(trained, TOK, req,
                    SamplingParams.defaults().withTemperature(0.3).withMaxNewTokens(40), 2);
            assertEquals(C1, sampled.get(0).text());
            assertEquals(C2, sampled.get(1).text());
        }
    }

    @Test
    void generationLeavesNoArraysBehindAndRestoresGradMode() {
        long before = countArrays(model.manager());
        boolean grad = JniUtils.isGradMode();
        try {
            JniUtils.setGradMode(true);
            GenerationEngine.generate(model, TOK, refs(PROMPTS, 2), SamplingParams.defaults().withMaxNewTokens(6),
                    3);
            GenerationEngine.generate(model, TOK, refs(PROMPTS, 1), SamplingParams.greedy(6), 2, false);
            SequenceLogProbs.score(model, List.of(TokenSequence.encode(TOK, "1=?\n", new int[] {5, 6}, false)), 1.0,
                    false, 8);
            assertTrue(JniUtils.isGradMode(), "grad mode restored");
        } finally {
            JniUtils.setGradMode(grad);
        }
        assertEquals(before, countArrays(model.manager()));
    }

    private static long countArrays(NDManager m) {
        // the model's manager holds its weights and rope tables plus any live sub-managers
        return m.getManagedArrays().size();
    }

    @Test
    void differentSampleIndicesAndPromptIdsGetDifferentStreams() {
        assertNotEquals(Sampler.rowSeed(1, "p0", 0), Sampler.rowSeed(1, "p0", 1));
        assertNotEquals(Sampler.rowSeed(1, "p0", 0), Sampler.rowSeed(1, "p1", 0));
        assertNotEquals(Sampler.rowSeed(1, "p0", 0), Sampler.rowSeed(2, "p0", 0));
        assertEquals(Sampler.rowSeed(1, "p0", 0), Sampler.rowSeed(1, "p0", 0));
    }
}
