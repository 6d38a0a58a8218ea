package org.sparkrlhf.jobs;

import com.typesafe.config.Config;
import java.util.Set;
import java.util.TreeSet;
import org.sparkrlhf.core.UserError;

/** The config's top-level sections are the stages' sections; anything else is a typo. */
public final class ConfigSections {
  private ConfigSections() {}

  public static void checkKnown(Config config) {
    Set<String> known = new TreeSet<>();
    for (Stage s : Stages.all().values()) {
      known.addAll(s.sections());
    }
    for (String key : config.root().keySet()) {
      if (!known.contains(key)) {
        throw new UserError("unknown config section '" + key + "' (sections: " + String.join(", ", known) + ")");
      }
    }
  }
}
