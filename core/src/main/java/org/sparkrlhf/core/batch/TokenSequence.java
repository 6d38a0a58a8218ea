package org.sparkrlhf.core.batch;

import java.io.Serializable;
import java.util.Arrays;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

/**
 * One tokenized row as every trainer, scorer and the generator see it, and where its scored part begins.
 *
 * <p><b>The token convention</b> (the only place it is written down):
 * <pre>
 *   prompt ids = [bos] + tokenizer.encode(prompt)          bos only when the tokenizer has one (bosId() &ge; 0)
 *   sequence   = prompt ids + completion ids (+ [eos] when asked for)
 *   scored     = the completion ids and the appended eos, i.e. ids[scoredFrom ..]
 * </pre>
 * Generation feeds exactly the prompt ids and appends what it samples (ending in eos when it stopped there), so a
 * generated completion's ids go in as they are, without asking for another eos; an SFT demonstration or a
 * preference completion is text and asks for the eos. A tokenizer without bos (many Hugging Face tokenizers
 * return -1) gets no bos anywhere, rather than an id -1 in one path.
 *
 * @param ids        the whole sequence
 * @param scoredFrom index of the first scored token; {@code ids.length} when nothing is scored
 */
public record TokenSequence(int[] ids, int scoredFrom) implements Serializable {
  private static final long serialVersionUID = 1L;

  public TokenSequence {
    if (ids.length == 0) {
      throw new IllegalArgumentException("empty sequence: no bos, prompt or completion tokens");
    }
    if (scoredFrom < 0 || scoredFrom > ids.length) {
      throw new IllegalArgumentException("scoredFrom " + scoredFrom + " outside 0.." + ids.length);
    }
    if (scoredFrom == 0) {
      throw new IllegalArgumentException("the first scored token needs a token before it: give the"
          + " tokenizer a bos token or the row a non-empty prompt");
    }
  }

  /** The ids a prompt is fed to the model as: {@code [bos] + encode(prompt)}, no bos when the tokenizer has none. */
  public static int[] promptIds(TextTokenizer tok, String prompt) {
    int[] enc = tok.encode(prompt);
    int bos = tok.bosId();
    if (bos < 0) {
      return enc;
    }
    int[] out = new int[enc.length + 1];
    out[0] = bos;
    System.arraycopy(enc, 0, out, 1, enc.length);
    return out;
  }

  /**
   * {@code promptIds(prompt) + encode(completion) (+ eos)}: a text completion, scored with its eos. A completion
   * whose text already ends with a stop token (a chat template that closes a turn with eos or its end-of-turn
   * token) gets no eos after it: generation stops there too.
   */
  public static TokenSequence encode(TextTokenizer tok, String prompt, String completion, boolean appendEos) {
    int[] ids = tok.encode(completion);
    boolean endsWithEos = ids.length > 0 && tok.isStop(ids[ids.length - 1]);
    return encode(tok, prompt, ids, appendEos && !endsWithEos);
  }

  /** {@code promptIds(prompt) + completionIds (+ eos)}: e.g. a generated completion's ids. */
  public static TokenSequence encode(TextTokenizer tok, String prompt, int[] completionIds, boolean appendEos) {
    if (appendEos && tok.eosId() < 0) {
      throw new IllegalArgumentException("appending eos needs a tokenizer with an eos token");
    }
    return of(promptIds(tok, prompt), completionIds, appendEos ? tok.eosId() : -1);
  }

  /** {@code promptIds + completionIds}, then {@code eosId} unless it is negative; the completion (and eos) scored. */
  public static TokenSequence of(int[] promptIds, int[] completionIds, int eosId) {
    int eos = eosId >= 0 ? 1 : 0;
    int[] ids = Arrays.copyOf(promptIds, promptIds.length + completionIds.length + eos);
    System.arraycopy(completionIds, 0, ids, promptIds.length, completionIds.length);
    if (eos == 1) {
      ids[ids.length - 1] = eosId;
    }
    return new TokenSequence(ids, promptIds.length);
  }

  public int length() {
    return ids.length;
  }

  /** Number of scored tokens: the completion and its eos. */
  public int scoredTokens() {
    return ids.length - scoredFrom;
  }
}
