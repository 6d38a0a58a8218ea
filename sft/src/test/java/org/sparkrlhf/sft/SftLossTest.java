package org.sparkrlhf.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

class SftLossTest {
  @Test
  void completionOnlyNllByHand() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      // One row, two positions, vocabulary of 3. logits position 0: [0, ln 2, 0] -> p = [1/4, 2/4, 1/4];
      // position 1: [0, 0, 0] -> p = 1/3 each.
      NDArray logits = m.create(new float[] {0f, (float) Math.log(2), 0f, 0f, 0f, 0f}, new Shape(1, 2, 3));
      NDArray targets = m.create(new long[] {1, 2}, new Shape(1, 2));
      NDArray logp = LlamaModel.tokenLogProbs(logits, targets);
      // Mask the first position (a prompt token): only -ln(1/3) counts.
      NDArray promptMasked = m.create(new float[] {0f, 1f}, new Shape(1, 2));
      assertEquals(Math.log(3), SftLoss.completionNll(logp.mul(promptMasked), promptMasked).getFloat(), 1e-6);
      // Both count: mean of -ln(1/2) and -ln(1/3).
      NDArray both = m.create(new float[] {1f, 1f}, new Shape(1, 2));
      assertEquals((Math.log(2) + Math.log(3)) / 2, SftLoss.completionNll(logp.mul(both), both).getFloat(), 1e-6);
    }
  }

  @Test
  void demonstrationsScoreTheCompletionAndEosOnly() {
    CharTokenizer tok = new CharTokenizer();
    TokenSequence a = SftTrainer.example(tok, "1+2=?\n", "=3\n#### 3\n");
    TokenSequence b = SftTrainer.example(tok, "9=?\n", "#### 9\n");
    assertEquals(1 + 6, a.scoredFrom(), "bos + prompt");
    assertEquals(tok.bosId(), a.ids()[0]);
    assertEquals(tok.eosId(), a.ids()[a.length() - 1]);
    PackedBatch p = SftTrainer.pack(List.of(a, b), new int[] {0, 1}, tok.padId());
    float[] mask = p.lossMaskValues();
    float masked = 0;
    for (float v : mask) masked += v;
    assertEquals(a.scoredTokens() + b.scoredTokens(), masked, 0f);
    assertEquals(("=3\n#### 3\n").length() + 1, a.scoredTokens(), "completion + eos");
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      long[] targets = p.targets(m).toLongArray();
      assertArrayEquals(java.util.Arrays.copyOfRange(a.ids(), 1, a.length()),
          java.util.Arrays.stream(targets, 0, a.length() - 1).mapToInt(x -> (int) x).toArray());
    }
  }
}
