package org.sparkrlhf.jobs.stages;


import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.model.HeldOut;
import org.sparkrlhf.reward.rbr.RankedFeatures;
import org.sparkrlhf.reward.rules.RewardFunction;
import org.sparkrlhf.reward.rules.RewardInput;
import org.sparkrlhf.reward.rules.RewardSpec;
import org.sparkrlhf.rollouts.spark.ModelBroadcast;
import org.sparkrlhf.rollouts.spark.RewardScorer;

/**
 * {@code rbr}: a rule-based reward whose weights are fitted to a ranking ({@link RankedFeatures}).
 *
 * <ol>
 *   <li>Reads completions from {@code rollouts} with their prompts' reference answers; scores every rule of
 *       {@code rbr.reward} on each (and the reward model of its {@code model} entry, on the executors): the
 *       features.</li>
 *   <li>Ranks each completion by {@code rbr.ranking}, pairs the completions of a prompt whose ranks differ, holds out
 *       the pairs of {@code eval_share} of the prompts, and fits the weights with Spark MLlib's logistic regression on
 *       the training pairs' feature differences.</li>
 *   <li>Reports how often the total reward orders the held-out (and the training) pairs as the ranking demands,
 *       with the weights before the fit (the spec's) and after; writes the weights to {@code metrics}
 *       ({@code rbr/weight/<feature>}) and the fitted reward as a config file, {@code <run>/rbr/reward.conf}, that
 *       GRPO and PPO take with {@code --conf}.</li>
 * </ol>
 */
public final class RbrStage implements Stage {
  @Override
  public String name() {
    return "rbr";
  }

  @Override
  public String description() {
    return "rule-based reward (RBR): weights of rule and reward-model features fitted to a ranking with Spark MLlib";
  }

  @Override
  public List<String> sections() {
    return List.of("rbr");
  }

  @Override
  public void check(Config config) {
    RbrConfig c = StageConfigs.checked(config, "rbr", RbrConfig.class, RbrConfig::problems);
    try {
      c.reward.learned();
      features(c);
    } catch (IllegalArgumentException e) {
      throw new UserError("rbr.reward: " + e.getMessage());
    }
  }

