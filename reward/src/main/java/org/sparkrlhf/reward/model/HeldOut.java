package org.sparkrlhf.reward.model;

import org.sparkrlhf.core.task.ArithmeticTask;

/**
 * Which pairs of a split are held out for evaluation when the dataset has no evaluation split: a fixed share chosen
 * by a hash of the pair's id and a seed, so the choice is the same on every run and machine, does not depend on the
 * order the pairs are read in, and a pair added later does not move any other pair in or out.
 */
public final class HeldOut {
  private static final long BUCKETS = 1_000_000L;

  private HeldOut() {}

  /** True for about {@code share} of all ids (0 = none). */
  public static boolean isHeldOut(String id, long seed, double share) {
    long bucket = Long.remainderUnsigned(ArithmeticTask.mix(ArithmeticTask.fnv1a(id) ^ ArithmeticTask.mix(seed)),
        BUCKETS);
    return bucket < share * BUCKETS;
  }
}
