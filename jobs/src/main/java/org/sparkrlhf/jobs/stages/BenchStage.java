package org.sparkrlhf.jobs.stages;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.train.MatmulPeak;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;
import org.sparkrlhf.rollouts.spark.ExecutorModelCache;
import org.sparkrlhf.rollouts.spark.Generator;
import org.sparkrlhf.rollouts.spark.ModelBroadcast;
import org.sparkrlhf.rollouts.spark.SparkExecutors;
import org.sparkrlhf.sft.ModelSpec;

/**
 * {@code bench} ({@code bin/rlhf bench rollouts}): generation figures measured in one run on the quickstart
 * architecture ({@code sft.model} of the config) with random weights, written to report.json — not a test,
 * nothing is asserted.
 *
 * <ul>
 *   <li>{@code kv_cache_speedup}: tokens/s with the KV cache ÷ without, {@code new_tokens} per row, eos never
 *       sampled, same model, prompts and seed, on the driver.
 *   <li>{@code kv_mixed_tokens_per_s}: tokens/s of the cached run on the same prompts with eos allowed: rows end at
 *       different steps, so it measures continuous batching (freed slots taken by waiting requests).
 *   <li>{@code spark_vs_inprocess}: tokens/s of the {@link Generator} on this session's executors (local[2]: two
 *       tasks) ÷ the same requests generated in-process on the driver by as many threads as the session has task
 *       slots, each with the same torch threads and batch size. Measures what Spark adds (scheduling,
 *       serialization, row conversion); the samples are identical, which the bench checks.
 *   <li>{@code generation_mfu}: forward FLOPs of the KV-cached run ({@code 2 N + 4 L t d} per token at context
 *       t) per second ÷ {@link MatmulPeak#measure} with the same torch threads.
 *   <li>{@code weight_sync_seconds}: publish a new weight version as a {@link ModelBroadcast} and run one task per
 *       task slot that acquires it from {@link ExecutorModelCache} (fetch + decode on every executor reached).
 * </ul>
 */
public final class BenchStage implements Stage {

  @Override
  public String name() {
    return "bench";
  }

  @Override
  public String description() {
    return "benchmarks, not tests: `bench rollouts` = KV-cache speed-up, Spark vs in-process, generation MFU, weight sync";
  }

  @Override
  public List<String> sections() {
    return List.of("bench");
  }

