package org.sparkrlhf.jobs.stages;

import ai.djl.ndarray.NDManager;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.run.Progress;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.rl.RlConfig;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.core.train.TrainerState;
import org.sparkrlhf.grpo.rl.InProcessRollouts;
import org.sparkrlhf.grpo.rl.RewardModel;
import org.sparkrlhf.grpo.rl.RolloutSource;
import org.sparkrlhf.grpo.rl.SparkRollouts;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardSpec;
import org.sparkrlhf.reward.rules.RuleRewarder;
import org.sparkrlhf.rollouts.engine.Completion;

/**
 * The stage of an online RL algorithm on the shared loop ({@link RlTrainer}); {@code grpo} is one ({@link GrpoStage}).
 * Starts from the newest {@code policy} checkpoint of stage {@code <section>.init_model} in this run (or
 * {@code <section>.init_checkpoint}); the reference is a frozen copy of that start. Each iteration's rollouts go to
 * {@code rollouts} (once per run/iteration, reward and parts filled), its metrics to {@code metrics}; checkpoints
 * every {@code checkpoint_every} iterations and at the end carry the {@link TrainerState} ({@code
 * trainer_state.safetensors}: AdamW moments and step, and the algorithm's tensors; {@code trainer_state.json}:
 * iteration and the reference's path) beside the weights. {@code --resume} continues after the newest checkpoint of
 * the stage in the run: prompt order and sampling seeds are functions of (seed, iteration), so the rest is the same
 * as an uninterrupted run. A subclass names the stage (its config section is the same name) and makes the trainer.
 *
 * @param <C> the algorithm's config
 */
public abstract class RlStage<C extends RlConfig> implements Stage {
  /** The config class bound from the section {@link #name()}. */
  protected abstract Class<C> configClass();

  /** The algorithm's trainer on the shared loop. */
  protected abstract RlTrainer trainer(C config, LlamaModel policy, LlamaModel reference, TextTokenizer tok,
      List<RlPrompt> prompts, RolloutSource source, Rewarder rewarder);

  @Override
  public List<String> sections() {
    return List.of(name());
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--resume", name() + ".resume=true", "--checkpoint", name() + ".init_checkpoint");
  }

