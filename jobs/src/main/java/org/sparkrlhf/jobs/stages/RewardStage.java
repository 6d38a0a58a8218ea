package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;

import ai.djl.ndarray.NDManager;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.sparkrlhf.core.train.TrainerState;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.run.Progress;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.dpo.train.PreferencePairs;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.model.HeadTraining;
import org.sparkrlhf.reward.model.HeldOut;
import org.sparkrlhf.reward.model.RewardConfig;
import org.sparkrlhf.reward.model.RewardMetrics;
import org.sparkrlhf.reward.model.RewardModelTrainer;
import org.sparkrlhf.reward.model.RewardPair;

/**
 * {@code reward}: an outcome reward model (Bradley-Terry) on a dataset of {@code preferences}.
 *
 * <ol>
 *   <li>Reads the pairs of the training split and the held-out pairs (the evaluation split, or a share of the
 *       training split chosen by {@link HeldOut}), ordered by id, and keeps those it can train on, as DPO does
 *       ({@link PreferencePairs}: invalid and too-long pairs are skipped and counted).</li>
 *   <li>Starts from a causal checkpoint (by default the newest {@code policy} checkpoint of stage {@code sft} in this
 *       run) with a new scalar {@code score} head, read at each sequence's last real token.</li>
 *   <li>Trains on the driver with {@link RewardModelTrainer}; every step's TRL metrics go to {@code metrics}
 *       ({@code loss}, {@code accuracy}, {@code margin}, {@code mean_reward}, {@code min_reward}, {@code max_reward},
 *       {@code lr}, {@code grad_norm}), the held-out ones with the prefix {@code eval_} (step 0 = before training);
 *       checkpoints of kind {@code reward} under stage {@code reward}, in transformers' sequence-classification
 *       layout.</li>
 * </ol>
 */
public final class RewardStage implements Stage {
  /** The checkpoint kind, in the {@code checkpoints} table. */
  public static final String KIND = "reward";

  @Override
  public String name() {
    return "reward";
  }

  @Override
  public String description() {
    return "reward model from an sft checkpoint with a new score head: outcome (Bradley-Terry on preferences) or"
        + " process (reward.kind=prm, per-step labels from step_labels)";
  }

  @Override
  public List<String> sections() {
    return List.of("reward");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--resume", "reward.resume=true");
  }

