package org.sparkrlhf.rollouts.engine;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/**
 * One generated completion.
 *
 * @param promptId     the request's prompt id
 * @param sampleIndex  the request's sample index
 * @param promptTokens number of prompt tokens fed to the model, bos included ({@code [bos] + encode(prompt)})
 * @param tokenIds     the generated token ids in order, <b>including the final end-of-sequence token</b> when
 *                     {@code finishReason} is {@code "eos"} (so the eos decision gets a log-prob and a
 *                     gradient in RL); never padded. {@code [bos] + encode(prompt) + tokenIds} is exactly the
 *                     sequence the model saw, and the layout the SFT trainer uses
 *                     ({@code [bos] + prompt + completion + [eos]}).
 * @param text         {@code tokenizer.decode(tokenIds)}: special tokens (the eos) are skipped, and so are ids
 *                     past the tokenizer's vocabulary (a model vocabulary padded beyond the tokenizer's). When the row
 *                     stopped on a stop string the string is kept (and, with multi-character tokens, whatever
 *                     else the last token decodes to).
 * @param logProbs     one per token of {@code tokenIds}: the log-probability of the chosen token under the
 *                     distribution it was drawn from before truncation, i.e. {@code log_softmax(logits / T)}
 *                     for temperature T &gt; 0 and {@code log_softmax(logits)} for greedy (T = 0). Top-k / top-p
 *                     truncation is not applied (as verl's actor recomputes them). Computed in double from the
 *                     float32 logits.
 * @param finishReason {@code "eos"} (end-of-sequence sampled), {@code "stop"} (a stop string appeared) or
 *                     {@code "length"} (maxNewTokens or the model's context reached)
 */
public record Completion(String promptId, int sampleIndex, int promptTokens, int[] tokenIds, String text,
                         float[] logProbs, String finishReason) implements Serializable {

    private static final long serialVersionUID = 1L;

    public static final String EOS = "eos";
    public static final String STOP = "stop";
    public static final String LENGTH = "length";

    public Completion {
        Objects.requireNonNull(tokenIds, "tokenIds");
        Objects.requireNonNull(logProbs, "logProbs");
        if (tokenIds.length != logProbs.length) {
            throw new IllegalArgumentException("one log-prob per token: " + tokenIds.length + " vs " + logProbs.length);
        }
    }

    /** Number of generated tokens (eos included). */
    public int length() {
        return tokenIds.length;
    }

    /** Sum of {@link #logProbs()} in double. */
    public double sumLogProb() {
        double s = 0;
        for (float f : logProbs) {
            s += f;
        }
        return s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Completion c && promptId.equals(c.promptId) && sampleIndex == c.sampleIndex
                && promptTokens == c.promptTokens && Arrays.equals(tokenIds, c.tokenIds) && text.equals(c.text)
                && Arrays.equals(logProbs, c.logProbs) && finishReason.equals(c.finishReason);
    }

    @Override
    public int hashCode() {
        return Objects.hash(promptId, sampleIndex, Arrays.hashCode(tokenIds), finishReason);
    }

    @Override
    public String toString() {
        return "Completion[" + promptId + "#" + sampleIndex + ", " + tokenIds.length + " tokens, " + finishReason
                + ", text=" + text.replace("\n", "\\n") + "]";
    }
}
