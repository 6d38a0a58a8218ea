package org.sparkrlhf.grpo.pvg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardResult;

class ProverRoleTest {
  static final String BASE = "2+3*4=?\n";

  @Test
  void theRoleChangesThePromptAndNothingElse() {
    String helpful = ProverRole.HELPFUL.prompt(BASE);
    String sneaky = ProverRole.SNEAKY.prompt(BASE);
    assertNotEquals(helpful, sneaky);
    // One line before the task's prompt, and the rest is the task's prompt unchanged.
    assertEquals(BASE, helpful.substring(helpful.indexOf('\n') + 1));
    assertEquals(BASE, sneaky.substring(sneaky.indexOf('\n') + 1));
    assertEquals(BASE, ProverRole.base(helpful));
    assertEquals(BASE, ProverRole.base(sneaky));
    assertEquals(BASE, ProverRole.base(BASE));
    assertEquals(ProverRole.HELPFUL, ProverRole.of(helpful));
    assertEquals(ProverRole.SNEAKY, ProverRole.of(sneaky));
    assertNull(ProverRole.of(BASE));
    // Written in the task's alphabet: the character tokenizer encodes it without an unknown token.
    CharTokenizer tok = new CharTokenizer();
    for (String p : List.of(helpful, sneaky)) {
      for (int id : tok.encode(p)) assertNotEquals(CharTokenizer.UNK, id, p);
    }
  }

  @Test
  void theCheckerAndTheRewardSeeThePromptWithoutTheRole() {
    List<String> seen = new ArrayList<>();
    Rewarder inner = (prompt, answer, completion) -> {
      seen.add(prompt);
      return new RewardResult(Checker.grade(prompt, "=2+12\n=14\n#### 14\n").correct() ? 1 : 0, Map.of());
    };
    Rewarder roleless = ProverRole.roleless(inner);
    assertEquals(1.0, roleless.score(ProverRole.SNEAKY.prompt(BASE), "14", null).total());
    assertEquals(1.0, roleless.score(ProverRole.HELPFUL.prompt(BASE), "14", null).total());
    assertEquals(List.of(BASE, BASE), seen);
    // Graded with its role line the prompt would not parse: the solution would count as wrong.
    assertEquals(false, Checker.grade(ProverRole.HELPFUL.prompt(BASE), "=2+12\n=14\n#### 14\n").correct());
  }

  @Test
  void rolesByConfigName() {
    assertEquals(ProverRole.SNEAKY, ProverRole.byName("sneaky"));
    assertThrows(IllegalArgumentException.class, () -> ProverRole.byName("devious"));
  }
}
