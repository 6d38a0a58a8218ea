package org.sparkrlhf.jobs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.stages.BenchStage;
import org.sparkrlhf.jobs.stages.DataStage;
import org.sparkrlhf.jobs.stages.DpoStage;
import org.sparkrlhf.jobs.stages.EvalStage;
import org.sparkrlhf.jobs.stages.GrpoStage;
import org.sparkrlhf.jobs.stages.PpoStage;
import org.sparkrlhf.jobs.stages.BestOfNStage;
import org.sparkrlhf.jobs.stages.RbrStage;
import org.sparkrlhf.jobs.stages.HindsightStage;
import org.sparkrlhf.jobs.stages.RsDpoStage;
import org.sparkrlhf.jobs.stages.SelfTrainStage;
import org.sparkrlhf.jobs.stages.ShepherdStage;
import org.sparkrlhf.jobs.stages.ImportStage;
import org.sparkrlhf.jobs.stages.PairsStage;
import org.sparkrlhf.jobs.stages.QuickstartStage;
import org.sparkrlhf.jobs.stages.RewardStage;
import org.sparkrlhf.jobs.stages.RolloutsStage;
import org.sparkrlhf.jobs.stages.SftStage;

/** The stage registry: name → stage, in pipeline order. */
public final class Stages {
  private static final Map<String, Stage> ALL = new LinkedHashMap<>();

  static {
    for (Stage s :
        List.of(
            new DataStage(), new ImportStage(), new SftStage(), new RolloutsStage(), new PairsStage(),
            new DpoStage(), new RewardStage(), new GrpoStage(), new PpoStage(), new BestOfNStage(), new ShepherdStage(), new RbrStage(), new SelfTrainStage(), new HindsightStage(), new RsDpoStage(), new EvalStage(), new QuickstartStage(), new BenchStage())) {
      ALL.put(s.name(), s);
    }
  }

  private Stages() {}

  public static Map<String, Stage> all() {
    return ALL;
  }

  /** {@code eval-<model>-<split>}: the eval stage on a stage's newest checkpoint and a split. */
  private static final java.util.regex.Pattern NAMED_EVAL = java.util.regex.Pattern.compile("eval-([a-z0-9_]+)-([a-z0-9_]+)");

  /** True for {@code eval-<model>-<split>}. */
  public static boolean isNamedEval(String name) {
    return NAMED_EVAL.matcher(name).matches();
  }

  public static Stage get(String name) {
    if (NAMED_EVAL.matcher(name).matches()) {
      return ALL.get("eval");
    }
    Stage s = ALL.get(name);
    if (s == null) {
      throw new UserError("unknown stage '" + name + "' (stages: " + String.join(", ", ALL.keySet()) + ")");
    }
    return s;
  }

  /** Runs one stage in this session and writes its report; returns the report's path. */
  public static String run(SparkSession spark, String lakeRoot, String runId, String stage, Config config) {
    Stage s = get(stage);
    java.util.regex.Matcher m = NAMED_EVAL.matcher(stage);
    if (m.matches()) {
      config = config.withValue("eval.model", ConfigValueFactory.fromAnyRef(m.group(1)))
          .withValue("eval.split", ConfigValueFactory.fromAnyRef(m.group(2)))
          .withValue("eval.checkpoint", ConfigValueFactory.fromAnyRef(""));
    }
    RunContext ctx = new RunContext(new Lake(spark, lakeRoot), runId, m.matches() ? stage : s.name());
    s.run(ctx, config);
    return ctx.finish();
  }
}
