package org.sparkrlhf.jobs.stages;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.config.StageConfigs;
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
    /** Stages run in order. Default {@code [data]}. */
    public List<String> stages = new ArrayList<>(List.of("data"));
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
    System.out.println("quickstart: run folder " + ctx.lake().root() + "/runs/" + ctx.runId());
  }
}
