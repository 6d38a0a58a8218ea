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
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
 * then a second run loses one Worker (and its executor) while it runs sampling tasks (Spark's event log shows them
 * lost and retried) and still ends with every row exactly once.
 */
class RolloutsClusterIT {
  static final int G = 4;
  static final int PROMPTS = 64;
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
    int uiPort = StandaloneCluster.freePort();
    Path events = TestSpark.tempDir("rollouts-it-events");  // Spark's event log: the record of every task's end
    java.util.function.Function<String, Map<String, String>> env = run -> Map.of("RLHF_SPARK_CONF",
        "--conf spark.executor.memory=1g --conf spark.cores.max=2 --conf spark.task.maxFailures=8"
        + " --conf spark.executorEnv.DJL_CACHE_DIR=" + djlCache()
        + " --conf spark.ui.enabled=true --conf spark.ui.port=" + uiPort
        + " --conf spark.eventLog.enabled=true --conf spark.eventLog.compress=false --conf spark.eventLog.dir="
        + eventLog(events, run).toUri());
    List<Process> workers;
    try (StandaloneCluster cluster = new StandaloneCluster(2, 1, "1500m")) {
      workers = cluster.workers();
      // 1. a normal run: both executors generate
      Process first = rlhf(env.apply("spread"), "rollouts", "--master", cluster.masterUrl(), "--lake", lakeRoot,
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
      Process second = rlhf(env.apply("killed"), "rollouts", "--master", cluster.masterUrl(), "--lake", lakeRoot,
          "--run-id", "killed", "--checkpoint", checkpoint, "--set", "rollouts.num_samples=" + G,
          "--set", "rollouts.max_new_tokens=48", "--set", "rollouts.partitions=8");
      awaitStdout(second, "generating", 240);
      awaitLongRunningTasks(second, uiPort, 240);
      StandaloneCluster.kill(workers.get(0));
      Result r2 = finish(second);
      assertEquals(0, r2.code, r2.stderr);
      assertTrue(r2.stderr.contains("Lost executor"), "the driver saw the executor go: " + tail(r2.stderr));
      assertTrue(lostTasks(events, "killed") > 0, "running sampling tasks were lost with the executor and retried");
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

  /** The event-log folder of one run (Spark redacts the command line, so runs are told apart by folder). */
  static Path eventLog(Path root, String run) {
    try {
      return Files.createDirectories(root.resolve(run));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Tasks of run {@code run} that ended with ExecutorLostFailure, from Spark's event log. */
  static long lostTasks(Path eventLogRoot, String run) throws Exception {
    long lost = 0;
    try (var logs = Files.walk(eventLog(eventLogRoot, run))) {  // Spark 4 rolls a log into a folder of files
      for (Path log : logs.filter(Files::isRegularFile).toList()) {
        for (String l : Files.readAllLines(log)) {
          if (!l.contains("\"SparkListenerTaskEnd\"")) continue;
          JsonNode reason = JSON.readTree(l).path("Task End Reason");
          if ("ExecutorLostFailure".equals(reason.path("Reason").asText())) lost++;
        }
      }
    }
    return lost;
  }

  /**
   * Waits, through the driver's REST API, until two tasks have been running for at least half a second: sampling
   * tasks (the shuffle tasks before them take milliseconds), one on each 1-core executor, so the Worker killed
   * next takes a running sampling task down with it.
   */
  static void awaitLongRunningTasks(Process driver, int uiPort, int seconds) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + uiPort + "/api/v1/applications";
    java.time.format.DateTimeFormatter launch = java.time.format.DateTimeFormatter
        .ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'GMT'").withZone(java.time.ZoneOffset.UTC);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (!driver.isAlive()) throw new IllegalStateException("bin/rlhf ended before the worker was killed");
      try {
        String app = base + "/" + JSON.readTree(get(http, base)).get(0).get("id").asText();
        int longRunning = 0;
        for (JsonNode stage : JSON.readTree(get(http, app + "/stages?status=active"))) {
          String tasks = app + "/stages/" + stage.get("stageId").asInt() + "/" + stage.get("attemptId").asInt()
              + "/taskList?length=1000";
          for (JsonNode t : JSON.readTree(get(http, tasks))) {
            if (!"RUNNING".equals(t.path("status").asText())) continue;
            java.time.Instant at = java.time.Instant.from(launch.parse(t.get("launchTime").asText()));
            if (java.time.Duration.between(at, java.time.Instant.now()).toMillis() >= 500) longRunning++;
          }
        }
        if (longRunning >= 2) return;
      } catch (java.io.IOException | NullPointerException e) {
        // the UI is not up yet, or the application has no stage yet
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("no two tasks ran at once for 0.5 s within " + seconds + " s");
  }

  static String get(HttpClient http, String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body();
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

  static String tail(String s) {
    return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
  }
}
