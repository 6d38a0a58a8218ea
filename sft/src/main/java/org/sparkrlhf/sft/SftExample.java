package org.sparkrlhf.sft;

import org.sparkrlhf.core.tokenizer.TextTokenizer;

/**
 * One demonstration as token ids: {@code [bos] + prompt + completion + [eos]}, with the loss on the
 * completion and eos only ({@code promptLength} = bos + prompt tokens). The generator feeds exactly
 * {@code [bos] + prompt} at inference, so training and sampling see the same sequences.
 */
public record SftExample(int[] tokens, int promptLength) {

  public static SftExample of(TextTokenizer tok, String prompt, String completion) {
    int[] p = tok.encode(prompt);
    int[] c = tok.encode(completion);
    int[] t = new int[1 + p.length + c.length + 1];
    t[0] = tok.bosId();
    System.arraycopy(p, 0, t, 1, p.length);
    System.arraycopy(c, 0, t, 1 + p.length, c.length);
    t[t.length - 1] = tok.eosId();
    return new SftExample(t, 1 + p.length);
  }

  public int length() {
    return tokens.length;
  }

  /** Tokens that carry loss: the completion and eos. */
  public int lossTokens() {
    return tokens.length - promptLength;
  }
}
