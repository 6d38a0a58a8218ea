package org.sparkrlhf.core.tokenizer;

import java.io.Serializable;

/**
 * Text ↔ token ids, the one tokenizer abstraction every stage uses: the built-in
 * {@link CharTokenizer} for the arithmetic task, or {@link HfTokenizer} for a real model's
 * {@code tokenizer.json}. Serializable so a tokenizer can travel to executors with a job.
 */
public interface TextTokenizer extends Serializable {

    /** Token ids of {@code text}; no special tokens are added (callers add bos/eos themselves). */
    int[] encode(String text);

    /** Text of {@code ids}, skipping special tokens (pad, bos, eos and other special tokens). */
    String decode(int[] ids);

    /** Number of ids: every id this tokenizer can produce is in {@code [0, vocabSize())}. */
    int vocabSize();

    /** Padding id, or -1 when the tokenizer has none. */
    int padId();

    /** Beginning-of-sequence id, or -1 when the tokenizer has none. */
    int bosId();

    /** End-of-sequence id, or -1 when the tokenizer has none. */
    int eosId();

    /**
     * The ids that end a generated reply (the token is kept): eos, and for a chat tokenizer also the token its chat
     * template closes a turn with, since an assistant's reply ends there and not at the end of the text. A
     * completion ending in one of them needs no eos after it.
     */
    default int[] stopIds() {
        return eosId() >= 0 ? new int[] {eosId()} : new int[0];
    }

    /** Whether {@code id} is one of {@link #stopIds()}. */
    default boolean isStop(int id) {
        return isAmong(stopIds(), id);
    }

    /** Whether {@code id} is in {@code stopIds}: for a caller that holds the array once (a generator, per token). */
    static boolean isAmong(int[] stopIds, int id) {
        for (int s : stopIds) {
            if (s == id) {
                return true;
            }
        }
        return false;
    }

    /** The Hugging Face {@code tokenizer.json} text, written next to every checkpoint. */
    String toTokenizerJson();

    /** A short human-readable name for reports and logs. */
    String name();
}
