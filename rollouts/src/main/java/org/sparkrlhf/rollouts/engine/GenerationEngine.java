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
 * <p><b>How a batch runs.</b> Requests are cut into batches of {@code batchSize} in the given order. A batch's
 * prompts are left-padded to the longest one (pad id, attention mask 0), so positions are
 * {@code cumsum(mask) - 1} and every row starts at position 0 at its bos. One forward over the prompts fills the
 * KV cache; then each step feeds one token per row ([B,1]) and appends a mask column (1 for rows still running,
 * 0 for finished rows, which are fed the pad id and ignored). The loop ends when every row has finished (eos, stop
 * string, or its length limit). Only the last position's hidden state goes through the LM head, and the [B,V]
 * logits are copied to Java once per step, where each row picks its token with {@link Sampler}. The
 * {@code useKvCache = false} mode recomputes the whole (left-padded) sequence each step instead; it picks the same
 * tokens and is kept for tests and benchmarks.
 *
 * <p><b>Determinism.</b> Each row draws its uniform numbers (one per sampled token) from its own
 * {@link java.util.SplittableRandom} seeded with {@link Sampler#rowSeed}(seed, promptId, sampleIndex), and the
 * sampling math runs per row in double precision on that row's logits. So a request's completion does not depend
 * on the batch size, on the other prompts in its batch, on their order or on the partition — up to float32
 * differences of ~1e-6 in the logits between batch shapes, which could only flip a choice that sits on such a
 * knife edge (no such case in the tests).
 *
 * <p><b>Resources.</b> Runs with autograd off on the calling thread (restored afterwards). All arrays live in a
 * sub-manager of the model's manager per batch and a sub-manager per step, closed when done: nothing leaks.
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
     * @param batchSize  rows per forward pass (&ge; 1)
     * @param useKvCache true: prompt once, then one token per step through the KV cache; false: recompute the
     *                   whole sequence every step (same results, slower; for tests and benchmarks)
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
        List<Completion> out = new ArrayList<>(prompts.size());
        boolean gradBefore = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            for (int start = 0; start < prompts.size(); start += batchSize) {
                List<PromptRef> chunk = prompts.subList(start, Math.min(prompts.size(), start + batchSize));
                RowState[] rows = new RowState[chunk.size()];
                for (int i = 0; i < rows.length; i++) {
                    PromptRef r = chunk.get(i);
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
                    rows[i] = new RowState(r, ids, limit, Sampler.rowSeed(params.seed(), r.promptId(),
                            r.sampleIndex()), tok, params.stop());
                }
                runBatch(model, rows, params, tok.padId() >= 0 ? tok.padId() : 0, useKvCache);
                for (RowState row : rows) {
                    out.add(row.toCompletion());
                }
            }
        } finally {
            JniUtils.setGradMode(gradBefore);
        }
        return out;
    }

    private static void runBatch(LlamaModel model, RowState[] rows, SamplingParams p, int pad, boolean cached) {
        if (Arrays.stream(rows).allMatch(RowState::finished)) {
            return;
        }
        int b = rows.length;
        int v = model.config().vocabSize();
        int promptWidth = Arrays.stream(rows).mapToInt(r -> r.promptIds.length).max().orElse(0);
        NDArray head = model.lmHeadWeight();

        // left-padded prompts; for the uncached mode these Java arrays grow by one column per step
        int width = promptWidth;
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

        try (NDManager batch = model.manager().newSubManager()) {
            LlamaModel.KvCache cache = cached ? model.newCache(batch) : null;
            NDArray maskNd = batch.create(mask, new Shape(b, width));
            float[] logits;
            try (NDManager step = batch.newSubManager()) {
                logits = lastLogits(model, head, step.create(ids, new Shape(b, width)), maskNd, cache);
            }
            long[] next = new long[b];
            long[] col = new long[b];
            double[] scratch = new double[v];
            double[] lp = new double[1];
            while (true) {
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
                    break;
                }
                if (cached) {
                    try (NDManager step = batch.newSubManager()) {
                        NDArray colNd = step.create(col, new Shape(b, 1));
                        NDArray grown = maskNd.concat(colNd, 1);
                        grown.attach(batch);
                        maskNd.close();
                        maskNd = grown;
                        logits = lastLogits(model, head, step.create(next, new Shape(b, 1)), maskNd, cache);
                    }
                } else {
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
                    try (NDManager step = batch.newSubManager()) {
                        logits = lastLogits(model, head, step.create(ids, new Shape(b, width)),
                                step.create(mask, new Shape(b, width)), null);
                    }
                }
            }
        }
    }

    /** Logits of the last position, [B,V] flattened, computed through the LM head for that position only. */
    private static float[] lastLogits(LlamaModel model, NDArray head, NDArray ids, NDArray mask,
                                      LlamaModel.KvCache cache) {
        NDArray h = model.hidden(ids, null, mask, cache);
        NDArray last = h.get(new NDIndex(":, -1, :"));
        return Linear.linear(last, head).singletonOrThrow().toFloatArray();
    }
}
