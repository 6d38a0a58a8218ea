package org.sparkrlhf.rollouts.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Batched autoregressive generation with a {@link LlamaModel}.
 *
 * <p><b>Sequence convention</b> ({@link TokenSequence}, shared with SFT, DPO, GRPO and scoring): the model is fed
 * {@link TokenSequence#promptIds} ({@code [bos] + encode(prompt)}, no bos when the tokenizer has none) and continues
 * it; a finished training sequence is {@code [bos] + encode(prompt) + encode(completion) + [eos]}, which is exactly
 * {@code promptIds + Completion.tokenIds()} for a completion that ended with eos.
 *
 * <p><b>How requests run (continuous batching).</b> {@code batchSize} slots (at least {@link
 * LlamaModel#MIN_GEMM_ROWS}) of a {@link LlamaModel.SlotCache} (per-layer keys and values preallocated for the
 * model's whole context, written in place). Waiting requests enter free slots in request order: their prompts go
 * through right-padded forwards ({@link LlamaModel#prefillSlots}), one per padded width, that write their keys and
 * values into those slots and give their first token. Then
 * each step feeds one token per slot ({@link LlamaModel#decodeSlots}, [slots, 1]); every slot sits at its own
 * position and attends to its own cached length only. A row that finishes (eos, stop string, or its length limit)
 * frees its slot, which the next waiting request takes, so a slot is never held by another row's longer
 * completion. (Free slots are refilled a quarter of them at a time, since one prefill costs about a decoding step;
 * once no request waits, the running rows are gathered into the leading slots as they thin out, and only those are
 * decoded.) Only the next position's hidden state goes through the LM head, and the [slots, V] logits are copied
 * to Java once per step, where each row picks its token with {@link Sampler}. Completions come back in request
 * order. The {@code useKvCache = false} mode is the reference: fixed batches of {@code batchSize} rows, left-padded,
 * the whole sequence recomputed at every step until the batch's last row finishes; it picks the same tokens and is
 * kept for tests and benchmarks.
 *
 * <p><b>Determinism.</b> Each row draws its uniform numbers (one per sampled token) from its own
 * {@link java.util.SplittableRandom} seeded with {@link Sampler#rowSeed}(seed, promptId, sampleIndex), and the
 * sampling math runs per row in double precision on that row's logits. The logits themselves are a function of the
 * row alone, to the last bit, at a given torch thread count: every product runs at least {@link
 * LlamaModel#MIN_GEMM_ROWS} rows, a decoding step attends over the whole cache whatever the other slots hold, and a
 * prompt is prefilled at a width set by its own length. So a request's tokens and log-probs do not depend on the
 * batch size, on the other requests, on when its slot was freed, on their order or on the Spark partition it ran
 * in (the slot cache's fused projections differ from the separate ones of training and of the reference path by
 * ~1e-6, which could only flip a choice that sits on such a knife edge).
 *
 * <p><b>Resources.</b> Runs with autograd off on the calling thread (restored afterwards). All arrays live in a
 * sub-manager of the model's manager per call and a sub-manager per step, closed when done: nothing leaks.
 * Thread-safe for concurrent calls on the same model (weights are only read).
 */
public final class GenerationEngine {

    private GenerationEngine() {
    }

    /** Default batch size of the overloads without one. */
    public static final int DEFAULT_BATCH_SIZE = 16;

    /** {@link #generate(LlamaModel, TextTokenizer, List, SamplingParams, int)} with {@link #DEFAULT_BATCH_SIZE}. */
    public static List<Completion> generate(LlamaModel model, TextTokenizer tok, List<PromptRef> prompts,
                                            SamplingParams params) {
        return generate(model, tok, prompts, params, DEFAULT_BATCH_SIZE, true);
    }

    /** {@link #generate(LlamaModel, TextTokenizer, List, SamplingParams, int, boolean)} with the KV cache. */
    public static List<Completion> generate(LlamaModel model, TextTokenizer tok, List<PromptRef> prompts,
                                            SamplingParams params, int batchSize) {
        return generate(model, tok, prompts, params, batchSize, true);
    }

    /**
     * Generates one completion per request.
     *
     * @param model      the policy (any weights; gradients are not recorded)
     * @param tok        tokenizer matching the model's vocabulary
     * @param prompts    requests; their completions come back in the same order
     * @param params     sampling parameters (temperature 0 = greedy)
     * @param batchSize  slots, the most rows of a decoding step (&ge; 1)
     * @param useKvCache true: continuous batching through the slot KV cache; false: fixed batches that recompute
     *                   the whole sequence every step (same results, slower; the reference for tests and benchmarks)
     * @return one {@link Completion} per request, in request order
     * @throws UserError when a prompt has no tokens or does not fit in the model's context (the user's data)
     * @throws IllegalArgumentException when a token id is outside the model's vocabulary (a tokenizer/model mismatch)
     */
    public static List<Completion> generate(LlamaModel model, TextTokenizer tok, List<PromptRef> prompts,
                                            SamplingParams params, int batchSize, boolean useKvCache) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        int maxPos = model.config().maxPositionEmbeddings();
        int vocab = model.config().vocabSize();
        if (tok.vocabSize() > vocab) {
            throw new IllegalArgumentException("tokenizer has " + tok.vocabSize() + " ids, model only " + vocab);
        }
        RowState[] rows = new RowState[prompts.size()];
        for (int i = 0; i < rows.length; i++) {
            PromptRef r = prompts.get(i);
            int[] ids = TokenSequence.promptIds(tok, r.text());
            if (ids.length == 0) {
                throw new UserError("prompt " + r.promptId()
                        + " has no tokens and the tokenizer has no bos to start from");
            }
            if (ids.length > maxPos) {
                throw new UserError("prompt " + r.promptId() + " has " + ids.length
                        + " tokens, more than the model's context of " + maxPos
                        + " (max_position_embeddings): shorten or leave out such prompts");
            }
            int limit = Math.min(params.maxNewTokens(), maxPos - ids.length);
            rows[i] = new RowState(r, ids, limit, Sampler.rowSeed(params.seed(), r.promptId(), r.sampleIndex()),
                    tok, params.stop());
        }
        int pad = tok.padId() >= 0 ? tok.padId() : 0;
        boolean gradBefore = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            if (useKvCache) {
                runSlots(model, rows, batchSize, params, pad);
            } else {
                for (int start = 0; start < rows.length; start += batchSize) {
                    runRecomputing(model, Arrays.copyOfRange(rows, start, Math.min(rows.length, start + batchSize)),
                            params, pad);
                }
            }
        } finally {
            JniUtils.setGradMode(gradBefore);
        }
        List<Completion> out = new ArrayList<>(rows.length);
        for (RowState row : rows) {
            out.add(row.toCompletion());
        }
        return out;
    }

    /** Prompt widths of a prefill are rounded up to a multiple of this (see {@link #prefill}). */
    static final int PREFILL_WIDTH_STEP = 16;

    /** Largest slot KV cache (MB) sized to the model's whole context; beyond it, to the call's need. */
    static final long KV_CACHE_BUDGET_MB = 1024;

    /**
     * Continuous batching over {@code batchSize} slots of a {@link LlamaModel.SlotCache}: free slots are filled
     * with the next waiting requests (one right-padded prefill per padded width), then every step decodes one
     * token for every slot; a row that finishes frees its slot at once.
     */
    private static void runSlots(LlamaModel model, RowState[] rows, int batchSize, SamplingParams p, int pad) {
        int live = 0;
        int needed = 1;
        for (RowState r : rows) {
            if (!r.finished()) {
                live++;
                // the last token is sampled but never fed back, so prompt + limit - 1 positions are cached
                needed = Math.max(needed, r.promptIds.length + r.limit - 1);
            }
        }
        if (live == 0) {
            return;
        }
        int b = Math.min(batchSize, live);
        // Rows are admitted into the first b slots only; the cache has at least MIN_GEMM_ROWS, so a decoding step can
        // always run that many rows (the ones past the running rows free, at length 0): see LlamaModel.MIN_GEMM_ROWS.
        int cacheSlots = Math.max(b, LlamaModel.MIN_GEMM_ROWS);
        int capacity = capacity(model.config(), cacheSlots, needed);
        int v = model.config().vocabSize();
        RowState[] slot = new RowState[cacheSlots];
        int[] length = new int[cacheSlots];
        long[] next = new long[cacheSlots];
        Arrays.fill(next, pad);
        double[] scratch = new double[v];
        double[] lp = new double[1];
        int waiting = 0;
        int pending = live;
        int refillAt = Math.max(1, b / 4);
        // slots decoded per step: all of them until no request waits, then fewer as the last rows finish
        int active = b;
        try (NDManager run = model.manager().newSubManager();
             LlamaModel.SlotCache cache = model.newSlotCache(run, cacheSlots, capacity)) {
            while (true) {
                // A prefill costs about as much as a decoding step of all slots, so free slots are refilled a
                // quarter of them at a time, unless no row is running or all remaining requests fit now. A row
                // can finish on its first token, which frees its slot again: hence the loop.
                while (pending > 0) {
                    List<Integer> free = new ArrayList<>();
                    for (int i = 0; i < b; i++) {
                        if (slot[i] == null) {
                            free.add(i);
                        }
                    }
                    boolean running = free.size() < b;
                    if (free.isEmpty() || free.size() < refillAt && running && pending > free.size()) {
                        break;
                    }
                    List<RowState> admitted = new ArrayList<>();
                    while (admitted.size() < free.size() && pending > 0) {
                        RowState r = rows[waiting++];
                        if (!r.finished()) {
                            admitted.add(r);
                            pending--;
                        }
                    }
                    float[] logits = prefill(model, cache, run, admitted, free, pad);
                    for (int j = 0; j < admitted.size(); j++) {
                        RowState r = admitted.get(j);
                        int token = Sampler.pick(logits, j * v, v, p, r.random, scratch, lp);
                        if (!r.accept(token, (float) lp[0])) {
                            int s = free.get(j);
                            slot[s] = r;
                            length[s] = r.promptIds.length;
                            next[s] = token;
                        }
                    }
                }
                boolean anyRunning = false;
                for (RowState r : slot) {
                    anyRunning |= r != null;
                }
                if (!anyRunning) {
                    return;
                }
                if (pending == 0) {
                    active = gatherRunning(cache, slot, length, next, active, pad);
                }
                // free slots after the running ones make up MIN_GEMM_ROWS rows: fed a pad at length 0, ignored
                int decoded = Math.max(active, LlamaModel.MIN_GEMM_ROWS);
                float[] logits;
                try (NDManager step = run.newSubManager()) {
                    logits = model.decodeSlots(step.create(Arrays.copyOf(next, decoded), new Shape(decoded, 1)),
                            Arrays.copyOf(length, decoded), cache).toFloatArray();
                }
                for (int i = 0; i < active; i++) {
                    RowState r = slot[i];
                    if (r == null) {
                        continue;
                    }
                    length[i]++;
                    int token = Sampler.pick(logits, i * v, v, p, r.random, scratch, lp);
                    if (r.accept(token, (float) lp[0])) {
                        slot[i] = null;
                        length[i] = 0;
                        next[i] = pad;
                    } else {
                        next[i] = token;
                    }
                }
            }
        }
    }

    /**
     * Once no request waits, a step's cost still grows with its rows: when at most half of the {@code active}
     * leading slots still run, their sequences move into the first slots and only those are decoded from then on.
     *
     * @return the new number of active slots
     */
    private static int gatherRunning(LlamaModel.SlotCache cache, RowState[] slot, int[] length, long[] next,
                                     int active, int pad) {
        int running = 0;
        for (int i = 0; i < active; i++) {
            running += slot[i] != null ? 1 : 0;
        }
        if (running == 0 || running > active / 2) {
            return active;
        }
        List<Integer> to = new ArrayList<>();
        List<Integer> from = new ArrayList<>();
        for (int i = 0; i < active; i++) {
            if (i < running && slot[i] == null) {
                to.add(i);
            } else if (i >= running && slot[i] != null) {
                from.add(i);
            }
        }
        cache.moveSlots(from.stream().mapToInt(Integer::intValue).toArray(),
                to.stream().mapToInt(Integer::intValue).toArray());
        for (int j = 0; j < from.size(); j++) {
            int src = from.get(j);
            int dst = to.get(j);
            slot[dst] = slot[src];
            length[dst] = length[src];
            next[dst] = next[src];
            slot[src] = null;
            length[src] = 0;
            next[src] = pad;
        }
        return running;
    }

    /**
     * Next-token logits [n,V] (flattened) of the admitted rows' prompts, written into their slots. Rows are padded
     * to a width that depends on their own length only ({@value #PREFILL_WIDTH_STEP}-token steps) and prefilled
     * one width at a time: a prefill's attention runs over its whole width, so a width set by the longest row
     * admitted with it would make a row's numbers depend on which rows it was admitted with.
     */
    private static float[] prefill(LlamaModel model, LlamaModel.SlotCache cache, NDManager run,
                                   List<RowState> admitted, List<Integer> free, int pad) {
        int v = model.config().vocabSize();
        float[] out = new float[admitted.size() * v];
        Map<Integer, List<Integer>> byWidth = new TreeMap<>();
        for (int j = 0; j < admitted.size(); j++) {
            int len = admitted.get(j).promptIds.length;
            int width = Math.min(cache.capacity(), (len + PREFILL_WIDTH_STEP - 1) / PREFILL_WIDTH_STEP * PREFILL_WIDTH_STEP);
            byWidth.computeIfAbsent(width, w -> new ArrayList<>()).add(j);
        }
        for (Map.Entry<Integer, List<Integer>> e : byWidth.entrySet()) {
            int width = e.getKey();
            List<Integer> group = e.getValue();
            int n = group.size();
            long[] ids = new long[n * width];
            Arrays.fill(ids, pad);
            int[] slots = new int[n];
            int[] lengths = new int[n];
            for (int g = 0; g < n; g++) {
                int[] pr = admitted.get(group.get(g)).promptIds;
                for (int k = 0; k < pr.length; k++) {
                    ids[g * width + k] = pr[k];
                }
                slots[g] = free.get(group.get(g));
                lengths[g] = pr.length;
            }
            float[] logits;
            try (NDManager step = run.newSubManager()) {
                logits = model.prefillSlots(step.create(ids, new Shape(n, width)), slots, lengths, cache).toFloatArray();
            }
            for (int g = 0; g < n; g++) {
                System.arraycopy(logits, g * v, out, group.get(g) * v, v);
            }
        }
        return out;
    }

    /**
     * Positions per slot: the model's whole context, so that every decoding step attends over the same width whatever
     * its rows (see {@link LlamaModel#decodeSlots}); only when that cache would pass {@value #KV_CACHE_BUDGET_MB} MB
     * (long contexts, many slots) the call's own need instead, and then a row's last bits can depend on the call.
     */
    static int capacity(LlamaConfig c, int slots, int needed) {
        long bytes = 2L * Float.BYTES * slots * c.numHiddenLayers() * c.numKeyValueHeads() * c.headDim()
                * c.maxPositionEmbeddings();
        return bytes <= KV_CACHE_BUDGET_MB << 20 ? c.maxPositionEmbeddings() : needed;
    }

    /**
     * The reference path: one batch of rows, left-padded to the longest prompt, and the whole sequence recomputed
     * (no cache) at every step until the batch's last row finishes.
     */
    private static void runRecomputing(LlamaModel model, RowState[] rows, SamplingParams p, int pad) {
        if (Arrays.stream(rows).allMatch(RowState::finished)) {
            return;
        }
        int b = rows.length;
        int v = model.config().vocabSize();
        NDArray head = model.lmHeadWeight();
        int width = Arrays.stream(rows).mapToInt(r -> r.promptIds.length).max().orElse(0);
        long[] ids = new long[b * width];
        long[] mask = new long[b * width];
        Arrays.fill(ids, pad);
        for (int i = 0; i < b; i++) {
            int[] pr = rows[i].promptIds;
            int off = i * width + (width - pr.length);
            for (int j = 0; j < pr.length; j++) {
                ids[off + j] = pr[j];
                mask[off + j] = 1;
            }
        }
        long[] next = new long[b];
        long[] col = new long[b];
        double[] scratch = new double[v];
        double[] lp = new double[1];
        try (NDManager batch = model.manager().newSubManager()) {
            while (true) {
                float[] logits;
                try (NDManager step = batch.newSubManager()) {
                    NDArray h = model.hidden(step.create(ids, new Shape(b, width)), null,
                            step.create(mask, new Shape(b, width)), null);
                    logits = Linear.linear(h.get(new NDIndex(":, -1, :")), head).singletonOrThrow().toFloatArray();
                }
                boolean anyRunning = false;
                for (int i = 0; i < b; i++) {
                    RowState r = rows[i];
                    if (r.finished()) {
                        next[i] = pad;
                        col[i] = 0;
                        continue;
                    }
                    int token = Sampler.pick(logits, i * v, v, p, r.random, scratch, lp);
                    boolean done = r.accept(token, (float) lp[0]);
                    next[i] = done ? pad : token;
                    col[i] = done ? 0 : 1;
                    anyRunning |= !done;
                }
                if (!anyRunning) {
                    return;
                }
                long[] ids2 = new long[b * (width + 1)];
                long[] mask2 = new long[b * (width + 1)];
                for (int i = 0; i < b; i++) {
                    System.arraycopy(ids, i * width, ids2, i * (width + 1), width);
                    System.arraycopy(mask, i * width, mask2, i * (width + 1), width);
                    ids2[i * (width + 1) + width] = next[i];
                    mask2[i * (width + 1) + width] = col[i];
                }
                ids = ids2;
                mask = mask2;
                width++;
            }
        }
    }
}