  @Override
  public void check(Config config) {
    BenchConfig c = StageConfigs.bind(config, "bench", BenchConfig.class);
    if (!c.what.equals("rollouts")) throw new UserError("bench.what: only 'rollouts' is measured so far, got '" + c.what + "'");
    if (c.prompts < 1 || c.newTokens < 1 || c.batchSize < 1 || c.numSamples < 1 || c.sparkNewTokens < 1
        || c.repeats < 1 || c.threads < 1) {
      throw new UserError("bench: prompts, new_tokens, batch_size, num_samples, spark_new_tokens, repeats and threads must be >= 1");
    }
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    BenchConfig c = StageConfigs.bind(config, "bench", BenchConfig.class);
    Models.initEngine(c.threads);
    CharTokenizer tok = new CharTokenizer();
    List<PromptRef> prompts = new ArrayList<>();
    for (int i = 0; i < c.prompts; i++) prompts.add(new PromptRef(String.format("bench-%04d", i), (12 + i) + "+7*3-" + (i % 10) + "=?\n", 0));
    LlamaConfig cfg = architecture(config, c, tok, prompts);

    try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
      LlamaModel model = LlamaModel.init(cfg, false, c.seed, manager);
      byte[] blob = HfCheckpoint.toBytes(model, tok.toTokenizerJson(), Map.of("source", "bench random init"));

      // 1. KV cache vs none, and MFU of the cached run
      TextTokenizer noEos = new NoEos(tok);
      SamplingParams full = SamplingParams.defaults().withMaxNewTokens(c.newTokens).withSeed(c.seed);
      GenerationEngine.generate(model, noEos, prompts.subList(0, Math.min(2, prompts.size())),
          full.withMaxNewTokens(8), c.batchSize, true); // warm-up
      double cachedBest = 0;
      double uncachedBest = 0;
      long cachedTokens = 0;
      double cachedSeconds = 0;
      double mixedBest = 0;
      long mixedTokens = 0;
      for (int r = 0; r < c.repeats; r++) {
        long t0 = System.nanoTime();
        List<Completion> a = GenerationEngine.generate(model, noEos, prompts, full, c.batchSize, true);
        double s = (System.nanoTime() - t0) / 1e9;
        long n = tokens(a);
        if (n / s > cachedBest) {
          cachedBest = n / s;
          cachedTokens = n;
          cachedSeconds = s;
        }
        t0 = System.nanoTime();
        List<Completion> b = GenerationEngine.generate(model, noEos, prompts, full, c.batchSize, false);
        s = (System.nanoTime() - t0) / 1e9;
        uncachedBest = Math.max(uncachedBest, tokens(b) / s);
        if (!texts(a).equals(texts(b))) throw new IllegalStateException("cached and uncached generation disagree");
        // eos allowed: rows end at different steps and freed slots take the next requests
        t0 = System.nanoTime();
        List<Completion> mixed = GenerationEngine.generate(model, tok, prompts, full, c.batchSize, true);
        s = (System.nanoTime() - t0) / 1e9;
        mixedTokens = tokens(mixed);
        mixedBest = Math.max(mixedBest, mixedTokens / s);
      }
      double kvSpeedup = cachedBest / uncachedBest;

      int promptLen = TokenSequence.promptIds(tok, prompts.get(0).text()).length;
      double avgContext = promptLen + c.newTokens / 2.0;
      double flops = cachedTokens * forwardFlopsPerToken(cfg, avgContext);
      double peak = MatmulPeak.measure(manager);
      double mfu = flops / cachedSeconds / peak;

      // 2. Spark Generator vs the same requests in-process
      SparkSession spark = ctx.spark();
      int slots = spark.sparkContext().defaultParallelism();
      spark.sparkContext().setLocalProperty(SparkExecutors.THREADS_CONF, Integer.toString(c.threads));
      SamplingParams sp = SamplingParams.defaults().withMaxNewTokens(c.sparkNewTokens).withSeed(c.seed);
      ModelBroadcast b1 = ModelBroadcast.publish(spark, "bench-policy", 1, blob);
      Generator gen = new Generator().setModel(b1).setNumSamples(c.numSamples).setSamplingParams(sp)
          .setBatchSize(c.batchSize);
      Dataset<Row> input = promptFrame(spark, prompts, slots);
      input.cache().count();
      gen.transform(input.limit(2)).count(); // warm-up: executors load the model
      HfCheckpoint local = HfCheckpoint.fromBytes(blob, manager);
      TextTokenizer localTok = HfTokenizer.fromJson(local.tokenizerJson());
      List<List<PromptRef>> shares = shares(prompts, c.numSamples, slots);
      double sparkBest = 0;
      double inprocBest = 0;
      long sparkTokens = 0;
      long inprocTokens = 0;
      for (int r = 0; r < c.repeats; r++) {
        long t0 = System.nanoTime();
        List<Row> rows = gen.transform(input).select("prompt_id", "sample_index", "completion", "token_ids").collectAsList();
        double s = (System.nanoTime() - t0) / 1e9;
        long n = 0;
        TreeSet<String> sparkTexts = new TreeSet<>();
        for (Row row : rows) {
          n += row.getList(3).size();
          sparkTexts.add(row.getString(0) + "#" + row.getInt(1) + "#" + row.getString(2));
        }
        sparkTokens = n;
        sparkBest = Math.max(sparkBest, n / s);

        t0 = System.nanoTime();
        List<Completion> done = inProcess(local.model(), localTok, shares, sp, c.batchSize, c.threads);
        s = (System.nanoTime() - t0) / 1e9;
        inprocTokens = tokens(done);
        inprocBest = Math.max(inprocBest, inprocTokens / s);
        TreeSet<String> localTexts = new TreeSet<>();
        for (Completion d : done) localTexts.add(d.promptId() + "#" + d.sampleIndex() + "#" + d.text());
        if (!localTexts.equals(sparkTexts)) throw new IllegalStateException("Spark and in-process samples differ");
      }
      double sparkRatio = sparkBest / inprocBest;

      // 3. weight sync: publish version 2 and have every task slot's executor load it
      long t0 = System.nanoTime();
      ModelBroadcast b2 = ModelBroadcast.replace(spark, b1, blob);
      List<String> reached = loadEverywhere(spark, b2, slots);
      double syncSeconds = (System.nanoTime() - t0) / 1e9;
      b2.destroy();
      input.unpersist();
      local.model().close();
      model.close();

      ctx.put("what", "rollouts").put("model", Map.of("hidden_size", cfg.hiddenSize(), "num_hidden_layers",
              cfg.numHiddenLayers(), "num_attention_heads", cfg.numAttentionHeads(), "intermediate_size",
              cfg.intermediateSize(), "parameters", cfg.parameterCount(), "weights", "random"))
          .put("torch_threads", c.threads).put("task_slots", slots).put("master", spark.sparkContext().master())
          .put("kv_cache_speedup", kvSpeedup).put("kv_cached_tokens_per_s", cachedBest)
          .put("kv_uncached_tokens_per_s", uncachedBest).put("kv_rows", prompts.size()).put("kv_new_tokens", c.newTokens)
          .put("kv_mixed_tokens_per_s", mixedBest).put("kv_mixed_tokens", mixedTokens)
          .put("spark_vs_inprocess", sparkRatio).put("spark_tokens_per_s", sparkBest)
          .put("inprocess_tokens_per_s", inprocBest).put("spark_rows", prompts.size() * c.numSamples)
          .put("spark_tokens", sparkTokens).put("inprocess_tokens", inprocTokens)
          .put("generation_mfu", mfu).put("generation_flops_per_s", flops / cachedSeconds).put("matmul_peak_flops_per_s", peak)
          .put("weight_sync_seconds", syncSeconds).put("weight_sync_executors", reached)
          .put("weight_blob_bytes", blob.length);
      System.out.printf("bench rollouts: kv_cache_speedup %.2fx (%.0f vs %.0f tok/s, %d rows x %d new tokens)%n",
          kvSpeedup, cachedBest, uncachedBest, prompts.size(), c.newTokens);
      System.out.printf("bench rollouts: kv_mixed_tokens_per_s %.0f (eos allowed: %d tokens, rows of mixed lengths, freed slots refilled)%n",
          mixedBest, mixedTokens);
      System.out.printf("bench rollouts: spark_vs_inprocess %.2fx (%.0f vs %.0f tok/s, %d task slots)%n",
          sparkRatio, sparkBest, inprocBest, slots);
      System.out.printf("bench rollouts: generation_mfu %.4f (%.2f GFLOP/s of %.1f GFLOP/s matmul peak)%n",
          mfu, flops / cachedSeconds / 1e9, peak / 1e9);
      System.out.printf("bench rollouts: weight_sync_seconds %.2f (%d bytes to executors %s)%n", syncSeconds, blob.length, reached);
    }
  }

  /**
   * The model the quickstart trains ({@code sft.model} of the config, conf/quickstart.conf by default), with a
   * context long enough for the longest prompt plus the new tokens of either measurement.
   */
  static LlamaConfig architecture(Config config, BenchConfig c, TextTokenizer tok, List<PromptRef> prompts) {
    ModelSpec spec = StageConfigs.bind(config, "sft.model", ModelSpec.class);
    int longestPrompt = 0;
    for (PromptRef p : prompts) longestPrompt = Math.max(longestPrompt, org.sparkrlhf.core.batch.TokenSequence.promptIds(tok, p.text()).length);
    spec.maxPositionEmbeddings = Math.max(spec.maxPositionEmbeddings,
        longestPrompt + Math.max(c.newTokens, c.sparkNewTokens));
    return spec.toConfig(tok);
  }

  /** Forward FLOPs per generated token at context t: 2 x matmul parameters + 4 L t d (QK^T and PV). */
  static double forwardFlopsPerToken(LlamaConfig cfg, double context) {
    long nMatmul = cfg.parameterCount(false) - (cfg.tieWordEmbeddings() ? 0L : (long) cfg.vocabSize() * cfg.hiddenSize());
    return 2.0 * nMatmul + 4.0 * cfg.numHiddenLayers() * context * cfg.hiddenSize();
  }

  private static long tokens(List<Completion> cs) {
    long n = 0;
    for (Completion x : cs) n += x.length();
    return n;
  }

  private static List<String> texts(List<Completion> cs) {
    List<String> t = new ArrayList<>();
    for (Completion x : cs) t.add(x.text());
    return t;
  }

  private static Dataset<Row> promptFrame(SparkSession spark, List<PromptRef> prompts, int partitions) {
    StructType schema = new StructType().add("prompt_id", DataTypes.StringType).add("prompt", DataTypes.StringType);
    List<Row> rows = new ArrayList<>();
    for (PromptRef p : prompts) rows.add(RowFactory.create(p.promptId(), p.text()));
    // contiguous slices, one per task slot: the same split the in-process threads get
    return spark.createDataFrame(rows, schema).coalesce(1).repartitionByRange(partitions,
        org.apache.spark.sql.functions.col("prompt_id"));
  }

  /** The requests split into {@code parts} contiguous shares (prompt-major, G samples each). */
  private static List<List<PromptRef>> shares(List<PromptRef> prompts, int g, int parts) {
    List<List<PromptRef>> out = new ArrayList<>();
    int per = (prompts.size() + parts - 1) / parts;
    for (int s = 0; s < prompts.size(); s += per) {
      List<PromptRef> share = new ArrayList<>();
      for (PromptRef p : prompts.subList(s, Math.min(prompts.size(), s + per))) {
        for (int j = 0; j < g; j++) share.add(new PromptRef(p.promptId(), p.text(), j));
      }
      out.add(share);
    }
    return out;
  }

  /** One thread per share, each with {@code threads} torch threads and autograd off, like a Spark task. */
  private static List<Completion> inProcess(LlamaModel model, TextTokenizer tok, List<List<PromptRef>> shares,
                                            SamplingParams sp, int batchSize, int threads) {
    ExecutorService pool = Executors.newFixedThreadPool(shares.size());
    try {
      List<Future<List<Completion>>> fs = new ArrayList<>();
      for (List<PromptRef> share : shares) {
        fs.add(pool.submit(() -> {
          JniUtils.setNumThreads(threads);
          return GenerationEngine.generate(model, tok, share, sp, batchSize, true);
        }));
      }
      List<Completion> all = new ArrayList<>();
      for (Future<List<Completion>> f : fs) all.addAll(f.get());
      return all;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    } finally {
      pool.shutdown();
    }
  }

  /** One task per slot acquires {@code b}; returns the executors reached. */
  private static List<String> loadEverywhere(SparkSession spark, ModelBroadcast b, int slots) {
    List<Row> rows = spark.range(0, slots, 1, slots).toDF().mapPartitions(
        (MapPartitionsFunction<Row, Row>) (Iterator<Row> it) -> {
          try (ExecutorModelCache.LoadedModel m = ExecutorModelCache.acquire(b)) {
            return List.of(RowFactory.create(SparkExecutors.executorId(), m.version())).iterator();
          }
        }, Encoders.row(new StructType().add("executor", DataTypes.StringType).add("version", DataTypes.LongType)))
        .collectAsList();
    TreeSet<String> ids = new TreeSet<>();
    for (Row r : rows) ids.add(r.getString(0));
    return List.copyOf(ids);
  }

  /** A tokenizer without end-of-sequence, so every row runs the full number of new tokens. */
  private record NoEos(TextTokenizer t) implements TextTokenizer {
    public int[] encode(String text) {
      return t.encode(text);
    }

    public String decode(int[] ids) {
      return t.decode(ids);
    }

    public int vocabSize() {
      return t.vocabSize();
    }

    public int padId() {
      return t.padId();
    }

    public int bosId() {
      return t.bosId();
    }

    public int eosId() {
      return -1;
    }

    public String toTokenizerJson() {
      return t.toTokenizerJson();
    }

    public String name() {
      return t.name() + "-no-eos";
    }
  }
}
