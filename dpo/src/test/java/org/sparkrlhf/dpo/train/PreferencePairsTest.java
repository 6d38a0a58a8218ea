package org.sparkrlhf.dpo.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.dpo.train.PreferencePairs.Pair;

/** Which pairs DPO trains on: invalid and too-long pairs are counted, the rest kept in order, none lost. */
class PreferencePairsTest {
  static final CharTokenizer TOK = new CharTokenizer();
  static final String P = "1+1=?\n"; // [bos] + 6 tokens
  /** [bos] + prompt + "#### 2\n" + [eos]: the longest sequence kept. */
  static final int MAX = 1 + P.length() + "#### 2\n".length() + 1;

  @Test
  void countsInvalidAndTooLongAndKeepsTheRestInOrder() {
    List<Pair> read = List.of(
        new Pair("a", P, "#### 2\n", "#### 3\n"),
        new Pair("b", P, "#### 2\n", "#### 2\n"), // identical sides: nothing to prefer
        new Pair("c", P, "  \n", "#### 3\n"), // blank chosen
        new Pair("d", P, "#### 2\n", null),
        new Pair("e", P, "#### 2\n", "=1+2\n#### 3\n"), // only the rejected side is too long
        new Pair("f", P, "=2\n#### 2\n", "#### 3\n"), // the chosen side is too long
        new Pair("g", null, "#### 2\n", "#### 3\n"),
        new Pair("h", P, "=1+1\n=2\n#### 2\n", "=1+1\n=2\n#### 2\n"), // too long, but invalid first
        new Pair("i", P, "#### 2\n", "#### 4\n"),
        new Pair("j", P, "", "#### 4\n")); // empty chosen
    PreferencePairs.Encoded got = PreferencePairs.encode(read, TOK, MAX);

    assertEquals(List.of("a", "i"), got.kept().stream().map(k -> k.pair().id()).toList());
    assertEquals(6, got.invalid(), "b, c, d, g, h, j");
    assertEquals(2, got.tooLong(), "e, f");
    assertEquals(read.size(), got.read(), "every pair read is kept or counted");
    assertEquals(read.size(), got.kept().size() + got.invalid() + got.tooLong());

    for (PreferencePairs.Kept k : got.kept()) {
      Pair p = k.pair();
      assertEquals(read.stream().filter(r -> r.id().equals(p.id())).findFirst().orElseThrow(), p);
      PreferenceExample e = k.example();
      assertEquals(p.id(), e.id());
      assertArrayEquals(TokenSequence.encode(TOK, P, p.chosen(), true).ids(), e.chosen().ids());
      assertArrayEquals(TokenSequence.encode(TOK, P, p.rejected(), true).ids(), e.rejected().ids());
      assertEquals(MAX, e.maxLength(), "a pair at the limit is kept");
      assertEquals(0.0, e.refChosen());
      assertEquals(0.0, e.refRejected());
    }
  }

  @Test
  void theLimitIsInclusiveAndTheInputOrderIsKept() {
    List<Pair> read = List.of(new Pair("z", P, "#### 2\n", "#### 3\n"), new Pair("y", P, "#### 2\n", "#### 5\n"));
    assertEquals(List.of("z", "y"), PreferencePairs.encode(read, TOK, MAX).kept().stream()
        .map(k -> k.pair().id()).toList(), "the caller's order (the stage reads by id)");
    PreferencePairs.Encoded tight = PreferencePairs.encode(read, TOK, MAX - 1);
    assertEquals(List.of(), tight.kept());
    assertEquals(2, tight.tooLong());
    assertEquals(0, tight.invalid());

    PreferencePairs.Encoded none = PreferencePairs.encode(List.of(), TOK, MAX);
    assertEquals(0, none.read());
  }

  @Test
  void aPairIsReadFromTheColumnsInOrder() {
    assertEquals(new Pair("a", P, "#### 2\n", null), Pair.of(RowFactory.create("a", P, "#### 2\n", null)));
    assertEquals(List.of("id", "prompt", "chosen", "rejected"), List.of(PreferencePairs.COLUMNS));
  }
}
