package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.dpo.pairs.PairsConfig;
import org.sparkrlhf.dpo.train.DpoConfig;

/** conf/quickstart-dpo.conf binds, names only known sections, and every stage in its list exists and checks. */
class QuickstartDpoConfTest {
  @Test
  void thePipelineConfigIsValid() {
    Config config = StageConfigs.load(System.getProperty("user.dir") + "/../conf/quickstart-dpo.conf", List.of());
    ConfigSections.checkKnown(config);
    List<String> stages = config.getStringList("quickstart.stages");
    assertTrue(stages.containsAll(List.of("rollouts", "pairs", "dpo", "eval-dpo-test", "eval-dpo-test_ood")),
        stages.toString());
    assertTrue(stages.indexOf("rollouts") < stages.indexOf("pairs") && stages.indexOf("pairs") < stages.indexOf("dpo"));
    for (String s : stages) Stages.get(s).check(config);
    assertEquals("rollouts", StageConfigs.bind(config, "pairs", PairsConfig.class).sourceStage);
    assertEquals("sigmoid", StageConfigs.bind(config, "dpo", DpoConfig.class).lossType);
    // the embedded default binds too (sections added to quickstart.conf)
    Config embedded = StageConfigs.load(null, List.of());
    assertEquals(0.1, StageConfigs.bind(embedded, "dpo", DpoConfig.class).beta);
    Stages.get("dpo").check(embedded);
    Stages.get("pairs").check(embedded);
  }
}
