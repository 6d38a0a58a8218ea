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
import org.sparkrlhf.jobs.stages.AirflowDagStage;
import org.sparkrlhf.jobs.stages.BenchStage;
import org.sparkrlhf.jobs.stages.DataStage;
import org.sparkrlhf.jobs.stages.DpoStage;
import org.sparkrlhf.jobs.stages.EvalStage;
import org.sparkrlhf.jobs.stages.GrpoStage;
import org.sparkrlhf.jobs.stages.PpoStage;
import org.sparkrlhf.jobs.stages.PvgStage;
import org.sparkrlhf.jobs.stages.BestOfNStage;
import org.sparkrlhf.jobs.stages.CompareStage;
import org.sparkrlhf.jobs.stages.RbrStage;
import org.sparkrlhf.jobs.stages.HindsightStage;
import org.sparkrlhf.jobs.stages.RsDpoStage;
import org.sparkrlhf.jobs.stages.SelfTrainStage;
import org.sparkrlhf.jobs.stages.ShepherdStage;
import org.sparkrlhf.jobs.stages.ImportStage;
import org.sparkrlhf.jobs.stages.LineageStage;
import org.sparkrlhf.jobs.stages.ReproduceStage;
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
            new DpoStage(), new RewardStage(), new GrpoStage(), new PpoStage(), new BestOfNStage(), new ShepherdStage(), new RbrStage(), new SelfTrainStage(), new HindsightStage(), new RsDpoStage(), new PvgStage(), new EvalStage(), new QuickstartStage(), new CompareStage(), new LineageStage(), new ReproduceStage(), new BenchStage(), new AirflowDagStage())) {
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

  /**
   * {@code <instance>:<stage>}: a stage run a second time in the same run under another name (e.g.
   * {@code sft_more:sft}, SFT continued from the run's {@code sft} policy): it writes under the instance's name, and
   * the instance's config section, when there is one, is layered over the stage's own.
   */
  private static final java.util.regex.Pattern INSTANCE = java.util.regex.Pattern.compile("([a-z0-9_]+):([a-z0-9_]+)");

  public static Stage get(String name) {
    if (NAMED_EVAL.matcher(name).matches()) {
      return ALL.get("eval");
    }
    java.util.regex.Matcher instance = INSTANCE.matcher(name);
    if (instance.matches()) {
      Stage s = get(instance.group(2));
      if (!s.instantiable()) {
        throw new UserError("stage '" + s.name() + "' cannot run under another name ('" + name + "'); those that can: "
            + String.join(", ", ALL.values().stream().filter(Stage::instantiable).map(Stage::name).toList()));
      }
      if (ALL.containsKey(instance.group(1))) {
        throw new UserError("'" + name + "': the instance name '" + instance.group(1) + "' is already a stage's name");
      }
      return s;
    }
    Stage s = ALL.get(name);
    if (s == null) {
      throw new UserError("unknown stage '" + name + "' (stages: " + String.join(", ", ALL.keySet()) + ")");
    }
    return s;
  }

  /**
   * The config a pipeline entry runs with: for {@code eval-<model>-<split>} its model and split set, for
   * {@code <instance>:<stage>} the instance's section layered over the stage's.
   */
  public static Config configFor(String stage, Config config) {
    java.util.regex.Matcher m = NAMED_EVAL.matcher(stage);
    if (m.matches()) {
      return config.withValue("eval.model", ConfigValueFactory.fromAnyRef(m.group(1)))
          .withValue("eval.split", ConfigValueFactory.fromAnyRef(m.group(2)))
          .withValue("eval.checkpoint", ConfigValueFactory.fromAnyRef(""));
    }
    java.util.regex.Matcher i = INSTANCE.matcher(stage);
    if (i.matches() && config.hasPath(i.group(1))) {
      Config own = config.getConfig(i.group(1));
      Config base = config.hasPath(i.group(2)) ? config.getConfig(i.group(2)) : com.typesafe.config.ConfigFactory.empty();
      return config.withValue(i.group(2), own.withFallback(base).root());
    }
    return config;
  }

  /** The instance name of {@code <instance>:<stage>}; null for any other entry. */
  public static String instanceName(String entry) {
    java.util.regex.Matcher i = INSTANCE.matcher(entry);
    return i.matches() ? i.group(1) : null;
  }

  /** The name a pipeline entry writes under: {@code eval-<model>-<split>} and an instance's name are their own. */
  public static String runName(String stage) {
    if (NAMED_EVAL.matcher(stage).matches()) return stage;
    java.util.regex.Matcher i = INSTANCE.matcher(stage);
    return i.matches() ? i.group(1) : get(stage).name();
  }

  /** Checks a pipeline entry's config as it will run. */
  public static void check(String stage, Config config) {
    get(stage).check(configFor(stage, config));
  }

  /** Runs one stage in this session and writes its report; returns the report's path. */
  public static String run(SparkSession spark, String lakeRoot, String runId, String stage, Config config) {
    return run(new Lake(spark, lakeRoot), runId, stage, config);
  }

  /** As above, on a given view of the lake (e.g. one whose reads are pinned to recorded versions). */
  public static String run(Lake lake, String runId, String stage, Config config) {
    Stage s = get(stage);
    RunContext ctx = new RunContext(lake, runId, runName(stage));
    s.run(ctx, configFor(stage, config));
    return ctx.finish();
  }
}
