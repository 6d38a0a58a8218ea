package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.batch.StepSequence;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.core.task.Expression;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.reward.model.HeadTraining;
import org.sparkrlhf.reward.model.HeldOut;
import org.sparkrlhf.reward.model.RewardConfig;
import org.sparkrlhf.reward.process.PrmMetrics;
import org.sparkrlhf.reward.process.PrmTrainer;
import org.sparkrlhf.reward.process.StepExample;

/**
 * {@code reward} with {@code reward.kind = prm}: a process reward model on a {@code step_labels} dataset.
 *
 * <ol>
 *   <li>Reads the rows of the training split and the held-out ones (the evaluation split of
 *       {@code eval_dataset}, or a share of the training rows chosen by {@link HeldOut}), ordered by id. A row becomes
 *       [bos]+prompt+step₁+"\n"+… with its label on each step's newline ({@link StepSequence}); the soft labels with
 *       {@code soft_labels} where a row has them. Rows without steps or over {@code max_seq_len} tokens are skipped
 *       and counted.</li>
 *   <li>Starts from a causal checkpoint (by default this run's newest sft policy) with a new score head and trains
 *       it with {@link PrmTrainer}: every step's metrics to {@code metrics} under stage {@code prm}, the held-out
 *       ones with the prefix {@code eval_}; checkpoints of kind {@code prm} under stage {@code prm}.</li>
 *   <li>Where the held-out prompts are the built-in task's, the model is also measured against the checker's own
 *       step labels ({@link Checker#labelSteps}), the truth whatever the dataset's labels were made from:
 *       {@code eval_checker_*} at the last step, and in the report.</li>
 * </ol>
 */
final class ProcessRewardTraining {
  /** The checkpoint kind and the stage name its checkpoints and metrics go under. */
  static final String KIND = "prm";

  private final RunContext ctx;
  private final RewardConfig c;

  ProcessRewardTraining(RunContext ctx, RewardConfig c) {
    this.ctx = ctx;
    this.c = c;
  }

  /** A row as read: id, prompt, steps, labels (soft or hard, in [0, 1]). */
  private record LabelledRow(String id, String prompt, List<String> steps, float[] labels) {}

