package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;

import ai.djl.ndarray.NDManager;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.train.TrainerState;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.run.Progress;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.train.MatmulPeak;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.sft.SftConfig;
import org.sparkrlhf.sft.SftTrainer;

/**
 * {@code sft}: supervised fine-tuning on {@code sft_demos}. Trains on the driver, writes per-step rows
 * to {@code metrics}, Hugging Face checkpoints every N steps and at the end (each registered in
 * {@code checkpoints} with the sft_demos version it read), and a report with the final losses,
 * validation accuracy, tokens/s and MFU.
 *
 * <p>MFU, one definition ({@link MatmulPeak#mfu}): {@link org.sparkrlhf.core.model.LlamaConfig#trainingFlopsPerToken}
 * at the train set's mean length times trained tokens per second, over one matmul peak measured at the start with
 * the run's torch threads and printed on the stage's first line. Tokens are predicted tokens (length - 1 per
 * demonstration), the count tokens/s is given in. Two figures, named apart because their clocks differ:
 * <ul>
 *   <li>{@code mfu} (each progress line over its window of steps; the report and last line over all steps): the
 *       time inside optimizer steps only;
 *   <li>{@code wall_mfu} (report and last line): the training loop's wall time, which adds validation, the accuracy
 *       probe and checkpoint writes; {@code step_share} is the share of that time spent in steps, so
 *       {@code wall_mfu = mfu * step_share}.
 * </ul>
 */
public final class SftStage implements Stage {
  @Override
  public String name() {
    return "sft";
  }

  @Override
  public String description() {
    return "supervised fine-tuning on sft_demos (completion-only loss)";
  }

  @Override
  public List<String> sections() {
    return List.of("sft");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--resume", "sft.resume=true");
  }

  @Override
  public boolean instantiable() {
    return true;
  }

