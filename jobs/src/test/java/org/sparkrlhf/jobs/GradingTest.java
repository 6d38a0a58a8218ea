package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.jobs.stages.EvalStageAccess;

/** Eval's grading on constructed completions: right, wrong, malformed. */
class GradingTest {
  static final String PROMPT = "12+7*3-5=?\n";

  @Test
  void rightWrongAndMalformed() {
    String right = "=12+21-5\n=33-5\n=28\n#### 28\n";
    String wrongAnswer = "=12+21-5\n=33-5\n=29\n#### 29\n";
    String rightAnswerBadSteps = "=19*3-5\n=28\n#### 28\n";
    String noAnswerLine = "=12+21-5\n=33-5\n=28\n";
    String garbage = "##### twenty-eight";
    String twoAnswers = "#### 27\n#### 28\n";

    assertTrue(EvalStageAccess.correct(right, "28"));
    assertTrue(Checker.grade(PROMPT, right).formatOk());
    assertFalse(EvalStageAccess.correct(wrongAnswer, "28"));
    assertTrue(Checker.grade(PROMPT, wrongAnswer).formatOk());
    assertTrue(EvalStageAccess.correct(rightAnswerBadSteps, "28"), "outcome grading reads the final answer only");
    assertFalse(Checker.grade(PROMPT, rightAnswerBadSteps).allStepsCorrect());
    assertFalse(EvalStageAccess.correct(noAnswerLine, "28"));
    assertFalse(Checker.grade(PROMPT, noAnswerLine).formatOk());
    assertFalse(EvalStageAccess.correct(garbage, "28"));
    assertFalse(Checker.grade(PROMPT, garbage).formatOk());
    assertTrue(EvalStageAccess.correct(twoAnswers, "28"), "the last #### counts");
    assertFalse(Checker.grade(PROMPT, twoAnswers).formatOk(), "but two answer lines break the format");
    assertTrue(EvalStageAccess.correct("#### yes\n", "yes"), "non-integer answers compare as text");
  }

  @Test
  void passAndMajorityAtK() {
    List<String> samples = List.of("#### 5\n", "#### 7\n", "#### 7\n", "garbage", "#### 5\n", "#### 7\n");
    assertTrue(EvalStageAccess.passAtK(samples, "5"));
    assertFalse(EvalStageAccess.majority(samples, "5"), "7 has three votes, 5 has two");
    assertTrue(EvalStageAccess.majority(samples, "7"));
    assertFalse(EvalStageAccess.passAtK(List.of("#### 1\n", "x"), "2"));
    assertTrue(EvalStageAccess.majority(List.of("#### 3\n", "#### 4\n"), "3"), "a tie goes to the first seen");
    assertFalse(EvalStageAccess.majority(List.of("none", "nothing"), "3"));
  }
}
