package org.sparkrlhf.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

class SftLossTest {
  @Test
  void completionOnlyNllByHand() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      // One row, two positions, vocabulary of 3. logits position 0: [0, ln 2, 0] -> p = [1/4, 2/4, 1/4];
      // position 1: [0, 0, 0] -> p = 1/3 each.
      NDArray logits = m.create(new float[] {0f, (float) Math.log(2), 0f, 0f, 0f, 0f}, new Shape(1, 2, 3));
      NDArray targets = m.create(new long[] {1, 2}, new Shape(1, 2));
      // Mask the first position (a prompt token): only -ln(1/3) counts.
      NDArray promptMasked = m.create(new float[] {0f, 1f}, new Shape(1, 2));
      assertEquals(Math.log(3), SftLoss.completionNll(logits, targets, promptMasked).getFloat(), 1e-6);
      // Both count: mean of -ln(1/2) and -ln(1/3).
      NDArray both = m.create(new float[] {1f, 1f}, new Shape(1, 2));
      assertEquals((Math.log(2) + Math.log(3)) / 2, SftLoss.completionNll(logits, targets, both).getFloat(), 1e-6);
    }
  }

  @Test
  void tensorsMaskPromptAndPaddingAndShiftTargets() {
    CharTokenizer tok = new CharTokenizer();
    SftExample a = SftExample.of(tok, "1+2=?\n", "=3\n#### 3\n");
    SftExample b = SftExample.of(tok, "9=?\n", "#### 9\n");
    assertEquals(1 + 6, a.promptLength());
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      SftTrainer.Tensors t = SftTrainer.tensors(m, List.of(a, b), new int[] {0, 1}, tok.padId());
      int len = a.length() - 1;
      assertEquals(new Shape(2, len), t.inputs().getShape());
      float[] mask = t.mask().toFloatArray();
      long[] targets = t.targets().toLongArray();
      long[] inputs = t.inputs().toLongArray();
      for (int j = 0; j < len; j++) {
        // Row a: target j is token j+1; loss exactly on completion tokens and eos.
        assertEquals(a.tokens()[j + 1], targets[j]);
        assertEquals(a.tokens()[j], inputs[j]);
        assertEquals(j + 1 >= a.promptLength() ? 1f : 0f, mask[j], "row a position " + j);
        // Row b is shorter: its padding carries no loss.
        boolean real = j < b.length() - 1;
        assertEquals(real && j + 1 >= b.promptLength() ? 1f : 0f, mask[len + j], "row b position " + j);
      }
      // The last real target of each row is eos.
      assertEquals(tok.eosId(), targets[a.length() - 2]);
      assertEquals(tok.eosId(), targets[len + b.length() - 2]);
      float masked = 0;
      for (float v : mask) masked += v;
      assertEquals(a.lossTokens() + b.lossTokens(), masked, 0f);
      assertArrayEquals(new int[] {tok.bosId()}, new int[] {a.tokens()[0]});
    }
  }
}
