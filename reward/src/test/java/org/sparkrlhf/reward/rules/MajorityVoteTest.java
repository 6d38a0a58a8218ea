package org.sparkrlhf.reward.rules;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The self-training vote on hand-made samples: a clear winner, ties, low confidence, samples with no answer. */
class MajorityVoteTest {
  @Test
  void aClearWinnerAndTheSamplesThatAgree() {
    List<String> s = List.of("=5\n#### 5", "=6\n#### 6", "#### 5", "no answer", "=2+3\n=5\n#### 5");
    MajorityVote v = MajorityVote.of(s);
    assertEquals("5", v.answer());
    assertEquals(3, v.votes());
    assertEquals(5, v.samples());
    assertEquals(0.6, v.share(), 1e-12, "the sample with no answer counts in the total");
    assertTrue(v.confident(0.5));
    assertFalse(v.confident(0.6), "strictly above the threshold");
    assertEquals(List.of(0, 2, 4), v.agreeing(s));
  }

  @Test
  void aTieIsNeverConfident() {
    MajorityVote v = MajorityVote.of(List.of("#### 5", "#### 6", "#### 6", "#### 5"));
    assertTrue(v.tied());
    assertFalse(v.confident(0.0));
    // a later, larger group breaks an earlier tie
    MajorityVote w = MajorityVote.of(List.of("#### 5", "#### 6", "#### 6", "#### 5", "#### 6"));
    assertFalse(w.tied());
    assertEquals("6", w.answer());
  }

  @Test
  void noAnswerAtAllAndLowConfidence() {
    MajorityVote none = MajorityVote.of(List.of("=5", "", "####"));
    assertNull(none.answer());
    assertFalse(none.confident(0.0));
    assertEquals(List.of(), none.agreeing(List.of("=5", "", "####")));
    MajorityVote low = MajorityVote.of(List.of("#### 1", "#### 1", "#### 2", "#### 3", "#### 4"));
    assertEquals(0.4, low.share(), 1e-12);
    assertTrue(low.confident(0.3));
    assertFalse(low.confident(0.5));
  }
}
