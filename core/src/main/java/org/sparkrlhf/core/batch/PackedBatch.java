package org.sparkrlhf.core.batch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Sequences packed for one forward pass of a causal decoder, the one layout every trainer and scorer uses.
 *
 * <pre>
 *   tokenIds      [B, W]    every sequence from column 0, right-padded to W = the longest length
 *   attentionMask [B, W]    1 on real tokens, 0 on padding
 *   targets       [B, W-1]  targets[r, j] = tokenIds[r, j+1]: column j predicts the next token
 *   lossMask      [B, W-1]  1 where that next token is scored (ids[scoredFrom ..] of the row), else 0
 *   side arrays   [B, W-1]  named per-token values of the scored tokens (sampling log-probs, advantages, ...)
 * </pre>
 *
 * <p>Why right padding from column 0: with the mask, the rotary positions the model derives are 0..len-1 for every
 * row and real queries never see a pad key, so a row gets the same numbers alone or next to longer rows, and the
 * last token of a row, where a scalar head is read, is at {@code length - 1}. Pad columns hold the tokenizer's pad
 * id, or 0 without one: any valid id does, as pad keys are masked and pad predictions carry no loss.
 *
 * <p>{@link #firstScoredColumn()} is the leftmost column any row predicts a scored token from; columns before it
 * need no LM head, which is what keeps scoring long prompts with a large vocabulary affordable.
 */
public final class PackedBatch {
  private final List<TokenSequence> sequences;
  private final int width;
  private final int firstScoredColumn;
  private final Columns columns;
  private final Map<String, float[]> side;

  /** The packed arrays, row-major: ids and mask [B, W], targets and loss mask [B, W-1]. */
  private record Columns(long[] tokenIds, long[] attentionMask, long[] targets, float[] lossMask) {}

  private PackedBatch(List<TokenSequence> sequences, int width, int firstScoredColumn, Columns columns,
      Map<String, float[]> side) {
    this.sequences = sequences;
    this.width = width;
    this.firstScoredColumn = firstScoredColumn;
    this.columns = columns;
    this.side = side;
  }

  /**
   * Packs {@code sequences} (at least one) by the layout above.
   *
   * @param padId the tokenizer's pad id; negative (no pad token) pads with 0
   */
  public static PackedBatch pack(List<TokenSequence> sequences, int padId) {
    if (sequences.isEmpty()) {
      throw new IllegalArgumentException("nothing to pack");
    }
    int b = sequences.size();
    int w = 0;
    for (TokenSequence s : sequences) {
      w = Math.max(w, s.length());
    }
    int t = w - 1;
    long pad = Math.max(padId, 0);
    long[] ids = new long[b * w];
    long[] mask = new long[b * w];
    long[] tg = new long[b * t];
    float[] loss = new float[b * t];
    Arrays.fill(ids, pad);
    Arrays.fill(tg, pad);
    int first = t;
    for (int r = 0; r < b; r++) {
      TokenSequence s = sequences.get(r);
      int[] seq = s.ids();
      for (int j = 0; j < seq.length; j++) {
        ids[r * w + j] = seq[j];
        mask[r * w + j] = 1;
      }
      for (int j = 0; j + 1 < seq.length; j++) {
        tg[r * t + j] = seq[j + 1];
        // column j predicts token j+1, scored when it is at or after scoredFrom
        loss[r * t + j] = j + 1 >= s.scoredFrom() ? 1f : 0f;
      }
      if (s.scoredTokens() > 0) {
        first = Math.min(first, s.scoredFrom() - 1);
      }
    }
    return new PackedBatch(List.copyOf(sequences), w, first, new Columns(ids, mask, tg, loss), Collections.emptyMap());
  }

  /**
   * This batch with a named side array: {@code perSequence[r][k]} is the value of row r's k-th scored token, put at
   * the column that predicts it (0 elsewhere).
   */
  public PackedBatch withSide(String name, float[][] perSequence) {
    if (perSequence.length != rows()) {
      throw new IllegalArgumentException(name + ": " + perSequence.length + " rows for a batch of " + rows());
    }
    int t = width - 1;
    float[] flat = new float[rows() * t];
    for (int r = 0; r < rows(); r++) {
      TokenSequence s = sequences.get(r);
      if (perSequence[r].length != s.scoredTokens()) {
        throw new IllegalArgumentException(name + ": row " + r + " has " + perSequence[r].length
            + " values for " + s.scoredTokens() + " scored tokens");
      }
      System.arraycopy(perSequence[r], 0, flat, r * t + s.scoredFrom() - 1, perSequence[r].length);
    }
    Map<String, float[]> more = new LinkedHashMap<>(side);
    more.put(name, flat);
    return new PackedBatch(sequences, width, firstScoredColumn, columns, Collections.unmodifiableMap(more));
  }

  /** The leftmost column whose next token is scored; {@code width() - 1} when no row scores anything. */
  public int firstScoredColumn() {
    return firstScoredColumn;
  }

  /** The inverse of {@link #withSide}: each row's scored-token values out of a flat [B, W-1] array. */
  public float[][] perSequence(float[] flat) {
    int t = width - 1;
    if (flat.length != rows() * t) {
      throw new IllegalArgumentException(flat.length + " values for a [" + rows() + ", " + t + "] batch");
    }
    float[][] out = new float[rows()][];
    for (int r = 0; r < rows(); r++) {
      TokenSequence s = sequences.get(r);
      out[r] = s.scoredTokens() == 0 ? new float[0]
          : Arrays.copyOfRange(flat, r * t + s.scoredFrom() - 1, r * t + s.length() - 1);
    }
    return out;
  }

  /**
   * Each row's last real token, {@code length - 1}: the column a scalar head is read at (Hugging Face's sequence
   * classifiers read the last token that is not padding), never the batch's last column for a shorter row.
   */
  public int[] lastTokenColumns() {
    int[] out = new int[rows()];
    for (int r = 0; r < out.length; r++) {
      out[r] = sequences.get(r).length() - 1;
    }
    return out;
  }

  /** The packed sequences, in row order. */
  public List<TokenSequence> sequences() {
    return sequences;
  }

  /** Scored tokens in the batch (the loss mask's sum). */
  public int scoredTokens() {
    return sequences.stream().mapToInt(TokenSequence::scoredTokens).sum();
  }

  /** B: the number of sequences. */
  public int rows() {
    return sequences.size();
  }

  /** Positions that predict a real next token, Σ (length - 1): the tokens a training step processes. */
  public int predictedTokens() {
    return sequences.stream().mapToInt(s -> s.length() - 1).sum();
  }

  /** W: the longest sequence's length. */
  public int width() {
    return width;
  }

  /** Token ids [B, W]. */
  public NDArray tokenIds(NDManager m) {
    return tokenIds(m, width);
  }

  /** The first {@code count} columns of the token ids, [B, count]. */
  public NDArray tokenIds(NDManager m, int count) {
    return m.create(leadingColumns(columns.tokenIds(), count), new Shape(rows(), count));
  }

  /** Attention mask [B, W]: 1 on real tokens. */
  public NDArray attentionMask(NDManager m) {
    return attentionMask(m, width);
  }

  /** The first {@code count} columns of the attention mask, [B, count]. */
  public NDArray attentionMask(NDManager m, int count) {
    return m.create(leadingColumns(columns.attentionMask(), count), new Shape(rows(), count));
  }

  /** Next-token targets [B, W-1]. */
  public NDArray targets(NDManager m) {
    return m.create(columns.targets(), new Shape(rows(), width - 1));
  }

  /** Loss mask [B, W-1] float32: 1 where the next token is scored. */
  public NDArray lossMask(NDManager m) {
    return m.create(columns.lossMask(), new Shape(rows(), width - 1));
  }

  /** The named side array as [B, W-1] float32 (see {@link #withSide}). */
  public NDArray side(String name, NDManager m) {
    float[] v = side.get(name);
    if (v == null) {
      throw new IllegalArgumentException("no side array " + name + " in this batch (has " + side.keySet() + ")");
    }
    return m.create(v, new Shape(rows(), width - 1));
  }

  /** The loss mask as a Java array ([B, W-1], row-major). */
  public float[] lossMaskValues() {
    return columns.lossMask().clone();
  }

  private long[] leadingColumns(long[] flat, int count) {
    if (count < 0 || count > width) {
      throw new IllegalArgumentException(count + " columns of a batch " + width + " wide");
    }
    if (count == width) {
      return flat;
    }
    int b = rows();
    long[] out = new long[b * count];
    for (int r = 0; r < b; r++) {
      System.arraycopy(flat, r * width, out, r * count, count);
    }
    return out;
  }
}
