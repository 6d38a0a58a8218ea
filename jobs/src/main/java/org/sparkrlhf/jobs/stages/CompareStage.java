package org.sparkrlhf.jobs.stages;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.jobs.Stages;

/**
 * {@code compare}: several pipelines in one application, one per setting (e.g. the flawed teacher and the scarce
 * demonstrations), each under the run id {@code <run>-<setting>}, then one table of their methods on the same test
 * problems: accuracy, the paired difference against the setting's SFT with its standard error, the second split's
 * accuracy, and the wall seconds of the stages that made the policy. Written to {@code compare.md} and the report.
 */
public final class CompareStage implements Stage {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Override
  public String name() {
    return "compare";
  }

  @Override
  public String description() {
    return "run one pipeline per setting and tabulate their methods on the same test problems";
  }

  @Override
  public List<String> sections() {
    return List.of("compare");
  }

  /** A setting's config: its file layered over the compare config. */
  static Config settingConfig(CompareConfig.Setting s, Config config) {
    return s.conf.isBlank() ? config : StageConfigs.layered(s.conf, config);
  }

  /** A setting's pipeline: its own list, else its config's {@code quickstart.stages}. */
  static List<String> pipeline(CompareConfig.Setting s, Config settingConfig) {
    if (!s.stages.isEmpty()) return s.stages;
    return StageConfigs.bind(settingConfig, "quickstart", QuickstartStage.QuickstartConfig.class).stages;
  }

  @Override
  public void check(Config config) {
    CompareConfig c = StageConfigs.checked(config, "compare", CompareConfig.class, CompareConfig::problems);
    Map<String, List<String>> pipelines = new LinkedHashMap<>();
    for (CompareConfig.Setting s : c.settings) {
      Config sc = settingConfig(s, config);
      org.sparkrlhf.jobs.ConfigSections.checkKnown(sc);
      List<String> stages = pipeline(s, sc);
      for (String stage : stages) {
        String base = Stages.get(stage).name();
        if (base.equals(name()) || base.equals("quickstart")) {
          throw new UserError("compare.settings: setting '" + s.name + "' cannot run '" + stage + "' inside compare");
        }
        Stages.check(stage, sc);
      }
      pipelines.put(s.name, stages);
    }
    for (CompareConfig.Method m : c.rows) {
      List<String> stages = pipelines.get(m.setting);
      for (String split : splits(c)) {
        String eval = "eval-" + m.model + "-" + split;
        if (!stages.contains(eval)) {
          throw new UserError("compare.rows: '" + m.label + "' needs '" + eval + "' in setting '" + m.setting
              + "''s pipeline");
        }
      }
    }
  }

  private static List<String> splits(CompareConfig c) {
    return c.oodSplit.isBlank() ? List.of(c.split) : List.of(c.split, c.oodSplit);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    CompareConfig c = StageConfigs.bind(config, "compare", CompareConfig.class);
    Map<String, Object> runs = new LinkedHashMap<>();
    for (CompareConfig.Setting s : c.settings) {
      Config sc = settingConfig(s, config);
      String run = ctx.runId() + "-" + s.name;
      for (String stage : pipeline(s, sc)) {
        System.out.println("== " + s.name + ": " + stage);
        Stages.run(ctx.spark(), ctx.lake().root(), run, stage, sc);
      }
      runs.put(s.name, run);
    }
    List<Map<String, Object>> rows = table(ctx.lake().root(), ctx.runId(), c);
    String markdown = markdown(c, rows);
    String path = ctx.runDir() + "/compare.md";
    HadoopFiles.writeText(path, markdown);
    ctx.put("runs", runs).put("rows", rows).put("table", path);
    ctx.summary(rows.size() + " methods on " + c.split + "; table in " + path);
    System.out.println();
    System.out.print(markdown);
  }

  /** One row per method, read from the evaluation and stage reports the pipelines wrote. */
  public static List<Map<String, Object>> table(String lakeRoot, String runId, CompareConfig c) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (CompareConfig.Method m : c.rows) {
      String run = runId + "-" + m.setting;
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("label", m.label);
      row.put("setting", m.setting);
      row.put("run_id", run);
      JsonNode eval = report(lakeRoot, run, "eval-" + m.model + "-" + c.split);
      row.put("n", eval.path("n").asInt());
      row.put("accuracy", eval.path("greedy_accuracy").asDouble());
      JsonNode paired = eval.path("paired");
      if (!paired.isMissingNode()) {
        row.put("difference", paired.path("difference").asDouble());
        row.put("stderr", paired.path("stderr").asDouble());
        row.put("z", paired.path("z").asDouble());
        row.put("better", paired.path("better").asInt());
        row.put("worse", paired.path("worse").asInt());
      }
      if (!c.oodSplit.isBlank()) {
        JsonNode ood = report(lakeRoot, run, "eval-" + m.model + "-" + c.oodSplit);
        row.put("ood_accuracy", ood.path("greedy_accuracy").asDouble());
        if (ood.has("paired")) row.put("ood_difference", ood.path("paired").path("difference").asDouble());
      }
      double seconds = 0;
      for (String stage : m.cost.isEmpty() ? List.of(m.model) : m.cost) {
        int slash = stage.indexOf('/');
        String costRun = slash < 0 ? run : run + "-" + stage.substring(0, slash);
        seconds += report(lakeRoot, costRun, stage.substring(slash + 1)).path("seconds").asDouble();
      }
      row.put("seconds", seconds);
      rows.add(row);
    }
    return rows;
  }

  private static JsonNode report(String lakeRoot, String run, String stage) {
    String path = lakeRoot + "/runs/" + run + "/" + stage + "/report.json";
    if (!HadoopFiles.exists(path)) throw new UserError("compare: no report at " + path + " (did that stage run?)");
    try {
      return JSON.readTree(HadoopFiles.readText(path));
    } catch (java.io.IOException e) {
      throw new UserError("compare: unreadable report " + path + ": " + e.getMessage());
    }
  }

  /** The table in Markdown, as the README shows it. */
  public static String markdown(CompareConfig c, List<Map<String, Object>> rows) {
    StringBuilder s = new StringBuilder();
    s.append("| method | setting | ").append(c.split).append(" accuracy | paired vs SFT (SE, z) | better / worse |");
    if (!c.oodSplit.isBlank()) s.append(' ').append(c.oodSplit).append(" accuracy |");
    s.append(" wall seconds |\n| --- | --- | --- | --- | --- |");
    if (!c.oodSplit.isBlank()) s.append(" --- |");
    s.append(" --- |\n");
    for (Map<String, Object> r : rows) {
      s.append("| ").append(r.get("label")).append(" | ").append(r.get("setting")).append(" | ")
          .append(String.format("%.1f %%", 100 * (double) r.get("accuracy"))).append(" | ");
      if (r.containsKey("difference")) {
        s.append(String.format("%+.1f (%.1f, z %.1f) | %d / %d |", 100 * (double) r.get("difference"),
            100 * (double) r.get("stderr"), (double) r.get("z"), (int) r.get("better"), (int) r.get("worse")));
      } else {
        s.append("— | — |");
      }
      if (!c.oodSplit.isBlank()) s.append(String.format(" %.1f %% |", 100 * (double) r.get("ood_accuracy")));
      s.append(String.format(" %.0f |%n", (double) r.get("seconds")));
    }
    return s.toString();
  }
}
