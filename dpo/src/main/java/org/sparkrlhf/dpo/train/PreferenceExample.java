package org.sparkrlhf.dpo.train;

import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.batch.TokenSequence;

/**
 * One tokenized preference pair with its pre-computed reference log-probs. Sequences follow the scoring
 * convention of {@link TokenSequence} ({@code [bos] + prompt + completion + [eos]}, the completion tokens and
 * the eos scored), so the driver's policy log-probs and the executors' reference log-probs ({@code Scorer},
 * default {@code appendEos = true}) sum over exactly the same tokens.
 *
 * @param id the pair's id in {@code preferences}
 * @param chosen chosen sequence
 * @param rejected rejected sequence
 * @param refChosen Σ log π_ref over the chosen completion's scored tokens
 * @param refRejected the same for the rejected completion
 */
public record PreferenceExample(String id, TokenSequence chosen, TokenSequence rejected,
    double refChosen, double refRejected) {

  /** Encodes a pair by the scoring convention (eos appended to both completions). */
  public static PreferenceExample of(TextTokenizer tok, String id, String prompt, String chosen, String rejected,
      double refChosen, double refRejected) {
    return new PreferenceExample(id, TokenSequence.encode(tok, prompt, chosen, true),
        TokenSequence.encode(tok, prompt, rejected, true), refChosen, refRejected);
  }

  /** The same pair with these reference log-probs. */
  public PreferenceExample withReference(double refChosen, double refRejected) {
    return new PreferenceExample(id, chosen, rejected, refChosen, refRejected);
  }

  /** Tokens of the longer of the two sequences. */
  public int maxLength() {
    return Math.max(chosen.length(), rejected.length());
  }
}
