package org.sparkrlhf.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.UserError;

class StageConfigsTest {
  public static class Demo {
    public int trainSize = 10;
    public double lr = 1e-3;
    public String name = "x";
    public List<String> stages = List.of("a");
  }

  @Test
  void layersOverridesOverFileOverDefaults() throws Exception {
    Path f = Files.createTempFile("conf", ".conf");
    Files.writeString(f, "demo { train_size = 20, name = fromfile }\n");
    Config c = StageConfigs.load(f.toString(), List.of("demo.lr=0.5", "demo.stages=[b, c]"));
    Demo d = StageConfigs.bind(c, "demo", Demo.class);
    assertEquals(20, d.trainSize);
    assertEquals(0.5, d.lr);
    assertEquals("fromfile", d.name);
    assertEquals(List.of("b", "c"), d.stages);
    Demo defaults = StageConfigs.bind(StageConfigs.load(null, List.of()), "absent", Demo.class);
    assertEquals(10, defaults.trainSize);
  }

  @Test
  void unknownKeyIsANamedError() {
    Config c = StageConfigs.load(null, List.of("demo.trian_size=5"));
    UserError e = assertThrows(UserError.class, () -> StageConfigs.bind(c, "demo", Demo.class));
    assertTrue(e.getMessage().contains("demo.trian_size"), e.getMessage());
    assertTrue(e.getMessage().contains("train_size"), "lists the known keys: " + e.getMessage());
  }

  @Test
  void wrongTypeIsANamedError() {
    Config c = StageConfigs.load(null, List.of("demo.train_size=lots"));
    UserError e = assertThrows(UserError.class, () -> StageConfigs.bind(c, "demo", Demo.class));
    assertTrue(e.getMessage().contains("demo.train_size"), e.getMessage());
  }

  @Test
  void malformedOverrideAndMissingFileAreUserErrors() {
    assertThrows(UserError.class, () -> StageConfigs.load(null, List.of("novalue")));
    assertThrows(UserError.class, () -> StageConfigs.load("/no/such/file.conf", List.of()));
  }
}