  void run() {
    Lake lake = ctx.lake();
    String dataset = c.stepDataset.isBlank() ? "arith" : c.stepDataset;
    String initPath = Checkpoints.orLatest(lake, ctx.runId(), c.initCheckpoint, c.initStage, "policy");
    List<LabelledRow> trainRows = new ArrayList<>();
    List<LabelledRow> evalRows = new ArrayList<>();
    for (LabelledRow r : rows(lake, dataset, c.split)) {
      boolean held = c.evalSplit.isBlank() && HeldOut.isHeldOut(r.id(), c.seed, c.evalShare);
      (held ? evalRows : trainRows).add(r);
    }
    String evalDataset = c.evalDataset.isBlank() ? dataset : c.evalDataset;
    if (!c.evalSplit.isBlank()) {
      evalRows = rows(lake, evalDataset, c.evalSplit);
      if (evalRows.isEmpty()) {
        throw new UserError("no step_labels rows for dataset '" + evalDataset + "' split '" + c.evalSplit
            + "' (reward.eval_split) in " + lake.path(Tables.STEP_LABELS));
      }
    }
    if (trainRows.isEmpty()) {
      throw new UserError("no step_labels rows to train on for dataset '" + dataset + "'"
          + (c.split.isBlank() ? "" : " split '" + c.split + "'") + " in " + lake.path(Tables.STEP_LABELS)
          + " (run the data, shepherd or import stage first)");
    }

    try (NDManager manager = NDManager.newBaseManager()) {
      Models.Loaded start = RewardStage.scoreHeadModel(initPath, c.seed, manager);
      LlamaModel model = start.model();
      TextTokenizer tok = start.tokenizer();
      int maxLen = Math.min(c.maxSeqLen, model.config().maxPositionEmbeddings());
      Kept train = keep(trainRows, tok, maxLen);
      Kept eval = keep(evalRows, tok, maxLen);
      List<StepExample> truth = checkerLabelled(evalRows, tok, maxLen);
      if (train.examples().isEmpty()) {
        model.close();
        throw new UserError("none of the " + trainRows.size() + " step_labels rows of '" + dataset + "' is trainable ("
            + train.noSteps() + " without steps, " + train.tooLong() + " over " + maxLen + " tokens)");
      }
      System.out.printf("reward (prm): %d training and %d held-out solutions of '%s' (%d without steps, %d over %d"
              + " tokens skipped); %d held-out solutions checkable by the task's checker; from %s%n",
          train.examples().size(), eval.examples().size(), dataset, train.noSteps() + eval.noSteps(),
          train.tooLong() + eval.tooLong(), maxLen, truth.size(), initPath);

      MetricsWriter metrics = new MetricsWriter(ctx, KIND);
      Map<String, Object> provenance = new LinkedHashMap<>();
      provenance.put("run_id", ctx.runId());
      provenance.put("stage", KIND);
      provenance.put("data_versions", Map.of(Tables.STEP_LABELS, lake.reads().get(Tables.STEP_LABELS)));
      provenance.put("dataset", dataset);
      provenance.put("parent", initPath);
      provenance.put("config", c);
      Checkpoints checkpoints = new Checkpoints(ctx, KIND, KIND, initPath, StageConfigs.toJson(c));
      String[] lastCheckpoint = new String[1];
      PrmTrainer trainer = new PrmTrainer(c);
      int total = trainer.plannedSteps(train.examples().size());
      HeadTraining.Result<PrmMetrics> result = checkpoints.training(() -> trainer.train(model, train.examples(), eval.examples(),
          new HeadTraining.Hooks<PrmMetrics>() {
            @Override
            public void onStep(HeadTraining.Step<PrmMetrics> s) {
              metrics.add(s.step(), "lr", s.lr());
              metrics.add(s.step(), "grad_norm", s.gradNorm());
              metrics.add(s.step(), "skipped_steps", s.skippedSteps());
              s.metrics().asMap("").forEach((k, v) -> addFinite(metrics, s.step(), k, v));
              if (s.step() % c.logEvery == 0 || s.step() == total) {
                System.out.printf("reward (prm): step %4d/%d  loss %.4f  step accuracy %.3f  wrong steps %.3f%n",
                    s.step(), total, s.metrics().loss(), s.metrics().accuracy(), s.metrics().accuracyWrongSteps());
              }
            }

            @Override
            public void onEval(int step, PrmMetrics m) {
              m.asMap("eval_").forEach((k, v) -> addFinite(metrics, step, k, v));
              System.out.printf("reward (prm): held-out after step %d  loss %.4f  step accuracy %.3f  correct steps"
                  + " %.3f  wrong steps %.3f  solutions %.3f%n", step, m.loss(), m.accuracy(),
                  m.accuracyCorrectSteps(), m.accuracyWrongSteps(), m.solutionAccuracy());
            }

            @Override
            public void onCheckpoint(int step, LlamaModel m) {
              provenance.put("step", step);
              lastCheckpoint[0] = checkpoints.save(step, m, tok, provenance);
              metrics.flush();
            }
          }), metrics::flush);
      PrmMetrics checked = trainer.evaluate(model, truth);
      if (checked != null) {
        checked.asMap("eval_checker_").forEach((k, v) -> addFinite(metrics, result.steps(), k, v));
        System.out.printf("reward (prm): against the checker's labels on %d held-out solutions: step accuracy %.3f"
                + "  correct steps %.3f  wrong steps %.3f  solutions %.3f%n", truth.size(), checked.accuracy(),
            checked.accuracyCorrectSteps(), checked.accuracyWrongSteps(), checked.solutionAccuracy());
      }
      metrics.flush();
      ctx.put("kind", KIND)
          .put("dataset", dataset)
          .put("eval_dataset", c.evalSplit.isBlank() ? dataset : evalDataset)
          .put("init_checkpoint", initPath)
          .put("rows_read", trainRows.size() + evalRows.size())
          .put("solutions", result.examples())
          .put("eval_solutions", eval.examples().size())
          .put("skipped_no_steps", train.noSteps() + eval.noSteps())
          .put("skipped_too_long", train.tooLong() + eval.tooLong())
          .put("steps", result.steps())
          .put("last_step", result.last().metrics().asMap(""))
          .put("eval_before", result.evalBefore() == null ? null : result.evalBefore().asMap("eval_"))
          .put("eval_after", result.evalAfter() == null ? null : result.evalAfter().asMap("eval_"))
          .put("eval_checker", checked == null ? null : checked.asMap("eval_checker_"))
          .put("train_seconds", result.trainSeconds())
          .put("checkpoint", lastCheckpoint[0]);
      ctx.summary(String.format("process reward model: %d solutions, %d steps, last loss %.4f%s%s", result.examples(),
          result.steps(), result.last().metrics().loss(), result.evalAfter() == null ? ", no held-out solutions"
              : String.format("; held-out step accuracy %.3f (wrong steps %.3f)", result.evalAfter().accuracy(),
                  result.evalAfter().accuracyWrongSteps()),
          checked == null ? "" : String.format("; against the checker %.3f (wrong steps %.3f) on %d solutions",
              checked.accuracy(), checked.accuracyWrongSteps(), truth.size())));
      model.close();
    }
  }

