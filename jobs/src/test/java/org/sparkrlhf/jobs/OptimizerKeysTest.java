package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.train.OptimizerSettings;
import org.sparkrlhf.core.train.ScheduledOptimizerSettings;
import org.sparkrlhf.dpo.train.DpoConfig;
import org.sparkrlhf.grpo.train.GrpoConfig;
import org.sparkrlhf.reward.model.RewardConfig;
import org.sparkrlhf.sft.SftConfig;

/** The optimizer keys, declared once for the trainers, stay flat in each stage's section with its own defaults. */
class OptimizerKeysTest {

  static Config conf(String hocon) {
    return ConfigFactory.parseString(hocon);
  }

  /** The five AdamW settings as a list, to compare a stage's with what its class documents. */
  static List<Double> adamw(OptimizerSettings s) {
    return List.of(s.lr, s.weightDecay, s.beta1, s.beta2, s.gradClip);
  }

  static List<Double> schedule(ScheduledOptimizerSettings s) {
    return List.of((double) s.warmupSteps, s.minLrRatio);
  }

  @Test
  void eachStageKeepsItsDocumentedDefaults() {
    SftConfig sft = StageConfigs.bind(conf(""), "sft", SftConfig.class);
    assertEquals(List.of(2e-3, 0.1, 0.9, 0.95, 1.0), adamw(sft));
    assertEquals(List.of(100.0, 0.1), schedule(sft));
    DpoConfig dpo = StageConfigs.bind(conf(""), "dpo", DpoConfig.class);
    assertEquals(List.of(1e-4, 0.0, 0.9, 0.999, 1.0), adamw(dpo));
    assertEquals(List.of(10.0, 1.0), schedule(dpo));
    assertEquals(List.of(1e-4, 0.0, 0.9, 0.99, 1.0), adamw(StageConfigs.bind(conf(""), "grpo", GrpoConfig.class)));
    RewardConfig reward = StageConfigs.bind(conf(""), "reward", RewardConfig.class);
    assertEquals(List.of(1e-4, 0.0, 0.9, 0.999, 1.0), adamw(reward));
    assertEquals(List.of(10.0, 1.0), schedule(reward));
  }

  @Test
  void theKeysUsersWriteBindWhereTheyDid() {
    Config c = conf("sft { lr = 3e-3, warmup_steps = 7, min_lr_ratio = 0.5, weight_decay = 0.2, beta1 = 0.8,"
        + " beta2 = 0.9, grad_clip = 0.5, batch_size = 8 }\n"
        + "dpo { lr = 2e-5, beta = 0.2 }\n"
        + "grpo { weight_decay = 0.01, lr = 3e-5, beta2 = 0.95 }");
    SftConfig sft = StageConfigs.bind(c, "sft", SftConfig.class);
    assertEquals(List.of(3e-3, 0.2, 0.8, 0.9, 0.5), adamw(sft));
    assertEquals(List.of(7.0, 0.5), schedule(sft));
    assertEquals(8, sft.batchSize);
    DpoConfig dpo = StageConfigs.bind(c, "dpo", DpoConfig.class);
    assertEquals(List.of(2e-5, 0.0, 0.9, 0.999, 1.0), adamw(dpo));
    assertEquals(0.2, dpo.beta);
    assertEquals(List.of(3e-5, 0.01, 0.9, 0.95, 1.0), adamw(StageConfigs.bind(c, "grpo", GrpoConfig.class)));
  }

  /** One key, max_skipped_steps, bounds the non-finite steps of every trainer; its default is documented as 10. */
  @Test
  void everyTrainerTakesMaxSkippedSteps() {
    Config c = conf("sft.max_skipped_steps = 3\ndpo.max_skipped_steps = 0\ngrpo.max_skipped_steps = 25");
    assertEquals(3, StageConfigs.bind(c, "sft", SftConfig.class).maxSkippedSteps);
    assertEquals(0, StageConfigs.bind(c, "dpo", DpoConfig.class).maxSkippedSteps);
    assertEquals(25, StageConfigs.bind(c, "grpo", GrpoConfig.class).maxSkippedSteps);
    assertEquals(10, StageConfigs.bind(conf(""), "sft", SftConfig.class).maxSkippedSteps);
    assertEquals(10, StageConfigs.bind(conf(""), "dpo", DpoConfig.class).maxSkippedSteps);
    assertEquals(10, StageConfigs.bind(conf(""), "grpo", GrpoConfig.class).maxSkippedSteps);
  }

  @Test
  void grpoTakesNoScheduleKeysAndUnknownKeysStayErrors() {
    UserError e = assertThrows(UserError.class,
        () -> StageConfigs.bind(conf("grpo.warmup_steps = 10"), "grpo", GrpoConfig.class));
    assertTrue(e.getMessage().startsWith("unknown config key 'grpo.warmup_steps'"), e.getMessage());
    assertTrue(e.getMessage().contains("weight_decay"), "the known keys include the shared ones: " + e.getMessage());
    e = assertThrows(UserError.class, () -> StageConfigs.bind(conf("sft.learning_rate = 1"), "sft", SftConfig.class));
    assertTrue(e.getMessage().startsWith("unknown config key 'sft.learning_rate'"), e.getMessage());
  }

  @Test
  void reportsAndProvenanceStillCarryTheOptimizerKeys() {
    String json = StageConfigs.toJson(StageConfigs.bind(conf("dpo.lr = 5e-5"), "dpo", DpoConfig.class));
    assertTrue(json.contains("\"lr\" : 5.0E-5") && json.contains("\"warmup_steps\" : 10")
        && json.contains("\"beta2\" : 0.999") && json.contains("\"loss_type\" : \"sigmoid\""), json);
  }
}
