package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;

/**
 * Settings of the {@code compare} stage (config section {@code compare}): pipelines run side by side, one per setting,
 * and one table of their methods on the same test problems.
 */
public class CompareConfig {
  /** Split every row's accuracy and paired difference are measured on. Default {@code test}. */
  public String split = "test";
  /** Second split reported beside it (harder problems); empty = none. Default {@code test_ood}. */
  public String oodSplit = "test_ood";
  /** The settings, each a pipeline run under the run id {@code <run>-<name>}, in order. */
  public List<Setting> settings = new ArrayList<>();
  /** The table's rows, in order. */
  public List<Method> rows = new ArrayList<>();

  /** One setting: a config layered over this one, and the pipeline it runs. */
  public static class Setting {
    /** Name; the pipeline runs under the run id {@code <run>-<name>}. */
    public String name = "";
    /**
     * A config file (HOCON, local or Hadoop path) layered over the compare config for this setting's stages; empty =
     * the compare config itself. Default empty.
     */
    public String conf = "";
    /** Pipeline entries run in order (as {@code quickstart.stages}); empty = that config's {@code quickstart.stages}. */
    public List<String> stages = new ArrayList<>();
  }

  /** One row: a policy of a setting, evaluated by that setting's {@code eval-<model>-<split>}. */
  public static class Method {
    /** Row label. */
    public String label = "";
    /** Setting the policy was trained in. */
    public String setting = "";
    /** Stage whose policy the row evaluates ({@code eval-<model>-<split>} in the setting's pipeline). */
    public String model = "";
    /**
     * Stages whose wall seconds add up to the method's cost: {@code <stage>} of the setting's run, or
     * {@code <suffix>/<stage>} of the run {@code <run>-<name>-<suffix>} (a stage that runs rounds under their own run
     * ids). Default: the model's stage.
     */
    public List<String> cost = new ArrayList<>();
  }

  /** What is wrong with these settings, one line each naming the key; empty when fine. */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (settings.isEmpty()) p.add("compare.settings is empty: name at least one setting and its pipeline");
    if (rows.isEmpty()) p.add("compare.rows is empty: name at least one method to tabulate");
    if (split.isBlank()) p.add("compare.split must name a split");
    java.util.Set<String> names = new java.util.HashSet<>();
    for (Setting s : settings) {
      if (!s.name.matches("[A-Za-z0-9_]+")) p.add("compare.settings: name '" + s.name + "' must be letters, digits or '_'");
      if (!names.add(s.name)) p.add("compare.settings: setting '" + s.name + "' is named twice");
    }
    for (Method m : rows) {
      if (!names.contains(m.setting)) {
        p.add("compare.rows: '" + m.label + "' names setting '" + m.setting + "', which compare.settings does not have");
      }
      if (m.model.isBlank()) p.add("compare.rows: '" + m.label + "' names no model");
    }
    return p;
  }
}
