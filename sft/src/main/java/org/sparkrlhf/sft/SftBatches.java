package org.sparkrlhf.sft;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.sparkrlhf.core.batch.TokenSequence;

/**
 * Length-bucketed batches: each epoch shuffles the examples with a seeded generator, sorts windows of
 * {@code 32 × batchSize} examples by length and cuts them into batches, then shuffles the batch order.
 * Batches hold similar lengths, so little compute goes to padding, while the order stays random; the
 * same seed gives the same batches.
 */
public final class SftBatches {
  private SftBatches() {}

  public static List<int[]> epoch(List<TokenSequence> examples, int batchSize, long seed, int epoch) {
    int n = examples.size();
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) order[i] = i;
    Random rnd = new Random(seed * 1_000_003L + epoch);
    Collections.shuffle(Arrays.asList(order), rnd);
    int window = batchSize * 32;
    List<int[]> batches = new ArrayList<>();
    for (int start = 0; start < n; start += window) {
      Integer[] w = Arrays.copyOfRange(order, start, Math.min(n, start + window));
      Arrays.sort(w, Comparator.comparingInt(i -> examples.get(i).length()));
      for (int b = 0; b < w.length; b += batchSize) {
        int end = Math.min(w.length, b + batchSize);
        if (end - b < batchSize && n >= batchSize) continue; // drop a ragged tail: steady batch size
        int[] batch = new int[end - b];
        for (int k = b; k < end; k++) batch[k - b] = w[k];
        batches.add(batch);
      }
    }
    Collections.shuffle(batches, rnd);
    return batches;
  }
}
