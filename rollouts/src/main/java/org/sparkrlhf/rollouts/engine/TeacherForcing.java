package org.sparkrlhf.rollouts.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.model.Scalars;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Log-probabilities of given completions under a model, in one forward pass per batch (no sampling): reference
 * log-probs for DPO, the KL term of GRPO / PPO, and re-scoring of rollouts.
 *
 * <p>Each row is {@code promptTokens(prompt) + completionIds} ({@code [bos] + encode(prompt) + completion}, see
 * {@link GenerationEngine}); pass a generated {@link Completion#tokenIds()} as is — it already ends with the eos
 * when the row finished on eos — and for an SFT demonstration pass {@code encode(completion) + [eos]}. The
 * log-prob of completion token j is {@code log_softmax(logits / T)} at the position before it, the same quantity
 * {@link Completion#logProbs()} records, so a generated completion re-scored at its sampling temperature (1 for
 * greedy) gives back its recorded log-probs up to float32 noise.
 *
 * <p>Layout: prompts left-padded to the batch's longest, completions right-padded, so every row's completion
 * starts in the same column and one slice of the hidden states feeds the LM head (memory ~ B x C x V floats for the
 * logits; choose batchSize accordingly). Autograd is off; arrays are freed per batch.
 */
public final class TeacherForcing {

    private TeacherForcing() {
    }

    /** Default batch size of the overloads without one. */
    public static final int DEFAULT_BATCH_SIZE = 8;

    /**
     * A prompt and the completion tokens to score.
     *
     * @param prompt        prompt text (bos is added, as in generation)
     * @param completionIds completion token ids, including a final eos when the completion has one
     */
    public record Item(String prompt, int[] completionIds) implements Serializable {
        private static final long serialVersionUID = 1L;

        public Item {
            Objects.requireNonNull(prompt, "prompt");
            Objects.requireNonNull(completionIds, "completionIds");
        }

        /** The item of a generated completion. */
        public static Item of(String prompt, Completion c) {
            return new Item(prompt, c.tokenIds());
        }
    }

    /** {@link #logProbs(LlamaModel, TextTokenizer, List, double, int)} with {@link #DEFAULT_BATCH_SIZE}. */
    public static float[][] logProbs(LlamaModel model, TextTokenizer tok, List<Item> items, double temperature) {
        return logProbs(model, tok, items, temperature, DEFAULT_BATCH_SIZE);
    }

    /**
     * Per-token log-probs of each item's completion.
     *
     * @param temperature T: scores {@code log_softmax(logits / T)}; T &le; 0 means 1 (the greedy convention)
     * @return one array per item (same order), of length {@code completionIds.length}
     */
    public static float[][] logProbs(LlamaModel model, TextTokenizer tok, List<Item> items, double temperature,
                                     int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        float[][] out = new float[items.size()][];
        boolean gradBefore = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            for (int start = 0; start < items.size(); start += batchSize) {
                int end = Math.min(items.size(), start + batchSize);
                List<int[]> prompts = new ArrayList<>();
                for (int i = start; i < end; i++) {
                    prompts.add(GenerationEngine.promptTokens(tok, items.get(i).prompt()));
                }
                float[][] part = scoreBatch(model, tok, prompts, items.subList(start, end), temperature);
                System.arraycopy(part, 0, out, start, part.length);
            }
        } finally {
            JniUtils.setGradMode(gradBefore);
        }
        return out;
    }

    /** Sum of each item's completion log-probs (in double). */
    public static double[] sumLogProbs(LlamaModel model, TextTokenizer tok, List<Item> items, double temperature,
                                       int batchSize) {
        float[][] lp = logProbs(model, tok, items, temperature, batchSize);
        double[] s = new double[lp.length];
        for (int i = 0; i < lp.length; i++) {
            for (float f : lp[i]) {
                s[i] += f;
            }
        }
        return s;
    }

    /** {@link #sumLogProbs(LlamaModel, TextTokenizer, List, double, int)} with {@link #DEFAULT_BATCH_SIZE}. */
    public static double[] sumLogProbs(LlamaModel model, TextTokenizer tok, List<Item> items, double temperature) {
        return sumLogProbs(model, tok, items, temperature, DEFAULT_BATCH_SIZE);
    }

    private static float[][] scoreBatch(LlamaModel model, TextTokenizer tok, List<int[]> prompts, List<Item> items,
                                        double temperature) {
        int b = items.size();
        int maxPos = model.config().maxPositionEmbeddings();
        int vocab = model.config().vocabSize();
        int p = 0;
        int c = 0;
        for (int i = 0; i < b; i++) {
            int[] pr = prompts.get(i);
            int[] co = items.get(i).completionIds();
            if (pr.length == 0 && co.length > 0) {
                throw new IllegalArgumentException("item " + i + ": empty prompt and no bos: nothing predicts the "
                        + "first completion token");
            }
            if (pr.length + co.length - 1 > maxPos) {
                throw new IllegalArgumentException("item " + i + ": " + pr.length + " prompt + " + co.length
                        + " completion tokens exceed the model's context of " + maxPos);
            }
            for (int t : co) {
                if (t < 0 || t >= vocab) {
                    throw new IllegalArgumentException("item " + i + ": token id " + t + " outside the vocabulary");
                }
            }
            p = Math.max(p, pr.length);
            c = Math.max(c, co.length);
        }
        float[][] out = new float[b][];
        if (c == 0) {
            for (int i = 0; i < b; i++) {
                out[i] = new float[0];
            }
            return out;
        }
        int pad = tok.padId() >= 0 ? tok.padId() : 0;
        // inputs: columns [0, p + c - 1) — the last completion token is only a target
        int w = p + c - 1;
        long[] ids = new long[b * w];
        long[] mask = new long[b * w];
        long[] targets = new long[b * c];
        Arrays.fill(ids, pad);
        Arrays.fill(targets, pad);
        for (int i = 0; i < b; i++) {
            int[] pr = prompts.get(i);
            int[] co = items.get(i).completionIds();
            int off = i * w + (p - pr.length);
            for (int j = 0; j < pr.length; j++) {
                ids[off + j] = pr[j];
                mask[off + j] = 1;
            }
            for (int j = 0; j < co.length; j++) {
                targets[i * c + j] = co[j];
                if (j < c - 1) {
                    ids[i * w + p + j] = co[j];
                    mask[i * w + p + j] = 1;
                }
            }
        }
        float[] flat;
        try (NDManager m = model.manager().newSubManager()) {
            NDArray hidden = model.hidden(m.create(ids, new Shape(b, w)), null, m.create(mask, new Shape(b, w)),
                    null);
            // position p-1+j predicts completion token j
            NDArray h = hidden.get(new NDIndex(":, " + (p - 1) + ":, :"));
            NDArray logits = Linear.linear(h, GenerationEngine.lmHead(model)).singletonOrThrow();
            if (temperature > 0 && temperature != 1.0) {
                logits = Scalars.dividedBy(logits, temperature);
            }
            flat = LlamaModel.tokenLogProbs(logits, m.create(targets, new Shape(b, c))).toFloatArray();
        }
        for (int i = 0; i < b; i++) {
            int n = items.get(i).completionIds().length;
            out[i] = new float[n];
            System.arraycopy(flat, i * c, out[i], 0, n);
        }
        return out;
    }
}