  /** The rules without the model entry: the rule features. */
  private static RewardFunction features(RbrConfig c) {
    RewardSpec rules = new RewardSpec();
    rules.rules = new ArrayList<>();
    for (RewardSpec.RuleSpec r : c.reward.rules) if (!RewardSpec.MODEL.equals(r.name)) rules.rules.add(r);
    return rules.rules.isEmpty() ? null : RewardFunction.of(rules);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    RbrConfig c = StageConfigs.bind(config, "rbr", RbrConfig.class);
    Models.initEngine(c.threads);
    Lake lake = ctx.lake();
    String sourceRun = c.sourceRun.isBlank() ? ctx.runId() : c.sourceRun;
    RewardFunction rules = features(c);
    RewardSpec.RuleSpec model = c.reward.learned();

    Dataset<Row> rows = SourceRollouts.read(lake, sourceRun, c.sourceStage, c.dataset, c.split, c.limit);
    List<Row> read;
    ModelBroadcast rm = null;
    try {
      if (model != null) {
        rm = Models.publish(ctx.spark(), "rbr.reward model entry", model.checkpoint, "reward-model", 0);
        if (!rm.hasScoreHead()) throw new UserError("rbr.reward: model " + model.checkpoint + " has no score head");
        rows = new RewardScorer().setModel(rm).setPromptCol("prompt").setCompletionCol("completion")
            .setRewardCol("model").setBatchSize(c.batchSize).transform(rows);
      }
      read = rows.collectAsList();
    } finally {
      if (rm != null) rm.destroy();
    }
    if (read.isEmpty()) {
      throw SourceRollouts.none(lake, "rollouts", sourceRun, c.sourceStage, c.dataset, c.split);
    }

    // The feature table: one row per completion, a column per feature in spec order.
    List<String> names = new ArrayList<>();
    double[] before = new double[c.reward.rules.size()];
    for (int i = 0; i < c.reward.rules.size(); i++) {
      names.add(c.reward.rules.get(i).name);
      before[i] = c.reward.rules.get(i).weight;
    }
    StructType schema = new StructType().add("prompt_id", DataTypes.StringType, false)
        .add("held_out", DataTypes.BooleanType, false);
    for (String n : names) schema = schema.add(n, DataTypes.DoubleType, false);
    List<Row> featureRows = new ArrayList<>(read.size());
    for (Row r : read) {
      String promptId = r.getAs("prompt_id");
      Map<String, Double> parts = rules == null ? Map.of() : rules.apply(new RewardInput(r.getAs("prompt"),
          r.getAs("completion"), r.getAs("answer"), r.<Integer>getAs("tokens"), "length".equals(r.getAs("finish_reason"))
              ? RewardInput.FINISH_LENGTH : RewardInput.FINISH_STOP)).parts();
      Object[] v = new Object[2 + names.size()];
      v[0] = promptId;
      v[1] = HeldOut.isHeldOut(promptId, c.seed, c.evalShare);
      for (int i = 0; i < names.size(); i++) {
        v[2 + i] = RewardSpec.MODEL.equals(names.get(i)) ? r.<Double>getAs("model") : parts.get(names.get(i));
      }
      featureRows.add(RowFactory.create(v));
    }
    Dataset<Row> ranked;
    try {
      ranked = RankedFeatures.ranked(lake.frame(featureRows, schema), c.ranking).cache();
      ranked.count();
    } catch (Exception e) {
      // Spark's AnalysisException (an unknown column, bad SQL) is a checked exception thrown from Scala
      throw new UserError("rbr.ranking: " + Models.firstLine(e));
    }
    Dataset<Row> trainPairs = RankedFeatures.pairs(ranked.filter("NOT held_out"), "prompt_id", names).cache();
    Dataset<Row> heldPairs = RankedFeatures.pairs(ranked.filter("held_out"), "prompt_id", names).cache();
    long nTrain = trainPairs.count() / 2;
    long nHeld = heldPairs.count() / 2;
    if (nTrain == 0) {
      throw new UserError("the ranking pairs no two completions of a prompt (every prompt's completions share a class)");
    }
    Map<String, Long> classes = new LinkedHashMap<>();
    for (Row r : ranked.groupBy(RankedFeatures.RANK).count().orderBy(RankedFeatures.RANK).collectAsList()) {
      classes.put(r.isNullAt(0) ? "unranked" : c.ranking.get(r.getInt(0)), r.getLong(1));
    }
    double[] after = RankedFeatures.fit(trainPairs, c.regParam);
    double heldBefore = RankedFeatures.orderAccuracy(heldPairs, before);
    double heldAfter = RankedFeatures.orderAccuracy(heldPairs, after);
    double trainBefore = RankedFeatures.orderAccuracy(trainPairs, before);
    double trainAfter = RankedFeatures.orderAccuracy(trainPairs, after);

    RewardSpec fitted = new RewardSpec();
    fitted.rules = new ArrayList<>();
    Map<String, Double> weights = new LinkedHashMap<>();
    List<Map<String, Object>> entries = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      RewardSpec.RuleSpec r = c.reward.rules.get(i);
      weights.put(r.name, after[i]);
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("name", r.name);
      e.put("weight", after[i]);
      if (r.params != null && !r.params.isEmpty()) e.put("params", r.params);
      if (RewardSpec.MODEL.equals(r.name)) e.put("checkpoint", r.checkpoint);
      entries.add(e);
    }
    Map<String, Object> reward = Map.of("reward", Map.of("rules", entries));
    String conf = "# rbr fitted on " + sourceRun + "/" + c.sourceStage + ": use with --conf\n"
        + ConfigValueFactory.fromMap(Map.of("grpo", reward, "ppo", reward)).render(
            ConfigRenderOptions.defaults().setOriginComments(false).setJson(false)) + "\n";
    String confPath = ctx.runDir() + "/reward.conf";
    HadoopFiles.writeText(confPath, conf);

    MetricsWriter metrics = new MetricsWriter(ctx, ctx.stage());
    weights.forEach((k, v) -> metrics.add(0, "rbr/weight/" + k, v));
    for (Map.Entry<String, Double> e : Map.of("rbr/order_accuracy_before", heldBefore, "rbr/order_accuracy_after",
        heldAfter, "rbr/train_order_accuracy_before", trainBefore, "rbr/train_order_accuracy_after", trainAfter)
        .entrySet()) {
      if (Double.isFinite(e.getValue())) metrics.add(0, e.getKey(), e.getValue());
    }
    metrics.flush();
    ctx.put("source_run", sourceRun).put("source_stage", c.sourceStage).put("completions", read.size())
        .put("classes", classes).put("train_pairs", nTrain).put("held_out_pairs", nHeld)
        .put("weights_before", c.reward.rules.stream().map(r -> Map.of("name", r.name, "weight", r.weight)).toList())
        .put("weights", weights).put("held_out_order_accuracy_before", heldBefore)
        .put("held_out_order_accuracy_after", heldAfter).put("train_order_accuracy_before", trainBefore)
        .put("train_order_accuracy_after", trainAfter).put("reward_conf", confPath);
    System.out.print(conf);
    ctx.summary(String.format("weights %s fitted on %d pairs; held-out pairs (%d) ordered as the ranking demands:"
        + " %.1f %% before, %.1f %% after; --conf %s", weights, nTrain, nHeld, 100 * heldBefore, 100 * heldAfter,
        confPath));
  }
}
