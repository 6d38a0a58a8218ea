package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_list;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.first;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.udf;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.dpo.pairs.PairSelection;
import org.sparkrlhf.dpo.pairs.PairsConfig;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.rules.OutcomeGrading;

/**
 * {@code pairs}: preference pairs from ranked rollouts. Reads one (run, stage, iteration) of {@code rollouts} — any
 * producer's — ranks each prompt's completions by {@code reward} (or, where it is null, by the task checker's
 * outcome against the prompt's reference answer in {@code prompts}: 1 correct, 0 not), and pairs them with
 * {@link PairSelection} in Spark (a group per prompt on the executors); pairs land in {@code preferences} with provenance, keyed by a
 * deterministic id {@code <run>/<stage>/<iteration>/<prompt_id>/<chosen sample>-<rejected sample>}, so a re-run adds
 * nothing.
 */
public final class PairsStage implements Stage {
  @Override
  public String name() {
    return "pairs";
  }

  @Override
  public String description() {
    return "preference pairs (correct vs incorrect completion of a prompt) from rollouts into preferences";
  }

  @Override
  public List<String> sections() {
    return List.of("pairs");
  }

  @Override
  public void check(Config config) {
    StageConfigs.checked(config, "pairs", PairsConfig.class, PairsConfig::problems);
  }

  /** 1 when the completion's final answer equals the reference, 0 when not, null when there is no reference. */
  static final UDF2<String, String, Double> GRADE =
      (completion, answer) -> answer == null || completion == null ? null : OutcomeGrading.correct(completion, answer) ? 1.0 : 0.0;

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    PairsConfig c = StageConfigs.bind(config, "pairs", PairsConfig.class);
    ctx.put("config", c);
    Lake lake = ctx.lake();
    String sourceRun = c.sourceRun.isBlank() ? ctx.runId() : c.sourceRun;
    lake.ensure(Tables.ROLLOUTS);
    lake.ensure(Tables.PROMPTS);
    Dataset<Row> rollouts = lake.read(Tables.ROLLOUTS)
        .filter(col("run_id").equalTo(sourceRun).and(col("stage").equalTo(c.sourceStage))
            .and(col("iteration").equalTo(c.iteration)));
    if (!c.dataset.isBlank()) rollouts = rollouts.filter(col("dataset").equalTo(c.dataset));
    Dataset<Row> prompts = lake.read(Tables.PROMPTS)
        .select(col("dataset").as("p_dataset"), col("id").as("p_id"), col("split").as("p_split"), col("answer"));
    UserDefinedFunction grade = udf(GRADE, DataTypes.DoubleType);
    Dataset<Row> ranked = rollouts
        .join(prompts, rollouts.col("dataset").equalTo(prompts.col("p_dataset"))
            .and(rollouts.col("prompt_id").equalTo(prompts.col("p_id"))), "left")
        .withColumn("rank_reward", coalesce(col("reward"), grade.apply(col("completion"), col("answer"))))
        .withColumn("logprob", expr("aggregate(token_logprobs, 0D, (acc, x) -> acc + x)"));
    Dataset<Row> groups = ranked.groupBy(col("dataset"), col("prompt_id"))
        .agg(first(col("prompt")).as("prompt"), first(col("p_split"), true).as("split"),
            collect_list(struct(col("sample_index"), col("completion"), col("rank_reward"), col("logprob")))
                .as("samples"));

    StructType out = Tables.PREFERENCES_TABLE.schema();
    List<StructField> fields = new ArrayList<>();
    for (StructField f : out.fields()) if (!f.name().equals("created_at")) fields.add(f);
    StructType outSchema = new StructType(fields.toArray(new StructField[0]));
    Dataset<Row> pairs = groups.flatMap(
        new PairUp(c, sourceRun, ctx.runId()), Encoders.row(outSchema)).persist();
    try {
      long rolloutRows = rollouts.count();
      if (rolloutRows == 0) {
        throw new UserError("no rollouts for run '" + sourceRun + "' stage '" + c.sourceStage + "' iteration "
            + c.iteration + (c.dataset.isBlank() ? "" : " dataset '" + c.dataset + "'") + " in "
            + lake.path(Tables.ROLLOUTS) + " (run the rollouts stage first)");
      }
      long ungraded = ranked.filter(col("rank_reward").isNull()).count();
      long promptCount = groups.count();
      long written = pairs.count();
      long promptsWithPairs = pairs.select("prompt").distinct().count();
      lake.insertNew(Tables.PREFERENCES, pairs);
      List<String> datasets = pairs.select("dataset").distinct().orderBy("dataset").as(Encoders.STRING()).collectAsList();
      ctx.put("source_run", sourceRun).put("source_stage", c.sourceStage).put("source_iteration", c.iteration)
          .put("rollouts", rolloutRows).put("prompts", promptCount).put("unranked_rollouts", ungraded)
          .put("prompts_with_pairs", promptsWithPairs).put("pairs", written).put("datasets", datasets);
      ctx.summary(String.format("%d rollouts of %d prompts -> %d pairs", rolloutRows, promptCount, written));
      System.out.printf("pairs: %d rollouts of %d prompts -> %d pairs (%d prompts with a pair, %d unranked) into %s%n",
          rolloutRows, promptCount, written, promptsWithPairs, ungraded, datasets);
    } finally {
      pairs.unpersist();
    }
  }

  /** Runs on the executors: one prompt's samples in, its chosen/rejected pairs out. */
  static final class PairUp implements FlatMapFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private final PairsConfig c;
    private final String sourceRun;
    private final String runId;

    /** @param sourceRun the run whose rollouts are paired ({@code c.sourceRun} resolved) */
    PairUp(PairsConfig c, String sourceRun, String runId) {
      this.c = c;
      this.sourceRun = sourceRun;
      this.runId = runId;
    }

    @Override
    public Iterator<Row> call(Row g) {
      String dataset = g.getAs("dataset");
      String promptId = g.getAs("prompt_id");
      String prompt = g.getAs("prompt");
      String split = g.getAs("split");
      List<PairSelection.Sample> samples = new ArrayList<>();
      for (Row s : g.<Row>getList(g.fieldIndex("samples"))) {
        if (s.isNullAt(2) || s.isNullAt(1)) continue; // unranked: no reward and no reference answer
        samples.add(new PairSelection.Sample(s.getInt(0), s.getString(1), s.getDouble(2),
            s.isNullAt(3) ? 0 : s.getDouble(3)));
      }
      List<Row> out = new ArrayList<>();
      String target = c.outputDataset.isBlank() ? dataset + "-pairs-" + sourceRun : c.outputDataset;
      String source = "rollouts:" + sourceRun + "/" + c.sourceStage + "/" + c.iteration;
      for (PairSelection.Pair p : PairSelection.select(prompt, samples, c, dataset + "/" + promptId)) {
        String id = sourceRun + "/" + c.sourceStage + "/" + c.iteration + "/" + promptId + "/" + p.chosen().index()
            + "-" + p.rejected().index();
        out.add(RowFactory.create(target, split == null ? "train" : split, id, prompt, p.chosen().text(),
            p.rejectedText(), p.chosen().reward(), p.rejected().reward(), p.margin(), sourceRun, c.iteration,
            source, runId));
      }
      return out.iterator();
    }
  }
}
