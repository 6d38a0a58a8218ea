package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.task.ArithmeticTask;
import org.sparkrlhf.core.task.Problem;
import org.sparkrlhf.core.task.StepCorruptor;
import org.sparkrlhf.core.task.TaskSpec;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.sft.ModelSpec;

/**
 * A run at a real vocabulary: a small random Llama with Meta's Llama 3 tokenizer (128,256 tokens, tied embeddings)
 * goes import → sft → dpo → grpo through Delta on chat-formatted data — the built-in task's problems as user/assistant
 * conversations rendered by Llama 3's own chat template, preference pairs of a correct and a corrupted worked
 * solution, and prompts with their answers so GRPO's exact-answer rule still grades. Every stage must finish with
 * finite numbers, its checkpoint must reload with the Llama 3 tokenizer, and the process must stay within a stated
 * heap and RSS bound while the logits are batch × sequence × 128,256 floats.
 */
class RealVocabularyRunTest {
  static final Path LLAMA3 = Path.of("..", "tools", "hf-reference", "downloads", "llama3-tokenizer");
  static final int VOCAB = 128_256;
  static final int EOT = 128_009;
  static final int END_OF_TEXT = 128_001;
  /**
   * Bounds on what the three stages add to the JVM's state at their start (after a full collection): the suite runs
   * other test classes in the same JVM first, so its absolute figures are not this test's. Margin over what runs
   * measured on 2 loaded cores (highest peaks of the runs alone: heap live after GC 695 MB, heap in use 2.0 GB, RSS
   * 4.6 GB, RSS less the committed heap 2.4 GB — libtorch's tensors, the JVM's own, Spark's). The logits of one
   * training batch alone are 8 × ~57 × 128,256 floats ≈ 234 MB, so a full-vocabulary copy kept per step or per
   * sequence would break them within a few steps.
   */
  static final long LIVE_HEAP_BOUND = 1L << 30;
  static final long HEAP_BOUND = 2560L << 20;
  static final long NATIVE_BOUND = 3L << 30;
  static final long RSS_BOUND = 5L << 30;

  static SparkSession spark;
  static String lakeRoot;
  static Path dir;
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void start() {
    org.sparkrlhf.core.tokenizer.Llama3Files.folder();  // skipped (or failed under CI) without the files
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("real-vocab-test");
    dir = TestSpark.tempDir("real-vocab-files");
    Engine.getEngine("PyTorch");
  }

  /**
   * Peaks sampled every 50 ms on a daemon thread, per stage: heap in use (garbage included), heap live after the
   * last collection (what the stage really holds), heap committed, and the process's RSS (heap, libtorch's tensors
   * and everything else native).
   */
  static final class MemoryWatch implements AutoCloseable {
    private final Thread thread;
    private volatile boolean running = true;
    private final long[] peaks = new long[5];

