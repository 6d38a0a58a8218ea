package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;

import ai.djl.ndarray.NDManager;
import com.typesafe.config.Config;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.train.TrainerState;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.run.Progress;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.dpo.train.DpoConfig;
import org.sparkrlhf.dpo.train.DpoTrainer;
import org.sparkrlhf.dpo.train.PreferenceExample;
import org.sparkrlhf.dpo.train.PreferencePairs;
import org.sparkrlhf.dpo.train.ReferenceLogps;
import org.sparkrlhf.jobs.Stage;

/**
 * {@code dpo}: DPO / cDPO / IPO (+ optional RPO NLL) on a dataset of {@code preferences}.
 *
 * <ol>
 *   <li>Reads the pairs (dataset and split from config, ordered by id) and keeps those it can train on
 *       ({@link PreferencePairs}): rows with an empty side or identical sides are skipped and counted (the import
 *       stage already quarantines malformed rows, so they never reach the table); pairs longer than
 *       {@code max_seq_len} or the model's context are skipped and counted.</li>
 *   <li>Reference log-probs, once, on the executors ({@link ReferenceLogps}): the starting checkpoint (= the frozen
 *       reference; by default the newest {@code policy} checkpoint of stage {@code sft} in this run) is broadcast
 *       and scores the chosen and the rejected completion of each kept pair; written as the Parquet table
 *       {@code <run>/dpo/reference_logps} (id, prompt, chosen, rejected, ref_chosen_logp, ref_rejected_logp,
 *       ref_chosen_tokens, ref_rejected_tokens), then read back for training.</li>
 *   <li>Trains the policy on the driver with {@link DpoTrainer}; every step's TRL metrics go to {@code metrics}
 *       ({@code loss}, {@code nll}, {@code lr}, {@code grad_norm}, {@code rewards/chosen}, {@code rewards/rejected},
 *       {@code rewards/margins}, {@code rewards/accuracies}, {@code logps/chosen}, {@code logps/rejected});
 *       checkpoints of kind {@code policy} under stage {@code dpo}.</li>
 * </ol>
 */
public final class DpoStage implements Stage {
  @Override
  public String name() {
    return "dpo";
  }

  @Override
  public String description() {
    return "DPO / cDPO / IPO on preferences against a frozen reference (reference log-probs on the executors)";
  }

  @Override
  public List<String> sections() {
    return List.of("dpo");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--resume", "dpo.resume=true");
  }

