package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.bestofn.BestOfN;
import org.sparkrlhf.reward.bestofn.Candidate;
import org.sparkrlhf.reward.bestofn.Pickers;
import org.sparkrlhf.reward.rules.OutcomeGrading;
import org.sparkrlhf.reward.rules.RewardRules;
import org.sparkrlhf.rollouts.engine.SamplingParams;
import org.sparkrlhf.rollouts.spark.DistributedRollouts;
import org.sparkrlhf.rollouts.spark.ModelBroadcast;
import org.sparkrlhf.rollouts.spark.RewardScorer;
import org.sparkrlhf.rollouts.spark.StepRewardScorer;

/**
 * {@code bestofn}: M samples per problem of a split, drawn on the executors from a policy checkpoint and (with
 * {@code reward_model}, {@code process_reward_model}) scored there by an outcome and a process reward model; then, for
 * every N, the accuracy of each picker ({@link Pickers}: {@code first}, {@code majority}, {@code orm},
 * {@code prm_product}, {@code prm_min}) by Lightman et al.'s protocol ({@link BestOfN}:
 * {@code draws} random subsets of N per problem, mean and spread), each picker compared problem by problem with
 * {@code baseline}. The samples go to {@code rollouts} (stage {@code bestofn}, with the reward model's score as the
 * reward and parts {@code correct_answer}, {@code orm}, {@code prm_product} and {@code prm_min}), the curves to {@code metrics}
 * ({@code best_of_n/<picker>} and {@code best_of_n/<picker>_std} at step N) and the report.
 */
public final class BestOfNStage implements Stage {
  @Override
  public String name() {
    return "bestofn";
  }

  @Override
  public String description() {
    return "best-of-N: M samples per problem on the executors; accuracy vs N of first, majority, ORM and PRM picks";
  }

  @Override
  public List<String> sections() {
    return List.of("bestofn");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--checkpoint", "bestofn.checkpoint", "--split", "bestofn.split");
  }

