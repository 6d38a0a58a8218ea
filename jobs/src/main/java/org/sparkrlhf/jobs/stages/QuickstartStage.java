package org.sparkrlhf.jobs.stages;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.jobs.Stages;

/**
 * {@code quickstart}: the embedded default run, end to end in one Spark application — every stage of
 * {@code quickstart.stages} in order under one run id, each with its own report, then a summary.
 */
public final class QuickstartStage implements Stage {
  /** Settings of the quickstart (config section {@code quickstart}). */
  public static class QuickstartConfig {
    /** Stages run in order; {@code eval-<model>-<split>} evaluates a stage's checkpoint on a split. */
    public List<String> stages =
        new ArrayList<>(List.of("data", "sft", "eval-sft-test", "eval-sft-test_ood"));
  }

  @Override
  public String name() {
    return "quickstart";
  }

  @Override
  public String description() {
    return "the embedded default pipeline, end to end on the built-in task";
  }

  @Override
  public List<String> sections() {
    return List.of("quickstart");
  }

  @Override
  public void check(Config config) {
    QuickstartConfig q = StageConfigs.bind(config, "quickstart", QuickstartConfig.class);
    for (String s : q.stages) {
      if (s.equals(name())) throw new org.sparkrlhf.core.UserError("quickstart.stages cannot contain quickstart");
      Stages.check(s, config);
    }
  }

  /** One line per stage: the summary each stage wrote in its report. */
  static Map<String, Object> summary(Map<String, String> reports) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : reports.entrySet()) {
      JsonNode r;
      try {
        r = new ObjectMapper().readTree(HadoopFiles.readText(e.getValue()));
      } catch (java.io.IOException ex) {
        continue;
      }
      String result = r.path("summary").asText("");
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("seconds", r.path("seconds").asDouble());
      row.put("result", result);
      row.put("report", e.getValue());
      out.put(e.getKey(), row);
    }
    return out;
  }

  @Override
  public void run(RunContext ctx, Config config) {
    QuickstartConfig q = StageConfigs.bind(config, "quickstart", QuickstartConfig.class);
    Map<String, String> reports = new LinkedHashMap<>();
    for (String s : q.stages) {
      System.out.println("== " + s);
      String report = Stages.run(ctx.spark(), ctx.lake().root(), ctx.runId(), s, config);
      reports.put(s, report);
    }
    ctx.put("stages", reports).put("run_folder", ctx.lake().root() + "/runs/" + ctx.runId());
    Map<String, Object> summary = summary(reports);
    ctx.put("summary", summary);
    System.out.println();
    System.out.printf("%-22s %10s  %s%n", "stage", "seconds", "result");
    for (Map.Entry<String, Object> e : summary.entrySet()) {
      @SuppressWarnings("unchecked")
      Map<String, Object> row = (Map<String, Object>) e.getValue();
      System.out.printf("%-22s %10.1f  %s%n", e.getKey(), ((Number) row.get("seconds")).doubleValue(), row.get("result"));
    }
    System.out.println("quickstart: run folder " + ctx.lake().root() + "/runs/" + ctx.runId());
  }
}