  @Override
  public void check(Config config) {
    C c = StageConfigs.checked(config, name(), configClass(), RlConfig::problems);
    try {
      RuleRewarder.of(c.reward);
      c.reward.learned();
    } catch (IllegalArgumentException e) {
      throw new UserError(name() + ": " + Models.firstLine(e));
    }
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    C c = StageConfigs.bind(config, name(), configClass());
    ctx.put("config", c);
    Lake lake = ctx.lake();
    Models.initEngine(c.threads);

    // Where to start: the newest grpo checkpoint (resume), or the init model.
    String resumeFrom = c.resume ? Checkpoints.resumePoint(lake, ctx.runId(), name()) : null;
    String referencePath = resumeFrom != null
        ? TrainerState.readJson(resumeFrom).path("reference").asText()
        : (c.initCheckpoint != null && !c.initCheckpoint.isBlank()
            ? c.initCheckpoint : Checkpoints.latest(lake, ctx.runId(), c.initModel, "policy"));

    List<RlPrompt> prompts = prompts(lake, c.dataset, c.split, 0);

    List<String[]> probeProblems = new ArrayList<>();
    if (c.evalEvery > 0 && c.evalProblems > 0) {
      for (Row r : lake.read(Tables.PROMPTS)
          .filter(org.apache.spark.sql.functions.col("dataset").equalTo(c.dataset)
              .and(org.apache.spark.sql.functions.col("split").equalTo(c.evalSplit)))
          .select("prompt", "answer").orderBy("id").limit(c.evalProblems).collectAsList()) {
        probeProblems.add(new String[] {r.getString(0), r.isNullAt(1) ? null : r.getString(1)});
      }
    }

    try (NDManager manager = NDManager.newBaseManager()) {
      Models.Loaded ref = Models.load(referencePath, manager);
      TextTokenizer tok = ref.tokenizer();
      LlamaModel reference = ref.model();
      LlamaModel policy = resumeFrom != null ? Models.load(resumeFrom, manager).model() : reference.copy(manager);
      RewardModel rewardModel = rewardModel(c, reference, manager);
      RolloutSource source = c.rolloutsOn.equals("driver")
          ? new InProcessRollouts(tok, c.rolloutBatchSize, rewardModel)
          : new SparkRollouts(ctx.spark(), tok, c.rolloutBatchSize, c.rolloutPartitions, rewardModel);
      Rewarder rewarder = RuleRewarder.of(c.reward);
      RlTrainer trainer = trainer(c, policy, reference, tok, prompts, source, rewarder);
      if (resumeFrom != null) {
        trainer.restore(TrainerState.read(resumeFrom));
        System.out.printf(name() + ": resuming after iteration %d from %s%n", trainer.iteration(), resumeFrom);
      }
      int startIteration = trainer.iteration();
      Progress progress = new Progress(c.iterations, "iters").startAt(startIteration);
      System.out.printf(name() + ": %d prompts, %d x %d samples per iteration%s, iterations %d..%d, reference %s%n",
          prompts.size(), c.promptsPerIteration, c.groupSize,
          c.filterGroups ? " (groups with differing rewards, up to " + c.maxGenerationRounds + " sampling rounds)" : "",
          startIteration + 1, c.iterations, referencePath);

      MetricsWriter metrics = new MetricsWriter(ctx, name());
      AccuracyProbe probe = AccuracyProbe.ofAnswers(tok, probeProblems, c.maxNewTokens);
      if (probe.size() == 0) probe = null;
      List<Map<String, Object>> validCurve = new ArrayList<>();
      if (probe != null) {
        System.out.printf(name() + ": valid accuracy: greedy on %d %s problems, every %d iterations%n", probe.size(),
            c.evalSplit, c.evalEvery);
        if (startIteration == 0) {  // a resumed run probed there already
          probeValid(probe, policy, startIteration, metrics, validCurve);
        }
      }
      Map<String, Object> provenance = new LinkedHashMap<>();
      provenance.put("run_id", ctx.runId());
      provenance.put("stage", name());
      provenance.put("data_versions", Map.of(Tables.PROMPTS, lake.reads().get(Tables.PROMPTS)));
      provenance.put("reference", referencePath);
      if (rewardModel != null) provenance.put("reward_model", rewardModel.checkpoint());
      provenance.put("config", c);
      Checkpoints checkpoints = new Checkpoints(ctx, name(), "policy", referencePath, StageConfigs.toJson(c));
      if (resumeFrom != null) checkpoints.resumedFrom(resumeFrom);
      String lastCheckpoint = resumeFrom;
      double genSeconds = 0;
      double trainSeconds = 0;
      Map<String, Double> last = Map.of();
      // Mean KL to the reference over this invocation's iterations that updated: the k3 term of the loss (never
      // negative, low variance; kl_ref per iteration is k1 over a few hundred sampled tokens and near 0 shows < 0).
      // Without a KL term (kl_coef 0) the loss computes no k3, so there is no figure rather than a 0.
      double klK3Sum = 0;
      int klK3Count = 0;
      List<Map<String, Object>> curve = new ArrayList<>();
      List<Row> pendingRollouts = new ArrayList<>();
      while (trainer.hasNext()) {
        // Nothing is flushed on a divergence: what follows the last checkpoint is what --resume regenerates.
        RlTrainer.Iteration it = checkpoints.training(trainer::step, () -> {});
        pendingRollouts.addAll(rolloutRows(ctx, c, it));
        for (Map.Entry<String, Double> e : it.metrics().entrySet()) {
          metrics.add(it.iteration(), e.getKey(), e.getValue());
        }
        Map<String, Double> m = it.metrics();
        genSeconds += m.get("generate_seconds");
        trainSeconds += m.get("train_seconds");
        last = m;
        if (c.klCoef > 0 && m.containsKey("kl_loss")) {
          klK3Sum += m.get("kl_loss");
          klK3Count++;
        }
        Map<String, Object> point = new LinkedHashMap<>();
        point.put("iteration", it.iteration());
        point.put("reward_mean", m.get("reward_mean"));
        point.put("accuracy", m.get("accuracy"));
        point.put("kl_ref", m.get("kl_ref"));
        if (m.containsKey("reward_model_mean")) point.put("reward_model_mean", m.get("reward_model_mean"));
        curve.add(point);
        System.out.printf(name() + ": iter %4d/%d  reward %.3f±%.3f  acc %s  kl %.4f  clip %.3f  entropy %.3f  "
                + "len %.1f  groups %.0f/%.0f  tokens/s %,.0f  gen %.1fs  train %.1fs  %s%n", it.iteration(), c.iterations,
            m.get("reward_mean"), m.get("reward_std"),
            m.containsKey("accuracy") ? String.format("%.3f", m.get("accuracy")) : "-",
            m.getOrDefault("kl_ref", 0.0), m.getOrDefault("clip_fraction", Double.NaN),
            m.getOrDefault("entropy", Double.NaN), m.get("completion_length"),
            m.get("train_groups"), m.get("generation_rounds") * c.promptsPerIteration,
            m.get("tokens_per_s"), m.get("generate_seconds"), m.get("train_seconds"), progress.at(it.iteration()));
        if (probe != null && (it.iteration() % c.evalEvery == 0 || !trainer.hasNext())) {
          probeValid(probe, policy, it.iteration(), metrics, validCurve);
        }
        boolean due = c.checkpointEvery > 0 && it.iteration() % c.checkpointEvery == 0;
        boolean flushDue = due || !trainer.hasNext()
            || (c.writeEvery > 0 && it.iteration() % c.writeEvery == 0);
        if (flushDue) {
          // One Delta commit per table for the iterations since the last flush (a commit costs seconds on a
          // small machine, an iteration ~2 s). Transaction version = last iteration in the batch, so a re-run
          // adds nothing twice; iterations after the last checkpoint are regenerated identically by --resume.
          ctx.lake().appendOnce(Tables.ROLLOUTS, ctx.lake().frame(Tables.ROLLOUTS, pendingRollouts)
              .drop("created_at"), ctx.runId() + "/" + name() + "/rollouts", it.iteration());
          pendingRollouts.clear();
          metrics.flush(it.iteration());
        }
        if (due || !trainer.hasNext()) {
          provenance.put("step", it.iteration());
          TrainerState state = trainer.state();
          lastCheckpoint = checkpoints.save(it.iteration(), policy, tok, provenance,
              dir -> state.write(dir, Map.of("reference", referencePath, "seed", c.seed)));
        }
      }
      double total = genSeconds + trainSeconds;
      ctx.put("checkpoint", lastCheckpoint)
          .put("reference", referencePath)
          .put("resumed_from", resumeFrom)
          .put("start_iteration", startIteration)
          .put("iterations", trainer.iteration())
          .put("prompts", prompts.size())
          .put("last", last)
          .put("generate_seconds", genSeconds)
          .put("train_seconds", trainSeconds)
          .put("generate_share", total > 0 ? genSeconds / total : null)
          .put("kl_k3_mean", klK3Count > 0 ? klK3Sum / klK3Count : null)
          .put("curve", curve)
          .put("valid_curve", validCurve);
      ctx.summary(String.format("%d iterations, valid accuracy %s, mean KL to reference (k3) %s, generating %.0f%%",
          trainer.iteration(), validCurve.isEmpty() ? "-" : String.format("%.3f -> %.3f",
              (double) validCurve.get(0).get("valid_accuracy"),
              (double) validCurve.get(validCurve.size() - 1).get("valid_accuracy")),
          klK3Count > 0 ? String.format("%.4f", klK3Sum / klK3Count) : "-", total > 0 ? 100 * genSeconds / total : 0));
      System.out.printf(name() + ": done after iteration %d  checkpoint %s  generating %.0f%% of %.1fs%n",
          trainer.iteration(), lastCheckpoint, total > 0 ? 100 * genSeconds / total : 0, total);
      if (source instanceof SparkRollouts spark) {
        // Weight sync against the whole loop's time (generation includes the executors' loads, so the share is of
        // the time actually spent, not added to it).
        ctx.put("rollouts_on", "executors").put("last_weight_sync_seconds", spark.lastSyncSeconds())
            .put("weight_sync_seconds", spark.weightSyncSeconds())
            .put("weight_sync_share", total > 0 ? spark.weightSyncSeconds() / total : null)
            .put("last_rollout_executors", spark.lastExecutors());
        System.out.printf(name() + ": weight sync %.2fs (publishing and executors' loads), %.1f%% of the loop%n",
            spark.weightSyncSeconds(), total > 0 ? 100 * spark.weightSyncSeconds() / total : 0);
        spark.close();
      } else {
        ctx.put("rollouts_on", "driver");
      }
      policy.close();
      reference.close();
    }
  }

