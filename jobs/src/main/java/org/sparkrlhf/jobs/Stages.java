package org.sparkrlhf.jobs;

import com.typesafe.config.Config;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.stages.DataStage;
import org.sparkrlhf.jobs.stages.ImportStage;
import org.sparkrlhf.jobs.stages.QuickstartStage;

/** The stage registry: name → stage, in pipeline order. */
public final class Stages {
  private static final Map<String, Stage> ALL = new LinkedHashMap<>();

  static {
    for (Stage s : List.of(new DataStage(), new ImportStage(), new QuickstartStage())) {
      ALL.put(s.name(), s);
    }
  }

  private Stages() {}

  public static Map<String, Stage> all() {
    return ALL;
  }

  public static Stage get(String name) {
    Stage s = ALL.get(name);
    if (s == null) {
      throw new UserError("unknown stage '" + name + "' (stages: " + String.join(", ", ALL.keySet()) + ")");
    }
    return s;
  }

  /** Runs one stage in this session and writes its report; returns the report's path. */
  public static String run(SparkSession spark, String lakeRoot, String runId, String stage, Config config) {
    Stage s = get(stage);
    RunContext ctx = new RunContext(new Lake(spark, lakeRoot), runId, s.name());
    s.run(ctx, config);
    return ctx.finish();
  }
}