  @Override
  public void check(Config config) {
    BestOfNConfig c = StageConfigs.checked(config, "bestofn", BestOfNConfig.class, BestOfNConfig::problems);
    List<String> known = pickers(c);
    if (!known.contains(c.baseline)) {
      throw new UserError("bestofn.baseline '" + c.baseline + "' is not one of the pickers this run has: "
          + String.join(", ", known));
    }
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    BestOfNConfig c = StageConfigs.bind(config, "bestofn", BestOfNConfig.class);
    Models.initEngine(c.threads);
    Lake lake = ctx.lake();
    String checkpoint = c.checkpoint.isBlank() ? Checkpoints.latest(lake, ctx.runId(), c.model, "policy") : c.checkpoint;
    Dataset<Row> prompts = lake.read(Tables.PROMPTS)
        .filter(col("dataset").equalTo(c.dataset).and(col("split").equalTo(c.split)))
        .select(col("id").as("prompt_id"), col("prompt"), col("dataset"), col("answer")).orderBy("prompt_id");
    if (c.limit > 0) prompts = prompts.limit(c.limit);
    Map<String, String> answers = new HashMap<>();
    for (Row r : prompts.select("prompt_id", "answer").collectAsList()) answers.put(r.getString(0), r.getString(1));
    if (answers.isEmpty()) {
      throw new UserError("no prompts for dataset '" + c.dataset + "' split '" + c.split + "' (run the data stage first)");
    }

    List<ModelBroadcast> published = new ArrayList<>();
    long t0 = System.nanoTime();
    List<Row> sampled;
    try {
      ModelBroadcast policy = Models.publish(ctx.spark(), "checkpoint", checkpoint, "policy", 0);
      published.add(policy);
      SamplingParams sampling = new SamplingParams(c.temperature, 0, 1.0, c.maxNewTokens, List.of(), c.seed);
      DistributedRollouts.Options o = DistributedRollouts.Options.of(ctx.runId(), ctx.stage(), 0, c.samples, sampling)
          .withDataset(c.dataset).withBatchSize(c.batchSize);
      Dataset<Row> rows = DistributedRollouts.generate(prompts.drop("answer"), policy, o);
      if (!c.rewardModel.isBlank()) {
        ModelBroadcast rm = Models.publish(ctx.spark(), "bestofn.reward_model", c.rewardModel, "reward-model", 0);
        published.add(rm);
        if (!rm.hasScoreHead()) {
          throw new UserError("bestofn.reward_model " + c.rewardModel
              + " has no score head (give a reward-model checkpoint)");
        }
        rows = new RewardScorer().setModel(rm).setPromptCol("prompt").setCompletionCol("completion")
            .setRewardCol("orm").setBatchSize(c.batchSize).transform(rows);
      }
      if (!c.processRewardModel.isBlank()) {
        ModelBroadcast prm = Models.publish(ctx.spark(), "bestofn.process_reward_model", c.processRewardModel,
            "process-reward-model", 0);
        published.add(prm);
        if (!prm.hasScoreHead()) {
          throw new UserError("bestofn.process_reward_model " + c.processRewardModel
              + " has no score head (give a checkpoint of the reward stage with reward.kind=prm)");
        }
        rows = new StepRewardScorer().setModel(prm).setPromptCol("prompt").setCompletionCol("completion")
            .setStepScoresCol("prm_steps").setBatchSize(c.batchSize).transform(rows);
      }
      System.out.printf("bestofn: %d problems x %d samples from %s%s%s%n", answers.size(), c.samples, checkpoint,
          c.rewardModel.isBlank() ? "" : ", scored by " + c.rewardModel,
          c.processRewardModel.isBlank() ? "" : ", steps scored by " + c.processRewardModel);
      sampled = rows.collectAsList();
    } finally {
      published.forEach(ModelBroadcast::destroy);
    }
    double generateSeconds = (System.nanoTime() - t0) / 1e9;

    // Candidates per problem in sample order, graded against the truth; the rows as they go to `rollouts`.
    boolean scored = !c.rewardModel.isBlank();
    boolean stepScored = !c.processRewardModel.isBlank();
    Map<String, Candidate[]> byProblem = new java.util.TreeMap<>();
    List<Row> out = new ArrayList<>(sampled.size());
    String[] fields = Tables.get(Tables.ROLLOUTS).schema().fieldNames();
    for (Row r : sampled) {
      String id = r.getAs("prompt_id");
      String text = r.getAs("completion");
      boolean ok = OutcomeGrading.correct(text, answers.get(id));
      double orm = scored ? r.<Double>getAs("orm") : Double.NaN;
      double[] steps = null;
      if (stepScored) {
        List<Double> s = r.getList(r.fieldIndex("prm_steps"));
        steps = s.stream().mapToDouble(Double::doubleValue).toArray();
      }
      Candidate candidate = new Candidate(text, ok, orm, steps);
      byProblem.computeIfAbsent(id, k -> new Candidate[c.samples])[r.<Integer>getAs("sample_index")] = candidate;
      Map<String, Double> parts = new LinkedHashMap<>();
      parts.put(RewardRules.CORRECT_ANSWER, ok ? 1.0 : 0.0);
      if (scored) parts.put(Pickers.ORM, orm);
      if (stepScored) {
        parts.put(Pickers.PRM_PRODUCT, Pickers.aggregate(candidate, true));
        parts.put(Pickers.PRM_MIN, Pickers.aggregate(candidate, false));
      }
      Object[] v = new Object[fields.length];
      for (int k = 0; k < fields.length; k++) {
        v[k] = switch (fields[k]) {
          case "created_at" -> null;
          case "reward" -> scored ? orm : null;
          case "reward_parts" -> scala.jdk.javaapi.CollectionConverters.asScala(parts);
          default -> r.getAs(fields[k]);
        };
      }
      out.add(RowFactory.create(v));
    }
    List<List<Candidate>> problems = new ArrayList<>(byProblem.size());
    for (Map.Entry<String, Candidate[]> e : byProblem.entrySet()) {
      for (Candidate x : e.getValue()) {
        if (x == null) throw new IllegalStateException("problem " + e.getKey() + " is missing a sample");
      }
      problems.add(List.of(e.getValue()));
    }
    lake.appendOnce(Tables.ROLLOUTS, lake.frame(Tables.ROLLOUTS, out).drop("created_at"),
        ctx.runId() + "/" + ctx.stage() + "/rollouts", 0);

    // The curves: every picker sees the same subsets (a function of seed, N, draw and problem).
    List<String> pickers = pickers(c);
    MetricsWriter metrics = new MetricsWriter(ctx, ctx.stage());
    Map<String, Object> curves = new LinkedHashMap<>();
    Map<String, Object> paired = new LinkedHashMap<>();
    Map<String, Map<Integer, BestOfN.Accuracy>> all = new LinkedHashMap<>();
    for (String p : pickers) {
      Map<Integer, BestOfN.Accuracy> byN = new LinkedHashMap<>();
      List<Map<String, Object>> curve = new ArrayList<>();
      for (int n : c.ns) {
        BestOfN.Accuracy a = BestOfN.accuracy(problems, Pickers.REGISTRY.byName(p), n, c.draws, c.seed);
        byN.put(n, a);
        metrics.add(n, "best_of_n/" + p, a.mean());
        metrics.add(n, "best_of_n/" + p + "_std", a.std());
        curve.add(Map.of("n", n, "accuracy", a.mean(), "std", a.std()));
      }
      all.put(p, byN);
      curves.put(p, curve);
    }
    StringBuilder table = new StringBuilder(String.format("bestofn: %-9s", "N"));
    for (int n : c.ns) table.append(String.format("%8d", n));
    for (String p : pickers) {
      table.append(String.format("%nbestofn: %-9s", p));
      for (int n : c.ns) table.append(String.format("%7.1f%%", 100 * all.get(p).get(n).mean()));
      if (p.equals(c.baseline)) continue;
      List<Map<String, Object>> diffs = new ArrayList<>();
      for (int n : c.ns) {
        double[] d = BestOfN.pairedDifference(all.get(p).get(n), all.get(c.baseline).get(n));
        diffs.add(Map.of("n", n, "difference", d[0], "se", d[1], "z", d[1] > 0 ? d[0] / d[1] : 0.0));
      }
      paired.put(p + "_vs_" + c.baseline, diffs);
    }
    System.out.println(table);
    metrics.flush();
    int top = c.ns.get(c.ns.size() - 1);
    StringBuilder summary = new StringBuilder(String.format("best-of-%d on %d problems:", top, problems.size()));
    for (String p : pickers) summary.append(String.format(" %s %.1f%%", p, 100 * all.get(p).get(top).mean()));
    ctx.put("checkpoint", checkpoint).put("reward_model", scored ? c.rewardModel : null)
        .put("process_reward_model", stepScored ? c.processRewardModel : null)
        .put("problems", problems.size()).put("samples", c.samples).put("draws", c.draws)
        .put("generate_seconds", generateSeconds).put("curves", curves).put("paired_vs_" + c.baseline, paired)
        .summary(summary.toString());
  }

  /** The pickers a run has: first and majority, orm with a reward model, prm_* with a process reward model. */
  private static List<String> pickers(BestOfNConfig c) {
    List<String> p = new ArrayList<>(List.of(Pickers.FIRST, Pickers.MAJORITY));
    if (!c.rewardModel.isBlank()) p.add(Pickers.ORM);
    if (!c.processRewardModel.isBlank()) p.addAll(List.of(Pickers.PRM_PRODUCT, Pickers.PRM_MIN));
    return p;
  }
}
