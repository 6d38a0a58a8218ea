package org.sparkrlhf.sft;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.batch.SequenceLogProbs;

/** Supervised fine-tuning loss. */
public final class SftLoss {
  private SftLoss() {}

  /**
   * Mean negative log-likelihood of the scored tokens (completion and eos), averaged over those tokens only:
   * prompt and padding positions carry no loss.
   *
   * @param tokenLogProbs [B, T] log-probs of the scored tokens, 0 at every other position (as
   *     {@link SequenceLogProbs.Result#tokenLogProbs()})
   * @param lossMask [B, T] float32, 1 where the position's next token is scored
   */
  public static NDArray completionNll(NDArray tokenLogProbs, NDArray lossMask) {
    return tokenLogProbs.sum().neg().div(lossMask.sum().maximum(1f));
  }
}