  /** NaN (no wrong step in a batch) is not a value the metrics table holds: it is left out. */
  private static void addFinite(MetricsWriter metrics, long step, String name, double v) {
    if (Double.isFinite(v)) metrics.add(step, name, v);
  }

  private List<LabelledRow> rows(Lake lake, String dataset, String split) {
    Dataset<Row> df = lake.read(Tables.STEP_LABELS).filter(col("dataset").equalTo(dataset));
    if (!split.isBlank()) df = df.filter(col("split").equalTo(split));
    List<LabelledRow> out = new ArrayList<>();
    for (Row r : df.select("id", "prompt", "steps", "labels", "soft_labels").orderBy("id").collectAsList()) {
      List<String> steps = r.getList(2);
      List<Boolean> hard = r.getList(3);
      List<Double> soft = r.isNullAt(4) ? null : r.getList(4);
      float[] labels = new float[hard.size()];
      for (int k = 0; k < labels.length; k++) {
        boolean useSoft = c.softLabels && soft != null && k < soft.size() && soft.get(k) != null;
        labels[k] = useSoft ? soft.get(k).floatValue() : Boolean.TRUE.equals(hard.get(k)) ? 1f : 0f;
      }
      out.add(new LabelledRow(r.getString(0), r.getString(1), steps, labels));
    }
    return out;
  }

  private record Kept(List<StepExample> examples, int noSteps, int tooLong) {}

  private static Kept keep(List<LabelledRow> rows, TextTokenizer tok, int maxLen) {
    List<StepExample> out = new ArrayList<>();
    int noSteps = 0;
    int tooLong = 0;
    for (LabelledRow r : rows) {
      if (r.steps().isEmpty()) {
        noSteps++;
        continue;
      }
      StepSequence s = StepSequence.encode(tok, r.prompt(), r.steps());
      if (s.sequence().length() > maxLen) {
        tooLong++;
        continue;
      }
      out.add(new StepExample(r.id(), s, r.labels()));
    }
    return new Kept(out, noSteps, tooLong);
  }

  /**
   * The held-out rows of the built-in task relabelled by its checker: each step judged against the true reduction,
   * through the first wrong one (the rows' own convention), so a model trained on automatic labels is measured
   * against the truth. Rows whose prompt holds no expression of the task are left out.
   */
  private static List<StepExample> checkerLabelled(List<LabelledRow> rows, TextTokenizer tok, int maxLen) {
    List<StepExample> out = new ArrayList<>();
    for (LabelledRow r : rows) {
      Expression start = Expression.tryParse(Checker.expressionOf(r.prompt()));
      if (start == null || r.steps().isEmpty()) continue;
      List<Boolean> truth = Checker.labelSteps(start, r.steps());
      StepSequence s = StepSequence.encode(tok, r.prompt(), r.steps().subList(0, truth.size()));
      if (s.sequence().length() > maxLen) continue;
      float[] y = new float[truth.size()];
      for (int k = 0; k < y.length; k++) y[k] = truth.get(k) ? 1f : 0f;
      out.add(new StepExample(r.id(), s, y));
    }
    return out;
  }
}
