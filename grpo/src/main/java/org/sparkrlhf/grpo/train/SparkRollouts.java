package org.sparkrlhf.grpo.train;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;
import org.sparkrlhf.rollouts.spark.Generator;
import org.sparkrlhf.rollouts.spark.ModelBroadcast;

/**
 * Rollouts fanned out over Spark executors: the policy goes out as a versioned broadcast (a new version
 * only when the weights changed), each executor loads it once per version, and the {@link Generator}
 * samples G completions per prompt in its partitions. Samples are a function of (seed, prompt id, sample
 * index) only, so they equal {@link InProcessRollouts}' and a re-run task after a lost executor
 * reproduces them.
 */
public final class SparkRollouts implements RolloutSource, AutoCloseable {
  private static final StructType PROMPTS =
      new StructType().add("prompt_id", DataTypes.StringType, false).add("prompt", DataTypes.StringType, false);

  private final SparkSession spark;
  private final TextTokenizer tokenizer;
  private final int batchSize;
  private final int partitions;
  private ModelBroadcast current;
  private long currentPolicyVersion = Long.MIN_VALUE;
  private double lastSyncSeconds;
  private int lastExecutors;

  /**
   * @param partitions prompt partitions per iteration (0 = Spark's default parallelism)
   */
  public SparkRollouts(SparkSession spark, TextTokenizer tokenizer, int batchSize, int partitions) {
    this.spark = spark;
    this.tokenizer = tokenizer;
    this.batchSize = batchSize;
    this.partitions = partitions > 0 ? partitions : spark.sparkContext().defaultParallelism();
  }

  /** Seconds the last weight publication took (0 when the version was already out). */
  public double lastSyncSeconds() {
    return lastSyncSeconds;
  }

  /** Distinct executors that generated the last batch of rollouts. */
  public int lastExecutors() {
    return lastExecutors;
  }

  @Override
  public List<Completion> generate(LlamaModel policy, long policyVersion, List<PromptRef> requests,
      SamplingParams params) {
    long t0 = System.nanoTime();
    if (current == null || currentPolicyVersion != policyVersion) {
      byte[] blob = HfCheckpoint.toBytes(policy, tokenizer.toTokenizerJson(), Map.of());
      current = current == null
          ? ModelBroadcast.publish(spark, "grpo-policy", 0, blob)
          : ModelBroadcast.replace(spark, current, blob);
      currentPolicyVersion = policyVersion;
    }
    lastSyncSeconds = (System.nanoTime() - t0) / 1e9;

    // The Generator draws sample indices 0..G-1 per prompt; the trainer asks for exactly those.
    Map<String, String> texts = new LinkedHashMap<>();
    int groupSize = 0;
    for (PromptRef r : requests) {
      texts.putIfAbsent(r.promptId(), r.text());
      groupSize = Math.max(groupSize, r.sampleIndex() + 1);
    }
    List<Row> rows = new ArrayList<>(texts.size());
    texts.forEach((id, text) -> rows.add(RowFactory.create(id, text)));
    Dataset<Row> prompts = spark.createDataFrame(rows, PROMPTS).repartition(partitions);
    Generator generator = new Generator().setModel(current).setSamplingParams(params)
        .setNumSamples(groupSize).setBatchSize(batchSize);
    List<Row> out = generator.transform(prompts)
        .select("prompt_id", Generator.SAMPLE_INDEX, Generator.TOKEN_IDS, Generator.COMPLETION,
            Generator.TOKEN_LOGPROBS, Generator.FINISH_REASON, Generator.EXECUTOR_ID)
        .collectAsList();
    Map<String, Row> byKey = new HashMap<>(out.size() * 2);
    java.util.Set<String> executors = new java.util.HashSet<>();
    for (Row r : out) {
      byKey.put(r.getString(0) + "\u0000" + r.getInt(1), r);
      executors.add(r.getString(6));
    }
    lastExecutors = executors.size();
    List<Completion> result = new ArrayList<>(requests.size());
    for (PromptRef q : requests) {
      Row r = byKey.get(q.promptId() + "\u0000" + q.sampleIndex());
      if (r == null) {
        throw new IllegalStateException("no rollout came back for " + q.promptId() + "/" + q.sampleIndex());
      }
      List<Integer> ids = r.getList(2);
      List<Float> lps = r.getList(4);
      int[] tokenIds = new int[ids.size()];
      float[] logProbs = new float[lps.size()];
      for (int i = 0; i < tokenIds.length; i++) tokenIds[i] = ids.get(i);
      for (int i = 0; i < logProbs.length; i++) logProbs[i] = lps.get(i);
      int promptTokens = GenerationEngine.promptTokens(tokenizer, q.text()).length;
      result.add(new Completion(q.promptId(), q.sampleIndex(), promptTokens, tokenIds, r.getString(3), logProbs,
          r.getString(5)));
    }
    return result;
  }

  @Override
  public void close() {
    if (current != null) {
      current.destroy();
      current = null;
    }
  }
}
