package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.countDistinct;
import static org.apache.spark.sql.functions.size;
import static org.apache.spark.sql.functions.sum;

import com.typesafe.config.Config;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.rollouts.engine.SamplingParams;
import org.sparkrlhf.rollouts.spark.DistributedRollouts;
import org.sparkrlhf.rollouts.spark.ModelBroadcast;

/**
 * {@code rollouts}: a checkpoint × a split of {@code prompts} × G samples → the {@code rollouts} table, generated
 * on the executors. The driver reads the checkpoint and publishes it as a {@link ModelBroadcast} (executors never
 * see the checkpoint path); each row records its policy version and the executor that generated it; reward
 * columns stay null for the reward stages. The write is one idempotent Delta append (appId
 * {@code <run>/rollouts/rollouts}, version = iteration), so re-running the run adds nothing, and since samples
 * are deterministic per (seed, prompt, sample) a task re-run after a lost executor regenerates the same rows.
 */
public final class RolloutsStage implements Stage {
  private static final Pattern STEP = Pattern.compile("step-0*(\\d+)/?$");

  @Override
  public String name() {
    return "rollouts";
  }

  @Override
  public String description() {
    return "sample G completions per prompt from a checkpoint on the executors into the rollouts table";
  }

  @Override
  public List<String> sections() {
    return List.of("rollouts");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--checkpoint", "rollouts.checkpoint", "--split", "rollouts.split");
  }

  @Override
  public void check(Config config) {
    RolloutsConfig c = StageConfigs.bind(config, "rollouts", RolloutsConfig.class);
    if (c.numSamples < 1 || c.batchSize < 1 || c.maxNewTokens < 0 || c.limit < 0 || c.partitions < 0
        || c.iteration < 0) {
      throw new UserError("rollouts: num_samples and batch_size must be >= 1; max_new_tokens, limit, partitions"
          + " and iteration >= 0");
    }
    try {
      sampling(c);
    } catch (IllegalArgumentException e) {
      throw new UserError("rollouts: " + e.getMessage());
    }
  }

  static SamplingParams sampling(RolloutsConfig c) {
    return new SamplingParams(c.temperature, c.topK, c.topP, c.maxNewTokens, c.stop, c.seed);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    RolloutsConfig c = StageConfigs.bind(config, "rollouts", RolloutsConfig.class);
    Models.initEngine(c.threads);
    Lake lake = ctx.lake();
    String checkpoint = c.checkpoint.isBlank() ? Checkpoints.latest(lake, ctx.runId(), c.model, "policy") : c.checkpoint;

    Dataset<Row> prompts = lake.read(Tables.PROMPTS)
        .filter(col("dataset").equalTo(c.dataset).and(col("split").equalTo(c.split)))
        .select(col("id").as("prompt_id"), col("prompt"), col("dataset"));
    if (c.limit > 0) prompts = prompts.orderBy("prompt_id").limit(c.limit);
    long nPrompts = prompts.count();
    if (nPrompts == 0) {
      throw new UserError("no prompts for dataset '" + c.dataset + "' split '" + c.split + "' (run the data stage first)");
    }

    long version = policyVersion(checkpoint);
    ModelBroadcast policy = Models.publish(ctx.spark(), "checkpoint", checkpoint, "policy", version);
    String appId = ctx.runId() + "/" + ctx.stage() + "/rollouts";
    try {
      DistributedRollouts.Options o = DistributedRollouts.Options.of(ctx.runId(), ctx.stage(), c.iteration,
              c.numSamples, sampling(c))
          .withDataset(c.dataset).withBatchSize(c.batchSize).withPartitions(c.partitions);
      Dataset<Row> rows = DistributedRollouts.generate(prompts, policy, o);
      System.out.printf("%s: generating %d prompts x %d samples from %s (policy_version %d)%n",
          ctx.stage(), nPrompts, c.numSamples, checkpoint, version);
      System.out.flush();
      long before = lake.version(Tables.ROLLOUTS);
      long t0 = System.nanoTime();
      long after = lake.appendOnce(Tables.ROLLOUTS, rows, appId, c.iteration);
      double seconds = (System.nanoTime() - t0) / 1e9;
      report(ctx, c, checkpoint, version, nPrompts, seconds, after > before);
    } finally {
      policy.destroy();
    }
  }

  /** The step of a {@code .../step-000123} checkpoint, else 0. */
  static long policyVersion(String checkpoint) {
    Matcher m = STEP.matcher(checkpoint);
    return m.find() ? Long.parseLong(m.group(1)) : 0L;
  }

  /** Figures from the rows as written (also right for a re-run that wrote nothing). */
  private static void report(RunContext ctx, RolloutsConfig c, String checkpoint, long version, long nPrompts,
                             double seconds, boolean written) {
    Dataset<Row> mine = ctx.lake().read(Tables.ROLLOUTS)
        .filter(col("run_id").equalTo(ctx.runId()).and(col("stage").equalTo(ctx.stage()))
            .and(col("iteration").equalTo(c.iteration)));
    Row agg = mine.agg(org.apache.spark.sql.functions.count("*"), sum(size(col("token_ids"))),
        countDistinct(col("prompt_id"), col("sample_index"))).head();
    long rows = agg.getLong(0);
    long tokens = agg.isNullAt(1) ? 0 : agg.getLong(1);
    long distinct = agg.getLong(2);
    TreeSet<String> executors = new TreeSet<>();
    for (Row r : mine.select("executor_id").distinct().collectAsList()) executors.add(r.isNullAt(0) ? "null" : r.getString(0));
    Map<String, Long> reasons = new LinkedHashMap<>();
    for (Row r : mine.groupBy("finish_reason").count().orderBy("finish_reason").collectAsList()) {
      reasons.put(r.getString(0), r.getLong(1));
    }
    ctx.put("checkpoint", checkpoint).put("policy_version", version).put("source", c.dataset + "/" + c.split)
        .put("prompts", nPrompts).put("num_samples", c.numSamples).put("iteration", c.iteration)
        .put("rows", rows).put("distinct_rows", distinct).put("written", written)
        .put("executors", executors.size()).put("executor_ids", List.copyOf(executors))
        .put("tokens", tokens).put("generate_seconds", seconds).put("tokens_per_s", seconds > 0 ? tokens / seconds : null)
        .put("finish_reasons", reasons).put("seed", c.seed);
    ctx.summary(String.format("%d rollouts (%d prompts x %d) on %d executor(s), %,.0f tokens/s", rows, nPrompts,
        c.numSamples, executors.size(), tokens / Math.max(seconds, 1e-9)));
    System.out.printf("%s: %d rows (%d prompts x %d)%s  %d tokens in %.1f s (%.0f tok/s)  executors %s  finish %s%n",
        ctx.stage(), rows, nPrompts, c.numSamples, written ? "" : " (already written: nothing added)", tokens,
        seconds, tokens / Math.max(seconds, 1e-9), executors, reasons);
  }
}
