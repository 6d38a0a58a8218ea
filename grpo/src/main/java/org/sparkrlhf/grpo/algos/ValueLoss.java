package org.sparkrlhf.grpo.algos;

import ai.djl.ndarray.NDArray;
import org.sparkrlhf.core.model.Scalars;

/**
 * PPO's clipped value loss (as in OpenAI's baselines, TRL and verl's {@code compute_value_loss}):
 * <pre>
 * V_clip = V_old + clip(V − V_old, −ε, ε)
 * loss   = ½ · token-mean( max((V − R)², (V_clip − R)²) )   over masked positions
 * </pre>
 * The critic cannot move a value by more than ε from the one that computed the advantages and be rewarded for it.
 */
public final class ValueLoss {
  private ValueLoss() {}

  /**
   * @param loss the scalar loss (in the graph of {@code values})
   * @param clipFraction share of masked positions where the clipped term was the larger (TRL's
   *     {@code val/clipfrac_avg})
   */
  public record Result(NDArray loss, float clipFraction) {}

  /**
   * @param values [B, T] the critic's current values (with gradient)
   * @param oldValues [B, T] the values that computed the advantages
   * @param returns [B, T] the regression targets R
   * @param mask [B, T] 1 on response tokens
   * @param clip ε (TRL's {@code cliprange_value}, 0.2)
   */
  public static Result clipped(NDArray values, NDArray oldValues, NDArray returns, NDArray mask, double clip) {
    NDArray clippedValues = oldValues.add(values.sub(oldValues).clip(-clip, clip));
    NDArray unclippedLoss = values.sub(returns).square();
    NDArray clippedLoss = clippedValues.sub(returns).square();
    NDArray loss = Scalars.times(Aggregation.tokenMean(unclippedLoss.maximum(clippedLoss), mask), 0.5);
    NDArray active = clippedLoss.gt(unclippedLoss).toType(mask.getDataType(), false);
    float clipFraction = Aggregation.tokenMean(active, mask).getFloat();
    return new Result(loss, clipFraction);
  }
}
