package org.sparkrlhf.rollouts.engine;

import java.io.Serializable;
import java.util.Objects;

/**
 * One generation request: sample number {@code sampleIndex} for the prompt {@code promptId}. The triple
 * (seed, promptId, sampleIndex) alone decides the random numbers of the row, so the same request gives the same
 * completion however requests are batched, ordered or partitioned.
 *
 * @param promptId    stable id of the prompt (e.g. {@code Problem.id()}, "train-000042")
 * @param text        the prompt text, without special tokens
 *                    ({@link org.sparkrlhf.core.batch.TokenSequence#promptIds} adds bos)
 * @param sampleIndex which of the prompt's samples this is (0 .. n-1 for n samples per prompt)
 */
public record PromptRef(String promptId, String text, int sampleIndex) implements Serializable {

    private static final long serialVersionUID = 1L;

    public PromptRef {
        Objects.requireNonNull(promptId, "promptId");
        Objects.requireNonNull(text, "text");
        if (sampleIndex < 0) {
            throw new IllegalArgumentException("sampleIndex must be >= 0, got " + sampleIndex);
        }
    }

    /** Sample 0 of a prompt. */
    public static PromptRef of(String promptId, String text) {
        return new PromptRef(promptId, text, 0);
    }
}
