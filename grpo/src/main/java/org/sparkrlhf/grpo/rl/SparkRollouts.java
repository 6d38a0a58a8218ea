package org.sparkrlhf.grpo.rl;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardResult;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;
import org.sparkrlhf.rollouts.spark.Generator;
import org.sparkrlhf.rollouts.spark.ModelBroadcast;
import org.sparkrlhf.rollouts.spark.RewardScorer;

/**
 * Rollouts fanned out over Spark executors: the policy goes out as a versioned broadcast (a new version
 * only when the weights changed), each executor loads it once per version, and the {@link Generator}
 * samples G completions per prompt in its partitions. Samples are a function of (seed, prompt id, sample
 * index) only, so they equal {@link InProcessRollouts}' and a re-run task after a lost executor
 * reproduces them. {@link #sampleAndScore} also computes the rewards on the executors, beside the samples.
 */
public final class SparkRollouts implements RolloutSource, AutoCloseable {
  private static final String PROMPT_TOKENS = "prompt_tokens";
  private static final String REWARD = "reward";
  private static final String REWARD_PARTS = "reward_parts";
  private static final String STEP_REWARDS = "step_rewards";
  private static final String MODEL_REWARD = "model_reward";
  private static final StructType PROMPTS = new StructType()
      .add("prompt_id", DataTypes.StringType, false)
      .add("prompt", DataTypes.StringType, false)
      .add("answer", DataTypes.StringType, true)
      .add(PROMPT_TOKENS, DataTypes.IntegerType, false);

  private final SparkSession spark;
  private final TextTokenizer tokenizer;
  private final int batchSize;
  private final int partitions;
  private final RewardModel rewardModel;
  private ModelBroadcast rewardModelBroadcast;
  private ModelBroadcast current;
  private long currentPolicyVersion = Long.MIN_VALUE;
  private double lastSyncSeconds;
  private double publishSecondsTotal;
  private double executorLoadSecondsTotal;
  private int lastExecutors;

  /**
   * @param partitions prompt partitions per iteration (0 = Spark's default parallelism)
   */
  public SparkRollouts(SparkSession spark, TextTokenizer tokenizer, int batchSize, int partitions) {
    this(spark, tokenizer, batchSize, partitions, null);
  }

  /**
   * @param rewardModel a learned reward scored on the executors beside the rules (broadcast once; null for rules
   *     only)
   */
  public SparkRollouts(SparkSession spark, TextTokenizer tokenizer, int batchSize, int partitions,
      RewardModel rewardModel) {
    this.rewardModel = rewardModel;
    this.spark = spark;
    this.tokenizer = tokenizer;
    this.batchSize = batchSize;
    this.partitions = partitions > 0 ? partitions : spark.sparkContext().defaultParallelism();
  }

  /** Seconds the last weight publication took (0 when the version was already out). */
  public double lastSyncSeconds() {
    return lastSyncSeconds;
  }

  /**
   * Seconds weight updates have cost so far: the driver's publishing (serialize, broadcast) plus, per publication,
   * the mean time an executor JVM took to fetch and decode it (executors load side by side, and a task cannot
   * generate before its JVM has the weights). Publications of the same version are counted once.
   */
  public double weightSyncSeconds() {
    return publishSecondsTotal + executorLoadSecondsTotal;
  }

  /** Distinct executors that generated the last batch of rollouts. */
  public int lastExecutors() {
    return lastExecutors;
  }

  @Override
  public List<Completion> generate(LlamaModel policy, long policyVersion, List<PromptRef> requests,
      SamplingParams params) {
    Map<String, RlPrompt> prompts = new LinkedHashMap<>();
    int groupSize = 0;
    for (PromptRef r : requests) {
      prompts.putIfAbsent(r.promptId(), new RlPrompt(r.promptId(), r.text(), null));
      groupSize = Math.max(groupSize, r.sampleIndex() + 1);
    }
    Generated g = run(policy, policyVersion, prompts.values(), groupSize, params, null, false);
    List<Completion> result = new ArrayList<>(requests.size());
    for (PromptRef q : requests) result.add(g.cols().completion(g.row(q.promptId(), q.sampleIndex())));
    return result;
  }

