package org.sparkrlhf.rollouts.spark;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.model.Scalars;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Per-batch scoring of (prompt, completion) pairs with a {@link LlamaModel}, free of Spark so the generation
 * engine and the trainers can reuse exactly the same computation.
 *
 * <p><b>Token convention</b> (shared with the SFT trainer and the generator):
 * <pre>
 *   sequence = [bos] + tokenizer.encode(prompt) + completionIds + ([eos] if appendEos)
 *   completionIds = tokenizer.encode(completion), or the generator's sampled ids when given
 * </pre>
 * {@code [bos]} is left out when the tokenizer has none. The scored tokens are the completion tokens plus the
 * appended eos; the log-prob of the token at position t is {@code log_softmax(logits[t-1] / temperature)[token_t]}.
 * The scalar score (a model with {@code score.weight}) is the head's output at the sequence's last token — the
 * eos when appended, else the last completion token — the way Hugging Face's sequence classifiers read the last
 * non-pad token.
 *
 * <p><b>Batching.</b> Sequences are right-padded to the longest in the batch; the attention mask hides the pad
 * keys and the rotary positions come from the mask (0..len-1 for every row), so a row scores the same alone or
 * next to longer rows. Call under {@link LlamaModel#noGrad()} (or {@link SparkExecutors#inferenceScope()}).
 */
public final class BatchScoring {

    private BatchScoring() {
    }

    /**
     * One tokenized row: {@code ids} is the whole sequence, {@code completionStart} the index of its first scored
     * token (the first completion token; equals {@code ids.length} when nothing is scored).
     */
    public record Sequence(int[] ids, int completionStart) {
        public Sequence {
            if (ids.length == 0) {
                throw new IllegalArgumentException("empty sequence: no bos, prompt or completion tokens");
            }
            if (completionStart < 0 || completionStart > ids.length) {
                throw new IllegalArgumentException("completionStart " + completionStart + " outside 0.." + ids.length);
            }
            if (completionStart == 0) {
                throw new IllegalArgumentException("the first scored token needs a token before it: give the"
                        + " tokenizer a bos token or the row a non-empty prompt");
            }
        }

        public int length() {
            return ids.length;
        }

        /** Scored tokens: completion tokens plus the appended eos. */
        public int scoredTokens() {
            return ids.length - completionStart;
        }
    }

    /**
     * Per-row output: {@code logprobs[i]} is the log-prob of scored token i, {@code sumLogprob} their sum (in
     * double), {@code score} the scalar head at the last token (NaN when not asked for).
     */
    public record Result(float[] logprobs, double sumLogprob, double score) {
    }

    /** Encodes a row by the token convention; {@code completionIds} replaces encoding {@code completion} if given. */
    public static Sequence encode(TextTokenizer tokenizer, String prompt, String completion, int[] completionIds,
                                  boolean appendEos) {
        int[] p = tokenizer.encode(prompt);
        int[] c = completionIds != null ? completionIds : tokenizer.encode(completion);
        return build(tokenizer.bosId(), p, c, appendEos ? tokenizer.eosId() : -1, appendEos);
    }

    /** {@link #encode} for text only. */
    public static Sequence encode(TextTokenizer tokenizer, String prompt, String completion, boolean appendEos) {
        return encode(tokenizer, prompt, completion, null, appendEos);
    }

    /** Assembles {@code [bos] + prompt + completion (+ eos)} from ids; {@code bosId < 0} means no bos. */
    public static Sequence build(int bosId, int[] promptIds, int[] completionIds, int eosId, boolean appendEos) {
        if (appendEos && eosId < 0) {
            throw new IllegalArgumentException("appendEos needs a tokenizer with an eos token");
        }
        int bos = bosId >= 0 ? 1 : 0;
        int eos = appendEos ? 1 : 0;
        int[] ids = new int[bos + promptIds.length + completionIds.length + eos];
        int k = 0;
        if (bos == 1) {
            ids[k++] = bosId;
        }
        System.arraycopy(promptIds, 0, ids, k, promptIds.length);
        k += promptIds.length;
        int start = k;
        System.arraycopy(completionIds, 0, ids, k, completionIds.length);
        k += completionIds.length;
        if (eos == 1) {
            ids[k] = eosId;
        }
        return new Sequence(ids, start);
    }

    /**
     * Scores one batch in one forward pass. Intermediates live in a sub-manager of {@code parent} that is closed
     * before returning; results are plain Java arrays.
     *
     * @param temperature the log-probs are those of {@code softmax(logits / temperature)} (the sampling
     *                    distribution of a generator run at that temperature); must be &gt; 0
     * @param withScore   also read the scalar head (the model must have one)
     * @throws IllegalArgumentException when a sequence is longer than the model's max_position_embeddings
     */
    public static List<Result> score(LlamaModel model, List<Sequence> batch, double temperature, boolean withScore,
                                     NDManager parent) {
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
        }
        if (withScore && !model.hasScoreHead()) {
            throw new IllegalArgumentException("the model has no score head");
        }
        List<Result> out = new ArrayList<>(batch.size());
        if (batch.isEmpty()) {
            return out;
        }
        int b = batch.size();
        int t = 0;
        for (Sequence s : batch) {
            t = Math.max(t, s.length());
        }
        int maxPos = model.config().maxPositionEmbeddings();
        if (t > maxPos) {
            throw new IllegalArgumentException("a sequence of " + t + " tokens exceeds the model's"
                    + " max_position_embeddings " + maxPos);
        }
        // Right padding with id 0 (any valid id: pad keys are masked out, pad positions are never read).
        long[] ids = new long[b * t];
        long[] mask = new long[b * t];
        for (int r = 0; r < b; r++) {
            int[] seq = batch.get(r).ids();
            for (int i = 0; i < seq.length; i++) {
                ids[r * t + i] = seq[i];
                mask[r * t + i] = 1;
            }
        }
        float[] lp = null;    // [b, t-1]: lp[r, i] = log p(token i+1 | tokens 0..i)
        float[] scores = null; // [b, t]
        try (NDManager sub = parent.newSubManager()) {
            NDArray idArr = sub.create(ids, new Shape(b, t));
            NDArray maskArr = sub.create(mask, new Shape(b, t));
            NDArray logits;
            if (withScore) {
                NDList both = model.logitsAndScores(idArr, null, maskArr, null);
                logits = both.get(0);
                scores = both.get(1).toFloatArray();
            } else {
                logits = model.logits(idArr, null, maskArr, null);
            }
            if (t > 1) {
                NDArray prev = logits.get(new NDIndex(":, 0:" + (t - 1) + ", :"));
                if (temperature != 1.0) {
                    prev = Scalars.dividedBy(prev, temperature);
                }
                NDArray next = idArr.get(new NDIndex(":, 1:" + t));
                lp = LlamaModel.tokenLogProbs(prev, next).toFloatArray();
            }
        }
        for (int r = 0; r < b; r++) {
            Sequence s = batch.get(r);
            float[] row = new float[s.scoredTokens()];
            double sum = 0;
            for (int j = 0; j < row.length; j++) {
                // scored token at position completionStart + j is predicted from position completionStart + j - 1
                row[j] = lp[r * (t - 1) + s.completionStart() + j - 1];
                sum += row[j];
            }
            double score = withScore ? scores[r * t + s.length() - 1] : Double.NaN;
            out.add(new Result(row, sum, score));
        }
        return out;
    }
}