  @Override
  public void check(Config config) {
    StageConfigs.checked(config, "reward", RewardConfig.class, RewardConfig::problems);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    RewardConfig c = StageConfigs.bind(config, "reward", RewardConfig.class);
    ctx.put("config", c);
    Lake lake = ctx.lake();
    Models.initEngine(c.threads);
    if (c.kind.equals("prm")) {
      new ProcessRewardTraining(ctx, c).run();
      return;
    }
    String dataset = PreferenceData.dataset(c.dataset, ctx.runId());
    // A resumed run starts from its newest checkpoint, with the trainer state beside it, and keeps its parent.
    String resumeFrom = c.resume ? Checkpoints.resumePoint(lake, ctx.runId(), "reward", KIND) : null;
    String initPath = resumeFrom != null ? TrainerState.readJson(resumeFrom).path("parent").asText()
        : Checkpoints.orLatest(lake, ctx.runId(), c.initCheckpoint, c.initStage, "policy");

    Dataset<Row> prefs = PreferenceData.read(lake, dataset);
    List<Row> trainRows = new ArrayList<>();
    List<Row> evalRows = new ArrayList<>();
    for (Row r : pairRows(c.split.isBlank() ? prefs : prefs.filter(col("split").equalTo(c.split)))) {
      boolean held = c.evalSplit.isBlank() && HeldOut.isHeldOut(r.getString(0), c.seed, c.evalShare);
      (held ? evalRows : trainRows).add(r);
    }
    if (!c.evalSplit.isBlank()) {
      evalRows = pairRows(prefs.filter(col("split").equalTo(c.evalSplit)));
      if (evalRows.isEmpty()) {
        throw new UserError("no preference pairs for dataset '" + dataset + "' split '" + c.evalSplit
            + "' (reward.eval_split) in " + lake.path(Tables.PREFERENCES));
      }
    }
    if (trainRows.isEmpty()) {
      throw new UserError("no preference pairs to train on for dataset '" + dataset + "'"
          + (c.split.isBlank() ? "" : " split '" + c.split + "'") + " in " + lake.path(Tables.PREFERENCES)
          + " (run the pairs or import stage first)");
    }

    try (NDManager manager = NDManager.newBaseManager()) {
      Models.Loaded start = scoreHeadModel(resumeFrom != null ? resumeFrom : initPath, c.seed, manager);
      LlamaModel model = start.model();
      TextTokenizer tok = start.tokenizer();
      LlamaConfig mc = model.config();
      int maxLen = Math.min(c.maxSeqLen, mc.maxPositionEmbeddings());
      Kept train = keep(trainRows, tok, maxLen);
      Kept eval = keep(evalRows, tok, maxLen);
      if (train.pairs().isEmpty()) {
        model.close();
        throw new UserError("none of the " + trainRows.size() + " training pairs of '" + dataset + "' is trainable ("
            + train.encoded().invalid() + " invalid, " + train.encoded().tooLong() + " over " + maxLen + " tokens)");
      }
      System.out.printf("reward: %d training and %d held-out pairs of '%s' (%d invalid, %d over %d tokens skipped);"
              + " from %s%n", train.pairs().size(), eval.pairs().size(), dataset,
          train.encoded().invalid() + eval.encoded().invalid(), train.encoded().tooLong() + eval.encoded().tooLong(),
          maxLen, initPath);

      MetricsWriter metrics = new MetricsWriter(ctx, "reward");
      Map<String, Object> provenance = new LinkedHashMap<>();
      provenance.put("run_id", ctx.runId());
      provenance.put("stage", "reward");
      provenance.put("data_versions", Map.of(Tables.PREFERENCES, lake.reads().get(Tables.PREFERENCES)));
      provenance.put("dataset", dataset);
      provenance.put("parent", initPath);
      provenance.put("config", c);
      Checkpoints checkpoints = new Checkpoints(ctx, "reward", KIND, initPath, StageConfigs.toJson(c));
      String[] lastCheckpoint = new String[1];
      RewardModelTrainer trainer = new RewardModelTrainer(c);
      int total = trainer.plannedSteps(train.pairs().size());
      TrainerState resume = null;
      if (resumeFrom != null) {
        resume = TrainerState.read(resumeFrom);
        if (resume.iteration() >= total) {
          model.close();
          throw new UserError("reward --resume: " + resumeFrom + " has finished " + resume.iteration() + " of "
              + total + " steps; nothing to resume (raise reward.max_steps or reward.epochs to train further)");
        }
        checkpoints.resumedFrom(resumeFrom);
        ctx.put("resumed_from", resumeFrom);
        System.out.printf("reward: resuming after step %d from %s%n", resume.iteration(), resumeFrom);
      }
      TrainerState resumeState = resume;
      Progress progress = new Progress(total, "steps").startAt(resume != null ? resume.iteration() : 0);
      HeadTraining.Result<RewardMetrics> result = checkpoints.training(() -> trainer.train(model, train.pairs(), eval.pairs(),
          new HeadTraining.Hooks<RewardMetrics>() {
            @Override
            public void onStep(HeadTraining.Step<RewardMetrics> s) {
              metrics.add(s.step(), "lr", s.lr());
              metrics.add(s.step(), "grad_norm", s.gradNorm());
              metrics.add(s.step(), "skipped_steps", s.skippedSteps());
              s.metrics().asMap("").forEach((k, v) -> metrics.add(s.step(), k, v));
              if (s.step() % c.logEvery == 0 || s.step() == total) {
                System.out.printf("reward: step %4d/%d  loss %.4f  accuracy %.3f  margin %.4f  %s%n", s.step(), total,
                    s.metrics().loss(), s.metrics().accuracy(), s.metrics().margin(), progress.at(s.step()));
              }
            }

            @Override
            public void onEval(int step, RewardMetrics m) {
              m.asMap("eval_").forEach((k, v) -> metrics.add(step, k, v));
              System.out.printf("reward: held-out after step %d  loss %.4f  accuracy %.3f  margin %.4f%n", step,
                  m.loss(), m.accuracy(), m.margin());
            }

            @Override
            public void onCheckpoint(int step, LlamaModel m, Supplier<TrainerState> state) {
              provenance.put("step", step);
              // Rows first, as in sft: a resumed run's repeat of this flush adds nothing.
              metrics.flushThroughStep();
              lastCheckpoint[0] = checkpoints.save(step, m, tok, provenance,
                  dir -> state.get().write(dir, Map.of("parent", initPath)));
            }
          }, resumeState), metrics::flushThroughStep);
      metrics.flushThroughStep();
      ctx.put("dataset", dataset)
          .put("init_checkpoint", initPath)
          .put("pairs_read", trainRows.size() + evalRows.size())
          .put("pairs", result.examples())
          .put("eval_pairs", eval.pairs().size())
          .put("skipped_invalid", train.encoded().invalid() + eval.encoded().invalid())
          .put("skipped_too_long", train.encoded().tooLong() + eval.encoded().tooLong())
          .put("steps", result.steps())
          .put("first_step", stepReport(result.first()))
          .put("last_step", stepReport(result.last()))
          .put("eval_before", result.evalBefore() == null ? null : result.evalBefore().asMap("eval_"))
          .put("eval_after", result.evalAfter() == null ? null : result.evalAfter().asMap("eval_"))
          .put("train_seconds", result.trainSeconds())
          .put("checkpoint", lastCheckpoint[0]);
      RewardMetrics last = result.last().metrics();
      ctx.summary(String.format("%d pairs, %d steps, last loss %.4f accuracy %.3f%s", result.examples(), result.steps(),
          last.loss(), last.accuracy(), result.evalAfter() == null ? ", no held-out pairs"
              : String.format("; held-out accuracy %.3f (before training %.3f) on %d pairs",
                  result.evalAfter().accuracy(), result.evalBefore().accuracy(), eval.pairs().size())));
      model.close();
    }
  }

