package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.batch.StepSequence;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.core.task.Expression;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.process.MathShepherd;
import org.sparkrlhf.reward.rules.OutcomeGrading;
import org.sparkrlhf.rollouts.engine.SamplingParams;
import org.sparkrlhf.rollouts.spark.DistributedRollouts;
import org.sparkrlhf.rollouts.spark.ModelBroadcast;

/**
 * {@code shepherd}: step labels without an annotator, as Math-Shepherd makes them ({@link MathShepherd}).
 *
 * <ol>
 *   <li>Reads sampled solutions from {@code rollouts} (by default this run's {@code rollouts} stage) with their
 *       prompts' reference answers, and splits each into steps ({@link StepSequence#steps}).</li>
 *   <li>For every step of every solution, samples K continuations of the prefix through that step on the executors,
 *       from the policy checkpoint, and counts those whose final answer is the reference one.</li>
 *   <li>Writes one {@code step_labels} row per solution with at least one step (dataset {@code shepherd.name}, kind
 *       {@code shepherd}): the hard labels through the first step none of whose continuations reached the answer, and
 *       the soft ones (the share that did).</li>
 *   <li>Where the prompts are the built-in task's, compares the labels with the checker's true ones
 *       ({@link MathShepherd.Agreement}) for the report and {@code metrics} ({@code shepherd/*}).</li>
 * </ol>
 * The write is an insert-only MERGE on (dataset, id): a re-run adds nothing.
 */
public final class ShepherdStage implements Stage {
  @Override
  public String name() {
    return "shepherd";
  }

  @Override
  public String description() {
    return "Math-Shepherd step labels for rollouts: K continuations of each step's prefix on the executors";
  }

  @Override
  public List<String> sections() {
    return List.of("shepherd");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--checkpoint", "shepherd.checkpoint", "--split", "shepherd.split");
  }

  @Override
  public void check(Config config) {
    StageConfigs.checked(config, "shepherd", ShepherdConfig.class, ShepherdConfig::problems);
  }

  /** A solution to label. */
  private record Solution(String id, String split, String prompt, String answer, List<String> steps) {}

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    ShepherdConfig c = StageConfigs.bind(config, "shepherd", ShepherdConfig.class);
    Models.initEngine(c.threads);
    Lake lake = ctx.lake();
    String sourceRun = c.sourceRun.isBlank() ? ctx.runId() : c.sourceRun;
    String out = c.name.isBlank() ? c.dataset + "-shepherd-" + ctx.runId() : c.name;
    String checkpoint = Checkpoints.orLatest(lake, ctx.runId(), c.checkpoint, c.model, "policy");

    Dataset<Row> rollouts = SourceRollouts.read(lake, sourceRun, c.sourceStage, c.dataset, c.split, c.limit);
    List<Solution> solutions = new ArrayList<>();
    int noSteps = 0;
    for (Row r : rollouts.collectAsList()) {
      List<String> steps = StepSequence.steps(r.<String>getAs("completion"));
      if (steps.isEmpty()) {
        noSteps++;
        continue;
      }
      String id = r.<String>getAs("prompt_id") + "-" + sourceRun + "-" + c.sourceStage + "-"
          + r.<Integer>getAs("iteration") + "-" + r.<Integer>getAs("sample_index");
      solutions.add(new Solution(id, r.getAs("split"), r.getAs("prompt"), r.getAs("answer"), steps));
    }
    if (solutions.isEmpty()) {
      throw SourceRollouts.none(lake, "rollouts with steps to label", sourceRun, c.sourceStage, c.dataset, c.split);
    }

