package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.rules.MajorityVote;
import org.sparkrlhf.rollouts.engine.SamplingParams;
import org.sparkrlhf.rollouts.spark.DistributedRollouts;
import org.sparkrlhf.rollouts.spark.ModelBroadcast;

/**
 * {@code selftrain}: self-improvement without labels (Huang et al. 2022, "Large Language Models Can Self-Improve").
 * Each round, from the previous round's policy:
 *
 * <ol>
 *   <li>samples {@code samples} solutions of every prompt on the executors (to {@code rollouts}, stage
 *       {@code selftrain}, iteration = the round);</li>
 *   <li>takes each prompt's majority final answer ({@link MajorityVote}) and keeps the prompts whose vote is
 *       confident (the winner's share of all samples above {@code confidence}, no tie), and of them up to
 *       {@code max_per_prompt} distinct solutions that agree with the vote;</li>
 *   <li>writes those to {@code sft_demos} (dataset {@code <dataset>-selftrain-<run>}, ids naming the round) and
 *       fine-tunes the policy on them; the round's checkpoint goes under stage {@code selftrain} at step = round.</li>
 * </ol>
 * No reference answer is read: the prompts' {@code answer} column is never selected. The report says how often the
 * vote was right and how many prompts passed the filter, judged by the built-in task's checker from the prompt's
 * own expression (for the report only; nothing it says reaches the data).
 */
public final class SelfTrainStage implements Stage {
  @Override
  public String name() {
    return "selftrain";
  }

  @Override
  public String description() {
    return "self-training: sample unlabeled prompts, keep majority-vote-confident solutions, fine-tune; in rounds";
  }

  @Override
  public List<String> sections() {
    return List.of("selftrain");
  }