  /** The learned reward of the spec's {@code model} entry, loaded on the driver (null for rules only). */
  private RewardModel rewardModel(C c, LlamaModel reference, NDManager manager) {
    RewardSpec.RuleSpec spec = c.reward.learned();
    if (spec == null) return null;
    Models.Loaded rm = Models.load(spec.checkpoint, manager);
    if (!rm.model().hasScoreHead()) {
      throw new UserError(name() + ".reward: checkpoint " + spec.checkpoint + " of rule 'model' has no score head "
          + "(give a reward-model checkpoint, e.g. from the reward stage)");
    }
    if (rm.model().config().vocabSize() != reference.config().vocabSize()) {
      throw new UserError(name() + ".reward: reward model " + spec.checkpoint + " has a vocabulary of "
          + rm.model().config().vocabSize() + " tokens, the policy " + reference.config().vocabSize());
    }
    System.out.printf(name() + ": learned reward %s (weight %s) beside the rules%n", spec.checkpoint, spec.weight);
    return new RewardModel(rm.model(), rm.tokenizer(), spec.weight, spec.checkpoint);
  }

  /** Greedy valid accuracy at an iteration: a metrics row, a point of the report's curve, a log line. */
  private void probeValid(AccuracyProbe probe, LlamaModel policy, int iteration, MetricsWriter metrics,
      List<Map<String, Object>> curve) {
    double acc = probe.greedyAccuracy(policy);
    metrics.add(iteration, "valid_accuracy", acc);
    curve.add(Map.of("iteration", iteration, "valid_accuracy", acc));
    System.out.printf(name() + ": iter %4d  valid accuracy %.3f%n", iteration, acc);
  }

