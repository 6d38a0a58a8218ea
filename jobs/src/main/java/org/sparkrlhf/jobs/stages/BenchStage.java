package org.sparkrlhf.jobs.stages;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
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
import org.sparkrlhf.core.io.HadoopFiles;
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
import org.sparkrlhf.sft.SftConfig;
import org.sparkrlhf.sft.SftTrainer;

/**
 * {@code bench} ({@code bin/rlhf bench rollouts}): generation and training figures measured in one run on the
 * quickstart architecture ({@code sft.model} of the config) with random weights, written to report.json — not a
 * test, nothing is asserted.
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
 *   <li>{@code generation_tokens_per_s} (the best KV-cached run), {@code generation_mfu}:
 *       {@link LlamaConfig#forwardFlopsPerToken} at the mean context of the generated tokens (prompt + half the
 *       new tokens; the prompts' prefill is not counted) times that tokens/s,
 *       over the bench's one {@link MatmulPeak} (measured first, with the same torch threads, stated beside).
 *   <li>{@code train_tokens_per_s}, {@code train_mfu}: {@code train_steps} SFT optimizer steps of the project's
 *       {@link SftTrainer} on {@code sft.batch_size} rows of {@code train_seq_len} tokens (after as many untimed
 *       steps), predicted tokens per second; MFU with {@link LlamaConfig#trainingFlopsPerToken}.
 *   <li>with {@code bench.peer = true} (tools/bench/peer.sh): the same model, prompts, rows, batch sizes, new
 *       tokens and torch threads in transformers on the official torch ({@link PeerBench}), run alternately with the
 *       project's greedy generation and SFT steps; {@code peer_*} figures and {@code generation_vs_peer},
 *       {@code train_vs_peer} (project ÷ peer, best of each side).
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
    if (c.trainSteps < 1 || c.trainSeqLen < 2) {
      throw new UserError("bench: train_steps must be >= 1 and train_seq_len >= 2");
    }
    if (c.peer && (c.peerPython.isBlank() || c.peerScript.isBlank())) {
      throw new UserError("bench.peer = true needs bench.peer_python and bench.peer_script: tools/bench/peer.sh sets both");
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
      MatmulPeak peak = MatmulPeak.measure(manager);
      System.out.printf("bench rollouts: %s (every mfu of this bench is against it)%n", peak.describe());
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
      double kvCachedBest = cachedBest;

      int promptLen = TokenSequence.promptIds(tok, prompts.get(0).text()).length;
      double avgContext = promptLen + c.newTokens / 2.0;
      double generationFlopsPerToken = cfg.forwardFlopsPerToken(avgContext);
      double trainFlopsPerToken = cfg.trainingFlopsPerToken(c.trainSeqLen);

      // 2. SFT steps on the quickstart's batch shape; with the peer on, project and peer alternately, the project's
      // generation best of the sampled runs above and these greedy ones (generation_tokens_per_s)
      SftConfig sft = StageConfigs.bind(config, "sft", SftConfig.class);
      List<TokenSequence> trainRows = trainRows(cfg.vocabSize(), tok.bosId(), sft.batchSize, c.trainSeqLen, promptLen,
          c.seed);
      List<int[]> promptIds = new ArrayList<>();
      for (PromptRef p : prompts) promptIds.add(TokenSequence.promptIds(tok, p.text()));
      Path peerDir = null;
      String peerSpec = null;
      if (c.peer) {
        try {
          peerDir = Files.createTempDirectory("rlhf-bench-peer");
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        String exported = peerDir.resolve("model").toString();
        HfCheckpoint.save(model, tok.toTokenizerJson(), Map.of("source", "bench random init"), exported);
        peerSpec = PeerBench.spec(exported, c.threads, c.seed, tok.padId(), promptIds, c.batchSize, c.newTokens,
            trainRows, sft.batchSize, c.trainSteps, sft);
      }
      double trainBest = 0;
      List<JsonNode> peerRuns = new ArrayList<>();
      int sameGreedy = -1;
      for (int r = 0; r < c.repeats; r++) {
        trainBest = Math.max(trainBest, sftTokensPerSecond(config, blob, trainRows, c.trainSteps, manager));
        if (!c.peer) continue;
        // greedy, as the peer generates: same work as the sampled runs above, and its tokens can be compared
        long t0 = System.nanoTime();
        List<Completion> g = GenerationEngine.generate(model, noEos, prompts, SamplingParams.greedy(c.newTokens),
            c.batchSize, true);
        double s = (System.nanoTime() - t0) / 1e9;
        if (tokens(g) / s > cachedBest) {
          cachedBest = tokens(g) / s;
          cachedTokens = tokens(g);
          cachedSeconds = s;
        }
        JsonNode run = PeerBench.run(c.peerPython, c.peerScript, peerSpec, peerDir, r);
        peerRuns.add(run);
        List<int[]> ids = new ArrayList<>();
        for (Completion x : g) ids.add(x.tokenIds());
        sameGreedy = PeerBench.sameGreedyRows(ids, run);
      }
      if (peerDir != null) {
        try {
          HadoopFiles.deleteRecursively(peerDir.toString());
        } catch (UncheckedIOException e) {
          System.err.println("bench: " + e.getMessage());
        }
      }
      double flops = cachedTokens * generationFlopsPerToken;
      double mfu = peak.mfu(generationFlopsPerToken, cachedBest);
      double trainMfu = peak.mfu(trainFlopsPerToken, trainBest);
      Map<String, Object> peerFields = c.peer ? PeerBench.fields(peerRuns, c.threads, cachedBest, trainBest,
          generationFlopsPerToken, trainFlopsPerToken, peak) : Map.of();

      // 3. Spark Generator vs the same requests in-process
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

      // 4. weight sync: publish version 2 and have every task slot's executor load it
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
          .put("kv_cache_speedup", kvSpeedup).put("kv_cached_tokens_per_s", kvCachedBest)
          .put("kv_uncached_tokens_per_s", uncachedBest).put("kv_rows", prompts.size()).put("kv_new_tokens", c.newTokens)
          .put("kv_mixed_tokens_per_s", mixedBest).put("kv_mixed_tokens", mixedTokens)
          .put("spark_vs_inprocess", sparkRatio).put("spark_tokens_per_s", sparkBest)
          .put("inprocess_tokens_per_s", inprocBest).put("spark_rows", prompts.size() * c.numSamples)
          .put("spark_tokens", sparkTokens).put("inprocess_tokens", inprocTokens)
          .put("generation_tokens_per_s", cachedBest).put("generation_mfu", mfu).put("generation_flops_per_s", flops / cachedSeconds)
          .put("generation_flops_per_token", generationFlopsPerToken)
          .put("matmul_peak_flops_per_s", peak.flopsPerSecond()).put("matmul_peak_threads", peak.threads())
          .put("train_tokens_per_s", trainBest).put("train_mfu", trainMfu).put("train_flops_per_token", trainFlopsPerToken)
          .put("train_batch_size", sft.batchSize).put("train_seq_len", c.trainSeqLen).put("train_steps", c.trainSteps)
          .put("weight_sync_seconds", syncSeconds).put("weight_sync_executors", reached)
          .put("weight_blob_bytes", blob.length);
      System.out.printf("bench rollouts: kv_cache_speedup %.2fx (%.0f vs %.0f tok/s, %d rows x %d new tokens)%n",
          kvSpeedup, kvCachedBest, uncachedBest, prompts.size(), c.newTokens);
      System.out.printf("bench rollouts: kv_mixed_tokens_per_s %.0f (eos allowed: %d tokens, rows of mixed lengths, freed slots refilled)%n",
          mixedBest, mixedTokens);
      System.out.printf("bench rollouts: spark_vs_inprocess %.2fx (%.0f vs %.0f tok/s, %d task slots)%n",
          sparkRatio, sparkBest, inprocBest, slots);
      System.out.printf("bench rollouts: generation_mfu %.4f (%.2f GFLOP/s, %s)%n",
          mfu, flops / cachedSeconds / 1e9, peak.describe());
      System.out.printf("bench rollouts: train_tokens_per_s %.0f, train_mfu %.4f (%d steps of %d x %d tokens)%n",
          trainBest, trainMfu, c.trainSteps, sft.batchSize, c.trainSeqLen);
      if (c.peer) {
        for (Map.Entry<String, Object> e : peerFields.entrySet()) ctx.put(e.getKey(), e.getValue());
        ctx.put("peer_greedy_rows_equal", sameGreedy);
        System.out.printf("bench rollouts: peer %s, %d runs alternating with the project's%n", peerFields.get("peer"),
            peerRuns.size());
        System.out.printf("bench rollouts: generation_vs_peer %.2fx (%.0f vs %.0f tok/s, batch %d, %d new tokens; "
                + "%d of %d greedy rows token for token equal)%n", peerFields.get("generation_vs_peer"), cachedBest,
            peerFields.get("peer_generation_tokens_per_s"), c.batchSize, c.newTokens, sameGreedy, prompts.size());
        System.out.printf("bench rollouts: train_vs_peer %.2fx (%.0f vs %.0f tok/s, batch %d x %d tokens)%n",
            peerFields.get("train_vs_peer"), trainBest, peerFields.get("peer_train_tokens_per_s"),
            sft.batchSize, c.trainSeqLen);
      }
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
        Math.max(longestPrompt + Math.max(c.newTokens, c.sparkNewTokens), c.trainSeqLen));
    return spec.toConfig(tok);
  }

  /**
   * Four batches of {@code batchSize} training rows of {@code seqLen} random non-special tokens after bos, the first
   * {@code promptLen} unscored (as a demonstration's prompt): the shapes SFT trains on, the values irrelevant to speed.
   */
  static List<TokenSequence> trainRows(int vocab, int bos, int batchSize, int seqLen, int promptLen, long seed) {
    Random rnd = new Random(seed);
    List<TokenSequence> rows = new ArrayList<>();
    for (int i = 0; i < 4 * batchSize; i++) {
      int[] ids = new int[seqLen];
      ids[0] = bos;
      for (int j = 1; j < seqLen; j++) ids[j] = 4 + rnd.nextInt(vocab - 4);
      rows.add(new TokenSequence(ids, Math.min(promptLen, seqLen - 1)));
    }
    return rows;
  }

  /**
   * Predicted tokens per second of {@code steps} SFT steps of the project's trainer (after {@code steps} untimed
   * ones) on a fresh copy of the bench's weights, with the config's SFT optimizer settings; no validation or
   * checkpoints fall inside the timed steps.
   */
  static double sftTokensPerSecond(Config config, byte[] blob, List<TokenSequence> rows, int steps, NDManager manager) {
    SftConfig s = StageConfigs.bind(config, "sft", SftConfig.class);
    s.maxSteps = 2 * steps;
    s.logEvery = steps;
    s.evalEvery = 0;
    s.checkpointEvery = 0;
    double[] last = {0};
    try (HfCheckpoint copy = HfCheckpoint.fromBytes(blob, manager)) {
      new SftTrainer(s).train(copy.model(), rows, List.of(), null, new SftTrainer.Hooks() {
        @Override
        public void onStep(SftTrainer.StepStats st) {
          last[0] = st.tokensPerSecond(); // the second window: the timed steps
        }
      });
    }
    return last[0];
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