  /** Generates and scores on the executors: the rewards come back with the samples, computed where they were drawn. */
  @Override
  public List<Scored> sampleAndScore(LlamaModel policy, long policyVersion, List<RlPrompt> prompts, int groupSize,
      SamplingParams params, Rewarder rewarder, boolean stepRewards) {
    Generated g = run(policy, policyVersion, prompts, groupSize, params, rewarder, stepRewards);
    int reward = g.schema().fieldIndex(REWARD);
    int parts = g.schema().fieldIndex(REWARD_PARTS);
    int steps = stepRewards ? g.schema().fieldIndex(STEP_REWARDS) : -1;
    int model = rewardModel != null ? g.schema().fieldIndex(MODEL_REWARD) : -1;
    List<Scored> result = new ArrayList<>(prompts.size() * groupSize);
    for (RlPrompt p : prompts) {
      for (int j = 0; j < groupSize; j++) {
        Row r = g.row(p.id(), j);
        Map<String, Double> byRule = new LinkedHashMap<>(
            scala.jdk.javaapi.CollectionConverters.asJava(r.<String, Double>getMap(parts)));
        double[] stepValues = steps < 0 || r.isNullAt(steps) ? null : doubles(r.get(steps));
        RewardResult res = new RewardResult(r.getDouble(reward), byRule);
        if (model >= 0) res = rewardModel.combine(res, r.getDouble(model));
        result.add(new Scored(g.cols().completion(r), res, stepValues, r.getString(g.cols().executor())));
      }
    }
    return result;
  }

  /** The rows that came back, keyed by prompt id and sample index, with their schema. */
  private record Generated(Map<String, Row> byKey, StructType schema, Columns cols) {
    static String key(String promptId, int sampleIndex) {
      return promptId + "\u0000" + sampleIndex;
    }

    Row row(String promptId, int sampleIndex) {
      Row r = byKey.get(key(promptId, sampleIndex));
      if (r == null) throw new IllegalStateException("no rollout came back for " + promptId + "/" + sampleIndex);
      return r;
    }
  }

  /**
   * Publishes the weights when their version changed, samples {@code groupSize} completions per prompt in the
   * executors' partitions and, with a rewarder, scores each there (with {@code stepRewards}, its step rewards too).
   * Rows keyed by prompt id and sample index.
   */
  private Generated run(LlamaModel policy, long policyVersion, java.util.Collection<RlPrompt> prompts,
      int groupSize, SamplingParams params, Rewarder rewarder, boolean stepRewards) {
    long t0 = System.nanoTime();
    boolean published = current == null || currentPolicyVersion != policyVersion;
    if (published) {
      byte[] blob = HfCheckpoint.toBytes(policy, tokenizer.toTokenizerJson(), Map.of());
      current = current == null
          ? ModelBroadcast.publish(spark, "grpo-policy", 0, blob)
          : ModelBroadcast.replace(spark, current, blob);
      currentPolicyVersion = policyVersion;
    }
    lastSyncSeconds = (System.nanoTime() - t0) / 1e9;
    publishSecondsTotal += lastSyncSeconds;

    List<Row> rows = new ArrayList<>(prompts.size());
    for (RlPrompt p : prompts) {
      rows.add(RowFactory.create(p.id(), p.prompt(), p.answer(),
          TokenSequence.promptIds(tokenizer, p.prompt()).length));
    }
    // Contiguous slices of the iteration's prompt order, not a round-robin repartition: which prompts a partition
    // holds, and in what order, is then a function of the prompts and the partition count alone. The engine batches
    // a partition's requests together and a row's last float bits depend on its batch-mates, so a round-robin
    // shuffle (whose assignment follows the input's layout, e.g. the executors registered when the job was
    // planned) let a retried or repeated run regenerate the same tokens with log-probs an ulp apart.
    Dataset<Row> input = spark.createDataFrame(
        JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(rows, partitions), PROMPTS);
    Generator generator = new Generator().setModel(current).setSamplingParams(params)
        .setNumSamples(groupSize).setBatchSize(batchSize);
    Dataset<Row> generated = generator.transform(input);
    if (rewarder != null) {
      StructType scored = generated.schema()
          .add(REWARD, DataTypes.DoubleType, false)
          .add(REWARD_PARTS, DataTypes.createMapType(DataTypes.StringType, DataTypes.DoubleType, false), false);
      if (stepRewards) scored = scored.add(STEP_REWARDS, DataTypes.createArrayType(DataTypes.DoubleType, false), true);
      generated = generated.map(new ScoreRow(rewarder, generated.schema(), stepRewards), Encoders.row(scored));
      if (rewardModel != null) {
        if (rewardModelBroadcast == null) {
          rewardModelBroadcast = ModelBroadcast.publish(spark, "reward-model", 0, rewardModel.blob());
        }
        generated = new RewardScorer().setModel(rewardModelBroadcast).setPromptCol("prompt")
            .setCompletionCol(Generator.COMPLETION).setRewardCol(MODEL_REWARD).setBatchSize(batchSize)
            .transform(generated);
      }
    }
    Columns cols = Columns.of(generated.schema());
    List<Row> out = generated.collectAsList();
    Map<String, Row> byKey = new HashMap<>(out.size() * 2);
    java.util.Set<String> executors = new java.util.HashSet<>();
    for (Row r : out) {
      byKey.put(Generated.key(r.getString(cols.id()), r.getInt(cols.sample())), r);
      executors.add(r.getString(cols.executor()));
    }
    lastExecutors = executors.size();
    if (published) executorLoadSecondsTotal += current.loadSeconds();  // the job is done: every task's load merged
    return new Generated(byKey, generated.schema(), cols);
  }

