package org.sparkrlhf.rollouts.engine;

import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One row being generated: its tokens, log-probs, random stream and stopping rules. Pure Java, so the stopping
 * logic can be tested on token streams without a model.
 *
 * <p>After each accepted token, in this order: a stop id (eos, or a chat tokenizer's end-of-turn token: {@link
 * TextTokenizer#stopIds}) finishes the row with {@code "eos"} (the
 * token is kept); a stop string contained in the decoded completion finishes it with {@code "stop"}; reaching
 * {@code limit} tokens finishes it with {@code "length"}. A row with {@code limit == 0} is finished from the start
 * ({@code "length"}, no tokens).
 */
final class RowState {

    final PromptRef ref;
    final int[] promptIds;
    final int limit;
    final SplittableRandom random;
    private final TextTokenizer tokenizer;
    private final int[] stopIds;
    private final List<String> stop;
    private int[] tokens = new int[16];
    private float[] logProbs = new float[16];
    private int n;
    private String finish;

    RowState(PromptRef ref, int[] promptIds, int limit, long seed, TextTokenizer tokenizer, List<String> stop) {
        this.ref = ref;
        this.promptIds = promptIds;
        this.limit = limit;
        this.random = new SplittableRandom(seed);
        this.tokenizer = tokenizer;
        this.stopIds = tokenizer.stopIds();
        this.stop = stop;
        if (limit <= 0) {
            finish = Completion.LENGTH;
        }
    }

    boolean finished() {
        return finish != null;
    }

    String finishReason() {
        return finish;
    }

    int size() {
        return n;
    }

    int token(int i) {
        return tokens[i];
    }

    /** Appends a generated token; returns true when this token finished the row. */
    boolean accept(int token, float logProb) {
        if (finish != null) {
            throw new IllegalStateException("row already finished (" + finish + ")");
        }
        if (n == tokens.length) {
            tokens = Arrays.copyOf(tokens, 2 * n);
            logProbs = Arrays.copyOf(logProbs, 2 * n);
        }
        tokens[n] = token;
        logProbs[n] = logProb;
        n++;
        if (TextTokenizer.isAmong(stopIds, token)) {  // the array held once: asked per token
            finish = Completion.EOS;
        } else if (!stop.isEmpty() && containsStop()) {
            finish = Completion.STOP;
        } else if (n >= limit) {
            finish = Completion.LENGTH;
        }
        return finish != null;
    }

    private boolean containsStop() {
        // decode the whole completion each time: with byte-level tokenizers earlier characters can change as
        // tokens arrive, so the text is not append-only
        String text = decode(Arrays.copyOf(tokens, n));
        for (String s : stop) {
            if (text.contains(s)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The completion's text. Ids the tokenizer does not know (a model vocabulary padded past the tokenizer's, as
     * many Hugging Face checkpoints have) have no text and are skipped rather than failing the whole batch.
     */
    String decode(int[] ids) {
        int v = tokenizer.vocabSize();
        int bad = 0;
        for (int id : ids) {
            if (id < 0 || id >= v) {
                bad++;
            }
        }
        if (bad == 0) {
            return tokenizer.decode(ids);
        }
        int[] known = new int[ids.length - bad];
        int k = 0;
        for (int id : ids) {
            if (id >= 0 && id < v) {
                known[k++] = id;
            }
        }
        return tokenizer.decode(known);
    }

    Completion toCompletion() {
        if (finish == null) {
            throw new IllegalStateException("row not finished");
        }
        int[] ids = Arrays.copyOf(tokens, n);
        return new Completion(ref.promptId(), ref.sampleIndex(), promptIds.length, ids, decode(ids),
                Arrays.copyOf(logProbs, n), finish);
    }
}
