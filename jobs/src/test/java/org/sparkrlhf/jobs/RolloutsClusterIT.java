package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

/**
 * {@code bin/rlhf rollouts} on a standalone Master + two 1-core Workers: the rows come from both executors;
 * then a second run loses one Worker (and its executor) mid-stage and still ends with every row exactly once.
 */
class RolloutsClusterIT {
  static final int G = 4;
  static final int PROMPTS = 160;
  static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void rolloutsSpreadOverExecutorsAndSurviveALostWorker() throws Exception {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    String lakeRoot = TestSpark.newLake("rollouts-cluster-it");
    Lake lake = new Lake(TestSpark.session(), lakeRoot);
    List<Row> prompts = new ArrayList<>();
    for (int i = 0; i < PROMPTS; i++) {
      prompts.add(RowFactory.create("arith", "train", String.format("train-%04d", i),
          (i % 97) + "+" + (i % 13) + "*" + (i % 7) + "=?\n", null, "it", "setup", null));
    }
    lake.insertNew(Tables.PROMPTS, lake.frame(Tables.PROMPTS, prompts));
    // the quickstart architecture, random weights (sampling speed is what matters here)
    CharTokenizer tok = new CharTokenizer();
    String checkpoint = TestSpark.tempDir("rollouts-it-ckpt").resolve("step-000001").toString();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      LlamaConfig cfg = new LlamaConfig(128, 384, 4, 4, 4, tok.vocabSize(), 128, 10000.0, 1e-5, true,
          tok.bosId(), tok.eosId(), tok.padId());
      HfCheckpoint.save(LlamaModel.init(cfg, false, 7, m), tok.toTokenizerJson(), Map.of(), checkpoint);
    }
    Map<String, String> env = Map.of("RLHF_SPARK_CONF", "--conf spark.executor.memory=1g --conf spark.cores.max=2"
        + " --conf spark.task.maxFailures=8 --conf spark.executorEnv.DJL_CACHE_DIR=" + djlCache());
    List<Process> workers;
    try (StandaloneCluster cluster = new StandaloneCluster(2, 1, "1500m")) {
      workers = cluster.workers();
      // 1. a normal run: both executors generate
      Process first = rlhf(env, "rollouts", "--master", cluster.masterUrl(), "--lake", lakeRoot,
          "--run-id", "spread", "--checkpoint", checkpoint, "--set", "rollouts.limit=40",
          "--set", "rollouts.num_samples=" + G, "--set", "rollouts.max_new_tokens=48",
          "--set", "rollouts.partitions=8");
      Result r1 = finish(first);
      assertEquals(0, r1.code, r1.stderr);
      JsonNode rep1 = JSON.readTree(Files.readString(Path.of(r1.lastLine())));
      assertEquals(40 * G, rep1.get("rows").asLong());
      assertTrue(rep1.get("executors").asInt() > 1, "rows from more than one executor: " + rep1);
      assertFalse(rep1.get("executor_ids").toString().contains("driver"), rep1.toString());

      // 2. a worker and its executor die mid-stage
      Process second = rlhf(env, "rollouts", "--master", cluster.masterUrl(), "--lake", lakeRoot,
          "--run-id", "killed", "--checkpoint", checkpoint, "--set", "rollouts.num_samples=" + G,
          "--set", "rollouts.max_new_tokens=48", "--set", "rollouts.partitions=24");
      awaitStdout(second, "generating", 240);
      awaitBusyWorkers(cluster, 2, 120);
      Thread.sleep(12_000); // executors up: let them load the model and get into their first tasks
      assertTrue(second.isAlive(), "the stage is still running when the worker dies");
      StandaloneCluster.kill(workers.get(0));
      Result r2 = finish(second);
      assertEquals(0, r2.code, r2.stderr);
      assertTrue(r2.stderr.contains("Lost executor") || r2.stderr.contains("ExecutorLostFailure"),
          "the driver saw the executor go: " + tail(r2.stderr));
      JsonNode rep2 = JSON.readTree(Files.readString(Path.of(r2.lastLine())));
      assertEquals(PROMPTS * G, rep2.get("rows").asLong());
      assertEquals(PROMPTS * G, rep2.get("distinct_rows").asLong(), "every (prompt_id, sample_index) exactly once");
    }
    for (Process w : workers) assertFalse(w.isAlive(), "every process the test started is stopped");
    long distinct = lake.read(Tables.ROLLOUTS).filter("run_id = 'killed'").select("prompt_id", "sample_index")
        .distinct().count();
    assertEquals(PROMPTS * G, distinct);
    assertEquals(PROMPTS * G, lake.read(Tables.ROLLOUTS).filter("run_id = 'killed'").count());
  }

  /** The DJL cache the driver already uses (natives extracted once, shared by the executors). */
  static String djlCache() {
    String env = System.getenv("DJL_CACHE_DIR");
    return env != null ? env : System.getProperty("user.home") + "/.djl.ai";
  }

  record Result(int code, String stdout, String stderr) {
    String lastLine() {
      List<String> l = stdout.lines().toList();
      return l.isEmpty() ? "" : l.get(l.size() - 1);
    }
  }

  private static final Map<Process, File[]> OUTPUTS = new java.util.concurrent.ConcurrentHashMap<>();

  static Process rlhf(Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Launcher.repoRoot().resolve("bin/rlhf").toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    pb.environment().put("RLHF_DRIVER_MEMORY", "2g");
    File out = File.createTempFile("rlhf-out", ".txt");
    File err = File.createTempFile("rlhf-err", ".txt");
    pb.redirectOutput(out).redirectError(err);
    Process p = pb.start();
    OUTPUTS.put(p, new File[] {out, err});
    return p;
  }

  static Result finish(Process p) throws Exception {
    if (!p.waitFor(10, TimeUnit.MINUTES)) {
      StandaloneCluster.kill(p);
      throw new IllegalStateException("bin/rlhf did not finish in 10 minutes");
    }
    File[] f = OUTPUTS.remove(p);
    return new Result(p.exitValue(), Files.readString(f[0].toPath(), StandardCharsets.UTF_8),
        Files.readString(f[1].toPath(), StandardCharsets.UTF_8));
  }

  static void awaitStdout(Process p, String marker, int seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    Path out = OUTPUTS.get(p)[0].toPath();
    while (System.nanoTime() < deadline) {
      if (Files.readString(out, StandardCharsets.UTF_8).contains(marker)) return;
      if (!p.isAlive()) throw new IllegalStateException("bin/rlhf ended early: " + Files.readString(OUTPUTS.get(p)[1].toPath()));
      Thread.sleep(500);
    }
    throw new IllegalStateException("no '" + marker + "' from bin/rlhf in " + seconds + " s");
  }

  /** Waits until {@code n} workers each have a core in use (an executor of the running application). */
  static void awaitBusyWorkers(StandaloneCluster cluster, int n, int seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      int busy = 0;
      for (JsonNode w : JSON.readTree(cluster.masterJson()).path("workers")) {
        if ("ALIVE".equals(w.path("state").asText()) && w.path("coresused").asInt() > 0) busy++;
      }
      if (busy >= n) return;
      Thread.sleep(500);
    }
    throw new IllegalStateException(n + " workers did not get executors in " + seconds + " s");
  }

  static String tail(String s) {
    return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
  }
}
