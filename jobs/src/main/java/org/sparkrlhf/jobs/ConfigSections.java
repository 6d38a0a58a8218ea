package org.sparkrlhf.jobs;

import com.typesafe.config.Config;
import java.util.Set;
import java.util.TreeSet;
import org.sparkrlhf.core.UserError;

/**
 * The config's top-level sections are the stages' sections and those of the stage instances its pipelines name
 * ({@code sft_more} for {@code sft_more:sft}); anything else is a typo.
 */
public final class ConfigSections {
  private ConfigSections() {}

  public static void checkKnown(Config config) {
    Set<String> known = new TreeSet<>();
    for (Stage s : Stages.all().values()) {
      known.addAll(s.sections());
    }
    for (String entry : pipelineEntries(config)) {
      String instance = Stages.instanceName(entry);
      if (instance != null) known.add(instance);
    }
    for (String key : config.root().keySet()) {
      if (!known.contains(key)) {
        throw new UserError("unknown config section '" + key + "' (sections: " + String.join(", ", known) + ")");
      }
    }
  }

  /** Every entry of {@code quickstart.stages} and of each {@code compare.settings[].stages}. */
  private static java.util.List<String> pipelineEntries(Config config) {
    java.util.List<String> out = new java.util.ArrayList<>();
    try {
      if (config.hasPath("quickstart.stages")) out.addAll(config.getStringList("quickstart.stages"));
      if (config.hasPath("compare.settings")) {
        for (Config s : config.getConfigList("compare.settings")) {
          if (s.hasPath("stages")) out.addAll(s.getStringList("stages"));
        }
      }
    } catch (com.typesafe.config.ConfigException e) {
      // a malformed list is reported by the stage that binds it, with its key
    }
    return out;
  }
}
