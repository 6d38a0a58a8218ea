package org.sparkrlhf.reward.rules;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.task.Checker;

/** Eval's grading on constructed completions: right, wrong, malformed. */
class OutcomeGradingTest {
  static final String PROMPT = "12+7*3-5=?\n";

  @Test
  void rightWrongAndMalformed() {
    String right = "=12+21-5\n=33-5\n=28\n#### 28\n";
    String wrongAnswer = "=12+21-5\n=33-5\n=29\n#### 29\n";
    String rightAnswerBadSteps = "=19*3-5\n=28\n#### 28\n";
    String noAnswerLine = "=12+21-5\n=33-5\n=28\n";
    String garbage = "##### twenty-eight";
    String twoAnswers = "#### 27\n#### 28\n";

    assertTrue(OutcomeGrading.correct(right, "28"));
    assertTrue(Checker.grade(PROMPT, right).formatOk());
    assertFalse(OutcomeGrading.correct(wrongAnswer, "28"));
    assertTrue(Checker.grade(PROMPT, wrongAnswer).formatOk());
    assertTrue(OutcomeGrading.correct(rightAnswerBadSteps, "28"), "outcome grading reads the final answer only");
    assertFalse(Checker.grade(PROMPT, rightAnswerBadSteps).allStepsCorrect());
    assertFalse(OutcomeGrading.correct(noAnswerLine, "28"));
    assertFalse(Checker.grade(PROMPT, noAnswerLine).formatOk());
    assertFalse(OutcomeGrading.correct(garbage, "28"));
    assertFalse(Checker.grade(PROMPT, garbage).formatOk());
    assertTrue(OutcomeGrading.correct(twoAnswers, "28"), "the last #### counts");
    assertFalse(Checker.grade(PROMPT, twoAnswers).formatOk(), "but two answer lines break the format");
    assertTrue(OutcomeGrading.correct("#### yes\n", "yes"), "non-integer answers compare as text");
  }

  @Test
  void passAndMajorityAtK() {
    List<String> samples = List.of("#### 5\n", "#### 7\n", "#### 7\n", "garbage", "#### 5\n", "#### 7\n");
    assertTrue(OutcomeGrading.anyCorrect(samples, "5"));
    assertFalse(OutcomeGrading.majorityCorrect(samples, "5"), "7 has three votes, 5 has two");
    assertTrue(OutcomeGrading.majorityCorrect(samples, "7"));
    assertFalse(OutcomeGrading.anyCorrect(List.of("#### 1\n", "x"), "2"));
    assertTrue(OutcomeGrading.majorityCorrect(List.of("#### 3\n", "#### 4\n"), "3"), "a tie goes to the first seen");
    assertFalse(OutcomeGrading.majorityCorrect(List.of("none", "nothing"), "3"));
  }
}