  /** Positions of a generated row's columns (rows inside a map function carry no schema to look names up in). */
  private record Columns(int id, int sample, int promptTokens, int tokenIds, int text, int logProbs, int finish,
      int prompt, int answer, int executor) implements java.io.Serializable {
    static Columns of(StructType s) {
      return new Columns(s.fieldIndex("prompt_id"), s.fieldIndex(Generator.SAMPLE_INDEX), s.fieldIndex(PROMPT_TOKENS),
          s.fieldIndex(Generator.TOKEN_IDS), s.fieldIndex(Generator.COMPLETION), s.fieldIndex(Generator.TOKEN_LOGPROBS),
          s.fieldIndex(Generator.FINISH_REASON), s.fieldIndex("prompt"), s.fieldIndex("answer"),
          s.fieldIndex(Generator.EXECUTOR_ID));
    }

    /** A generated row as a {@link Completion} (on the driver and on the executors). */
    Completion completion(Row r) {
      int[] t = ints(r.get(tokenIds));
      float[] l = floats(r.get(logProbs));
      return new Completion(r.getString(id), r.getInt(sample), r.getInt(promptTokens), t, r.getString(text), l,
          r.getString(finish));
    }
  }

  // An array column is a Java array when the scoring map is fused with the Generator's output (whole-stage
  // codegen hands over the Generator's row object as is) and a Scala sequence once the row went through Spark.
  private static List<?> asList(Object v) {
    return v instanceof scala.collection.Seq<?> seq ? scala.jdk.javaapi.CollectionConverters.asJava(seq) : (List<?>) v;
  }

  private static int[] ints(Object v) {
    if (v instanceof int[] a) return a;
    List<?> list = asList(v);
    int[] out = new int[list.size()];
    for (int i = 0; i < out.length; i++) out[i] = ((Number) list.get(i)).intValue();
    return out;
  }

  private static double[] doubles(Object v) {
    if (v instanceof double[] a) return a;
    List<?> list = asList(v);
    double[] out = new double[list.size()];
    for (int i = 0; i < out.length; i++) out[i] = ((Number) list.get(i)).doubleValue();
    return out;
  }

  private static float[] floats(Object v) {
    if (v instanceof float[] a) return a;
    List<?> list = asList(v);
    float[] out = new float[list.size()];
    for (int i = 0; i < out.length; i++) out[i] = ((Number) list.get(i)).floatValue();
    return out;
  }

  /** Runs on the executors: appends the reward, its parts and (when asked) the step rewards to a generated row. */
  private static final class ScoreRow implements MapFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private final Rewarder rewarder;
    private final Columns cols;
    private final boolean stepRewards;

    ScoreRow(Rewarder rewarder, StructType schema, boolean stepRewards) {
      this.rewarder = rewarder;
      this.cols = Columns.of(schema);
      this.stepRewards = stepRewards;
    }

    @Override
    public Row call(Row r) {
      String prompt = r.getString(cols.prompt());
      String answer = r.isNullAt(cols.answer()) ? null : r.getString(cols.answer());
      Completion completion = cols.completion(r);
      RewardResult res = rewarder.score(prompt, answer, completion);
      Object[] values = new Object[r.length() + (stepRewards ? 3 : 2)];
      for (int i = 0; i < r.length(); i++) values[i] = r.get(i);
      values[r.length()] = res.total();
      values[r.length() + 1] = scala.jdk.javaapi.CollectionConverters.asScala(res.parts());
      if (stepRewards) {
        double[] steps = rewarder.stepRewards(prompt, answer, completion);
        values[r.length() + 2] = steps == null ? null
            : scala.jdk.javaapi.CollectionConverters.asScala(java.util.Arrays.stream(steps).boxed().toList()).toSeq();
      }
      return RowFactory.create(values);
    }
  }

  @Override
  public void close() {
    if (current != null) {
      current.destroy();
      current = null;
    }
    if (rewardModelBroadcast != null) {
      rewardModelBroadcast.destroy();
      rewardModelBroadcast = null;
    }
  }
}