    // One request per (solution, step): its prefix, continued K times on the executors.
    List<Row> requests = new ArrayList<>();
    for (int s = 0; s < solutions.size(); s++) {
      Solution sol = solutions.get(s);
      for (int k = 0; k < sol.steps().size(); k++) {
        requests.add(RowFactory.create(s + "/" + k, MathShepherd.prefix(sol.prompt(), sol.steps(), k)));
      }
    }
    StructType schema = new StructType().add("prompt_id", DataTypes.StringType, false)
        .add("prompt", DataTypes.StringType, false);
    int[][] reached = new int[solutions.size()][];
    for (int s = 0; s < solutions.size(); s++) reached[s] = new int[solutions.get(s).steps().size()];
    long tokens = 0;
    long t0 = System.nanoTime();
    ModelBroadcast policy = Models.publish(ctx.spark(), "checkpoint", checkpoint, "policy", 0);
    try {
      SamplingParams sampling = new SamplingParams(c.temperature, 0, 1.0, c.maxNewTokens, List.of(), c.seed);
      DistributedRollouts.Options o = DistributedRollouts.Options.of(ctx.runId(), ctx.stage(), 0, c.samples, sampling)
          .withDataset(c.dataset).withBatchSize(c.batchSize);
      System.out.printf("shepherd: %d solutions (%d without steps skipped), %d step prefixes x %d continuations from"
          + " %s%n", solutions.size(), noSteps, requests.size(), c.samples, checkpoint);
      System.out.flush();
      Dataset<Row> continued = DistributedRollouts.generate(lake.frame(requests, schema), policy, o)
          .select(col("prompt_id"), col("completion"), org.apache.spark.sql.functions.size(col("token_ids")));
      for (Row r : continued.collectAsList()) {
        String[] at = r.getString(0).split("/");
        int s = Integer.parseInt(at[0]);
        int k = Integer.parseInt(at[1]);
        if (OutcomeGrading.correct(r.getString(1), solutions.get(s).answer())) reached[s][k]++;
        tokens += r.getInt(2);
      }
    } finally {
      policy.destroy();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;

    List<Row> rows = new ArrayList<>(solutions.size());
    MathShepherd.Agreement agreement = MathShepherd.Agreement.NONE;
    int labelledSteps = 0;
    int wrong = 0;
    String source = "shepherd:run=" + sourceRun + ",stage=" + c.sourceStage + ",checkpoint=" + checkpoint + ",k="
        + c.samples + ",temperature=" + c.temperature + ",seed=" + c.seed;
    for (int s = 0; s < solutions.size(); s++) {
      Solution sol = solutions.get(s);
      MathShepherd l = MathShepherd.of(reached[s], c.samples);
      Boolean[] hard = new Boolean[l.steps()];
      Double[] soft = new Double[l.steps()];
      for (int k = 0; k < hard.length; k++) {
        hard[k] = l.hard()[k];
        soft[k] = l.soft()[k];
      }
      labelledSteps += l.steps();
      if (!l.hard()[l.steps() - 1]) wrong++;
      Expression start = Expression.tryParse(Checker.expressionOf(sol.prompt()));
      if (start != null) agreement = agreement.plus(MathShepherd.Agreement.of(l.hard(), Checker.labelSteps(start, sol.steps())));
      rows.add(RowFactory.create(out, sol.split(), sol.id(), sol.prompt(),
          sol.steps().subList(0, l.steps()).toArray(new String[0]), hard, soft, "shepherd", source, ctx.runId(), null));
    }
    long version = lake.insertNew(Tables.STEP_LABELS, lake.frame(Tables.STEP_LABELS, rows).drop("created_at"));

    MetricsWriter metrics = new MetricsWriter(ctx, ctx.stage());
    Map<String, Double> agree = agreement.asMap("");
    agree.forEach((k, v) -> {
      if (Double.isFinite(v)) metrics.add(0, "shepherd/" + k, v);
    });
    metrics.add(0, "shepherd/solutions_with_a_dead_step", wrong);
    metrics.flush();
    Map<String, Object> agreeReport = new HashMap<>(agree);
    ctx.put("dataset", out).put("step_labels_version", version).put("source_run", sourceRun)
        .put("source_stage", c.sourceStage).put("checkpoint", checkpoint).put("solutions", solutions.size())
        .put("skipped_no_steps", noSteps).put("prefixes", requests.size()).put("samples", c.samples)
        .put("labelled_steps", labelledSteps).put("solutions_with_a_dead_step", wrong)
        .put("agreement_with_checker", agreement.solutions() == 0 ? null : agreeReport)
        .put("continuation_tokens", tokens).put("generate_seconds", seconds);
    String vsChecker = agreement.solutions() == 0 ? "" : String.format(
        "; against the checker: steps %.1f %% agree (%.1f %% false positive, %.1f %% false negative), first wrong"
            + " step the same in %.1f %% of solutions", 100 * agree.get("step_agreement"),
        100 * agree.get("false_positive_steps"), 100 * agree.get("false_negative_steps"),
        100 * agree.get("first_error_agreement"));
    ctx.summary(String.format("%d solutions labelled into step_labels '%s' (%d steps, %d with a dead step) from %d"
        + " prefixes x %d continuations in %.0f s%s", solutions.size(), out, labelledSteps, wrong, requests.size(),
        c.samples, seconds, vsChecker));
  }
}