    MemoryWatch() {
      thread = new Thread(() -> {
        while (running) {
          sample();
          try {
            Thread.sleep(50);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "memory-watch");
      thread.setDaemon(true);
      thread.start();
    }

    synchronized void sample() {
      java.lang.management.MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
      long live = 0;
      for (java.lang.management.MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
        if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.getCollectionUsage() != null) {
          live += pool.getCollectionUsage().getUsed();
        }
      }
      long rss = status("VmRSS");
      long[] now = {heap.getUsed(), live, heap.getCommitted(), rss, rss - heap.getCommitted()};
      for (int i = 0; i < now.length; i++) peaks[i] = Math.max(peaks[i], now[i]);
    }

    /**
     * Peaks since the last call (heap used, heap live after GC, heap committed, RSS, RSS less the committed heap at
     * the same moment), then starts again.
     */
    synchronized long[] takePeaks() {
      sample();
      long[] out = peaks.clone();
      java.util.Arrays.fill(peaks, 0);
      return out;
    }

    @Override
    public void close() throws InterruptedException {
      running = false;
      thread.join();
    }
  }

  /** A field of /proc/self/status in bytes (the kernel reports kB). */
  static long status(String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    throw new IllegalStateException("no " + field + " in /proc/self/status");
  }

  static ObjectNode message(String role, String content) {
    return JSON.createObjectNode().put("role", role).put("content", content);
  }

  static ArrayNode messages(ObjectNode... ms) {
    ArrayNode a = JSON.createArrayNode();
    for (ObjectNode m : ms) a.add(m);
    return a;
  }

  static Path jsonl(String name, List<ObjectNode> rows) throws Exception {
    Path f = dir.resolve(name);
    StringBuilder sb = new StringBuilder();
    for (ObjectNode r : rows) sb.append(JSON.writeValueAsString(r)).append('\n');
    Files.writeString(f, sb);
    return f;
  }

  static String run(String stage, List<String> settings) {
    return Stages.run(spark, lakeRoot, "realvocab", stage, StageConfigs.load(null, settings));
  }

  static JsonNode report(String path) throws Exception {
    return JSON.readTree(Files.readString(Path.of(path)));
  }

  static List<Double> metric(Lake lake, String stage, String name) {
    List<Double> out = new ArrayList<>();
    for (Row r : lake.read(Tables.METRICS).filter("run_id = 'realvocab' AND stage = '" + stage + "' AND name = '"
        + name + "'").orderBy("step").collectAsList()) {
      out.add(r.<Double>getAs("value"));
    }
    return out;
  }

  static void assertFinite(String what, List<Double> values) {
    assertTrue(!values.isEmpty(), what + ": no metrics rows");
    for (double v : values) assertTrue(Double.isFinite(v), what + " " + values);
  }

  @Test
  void importSftDpoGrpoAtLlama3Vocabulary() throws Exception {
    long t0 = System.nanoTime();
    // The random model: Llama 3's vocabulary and special ids, a small body, tied embeddings (the 128,256 × 64
    // embedding is also the LM head), with Llama 3's tokenizer.json and tokenizer_config.json beside it.
    HfTokenizer tok = HfTokenizer.load(LLAMA3.resolve("tokenizer.json"));
    assertEquals(VOCAB, tok.vocabSize());
    assertArrayEquals(new int[] {END_OF_TEXT, EOT}, tok.stopIds(), "eos and the end-of-turn token end a reply");
    Path init = dir.resolve("init");
    ModelSpec spec = new ModelSpec();
    spec.hiddenSize = 64;
    spec.intermediateSize = 128;
    spec.numHiddenLayers = 2;
    spec.numAttentionHeads = 4;
    spec.numKeyValueHeads = 2;
    spec.maxPositionEmbeddings = 256;
    spec.tieWordEmbeddings = true;
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel model = LlamaModel.init(spec.toConfig(tok), false, 7, m);
      HfCheckpoint.save(model, tok.toTokenizerJson(), Map.of(), init.toString());
      model.close();
    }
    Files.copy(LLAMA3.resolve(HfTokenizer.TOKENIZER_CONFIG), init.resolve(HfTokenizer.TOKENIZER_CONFIG));

    // The task's problems as conversations: the prompt line as the user's turn, the worked solution (or a corrupted
    // one, whose final answer is wrong) as the assistant's.
    TaskSpec task = TaskSpec.defaults();
    List<ObjectNode> demos = new ArrayList<>();
    List<ObjectNode> validDemos = new ArrayList<>();
    List<ObjectNode> prefs = new ArrayList<>();
    List<ObjectNode> prompts = new ArrayList<>();
    for (Problem p : ArithmeticTask.generate(task, ArithmeticTask.TRAIN, 48)) {
      ArrayNode user = messages(message("user", p.prompt()));
      demos.add(JSON.createObjectNode().put("id", p.id())
          .set("messages", messages(message("user", p.prompt()), message("assistant", p.completion()))));
      prompts.add(JSON.createObjectNode().put("id", p.id()).put("answer", p.answer()).set("prompt", user));
      StepCorruptor.corrupt(p.expression(), StepCorruptor.Kind.ARITHMETIC_ERROR, 11)
          .filter(c -> c.answer() != p.answer())
          .ifPresent(c -> {
            ObjectNode row = JSON.createObjectNode().put("id", p.id());
            row.set("prompt", user);
            row.set("chosen", messages(message("assistant", p.completion())));
            row.set("rejected", messages(message("assistant", c.completion())));
            prefs.add(row);
          });
    }
    for (Problem p : ArithmeticTask.generate(task, ArithmeticTask.VALID, 8)) {
      validDemos.add(JSON.createObjectNode().put("id", p.id())
          .set("messages", messages(message("user", p.prompt()), message("assistant", p.completion()))));
    }
    assertTrue(prefs.size() >= 16, "pairs " + prefs.size());
    // One import of a folder writes each file's kind to its table: demonstrations, pairs and prompts of split train.
    String tokenizer = "import.tokenizer=\"" + init + "\"";
    Files.createDirectories(dir.resolve("train"));
    jsonl("train/chat-sft.jsonl", demos);
    jsonl("train/chat-prefs.jsonl", prefs);
    jsonl("train/chat-prompts.jsonl", prompts);
    run("import", List.of("import.path=\"" + dir.resolve("train") + "\"", "import.dataset=chat", tokenizer));
    run("import", List.of("import.path=\"" + jsonl("chat-sft-valid.jsonl", validDemos) + "\"", "import.dataset=chat",
        "import.split=valid", tokenizer));
    Lake lake = new Lake(spark, lakeRoot);
    Row demo = lake.read(Tables.SFT_DEMOS).filter("dataset = 'chat' AND split = 'train'").orderBy("id").first();
    assertTrue(demo.<String>getAs("prompt").startsWith("<|start_header_id|>user<|end_header_id|>\n\n")
        && demo.<String>getAs("prompt").endsWith("<|start_header_id|>assistant<|end_header_id|>\n\n"), demo.toString());
    assertTrue(demo.<String>getAs("completion").endsWith("<|eot_id|>"), demo.toString());
    Row prompt = lake.read(Tables.PROMPTS).filter("dataset = 'chat'").orderBy("id").first();
    assertTrue(prompt.<String>getAs("prompt").endsWith("<|start_header_id|>assistant<|end_header_id|>\n\n")
        && prompt.getAs("answer") != null, prompt.toString());
    assertEquals(48, lake.read(Tables.PROMPTS).filter("dataset = 'chat' AND split = 'train'").count());

    Map<String, long[]> peaks = new LinkedHashMap<>();
    Map<String, String> reports = new LinkedHashMap<>();
    long[] base;
    try (MemoryWatch watch = new MemoryWatch()) {
      System.gc();
      base = watch.takePeaks();
      reports.put("sft", run("sft", List.of("sft.init_checkpoint=\"" + init + "\"", "sft.dataset=chat",
          "sft.batch_size=8", "sft.max_steps=6", "sft.max_seq_len=96", "sft.warmup_steps=1", "sft.lr=3e-3",
          "sft.eval_every=6", "sft.eval_accuracy_problems=0", "sft.checkpoint_every=0", "sft.log_every=1",
          "sft.threads=2")));
      peaks.put("sft", watch.takePeaks());
      reports.put("dpo", run("dpo", List.of("dpo.dataset=chat", "dpo.batch_size=4", "dpo.max_steps=4",
          "dpo.max_seq_len=96", "dpo.ref_batch_size=8", "dpo.warmup_steps=1", "dpo.checkpoint_every=0",
          "dpo.threads=2")));
      peaks.put("dpo", watch.takePeaks());
      reports.put("grpo", run("grpo", List.of("grpo.dataset=chat", "grpo.init_model=dpo", "grpo.iterations=2",
          "grpo.prompts_per_iteration=4", "grpo.group_size=4", "grpo.max_new_tokens=32", "grpo.minibatch_size=8",
          "grpo.rollout_batch_size=16", "grpo.score_batch_size=8", "grpo.eval_problems=0", "grpo.checkpoint_every=2", "grpo.threads=2",
          "grpo.lr=1e-3", "grpo.filter_groups=false")));
      peaks.put("grpo", watch.takePeaks());
    }
    long hwm = status("VmHWM");

    // Every stage's numbers are real, and SFT's loss fell from ln(128,256) ≈ 11.76 where a random model starts.
    List<Double> sftLoss = metric(lake, "sft", "loss");
    assertFinite("sft loss", sftLoss);
    assertEquals(6, sftLoss.size(), sftLoss.toString());
    assertTrue(sftLoss.get(0) > 10 && sftLoss.get(5) < sftLoss.get(0), "sft loss " + sftLoss);
    assertFinite("sft valid_loss", metric(lake, "sft", "valid_loss"));
    List<Double> dpoLoss = metric(lake, "dpo", "loss");
    assertFinite("dpo loss", dpoLoss);
    assertEquals(4, dpoLoss.size(), dpoLoss.toString());
    assertFinite("dpo rewards/margins", metric(lake, "dpo", "rewards/margins"));
    for (String name : List.of("loss", "reward_mean", "kl_ref", "entropy", "tokens_per_s")) {
      List<Double> v = metric(lake, "grpo", name);
      assertFinite("grpo " + name, v);
      assertEquals(2, v.size(), name + " " + v);
    }
    // The rule reward graded the chat completions against the imported answers; a reply that stopped ended on a
    // stop token of the tokenizer (Llama 3's end of turn or end of text).
    String grpoRows = "run_id = 'realvocab' AND stage = 'grpo'";
    assertEquals(2 * 16, lake.read(Tables.ROLLOUTS).filter(grpoRows + " AND reward_parts['correct_answer'] IS NOT NULL")
        .count());
    for (Row r : lake.read(Tables.ROLLOUTS).filter(grpoRows + " AND finish_reason = 'eos'").collectAsList()) {
      List<Integer> ids = r.getList(r.fieldIndex("token_ids"));
      int last = ids.get(ids.size() - 1);
      assertTrue(last == EOT || last == END_OF_TEXT, "stopped on " + last);
    }

    // Each stage's checkpoint reloads with the Llama 3 tokenizer at the full vocabulary.
    for (String stage : List.of("sft", "dpo", "grpo")) {
      String path = report(reports.get(stage)).path("checkpoint").asText();
      if (stage.equals("grpo")) {
        path = lake.read(Tables.CHECKPOINTS).filter(grpoRows).orderBy(org.apache.spark.sql.functions.col("step")
            .desc()).select("path").as(org.apache.spark.sql.Encoders.STRING()).first();
      }
      try (NDManager m = NDManager.newBaseManager(); HfCheckpoint ck = HfCheckpoint.load(path, m)) {
        assertEquals(VOCAB, ck.model().config().vocabSize(), path);
        HfTokenizer reloaded = (HfTokenizer) HfTokenizer.fromJson(ck.tokenizerJson());
        assertEquals(VOCAB, reloaded.vocabSize());
        assertArrayEquals(tok.encode("=12+21-5\n#### 28"), reloaded.encode("=12+21-5\n#### 28"));
        assertArrayEquals(new int[] {END_OF_TEXT, EOT}, reloaded.stopIds());
        reloaded.close();
      }
    }

    double sftTps = report(reports.get("sft")).path("tokens_per_s").asDouble();
    double dpoTps = report(reports.get("dpo")).path("tokens_per_s").asDouble();
    List<Double> grpoTps = metric(lake, "grpo", "tokens_per_s");
    assertTrue(sftTps > 0 && dpoTps > 0 && grpoTps.stream().allMatch(v -> v > 0), sftTps + " " + dpoTps + " " + grpoTps);
    StringBuilder line = new StringBuilder(String.format("real vocabulary run, at the start (MB): heap used %d, live after GC"
        + " %d, RSS %d (%d beside the heap); peaks in MB:", base[0] >> 20, base[1] >> 20, base[3] >> 20, base[4] >> 20));
    for (Map.Entry<String, long[]> e : peaks.entrySet()) {
      long[] p = e.getValue();
      line.append(String.format(" %s heap used %d, live after GC %d, committed %d, RSS %d (%d beside the heap);",
          e.getKey(), p[0] >> 20, p[1] >> 20, p[2] >> 20, p[3] >> 20, p[4] >> 20));
    }
    line.append(String.format(" VmHWM %d MB; tokens/s sft %.0f dpo %.0f grpo %s; %.0f s", hwm >> 20, sftTps, dpoTps,
        grpoTps, (System.nanoTime() - t0) / 1e9));
    System.out.println(line);
    for (Map.Entry<String, long[]> e : peaks.entrySet()) {
      long[] p = e.getValue();
      assertTrue(p[1] - base[1] < LIVE_HEAP_BOUND, e.getKey() + " live heap; " + line);
      assertTrue(p[0] - base[1] < HEAP_BOUND, e.getKey() + " heap used; " + line);
      assertTrue(p[3] - base[3] < RSS_BOUND, e.getKey() + " RSS; " + line);
      assertTrue(p[4] - base[4] < NATIVE_BOUND, e.getKey() + " RSS beside the heap; " + line);
    }
  }
}
