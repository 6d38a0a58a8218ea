package org.sparkrlhf.jobs.stages;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.jobs.Stages;

/**
 * {@code rsdpo}: rounds of rejection sampling and DPO, the Llama 3 recipe on this pipeline's stages. Round r runs, under
 * the run id {@code <run>-r<r>} (so each round's rows and checkpoints are its own):
 *
 * <ol>
 *   <li>{@code rollouts} from the previous round's policy (round 1: the start), seed + r;</li>
 *   <li>{@code pairs} from those rollouts only, written as the dataset {@code <dataset>-pairs-<run>-r<r>}: a new Delta
 *       version of {@code preferences} that names its round, so no pair is reused in a later round;</li>
 *   <li>{@code dpo} on that dataset, policy and reference the previous round's policy;</li>
 *   <li>{@code eval} of the new policy on {@code eval_split}.</li>
 * </ol>
 * The report lists every round's pairs, accuracy and checkpoint; the last round's policy is registered as this stage's
 * own, so {@code eval-rsdpo-<split>} evaluates it beside the run's other policies.
 */
public final class RsDpoStage implements Stage {
  @Override
  public String name() {
    return "rsdpo";
  }

  @Override
  public String description() {
    return "rounds of rejection sampling + DPO: rollouts -> pairs -> dpo -> eval, each round from the last's policy";
  }

  @Override
  public List<String> sections() {
    return List.of("rsdpo");
  }

  @Override
  public void check(Config config) {
    StageConfigs.checked(config, "rsdpo", RsDpoConfig.class, RsDpoConfig::problems);
    for (String s : List.of("rollouts", "pairs", "dpo", "eval")) Stages.get(s).check(config);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    RsDpoConfig c = StageConfigs.bind(config, "rsdpo", RsDpoConfig.class);
    Lake lake = ctx.lake();
    String policy = Checkpoints.orLatest(lake, ctx.runId(), c.initCheckpoint, c.initStage, "policy");
    String startPolicy = policy;
    long seed = config.hasPath("rollouts.seed") ? config.getLong("rollouts.seed") : 1234L;
    List<Map<String, Object>> rounds = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    String baseline = "";
    Double startAccuracy = null;
    if (!c.evalSplit.isBlank()) {
      // The start, evaluated once: every round is paired against it on the same problems.
      Config start = config.withValue("eval.checkpoint", ConfigValueFactory.fromAnyRef(policy))
          .withValue("eval.split", ConfigValueFactory.fromAnyRef(c.evalSplit))
          .withValue("eval.baseline", ConfigValueFactory.fromAnyRef(""));
      String report = Stages.run(ctx.spark(), lake.root(), ctx.runId() + "-r0", "eval", start);
      startAccuracy = read(json, report).path("greedy_accuracy").asDouble();
      baseline = report.replace("report.json", "completions.jsonl");
    }
    for (int r = 1; r <= c.rounds; r++) {
      String run = ctx.runId() + "-r" + r;
      Config round = config
          .withValue("rollouts.checkpoint", ConfigValueFactory.fromAnyRef(policy))
          .withValue("rollouts.seed", ConfigValueFactory.fromAnyRef(seed + r))
          .withValue("pairs.source_run", ConfigValueFactory.fromAnyRef(run))
          .withValue("pairs.output_dataset", ConfigValueFactory.fromAnyRef(""))
          .withValue("dpo.dataset", ConfigValueFactory.fromAnyRef(""))
          .withValue("dpo.reference_checkpoint", ConfigValueFactory.fromAnyRef(policy));
      if (c.prompts > 0) round = round.withValue("rollouts.limit", ConfigValueFactory.fromAnyRef(c.prompts));
      System.out.printf("rsdpo: round %d of %d from %s (run %s)%n", r, c.rounds, policy, run);
      String root = lake.root();
      Stages.run(ctx.spark(), root, run, "rollouts", round);
      JsonNode pairs = read(json, Stages.run(ctx.spark(), root, run, "pairs", round));
      JsonNode dpo = read(json, Stages.run(ctx.spark(), root, run, "dpo", round));
      policy = Checkpoints.latest(lake, run, "dpo", "policy");
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("round", r);
      row.put("run_id", run);
      row.put("pairs", pairs.path("pairs").asLong());
      row.put("pairs_datasets", json.convertValue(pairs.path("datasets"), List.class));
      row.put("dpo_steps", dpo.path("steps").asInt());
      row.put("checkpoint", policy);
      if (!c.evalSplit.isBlank()) {
        Config evalConfig = round.withValue("eval.baseline", ConfigValueFactory.fromAnyRef(baseline));
        String evalReport = Stages.run(ctx.spark(), root, run, "eval-dpo-" + c.evalSplit, evalConfig);
        JsonNode e = read(json, evalReport);
        row.put("accuracy", e.path("greedy_accuracy").asDouble());
        if (e.has("paired")) row.put("paired_against_start", json.convertValue(e.get("paired"), Map.class));
      }
      rounds.add(row);
    }
    // The last round's policy is this stage's result: eval-rsdpo-<split> evaluates it in this run.
    new Checkpoints(ctx, name(), "policy", startPolicy, StageConfigs.toJson(c)).adopt(c.rounds, policy);
    ctx.put("start_accuracy", startAccuracy).put("rounds", rounds).put("checkpoint", policy);
    StringBuilder s = new StringBuilder(c.rounds + " rounds; accuracy from the start"
        + (startAccuracy == null ? "" : String.format(" (%.1f%%)", 100 * startAccuracy)) + " by round:");
    for (Map<String, Object> row : rounds) s.append(' ').append(row.get("accuracy") == null ? "-"
        : String.format("%.1f%%", 100 * (double) row.get("accuracy")));
    ctx.summary(s.toString());
  }

  private static JsonNode read(ObjectMapper json, String report) {
    try {
      return json.readTree(HadoopFiles.readText(report));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
