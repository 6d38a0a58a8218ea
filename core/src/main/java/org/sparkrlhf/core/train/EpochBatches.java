package org.sparkrlhf.core.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The batches of an offline trainer (DPO, the reward model): each epoch visits every example once in a fresh seeded
 * order, and a batch never straddles two epochs, so the last batch of an epoch may be short. The order of epoch e
 * depends only on (seed, e), so a run is reproducible whatever else draws random numbers.
 *
 * @param <T> one example
 */
public final class EpochBatches<T> {
  private final List<T> examples;
  private final int batchSize;
  private final long seed;
  private List<Integer> order = List.of();
  private int cursor;
  private int epoch = -1;

  public EpochBatches(List<T> examples, int batchSize, long seed) {
    if (examples.isEmpty() || batchSize < 1) {
      throw new IllegalArgumentException("need examples and a positive batch size, got " + examples.size()
          + " and " + batchSize);
    }
    this.examples = examples;
    this.batchSize = batchSize;
    this.seed = seed;
  }

  /** Steps a run takes: {@code maxSteps} when positive, else {@code epochs × ⌈n / batchSize⌉}. */
  public static int plannedSteps(int n, int batchSize, int epochs, int maxSteps) {
    return maxSteps > 0 ? maxSteps : Math.max(1, epochs) * ((n + batchSize - 1) / batchSize);
  }

  /** The next batch, starting a new epoch (and order) when the current one is used up. */
  public List<T> next() {
    if (cursor >= order.size()) {
      epoch++;
      List<Integer> fresh = new ArrayList<>(examples.size());
      for (int i = 0; i < examples.size(); i++) fresh.add(i);
      Collections.shuffle(fresh, new Random(seed * 1_000_003L + epoch));
      order = fresh;
      cursor = 0;
    }
    List<T> batch = new ArrayList<>(batchSize);
    while (batch.size() < batchSize && cursor < order.size()) batch.add(examples.get(order.get(cursor++)));
    return batch;
  }
}
