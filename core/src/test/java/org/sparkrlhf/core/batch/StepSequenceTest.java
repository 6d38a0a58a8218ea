package org.sparkrlhf.core.batch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

/** Which lines are steps, and that each step's label position is its newline token. */
class StepSequenceTest {
  static final CharTokenizer TOK = new CharTokenizer();

  @Test
  void theFinalAnswerLineIsNotAStepWithOrWithoutANewlineAfterIt() {
    assertEquals(List.of("=33-5", "=28"), StepSequence.steps("=33-5\n=28\n#### 28"));
    assertEquals(List.of("=33-5", "=28"), StepSequence.steps("=33-5\n=28\n#### 28\n"));
    assertEquals(List.of("=33-5", "=28"), StepSequence.steps("=33-5\n=28\n#### 28\n\n"));
    assertEquals(List.of(), StepSequence.steps("#### 28"));
    assertEquals(List.of(), StepSequence.steps(""));
    // a completion cut off before its answer: its last line stands where the answer would
    assertEquals(List.of("=33-5"), StepSequence.steps("=33-5\n=2"));
  }

  @Test
  void stepEndsAreTheNewlinesAfterThePrompt() {
    StepSequence s = StepSequence.encode(TOK, "3+4*5=?\n", List.of("=3+20", "=23"));
    int[] ids = s.sequence().ids();
    String text = "3+4*5=?\n=3+20\n=23\n";
    assertEquals(1 + text.length(), ids.length, "bos, then one token per character");
    assertEquals(TOK.bosId(), ids[0]);
    int prompt = 1 + "3+4*5=?\n".length();
    assertEquals(prompt, s.sequence().scoredFrom());
    assertArrayEquals(new int[] {prompt + "=3+20".length(), prompt + "=3+20\n=23".length()}, s.stepEnds());
    for (int end : s.stepEnds()) assertEquals(TOK.encode("\n")[0], ids[end]);
  }
}
