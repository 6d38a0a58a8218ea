package org.sparkrlhf.sft;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.model.LlamaModel;

/** Supervised fine-tuning loss. */
public final class SftLoss {
  private SftLoss() {}

  /**
   * Mean negative log-likelihood of the target tokens where {@code mask} is 1 (completion and eos),
   * averaged over those tokens only: prompt and padding positions carry no loss.
   *
   * @param logits [B, T, V]
   * @param targets [B, T] int64, the next token at each position
   * @param mask [B, T] float32, 1 where the target is a completion token
   */
  public static NDArray completionNll(NDArray logits, NDArray targets, NDArray mask) {
    NDArray logp = LlamaModel.tokenLogProbs(logits, targets);
    return logp.mul(mask).sum().neg().div(mask.sum().maximum(1f));
  }
}