  @Override
  public void check(Config config) {
    StageConfigs.checked(config, "sft", SftConfig.class, SftConfig::problems);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    SftConfig c = StageConfigs.bind(config, "sft", SftConfig.class);
    ctx.put("config", c);
    Lake lake = ctx.lake();
    Models.initEngine(c.threads);

    Dataset<Row> demos = lake.read(Tables.SFT_DEMOS).filter(col("dataset").equalTo(c.dataset));
    Dataset<Row> trainDemos = demos.filter(col("split").equalTo(c.trainSplit)).orderBy("id");
    if (c.maxDemos > 0) {
      // Scarce demonstrations: only the first max_demos (by id) are ever read.
      trainDemos = trainDemos.limit(c.maxDemos);
    }
    List<Row> rows = trainDemos.unionByName(demos.filter(col("split").equalTo(c.validSplit)))
        .select("split", "id", "prompt", "completion").orderBy("id").collectAsList();
    try (NDManager manager = NDManager.newBaseManager()) {
      String resumeFrom = c.resume ? Checkpoints.resumePoint(lake, ctx.runId(), ctx.stage()) : null;
      String init = resumeFrom != null ? resumeFrom
          : c.initCheckpoint.isBlank() && !c.initStage.isBlank()
              ? Checkpoints.latest(lake, ctx.runId(), c.initStage, "policy") : c.initCheckpoint;
      Models.Loaded start = Models.startingPoint(init, c.model, c.seed, manager);
      // A resumed run's checkpoints keep the parent of the run they continue.
      String parent = resumeFrom != null ? TrainerState.readJson(resumeFrom).path("parent").asText() : start.source();
      LlamaModel model = start.model();
      TextTokenizer tok = start.tokenizer();
      int maxLen = Math.min(c.maxSeqLen, model.config().maxPositionEmbeddings());
      List<TokenSequence> train = new ArrayList<>();
      List<TokenSequence> valid = new ArrayList<>();
      List<String[]> validProblems = new ArrayList<>();
      int skipped = 0;
      int trainSkipped = 0;
      for (Row r : rows) {
        TokenSequence e = SftTrainer.example(tok, r.getString(2), r.getString(3));
        if (e.length() > maxLen) {
          skipped++;
          trainSkipped += r.getString(0).equals(c.trainSplit) ? 1 : 0;
          continue;
        }
        if (r.getString(0).equals(c.trainSplit)) {
          train.add(e);
        } else {
          valid.add(e);
          validProblems.add(new String[] {r.getString(2), r.getString(3)});
        }
      }
      if (train.isEmpty() && trainSkipped > 0) {
        throw new UserError("every sft_demos row of dataset '" + c.dataset + "' split '" + c.trainSplit
            + "' is longer than " + maxLen + " tokens (" + trainSkipped + " skipped): raise sft.max_seq_len and "
            + "sft.model.max_position_embeddings, or import shorter demonstrations");
      }
      if (train.isEmpty()) {
        throw new UserError("no sft_demos rows for dataset '" + c.dataset + "' split '" + c.trainSplit
            + "' in " + lake.path(Tables.SFT_DEMOS) + " (run the data or import stage first)");
      }
      MatmulPeak peak = MatmulPeak.measure(manager);
      double avgLen = train.stream().mapToInt(TokenSequence::length).average().orElse(1);
      double flopsPerToken = model.config().trainingFlopsPerToken(avgLen);
      System.out.printf("sft: %d train / %d valid examples (%d over %d tokens skipped), %,d parameters, "
              + "%.3g training FLOPs per token, %s (every mfu of this run is against it)%n", train.size(),
          valid.size(), skipped, maxLen, model.parameterCount(), flopsPerToken, peak.describe());

      MetricsWriter metrics = new MetricsWriter(ctx, ctx.stage());
      Map<String, Object> provenance = new LinkedHashMap<>();
      provenance.put("run_id", ctx.runId());
      provenance.put("stage", ctx.stage());
      provenance.put("data_versions", Map.of(Tables.SFT_DEMOS, lake.reads().get(Tables.SFT_DEMOS)));
      provenance.put("dataset", c.dataset);
      provenance.put("parent", parent);
      provenance.put("config", c);
      Checkpoints checkpoints = new Checkpoints(ctx, ctx.stage(), "policy", parent, StageConfigs.toJson(c));
      SftTrainer trainer = new SftTrainer(c);
      Progress progress = new Progress(c.maxSteps, "steps").startAt(0);
      if (resumeFrom != null) {
        TrainerState state = TrainerState.read(resumeFrom);
        if (state.iteration() >= c.maxSteps) {
          throw new UserError(ctx.stage() + " --resume: " + resumeFrom + " has finished " + state.iteration()
              + " of sft.max_steps " + c.maxSteps + " steps: nothing to continue (raise max_steps to train on)");
        }
        trainer.resumeFrom(state);
        progress.startAt(state.iteration());
        checkpoints.resumedFrom(resumeFrom);
        ctx.put("resumed_from", resumeFrom);
        System.out.printf("%s: resuming after step %d from %s%n", ctx.stage(), state.iteration(), resumeFrom);
      }
      AccuracyProbe probe = c.evalAccuracyProblems > 0
          ? AccuracyProbe.ofReferences(tok, validProblems.subList(0, Math.min(c.evalAccuracyProblems, validProblems.size())))
          : null;
      long loopStart = System.nanoTime();
      SftTrainer.Result result = checkpoints.training(() -> trainer.train(model, train, valid,
          probe == null ? null : probe::greedyAccuracy,
          new SftTrainer.Hooks() {
            @Override
            public void onStep(SftTrainer.StepStats s) {
              double mfu = peak.mfu(flopsPerToken, s.tokensPerSecond());
              metrics.add(s.step(), "loss", s.loss());
              metrics.add(s.step(), "lr", s.lr());
              metrics.add(s.step(), "grad_norm", s.gradNorm());
              metrics.add(s.step(), "tokens_per_s", s.tokensPerSecond());
              metrics.add(s.step(), "mfu", mfu);
              metrics.add(s.step(), "skipped_steps", s.skippedSteps());
              System.out.printf("sft: step %5d/%d  loss %.4f  lr %.2e  grad_norm %.2f  tokens/s %,.0f  mfu %.1f%%  %s%n",
                  s.step(), c.maxSteps, s.loss(), s.lr(), s.gradNorm(), s.tokensPerSecond(), 100 * mfu,
                  progress.at(s.step()));
            }

            @Override
            public void onEval(SftTrainer.EvalStats e) {
              metrics.add(e.step(), "valid_loss", e.validLoss());
              if (!Double.isNaN(e.validAccuracy())) metrics.add(e.step(), "valid_accuracy", e.validAccuracy());
              System.out.printf("sft: step %5d  valid_loss %.4f  valid_accuracy %s%n", e.step(), e.validLoss(),
                  Double.isNaN(e.validAccuracy()) ? "-" : String.format("%.3f", e.validAccuracy()));
            }

            @Override
            public void onCheckpoint(int step, LlamaModel m, java.util.function.Supplier<TrainerState> state) {
              provenance.put("step", step);
              // Rows first (a kill before the checkpoint: the resumed run's repeat of this flush adds nothing),
              // then the trainer state beside the weights before the row is registered: a registered checkpoint
              // can always be resumed from.
              metrics.flushThroughStep();
              checkpoints.save(step, m, tok, provenance, dir -> state.get().write(dir, Map.of("parent", parent)));
            }
          }), metrics::flushThroughStep);
      double loopSeconds = (System.nanoTime() - loopStart) / 1e9;
      metrics.flushThroughStep();
      double mfu = peak.mfu(flopsPerToken, result.tokensPerSecond());
      double stepShare = Math.min(1.0, result.trainSeconds() / loopSeconds);
      double wallMfu = peak.mfu(flopsPerToken, result.trainedTokens() / loopSeconds);
      // Measured again only as a check, not divided by: a peak that moved much between start and end says the
      // machine's speed changed during the run (other work on shared cores), so its MFU figures are rough.
      MatmulPeak peakEnd = MatmulPeak.measure(manager);
      List<Map<String, Object>> curve = new ArrayList<>();
      for (SftTrainer.EvalStats e : result.curve()) {
        Map<String, Object> point = new LinkedHashMap<>();
        point.put("step", e.step());
        point.put("valid_loss", e.validLoss());
        point.put("valid_accuracy", Double.isNaN(e.validAccuracy()) ? null : e.validAccuracy());
        curve.add(point);
      }
      ctx.put("checkpoint", checkpoints.last())
          .put("parameters", model.parameterCount())
          .put("train_examples", train.size())
          .put("skipped_too_long", skipped)
          .put("steps", result.steps())
          .put("train_loss", result.trainLoss())
          .put("valid_loss", result.validLoss())
          .put("valid_accuracy", Double.isNaN(result.validAccuracy()) ? null : result.validAccuracy())
          .put("tokens", result.trainedTokens())
          .put("train_seconds", result.trainSeconds())
          .put("tokens_per_s", result.tokensPerSecond())
          .put("loop_seconds", loopSeconds)
          .put("step_share", stepShare)
          .put("flops_per_token", flopsPerToken)
          .put("matmul_peak_flops", peak.flopsPerSecond())
          .put("matmul_peak_threads", peak.threads())
          .put("matmul_peak_flops_at_end", peakEnd.flopsPerSecond())
          .put("mfu", mfu)
          .put("wall_mfu", wallMfu)
          .put("valid_curve", curve);
      String mfuLine = String.format("mfu %.1f%% in steps, wall_mfu %.1f%% (%.0f%% of the time in steps), %s",
          100 * mfu, 100 * wallMfu, 100 * stepShare, peak.describe());
      ctx.summary(String.format("%d steps on %d demonstrations, valid loss %.4f, valid accuracy %s, %,.0f tokens/s, %s",
          result.steps(), train.size(), result.validLoss(),
          Double.isNaN(result.validAccuracy()) ? "-" : String.format("%.3f", result.validAccuracy()),
          result.tokensPerSecond(), mfuLine));
      double drift = Math.max(peakEnd.flopsPerSecond(), peak.flopsPerSecond())
          / Math.min(peakEnd.flopsPerSecond(), peak.flopsPerSecond());
      if (drift > 1.5) {
        System.out.printf("sft: note: the matmul peak read %.1f GFLOP/s at the start and %.1f at the end: other work "
                + "shared the cores, so this run's mfu figures are uncertain by a factor of %.1f%n",
            peak.flopsPerSecond() / 1e9, peakEnd.flopsPerSecond() / 1e9, drift);
      }
      System.out.printf("sft: done  train_loss %.4f  valid_loss %.4f  tokens/s %,.0f  %s (%.1f GFLOP/s at the end)  "
              + "checkpoint %s%n", result.trainLoss(), result.validLoss(), result.tokensPerSecond(), mfuLine,
          peakEnd.flopsPerSecond() / 1e9, checkpoints.last());
      model.close();
    }
  }
}
