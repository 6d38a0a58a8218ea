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
      Stages.get(s).check(config);
    }
  }

  /** One line per stage from its report: the figures a newcomer looks at first. */
  static Map<String, Object> summary(Map<String, String> reports) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : reports.entrySet()) {
      JsonNode r;
      try {
        r = new ObjectMapper().readTree(HadoopFiles.readText(e.getValue()));
      } catch (java.io.IOException ex) {
        continue;
      }
      String result;
      if (r.has("greedy_accuracy")) {
        result = String.format("greedy accuracy %.3f (±%.3f) on %d problems%s", r.get("greedy_accuracy").asDouble(),
            r.path("greedy_accuracy_stderr").asDouble(), r.get("n").asInt(),
            r.path("pass_at_k").isNumber() ? String.format(", pass@%d %.3f, maj@%d %.3f", r.get("k").asInt(),
                r.get("pass_at_k").asDouble(), r.get("k").asInt(), r.get("maj_at_k").asDouble()) : "");
        JsonNode paired = r.path("paired");
        if (paired.has("difference")) {
          result += String.format("; paired against the baseline %+.1f points (±%.1f, %.1f standard errors)",
              100 * paired.get("difference").asDouble(), 100 * paired.get("stderr").asDouble(), paired.get("z").asDouble());
        }
      } else if (r.has("valid_loss")) {
        result = String.format("valid loss %.4f, valid accuracy %s, %,.0f tokens/s, MFU %.1f%%",
            r.get("valid_loss").asDouble(),
            r.path("valid_accuracy").isNumber() ? String.format("%.3f", r.get("valid_accuracy").asDouble()) : "-",
            r.path("tokens_per_s").asDouble(), 100 * r.path("mfu").asDouble());
      } else if (r.has("valid_curve") && r.get("valid_curve").size() > 0) {
        JsonNode curve = r.get("valid_curve");
        result = String.format("%d iterations, valid accuracy %.3f -> %.3f, mean KL to reference (k3) %s, "
                + "generating %.0f%%",
            r.path("iterations").asInt(), curve.get(0).path("valid_accuracy").asDouble(),
            curve.get(curve.size() - 1).path("valid_accuracy").asDouble(),
            r.path("kl_k3_mean").isNumber() ? String.format("%.4f", r.get("kl_k3_mean").asDouble()) : "-",
            100 * r.path("generate_share").asDouble());
      } else if (r.has("last_step") && r.path("last_step").has("rewards/accuracies")) {
        JsonNode last = r.get("last_step");
        result = String.format("%d pairs, %d steps, last rewards/accuracies %.3f, rewards/margins %.3f",
            r.path("pairs").asInt(), r.path("steps").asInt(), last.path("rewards/accuracies").asDouble(),
            last.path("rewards/margins").asDouble());
      } else if (r.has("prompts_with_pairs")) {
        result = String.format("%d rollouts of %d prompts -> %d pairs", r.path("rollouts").asLong(),
            r.path("prompts").asLong(), r.path("pairs").asLong());
      } else if (r.has("num_samples") && r.has("executors")) {
        result = String.format("%d rollouts (%d prompts x %d) on %d executor(s), %,.0f tokens/s", r.path("rows").asLong(),
            r.path("prompts").asLong(), r.path("num_samples").asInt(), r.path("executors").asInt(),
            r.path("tokens_per_s").asDouble());
      } else if (r.has("problems")) {
        result = "problems " + r.get("problems").toString();
        JsonNode teacher = r.path("teacher");
        if (teacher.has("accuracy")) {
          result += String.format("; teacher %s, its train demonstrations %.1f %% correct",
              teacher.path("teacher").asText(), 100 * teacher.get("accuracy").asDouble());
        }
      } else {
        result = "";
      }
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
