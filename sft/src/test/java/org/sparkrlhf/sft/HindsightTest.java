package org.sparkrlhf.sft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

/** Hindsight prompts as specified, and the loss on the completion only. */
class HindsightTest {
  static final Hindsight H = new Hindsight("#+\n", "#-\n");

  @Test
  void theFeedbackFollowsThePromptAndPrecedesTheCompletion() {
    assertEquals("3+4=?\n#+\n", H.trainingPrompt("3+4=?\n", true));
    assertEquals("3+4=?\n#-\n", H.trainingPrompt("3+4=?\n", false));
    assertEquals("3+4=?\n#+\n", H.evaluationPrompt("3+4=?\n"));
    CharTokenizer tok = new CharTokenizer();
    TokenSequence e = SftTrainer.example(tok, H.trainingPrompt("3+4=?\n", false), "#### 8");
    // bos + prompt + feedback are not scored; the completion and eos are
    assertEquals(1 + "3+4=?\n#-\n".length(), e.scoredFrom());
    assertEquals("#### 8".length() + 1, e.scoredTokens());
  }

  @Test
  void feedbackMustTellTheTwoApart() {
    assertThrows(IllegalArgumentException.class, () -> new Hindsight("#+\n", "#+\n"));
    assertThrows(IllegalArgumentException.class, () -> new Hindsight("", "#-\n"));
  }
}
