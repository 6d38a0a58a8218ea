package org.sparkrlhf.rollouts.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Batched autoregressive generation with a {@link LlamaModel}.
 *
 * <p><b>Sequence convention</b> ({@link TokenSequence}, shared with SFT, DPO, GRPO and scoring): the model is fed
 * {@link TokenSequence#promptIds} ({@code [bos] + encode(prompt)}, no bos when the tokenizer has none) and continues
 * it; a finished training sequence is {@code [bos] + encode(prompt) + encode(completion) + [eos]}, which is exactly
 * {@code promptIds + Completion.tokenIds()} for a completion that ended with eos.
 *
 * <p><b>How requests run (continuous batching).</b> {@code batchSize} slots of a {@link LlamaModel.SlotCache}
 * (per-layer keys and values preallocated for the longest prompt + completion, written in place). Waiting requests
 * enter free slots in request order: their prompts go through one right-padded forward ({@link
 * LlamaModel#prefillSlots}) that writes their keys and values into those slots and gives their first token. Then
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
 * sampling math runs per row in double precision on that row's logits. So a request's completion does not depend
 * on the batch size, on the other requests, on when its slot was freed, on their order or on the partition — up
 * to float32 differences of ~1e-6 in the logits between batch shapes (and between the fused projections of the
 * slot cache and the separate ones of training and the reference), which could only flip a choice that sits on
 * such a knife edge (no such case in the tests).
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

    /**
     * Continuous batching over {@code batchSize} slots of a {@link LlamaModel.SlotCache}: free slots are filled
     * with the next waiting requests (one right-padded prefill for all of them), then every step decodes one
     * token for every slot; a row that finishes frees its slot at once.
     */
    private static void runSlots(LlamaModel model, RowState[] rows, int batchSize, SamplingParams p, int pad) {
        int live = 0;
        int capacity = 1;
        for (RowState r : rows) {
            if (!r.finished()) {
                live++;
                // the last token is sampled but never fed back, so prompt + limit - 1 positions are cached
                capacity = Math.max(capacity, r.promptIds.length + r.limit - 1);
            }
        }
        if (live == 0) {
            return;
        }
        int b = Math.min(batchSize, live);
        int v = model.config().vocabSize();
        RowState[] slot = new RowState[b];
        int[] length = new int[b];
        long[] next = new long[b];
        Arrays.fill(next, pad);
        double[] scratch = new double[v];
        double[] lp = new double[1];
        int waiting = 0;
        int pending = live;
        int refillAt = Math.max(1, b / 4);
        // slots decoded per step: all of them until no request waits, then fewer as the last rows finish
        int active = b;
        try (NDManager run = model.manager().newSubManager();
             LlamaModel.SlotCache cache = model.newSlotCache(run, b, capacity)) {
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
                float[] logits;
                try (NDManager step = run.newSubManager()) {
                    logits = model.decodeSlots(step.create(Arrays.copyOf(next, active), new Shape(active, 1)),
                            Arrays.copyOf(length, active), cache).toFloatArray();
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

    /** Next-token logits [n,V] (flattened) of the admitted rows' prompts, written into their slots. */
    private static float[] prefill(LlamaModel model, LlamaModel.SlotCache cache, NDManager run,
                                   List<RowState> admitted, List<Integer> free, int pad) {
        int n = admitted.size();
        int width = admitted.stream().mapToInt(r -> r.promptIds.length).max().orElse(1);
        long[] ids = new long[n * width];
        Arrays.fill(ids, pad);
        int[] slots = new int[n];
        int[] lengths = new int[n];
        for (int j = 0; j < n; j++) {
            int[] pr = admitted.get(j).promptIds;
            for (int k = 0; k < pr.length; k++) {
                ids[j * width + k] = pr[k];
            }
            slots[j] = free.get(j);
            lengths[j] = pr.length;
        }
        try (NDManager step = run.newSubManager()) {
            return model.prefillSlots(step.create(ids, new Shape(n, width)), slots, lengths, cache).toFloatArray();
        }
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
