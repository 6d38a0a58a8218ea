package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.dpo.train.DpoConfig;
import org.sparkrlhf.grpo.train.GrpoConfig;
import org.sparkrlhf.sft.SftConfig;

/** The optimizer keys, declared once for the trainers, stay flat in each stage's section with its own defaults. */
class OptimizerKeysTest {

  static Config conf(String hocon) {
    return ConfigFactory.parseString(hocon);
  }

  @Test
  void eachStageKeepsItsDocumentedDefaults() {
    SftConfig sft = StageConfigs.bind(conf(""), "sft", SftConfig.class);
    assertEquals(2e-3, sft.lr);
    assertEquals(100, sft.warmupSteps);
    assertEquals(0.1, sft.minLrRatio);
    assertEquals(0.1, sft.weightDecay);
    assertEquals(0.9, sft.beta1);
    assertEquals(0.95, sft.beta2);
    assertEquals(1.0, sft.gradClip);

    DpoConfig dpo = StageConfigs.bind(conf(""), "dpo", DpoConfig.class);
    assertEquals(1e-4, dpo.lr);
    assertEquals(10, dpo.warmupSteps);
    assertEquals(1.0, dpo.minLrRatio);
    assertEquals(0.0, dpo.weightDecay);
    assertEquals(0.9, dpo.beta1);
    assertEquals(0.999, dpo.beta2);
    assertEquals(1.0, dpo.gradClip);

    GrpoConfig grpo = StageConfigs.bind(conf(""), "grpo", GrpoConfig.class);
    assertEquals(1e-4, grpo.lr);
    assertEquals(0.0, grpo.weightDecay);
    assertEquals(0.9, grpo.beta1);
    assertEquals(0.99, grpo.beta2);
    assertEquals(1.0, grpo.gradClip);
  }

  @Test
  void theKeysUsersWriteBindWhereTheyDid() {
    Config c = conf("sft { lr = 3e-3, warmup_steps = 7, min_lr_ratio = 0.5, weight_decay = 0.2, beta1 = 0.8,"
        + " beta2 = 0.9, grad_clip = 0.5, batch_size = 8 }\n"
        + "dpo { lr = 2e-5, beta = 0.2 }\n"
        + "grpo { weight_decay = 0.01, lr = 3e-5, beta2 = 0.95 }");
    SftConfig sft = StageConfigs.bind(c, "sft", SftConfig.class);
    assertEquals(3e-3, sft.lr);
    assertEquals(7, sft.warmupSteps);
    assertEquals(0.5, sft.minLrRatio);
    assertEquals(0.2, sft.weightDecay);
    assertEquals(0.8, sft.beta1);
    assertEquals(0.9, sft.beta2);
    assertEquals(0.5, sft.gradClip);
    assertEquals(8, sft.batchSize);
    DpoConfig dpo = StageConfigs.bind(c, "dpo", DpoConfig.class);
    assertEquals(2e-5, dpo.lr);
    assertEquals(0.2, dpo.beta);
    GrpoConfig grpo = StageConfigs.bind(c, "grpo", GrpoConfig.class);
    assertEquals(0.01, grpo.weightDecay);
    assertEquals(3e-5, grpo.lr);
    assertEquals(0.95, grpo.beta2);
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
