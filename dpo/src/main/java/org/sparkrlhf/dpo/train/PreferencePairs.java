package org.sparkrlhf.dpo.train;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

/**
 * Which preference pairs DPO can train on, encoded. A pair is <b>invalid</b> when its prompt or a side is missing,
 * a side is blank, or both sides are the same text (nothing to prefer); it is <b>too long</b> when its longer
 * sequence ({@code [bos] + prompt + completion + [eos]}) exceeds the length limit (the stage's
 * {@code min(max_seq_len, model context)}). Every other pair is kept, in the order given, with its encoding. A pure
 * function: every pair read is either kept or counted, never dropped silently.
 */
public final class PreferencePairs {
  private PreferencePairs() {}

  /** The columns of {@code preferences} a pair is read from, in the order {@link Pair#of} reads them. */
  public static final String[] COLUMNS = {"id", "prompt", "chosen", "rejected"};

  /** One pair as read from {@code preferences}. */
  public record Pair(String id, String prompt, String chosen, String rejected) {
    /** A row with the {@link #COLUMNS}, in that order. */
    public static Pair of(Row r) {
      return new Pair(r.getString(0), r.getString(1), r.getString(2), r.getString(3));
    }

    /** Both sides present, neither blank, and not the same text. */
    public boolean valid() {
      return prompt != null && chosen != null && rejected != null && !chosen.isBlank() && !rejected.isBlank()
          && !chosen.equals(rejected);
    }
  }

  /** A kept pair: its text (what the executors score) and its encoding (reference log-probs still 0). */
  public record Kept(Pair pair, PreferenceExample example) {}

  /** The kept pairs in the order given, and how many of the others were invalid or too long. */
  public record Encoded(List<Kept> kept, int invalid, int tooLong) {
    /** Pairs read: kept + invalid + too long. */
    public int read() {
      return kept.size() + invalid + tooLong;
    }
  }

  /**
   * Keeps and encodes the pairs that can be trained on.
   *
   * @param pairs the pairs read, in training order (the stage reads them ordered by id)
   * @param tok the policy's tokenizer
   * @param maxLen the most tokens either sequence of a kept pair may have
   */
  public static Encoded encode(List<Pair> pairs, TextTokenizer tok, int maxLen) {
    List<Kept> kept = new ArrayList<>();
    int invalid = 0;
    int tooLong = 0;
    for (Pair p : pairs) {
      if (!p.valid()) {
        invalid++;
        continue;
      }
      PreferenceExample e = PreferenceExample.of(tok, p.id(), p.prompt(), p.chosen(), p.rejected(), 0, 0);
      if (e.maxLength() > maxLen) {
        tooLong++;
        continue;
      }
      kept.add(new Kept(p, e));
    }
    return new Encoded(List.copyOf(kept), invalid, tooLong);
  }
}