  @Override
  public void check(Config config) {
    StageConfigs.checked(config, "selftrain", SelfTrainConfig.class, SelfTrainConfig::problems);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    SelfTrainConfig c = StageConfigs.bind(config, "selftrain", SelfTrainConfig.class);
    Models.initEngine(c.threads);
    Lake lake = ctx.lake();
    String policy = Checkpoints.orLatest(lake, ctx.runId(), c.initCheckpoint, c.initStage, "policy");
    // The answer column is never read: only ids and prompt text.
    Dataset<Row> prompts = lake.read(Tables.PROMPTS)
        .filter(col("dataset").equalTo(c.dataset).and(col("split").equalTo(c.split)))
        .select(col("id").as("prompt_id"), col("prompt"), col("dataset")).orderBy("prompt_id");
    if (c.offset > 0) prompts = prompts.offset(c.offset);
    if (c.prompts > 0) prompts = prompts.limit(c.prompts);
    prompts = prompts.cache();
    long nPrompts = prompts.count();
    if (nPrompts == 0) {
      throw new UserError("no prompts for dataset '" + c.dataset + "' split '" + c.split + "' (run the data stage first)");
    }
    String demosDataset = c.dataset + "-selftrain-" + ctx.runId();
    MetricsWriter metrics = new MetricsWriter(ctx, ctx.stage());
    Checkpoints checkpoints = new Checkpoints(ctx, ctx.stage(), "policy", policy, StageConfigs.toJson(c));
    List<Map<String, Object>> roundsReport = new ArrayList<>();
    for (int round = 1; round <= c.rounds; round++) {
      long t0 = System.nanoTime();
      List<Row> sampled = sample(ctx, c, prompts, policy, round);
      double generateSeconds = (System.nanoTime() - t0) / 1e9;

      Map<String, String> promptText = new TreeMap<>();
      Map<String, String[]> byPrompt = new TreeMap<>();
      for (Row r : sampled) {
        String id = r.getString(0);
        promptText.put(id, r.getString(2));
        byPrompt.computeIfAbsent(id, k -> new String[c.samples])[r.getInt(1)] = r.getString(3);
      }
      List<Row> kept = new ArrayList<>();
      int confident = 0;
      int withWinner = 0;
      int winnerRight = 0;
      int confidentRight = 0;
      int keptRight = 0;
      for (Map.Entry<String, String[]> e : byPrompt.entrySet()) {
        List<String> samples = List.of(e.getValue());
        MajorityVote vote = MajorityVote.of(samples);
        String prompt = promptText.get(e.getKey());
        List<Integer> agree = vote.agreeing(samples);
        boolean right = !agree.isEmpty() && Checker.grade(prompt, samples.get(agree.get(0))).correct();
        if (vote.answer() != null) withWinner++;
        if (right) winnerRight++;
        if (!vote.confident(c.confidence)) continue;
        confident++;
        if (right) confidentRight++;
        LinkedHashSet<String> distinct = new LinkedHashSet<>();
        for (int i : agree) {
          if (c.maxPerPrompt > 0 && distinct.size() >= c.maxPerPrompt) break;
          distinct.add(samples.get(i));
        }
        int k = 0;
        for (String solution : distinct) {
          if (Checker.grade(prompt, solution).correct()) keptRight++;
          kept.add(RowFactory.create(demosDataset, "train", e.getKey() + "-r" + round + "-" + k++, prompt, solution,
              "selftrain:run=" + ctx.runId() + ",round=" + round + ",policy=" + policy, ctx.runId(), null));
        }
      }
      if (kept.isEmpty()) {
        throw new UserError("selftrain round " + round + ": no prompt's vote is confident above " + c.confidence
            + " (lower selftrain.confidence, or sample more)");
      }
      long demosVersion = lake.insertNew(Tables.SFT_DEMOS, lake.frame(Tables.SFT_DEMOS, kept).drop("created_at"));

      Map<String, Object> provenance = new LinkedHashMap<>();
      provenance.put("round", round);
      provenance.put("config", c);
      FineTune.Done done = FineTune.run(ctx, c, c.steps, c.batchSize, c.seed + round, c.maxSeqLen, policy,
          kept.stream().map(k -> new String[] {k.getString(3), k.getString(4)}).toList(), checkpoints, round,
          demosVersion, provenance);
      policy = done.checkpoint();
      double[] trained = {done.trainLoss(), done.trainSeconds()};
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("round", round);
      r.put("prompts", byPrompt.size());
      r.put("vote_accuracy", (double) winnerRight / byPrompt.size());
      r.put("prompts_with_an_answer", withWinner);
      r.put("confident_prompts", confident);
      r.put("confident_vote_accuracy", confident == 0 ? null : (double) confidentRight / confident);
      r.put("kept_solutions", kept.size());
      r.put("kept_correct_share", (double) keptRight / kept.size());
      r.put("sft_demos_version", demosVersion);
      r.put("train_loss", trained[0]);
      r.put("generate_seconds", generateSeconds);
      r.put("train_seconds", trained[1]);
      r.put("checkpoint", policy);
      roundsReport.add(r);
      for (String k : List.of("vote_accuracy", "confident_prompts", "confident_vote_accuracy", "kept_solutions",
          "kept_correct_share", "train_loss", "generate_seconds", "train_seconds")) {
        if (r.get(k) instanceof Number n && Double.isFinite(n.doubleValue())) {
          metrics.add(round, "selftrain/" + k, n.doubleValue());
        }
      }
      metrics.flush();
      System.out.printf("selftrain: round %d  vote right on %.1f %% of %d prompts; %d confident (vote right on %.1f %%)"
              + "; %d solutions kept (%.1f %% correct); fine-tuned %d steps, loss %.4f%n", round,
          100.0 * winnerRight / byPrompt.size(), byPrompt.size(), confident,
          confident == 0 ? 0 : 100.0 * confidentRight / confident, kept.size(), 100.0 * keptRight / kept.size(),
          c.steps, trained[0]);
    }
    Map<String, Object> last = roundsReport.get(roundsReport.size() - 1);
    ctx.put("dataset", c.dataset).put("sft_demos_dataset", demosDataset).put("prompts", nPrompts)
        .put("rounds", roundsReport).put("checkpoint", policy);
    ctx.summary(String.format("%d rounds on %d unlabeled prompts; last round: %s confident prompts, %s solutions kept"
            + " (%.1f %% correct by the checker), vote right on %.1f %%", c.rounds, nPrompts,
        last.get("confident_prompts"), last.get("kept_solutions"), 100 * (double) last.get("kept_correct_share"),
        100 * (double) last.get("vote_accuracy")));
  }

  /** The round's samples (prompt id, sample index, prompt, completion), written to {@code rollouts} and read back. */
  private static List<Row> sample(RunContext ctx, SelfTrainConfig c, Dataset<Row> prompts, String policy, int round) {
    Lake lake = ctx.lake();
    ModelBroadcast broadcast = Models.publish(ctx.spark(), "checkpoint", policy, "policy", round);
    try {
      SamplingParams sampling = new SamplingParams(c.temperature, 0, 1.0, c.maxNewTokens, List.of(), c.seed + round);
      DistributedRollouts.Options o = DistributedRollouts.Options.of(ctx.runId(), ctx.stage(), round, c.samples,
          sampling).withDataset(c.dataset).withBatchSize(c.generationBatchSize);
      lake.appendOnce(Tables.ROLLOUTS, DistributedRollouts.generate(prompts, broadcast, o),
          ctx.runId() + "/" + ctx.stage() + "/rollouts", round);
    } finally {
      broadcast.destroy();
    }
    return lake.read(Tables.ROLLOUTS).filter(col("run_id").equalTo(ctx.runId())
            .and(col("stage").equalTo(ctx.stage())).and(col("iteration").equalTo(round)))
        .select("prompt_id", "sample_index", "prompt", "completion").collectAsList();
  }
}
