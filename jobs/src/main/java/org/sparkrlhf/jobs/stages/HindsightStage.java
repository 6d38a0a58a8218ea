package org.sparkrlhf.jobs.stages;


import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.rules.OutcomeGrading;
import org.sparkrlhf.sft.Hindsight;

/**
 * {@code hindsight}: Chain of Hindsight ({@link Hindsight}) on graded rollouts.
 *
 * <ol>
 *   <li>Reads rollouts (by default this run's {@code rollouts} stage) with their prompts' reference answers and
 *       grades each ({@link OutcomeGrading#correct}).</li>
 *   <li>Writes every rollout as a demonstration whose prompt is the prompt followed by the feedback its grade earned
 *       ({@code positive} or {@code negative}) to {@code sft_demos} (dataset {@code <dataset>-hindsight-<run>}).</li>
 *   <li>Fine-tunes the policy on them, the loss on the completions only; the checkpoint (stage {@code hindsight})
 *       names {@code positive} as its {@code prompt_suffix}, so {@code eval} generates under the positive feedback
 *       without being told.</li>
 * </ol>
 */
public final class HindsightStage implements Stage {
  @Override
  public String name() {
    return "hindsight";
  }

  @Override
  public String description() {
    return "Chain of Hindsight: fine-tune on rollouts each placed after its feedback; evaluated under the positive one";
  }

  @Override
  public List<String> sections() {
    return List.of("hindsight");
  }

  @Override
  public void check(Config config) {
    StageConfigs.checked(config, "hindsight", HindsightConfig.class, HindsightConfig::problems);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    HindsightConfig c = StageConfigs.bind(config, "hindsight", HindsightConfig.class);
    Models.initEngine(c.threads);
    Lake lake = ctx.lake();
    Hindsight feedback = new Hindsight(c.positive, c.negative);
    String sourceRun = c.sourceRun.isBlank() ? ctx.runId() : c.sourceRun;
    String policy = Checkpoints.orLatest(lake, ctx.runId(), c.initCheckpoint, c.initStage, "policy");
    List<Row> read = SourceRollouts.read(lake, sourceRun, c.sourceStage, c.dataset, c.split, c.limit).collectAsList();
    if (read.isEmpty()) throw SourceRollouts.none(lake, "rollouts", sourceRun, c.sourceStage, c.dataset, c.split);
    String demos = c.dataset + "-hindsight-" + ctx.runId();
    List<Row> out = new ArrayList<>(read.size());
    List<String[]> train = new ArrayList<>(read.size());
    int correct = 0;
    for (Row r : read) {
      String completion = r.getAs("completion");
      boolean ok = OutcomeGrading.correct(completion, r.getAs("answer"));
      correct += ok ? 1 : 0;
      String prompt = feedback.trainingPrompt(r.getAs("prompt"), ok);
      String id = r.<String>getAs("prompt_id") + "-" + r.<Integer>getAs("iteration") + "-"
          + r.<Integer>getAs("sample_index");
      out.add(RowFactory.create(demos, "train", id, prompt, completion,
          "hindsight:run=" + sourceRun + ",stage=" + c.sourceStage, ctx.runId(), null));
      train.add(new String[] {prompt, completion});
    }
    long version = lake.insertNew(Tables.SFT_DEMOS, lake.frame(Tables.SFT_DEMOS, out).drop("created_at"));
    System.out.printf("hindsight: %d rollouts of %s/%s (%.1f %% correct) as demonstrations after their feedback;"
        + " fine-tuning %s for %d steps%n", read.size(), sourceRun, c.sourceStage, 100.0 * correct / read.size(),
        policy, c.steps);
    Checkpoints checkpoints = new Checkpoints(ctx, ctx.stage(), "policy", policy, StageConfigs.toJson(c));
    Map<String, Object> more = new LinkedHashMap<>();
    more.put(EvalStage.PROMPT_SUFFIX, c.positive);
    more.put("config", c);
    FineTune.Done done = FineTune.run(ctx, c, c.steps, c.batchSize, c.seed, c.maxSeqLen, policy, train, checkpoints,
        c.steps, version, more);
    MetricsWriter metrics = new MetricsWriter(ctx, ctx.stage());
    metrics.add(c.steps, "train_loss", done.trainLoss());
    metrics.add(0, "hindsight/correct_share", (double) correct / read.size());
    metrics.flush();
    ctx.put("source_run", sourceRun).put("rollouts", read.size()).put("correct", correct)
        .put("sft_demos_dataset", demos).put("sft_demos_version", version).put("examples", done.examples())
        .put("train_loss", done.trainLoss()).put("train_seconds", done.trainSeconds())
        .put("prompt_suffix", c.positive).put("checkpoint", done.checkpoint());
    ctx.summary(String.format("%d rollouts (%.1f %% correct) after their feedback, %d steps, loss %.4f; evaluated"
        + " under %s", read.size(), 100.0 * correct / read.size(), c.steps, done.trainLoss(),
        c.positive.replace("\n", "\\n")));
  }
}