  @Override
  public void check(Config config) {
    StageConfigs.checked(config, "dpo", DpoConfig.class, DpoConfig::problems);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    DpoConfig c = StageConfigs.bind(config, "dpo", DpoConfig.class);
    ctx.put("config", c);
    Lake lake = ctx.lake();
    Models.initEngine(c.threads);
    String dataset = PreferenceData.dataset(c.dataset, ctx.runId());
    String resumeFrom = c.resume ? Checkpoints.resumePoint(lake, ctx.runId(), "dpo") : null;
    // A resumed run keeps the reference of the run it continues.
    String refPath = resumeFrom != null ? TrainerState.readJson(resumeFrom).path("reference").asText()
        : Checkpoints.orLatest(lake, ctx.runId(), c.referenceCheckpoint, c.referenceStage, "policy");

    Dataset<Row> prefs = PreferenceData.read(lake, dataset);
    if (!c.split.isBlank()) prefs = prefs.filter(col("split").equalTo(c.split));
    List<Row> rows = prefs.selectExpr(PreferencePairs.COLUMNS).orderBy("id").collectAsList();
    if (rows.isEmpty()) {
      throw new UserError("no preference pairs for dataset '" + dataset + "'"
          + (c.split.isBlank() ? "" : " split '" + c.split + "'") + " in " + lake.path(Tables.PREFERENCES)
          + " (run the pairs or import stage first)");
    }

    try (NDManager manager = NDManager.newBaseManager()) {
      HfCheckpoint ckpt = Models.checkpoint("reference checkpoint", refPath, manager);
      TextTokenizer tok = Models.tokenizer(refPath, ckpt);
      int maxLen = Math.min(c.maxSeqLen, ckpt.model().config().maxPositionEmbeddings());

      // Keep what can be trained on; the executors score exactly these pairs.
      PreferencePairs.Encoded pairs = PreferencePairs.encode(
          rows.stream().map(PreferencePairs.Pair::of).toList(), tok, maxLen);
      int invalid = pairs.invalid();
      int tooLong = pairs.tooLong();
      if (pairs.kept().isEmpty()) {
        throw new UserError("none of the " + rows.size() + " pairs of '" + dataset + "' is trainable (" + invalid
            + " invalid, " + tooLong + " over " + maxLen + " tokens)");
      }

      // The reference is the starting checkpoint as loaded, before any update.
      String refTable = ctx.runDir() + "/" + ReferenceLogps.TABLE;
      ReferenceLogps.write(lake, "dpo-reference/" + ctx.runId(), ckpt.toBytes(), pairs.kept(), c.refBatchSize,
          refTable);
      List<PreferenceExample> train = ReferenceLogps.read(ctx.spark(), refTable, pairs.kept());
      // The policy starts as the reference, or as the checkpoint a resumed run continues from.
      LlamaModel model = resumeFrom != null ? Models.load(resumeFrom, manager).model() : ckpt.model();
      System.out.printf("dpo: %d pairs of '%s' (%d invalid, %d over %d tokens skipped); reference %s; loss %s beta %s%n",
          train.size(), dataset, invalid, tooLong, maxLen, refPath, c.lossType, c.beta);

      MetricsWriter metrics = new MetricsWriter(ctx, "dpo");
      Map<String, Object> provenance = new LinkedHashMap<>();
      provenance.put("run_id", ctx.runId());
      provenance.put("stage", "dpo");
      provenance.put("data_versions", Map.of(Tables.PREFERENCES, lake.reads().get(Tables.PREFERENCES)));
      provenance.put("dataset", dataset);
      provenance.put("parent", refPath);
      provenance.put("reference_logps", refTable);
      provenance.put("config", c);
      Checkpoints checkpoints = new Checkpoints(ctx, "dpo", "policy", refPath, StageConfigs.toJson(c));
      DpoTrainer trainer = new DpoTrainer(c);
      int total = trainer.plannedSteps(train.size());
      Progress progress = new Progress(total, "steps").startAt(0);
      if (resumeFrom != null) {
        TrainerState state = TrainerState.read(resumeFrom);
        if (state.iteration() >= total) {
          throw new UserError("dpo --resume: " + resumeFrom + " has finished " + state.iteration() + " of " + total
              + " steps: nothing to continue (raise dpo.epochs or dpo.max_steps to train on)");
        }
        trainer.resumeFrom(state);
        progress.startAt(state.iteration());
        checkpoints.resumedFrom(resumeFrom);
        ctx.put("resumed_from", resumeFrom);
        System.out.printf("dpo: resuming after step %d from %s%n", state.iteration(), resumeFrom);
      }
      DpoTrainer.Result result = checkpoints.training(() -> trainer.train(model, train, new DpoTrainer.Hooks() {
        @Override
        public void onStep(DpoTrainer.StepStats s) {
          metrics.add(s.step(), "loss", s.loss());
          metrics.add(s.step(), "nll", s.nll());
          metrics.add(s.step(), "lr", s.lr());
          metrics.add(s.step(), "grad_norm", s.gradNorm());
          metrics.add(s.step(), "skipped_steps", s.skippedSteps());
          s.metrics().asMap().forEach((k, v) -> metrics.add(s.step(), k, v));
          if (s.step() % Math.max(1, c.logEvery) == 0 || s.step() == total) {
            System.out.printf("dpo: step %4d/%d  loss %.4f  margins %.4f  accuracies %.3f  chosen %.3f  rejected %.3f  %s%n",
                s.step(), total, s.loss(), s.metrics().rewardsMargins(), s.metrics().rewardsAccuracies(),
                s.metrics().rewardsChosen(), s.metrics().rewardsRejected(), progress.at(s.step()));
          }
        }

        @Override
        public void onCheckpoint(int step, LlamaModel m, java.util.function.Supplier<TrainerState> state) {
          provenance.put("step", step);
          metrics.flushThroughStep();  // rows first, as in sft: a resumed run's repeat of this flush adds nothing
          checkpoints.save(step, m, tok, provenance, dir -> state.get().write(dir, Map.of("reference", refPath)));
        }
      }), metrics::flushThroughStep);
      metrics.flushThroughStep();
      Map<String, Object> last = stepReport(result.last());
      ctx.put("dataset", dataset)
          .put("reference_checkpoint", refPath)
          .put("reference_logps", refTable)
          .put("pairs_read", rows.size())
          .put("pairs", result.pairs())
          .put("skipped_invalid", invalid)
          .put("skipped_too_long", tooLong)
          .put("steps", result.steps())
          .put("first_step", stepReport(result.first()))
          .put("last_step", last)
          .put("train_seconds", result.trainSeconds())
          .put("tokens", result.tokens())
          .put("tokens_per_s", result.tokensPerSecond())
          .put("checkpoint", checkpoints.last());
      ctx.summary(String.format("%d pairs, %d steps, last rewards/accuracies %.3f, rewards/margins %.3f",
          result.pairs(), result.steps(), last.get("rewards/accuracies"), last.get("rewards/margins")));
      model.close();
    }
  }

  private static Map<String, Object> stepReport(DpoTrainer.StepStats s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("step", s.step());
    m.put("loss", s.loss());
    m.put("nll", s.nll());
    m.putAll(s.metrics().asMap());
    return m;
  }
}
