package org.sparkrlhf.core.batch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

class PackedBatchTest {
  static final CharTokenizer TOK = new CharTokenizer();

  /** The character vocabulary as a Hugging Face tokenizer that defines no bos token (bosId() = -1). */
  static final TextTokenizer NO_BOS = HfTokenizer.ofJson(TOK.toTokenizerJson(), null, -1, null);

  @Test
  void bosOnlyWhenTheTokenizerHasOne() {
    int[] enc = TOK.encode("1+2=?\n");
    int[] withBos = TokenSequence.promptIds(TOK, "1+2=?\n");
    assertEquals(TOK.bosId(), withBos[0]);
    assertArrayEquals(enc, java.util.Arrays.copyOfRange(withBos, 1, withBos.length));
    assertEquals(-1, NO_BOS.bosId());
    assertArrayEquals(enc, NO_BOS.encode("1+2=?\n"), "the same vocabulary");
    assertArrayEquals(enc, TokenSequence.promptIds(NO_BOS, "1+2=?\n"));

    TokenSequence s = TokenSequence.encode(NO_BOS, "1+2=?\n", "=3\n", true);
    int[] want = new int[enc.length + 3 + 1];
    System.arraycopy(enc, 0, want, 0, enc.length);
    System.arraycopy(TOK.encode("=3\n"), 0, want, enc.length, 3);
    want[want.length - 1] = TOK.eosId();
    assertArrayEquals(want, s.ids(), "no bos, and no -1 in its place");
    assertEquals(enc.length, s.scoredFrom());
    assertEquals(4, s.scoredTokens(), "completion + eos");
    // the generator is fed exactly the prompt ids, and a generated completion goes in as it is
    assertArrayEquals(want, TokenSequence.encode(NO_BOS, "1+2=?\n",
        java.util.Arrays.copyOfRange(want, enc.length, want.length), false).ids());
  }

  @Test
  void nothingBeforeTheFirstScoredTokenIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TokenSequence.encode(NO_BOS, "", "=3\n", true));
    assertEquals(true, e.getMessage().contains("bos"), e.getMessage());
  }

  @Test
  void rightPaddedShiftedAndMaskedOnTheScoredTokens() {
    TokenSequence a = TokenSequence.of(new int[] {1, 10, 11}, new int[] {12, 13}, 2); // length 6, scored from 3
    TokenSequence b = TokenSequence.of(new int[] {1, 10}, new int[] {14}, -1);        // length 3, scored from 2
    PackedBatch p = PackedBatch.pack(List.of(a, b), 0).withSide("adv", new float[][] {{1, 2, 3}, {4}});
    assertEquals(6, p.width());
    assertEquals(1, p.firstScoredColumn(), "row b predicts its first scored token from column 1");
    assertEquals(4, p.scoredTokens());
    assertEquals(5 + 2, p.predictedTokens());
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      assertArrayEquals(new long[] {1, 10, 11, 12, 13, 2, 1, 10, 14, 0, 0, 0}, p.tokenIds(m).toLongArray());
      assertArrayEquals(new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, p.attentionMask(m).toLongArray());
      assertArrayEquals(new long[] {10, 11, 12, 13, 2, 10, 14, 0, 0, 0}, p.targets(m).toLongArray());
      assertArrayEquals(new float[] {0, 0, 1, 1, 1, 0, 1, 0, 0, 0}, p.lossMask(m).toFloatArray());
      assertArrayEquals(new float[] {0, 0, 1, 2, 3, 0, 4, 0, 0, 0}, p.side("adv", m).toFloatArray());
      assertArrayEquals(new long[] {1, 10, 11, 1, 10, 14}, p.tokenIds(m, 3).toLongArray());
      assertThrows(IllegalArgumentException.class, () -> p.side("old", m));
    }
    float[][] back = p.perSequence(new float[] {9, 9, 1, 2, 3, 9, 4, 9, 9, 9});
    assertArrayEquals(new float[] {1, 2, 3}, back[0]);
    assertArrayEquals(new float[] {4}, back[1]);
    assertThrows(IllegalArgumentException.class, () -> p.withSide("x", new float[][] {{1, 2}, {4}}));
  }

  @Test
  void padIdFillsPaddingAndNegativeMeansZero() {
    TokenSequence a = TokenSequence.of(new int[] {1, 10}, new int[] {12, 13}, -1);
    TokenSequence b = TokenSequence.of(new int[] {1}, new int[] {14}, -1);
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      assertArrayEquals(new long[] {1, 10, 12, 13, 1, 14, 7, 7}, PackedBatch.pack(List.of(a, b), 7).tokenIds(m)
          .toLongArray());
      assertArrayEquals(new long[] {1, 10, 12, 13, 1, 14, 0, 0}, PackedBatch.pack(List.of(a, b), -1).tokenIds(m)
          .toLongArray());
    }
  }
}