  /**
   * The starting checkpoint with a score head (a new one drawn from {@code seed}, or the checkpoint's own), and its
   * tokenizer; a checkpoint without a pad token distinct from eos is a one-line error, since the head of an outcome
   * model is read at the last token that is not padding.
   */
  static Models.Loaded scoreHeadModel(String initPath, long seed, NDManager manager) {
    LlamaModel model;
    TextTokenizer tok;
    try (HfCheckpoint start = Models.checkpoint("starting checkpoint", initPath, manager)) {
      tok = Models.tokenizer(initPath, start);
      model = start.model().withScoreHead(seed, manager);
    }
    LlamaConfig mc = model.config();
    if (mc.padTokenId() < 0 || mc.padTokenId() == mc.eosTokenId()) {
      model.close();
      throw new UserError("checkpoint " + initPath + " has " + (mc.padTokenId() < 0 ? "no pad token"
          : "pad = eos") + ": a reward model is read at the last token that is not padding, so it needs a pad"
          + " token distinct from eos");
    }
    return new Models.Loaded(model, tok, initPath, java.util.Map.of());
  }

  /** The columns a pair is read from: {@link PreferencePairs#COLUMNS}, then the margin. */
  private static List<Row> pairRows(Dataset<Row> prefs) {
    List<String> cols = new ArrayList<>(List.of(PreferencePairs.COLUMNS));
    cols.add("margin");
    return prefs.selectExpr(cols.toArray(new String[0])).orderBy("id").collectAsList();
  }

  /** The trainable pairs of some rows, with their margins (a null margin is 0), and the encoding's counts. */
  private record Kept(List<RewardPair> pairs, PreferencePairs.Encoded encoded) {}

  private static Kept keep(List<Row> rows, TextTokenizer tok, int maxLen) {
    Map<String, Double> margins = new LinkedHashMap<>();
    for (Row r : rows) margins.put(r.getString(0), r.isNullAt(4) ? 0.0 : r.getDouble(4));
    PreferencePairs.Encoded encoded = PreferencePairs.encode(rows.stream().map(PreferencePairs.Pair::of).toList(),
        tok, maxLen);
    List<RewardPair> pairs = encoded.kept().stream().map(k -> new RewardPair(k.pair().id(), k.example().chosen(),
        k.example().rejected(), margins.get(k.pair().id()))).toList();
    return new Kept(pairs, encoded);
  }

  private static Map<String, Object> stepReport(HeadTraining.Step<RewardMetrics> s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("step", s.step());
    m.put("lr", s.lr());
    m.put("grad_norm", s.gradNorm());
    m.putAll(s.metrics().asMap(""));
    return m;
  }
}
