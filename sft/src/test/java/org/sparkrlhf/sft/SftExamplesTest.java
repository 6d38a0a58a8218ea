package org.sparkrlhf.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.task.ArithmeticTask;
import org.sparkrlhf.core.task.Problem;
import org.sparkrlhf.core.task.TaskSpec;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

/** How SFT turns demonstrations into token sequences, and that its loss is the shared log-probs' NLL. */
class SftExamplesTest {
  static final CharTokenizer CHARS = new CharTokenizer();

  /** The character vocabulary as a Hugging Face tokenizer that defines no bos token (bosId() = -1). */
  static final TextTokenizer NO_BOS = HfTokenizer.ofJson(CHARS.toTokenizerJson(), null, -1, null);

  @Test
  void aTokenizerWithoutBosGetsNoBosInTraining() {
    String prompt = "1+2=?\n";
    String completion = "=3\n#### 3\n";
    TokenSequence e = SftTrainer.example(NO_BOS, prompt, completion);
    assertEquals(-1, NO_BOS.bosId());
    int[] p = NO_BOS.encode(prompt);
    int[] c = NO_BOS.encode(completion);
    int[] want = Arrays.copyOf(p, p.length + c.length + 1);
    System.arraycopy(c, 0, want, p.length, c.length);
    want[want.length - 1] = NO_BOS.eosId();
    assertArrayEquals(want, e.ids(), "prompt + completion + eos, no bos and no -1");
    // training sees what the generator is fed: the prompt ids, then the completion
    int[] fed = TokenSequence.promptIds(NO_BOS, prompt);
    assertArrayEquals(fed, Arrays.copyOf(e.ids(), fed.length));
    assertEquals(fed.length, e.scoredFrom());

    List<TokenSequence> set = new ArrayList<>();
    for (Problem q : ArithmeticTask.generate(new TaskSpec(1, 2, 0, 9, "+", 5), "train", 8)) {
      set.add(SftTrainer.example(NO_BOS, q.prompt(), q.completion()));
    }
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = LlamaModel.init(LlamaConfig.tiny(CHARS.vocabSize(), 16, 1, 2, 1, 32, 64, true), false, 1, m);
      double loss = new SftTrainer(new SftConfig()).validLoss(model, set);
      assertTrue(Double.isFinite(loss) && loss > 0, "loss " + loss);
    }
  }

  @Test
  void validLossIsTheNllOfTheSharedLogProbs() {
    List<TokenSequence> set = new ArrayList<>();
    for (Problem q : ArithmeticTask.generate(new TaskSpec(1, 3, 0, 20, "+-*", 5), "valid", 12)) {
      set.add(SftTrainer.example(CHARS, q.prompt(), q.completion()));
    }
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = LlamaModel.init(LlamaConfig.tiny(CHARS.vocabSize(), 16, 1, 2, 1, 32, 96, true), false, 2, m);
      double sum = 0;
      long tokens = 0;
      for (SequenceLogProbs.SequenceScore s : SequenceLogProbs.score(model, set, 1.0, false, 5)) {
        sum -= s.sumLogProb();
        tokens += s.tokenLogProbs().length;
      }
      SftConfig c = new SftConfig();
      c.batchSize = 4;
      assertEquals(sum / tokens, new SftTrainer(c).validLoss(model, set), 1e-5);
    }
  }
}