  private List<Row> rolloutRows(RunContext ctx, C c, RlTrainer.Iteration it) {
    List<Row> rows = new ArrayList<>(it.rollouts().size());
    for (RlTrainer.Rollout r : it.rollouts()) {
      rows.add(rolloutRow(ctx.runId(), name(), it.iteration(), c.dataset, r.prompt(), r.completion(),
          it.policyVersion(), r.reward().total(), r.reward().parts(), r.executorId()));
    }
    return rows;
  }

  /**
   * The prompts of a dataset's split in id order (the first {@code limit}; 0 = all); a one-line error when there are
   * none.
   */
  static List<RlPrompt> prompts(Lake lake, String dataset, String split, int limit) {
    org.apache.spark.sql.Dataset<Row> rows = lake.read(Tables.PROMPTS)
        .filter(org.apache.spark.sql.functions.col("dataset").equalTo(dataset)
            .and(org.apache.spark.sql.functions.col("split").equalTo(split)))
        .select("id", "prompt", "answer").orderBy("id");
    List<RlPrompt> prompts = new ArrayList<>();
    for (Row r : (limit > 0 ? rows.limit(limit) : rows).collectAsList()) {
      prompts.add(new RlPrompt(r.getString(0), r.getString(1), r.isNullAt(2) ? null : r.getString(2)));
    }
    if (prompts.isEmpty()) {
      throw new UserError("no prompts for dataset '" + dataset + "' split '" + split + "' in "
          + lake.path(Tables.PROMPTS) + " (run the data or import stage first)");
    }
    return prompts;
  }

  /** A {@code rollouts} row of one sampled completion (created_at left for the lake). */
  static Row rolloutRow(String runId, String stage, int iteration, String dataset, RlPrompt prompt, Completion comp,
      long policyVersion, double reward, Map<String, Double> parts, String executorId) {
    List<Integer> ids = new ArrayList<>(comp.length());
    for (int t : comp.tokenIds()) ids.add(t);
    List<Float> lps = new ArrayList<>(comp.length());
    for (float f : comp.logProbs()) lps.add(f);
    return RowFactory.create(runId, stage, iteration, dataset, prompt.id(), comp.sampleIndex(), prompt.prompt(),
        comp.text(), scala.jdk.javaapi.CollectionConverters.asScala(ids).toSeq(),
        scala.jdk.javaapi.CollectionConverters.asScala(lps).toSeq(), comp.finishReason(), policyVersion, reward,
        scala.jdk.javaapi.CollectionConverters.asScala(parts), executorId, null);
  }
}
