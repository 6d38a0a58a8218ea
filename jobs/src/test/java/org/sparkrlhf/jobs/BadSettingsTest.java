package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;

/**
 * Bad settings end in a one-line error naming the key, found by the stage's check (which runs before Spark starts),
 * and the launcher prints it as one line with exit code 2: no stack trace.
 */
class BadSettingsTest {
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "sft  | sft.log_every=0                     | sft.log_every",
      "sft  | sft.model.num_attention_heads=3     | num_attention_heads",
      "sft  | sft.model.num_key_value_heads=3     | num_key_value_heads",
      "sft  | sft.max_demos=-5                    | sft.max_demos",
      "sft  | sft.max_skipped_steps=-1            | sft.max_skipped_steps",
      "dpo  | dpo.max_skipped_steps=-1            | dpo.max_skipped_steps",
      "grpo | grpo.max_skipped_steps=-1           | grpo.max_skipped_steps",
      "data | data.ood_extra_ops=0                | data.ood_extra_ops",
      "data | data.operators=++                   | operators",
      "data | data.operators=/                    | data.operators",
      "data | data.teacher.pair_share=1.5         | pair_share",
      "data | data.teacher.mistake=sometimes      | data.teacher.mistake",
      "pairs| pairs.selection=best                | pairs.selection",
      "reward | reward.eval_share=1                   | reward.eval_share",
      "reward | reward.eval_split=train               | reward.eval_split",
      "reward | reward.center_rewards_coefficient=-1  | reward.center_rewards_coefficient",
      "reward | reward.batch_size=0                   | reward.batch_size",
      "reward | reward.epochs=0                       | reward needs max_steps",
      "reward | reward.lr=0                           | reward.lr",
      "reward | reward.use_margins=true               | reward.use_margins",
  })
  void isOneLineNamingTheKey(String stage, String setting, String named) {
    UserError e = assertThrows(UserError.class,
        () -> Stages.get(stage.trim()).check(StageConfigs.load(null, List.of(setting.trim()))));
    assertTrue(e.getMessage().contains(named.trim()), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "sft  | sft.log_every=0",
      "data | data.operators=++",
      "eval-grpo-test | eval.k=-1",
  })
  void theLauncherPrintsOneLineAndExitsTwo(String stage, String setting) {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream saved = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int code;
    try {
      code = Main.execute(new String[] {stage.trim(), "--set", setting.trim()});
    } finally {
      System.setErr(saved);
    }
    String printed = err.toString(StandardCharsets.UTF_8).strip();
    assertEquals(2, code, printed);
    assertTrue(printed.startsWith("rlhf: error: ") && !printed.contains("\n"), printed);
  }
}
