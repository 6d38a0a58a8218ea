package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Dataset;
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
 * {@code bin/rlhf grpo} on a standalone Master + two 1-core Workers, twice from the same start: once undisturbed,
 * once losing a Worker (and its executor) while that executor is running rollout tasks. Spark retries the lost
 * tasks on the survivor; the per-row seeds and the fixed partitioning make the retried tasks regenerate the very
 * same samples, so the killed run's rollouts and final weights equal the undisturbed run's bit for bit.
 */
class GrpoClusterIT {
  static final int PROMPTS = 64;
  static final int ITERATIONS = 6;

  @Test
  void grpoLosingAWorkerMidIterationEndsWithTheUndisturbedWeights() throws Exception {
    String lakeRoot = TestSpark.newLake("grpo-cluster-it");
    Lake lake = new Lake(TestSpark.session(), lakeRoot);
    List<Row> prompts = new ArrayList<>();
    for (int i = 0; i < PROMPTS; i++) {
      prompts.add(RowFactory.create("arith", "train", String.format("train-%04d", i),
          (i % 97) + "+" + (i % 13) + "*" + (i % 7) + "=?\n", "0", "it", "setup", null));
    }
    lake.insertNew(Tables.PROMPTS, lake.frame(Tables.PROMPTS, prompts));
    // random weights: a random model ends with eos at random lengths, so a length reward differs within a group
    CharTokenizer tok = new CharTokenizer();
    Path start = TestSpark.tempDir("grpo-it-start").resolve("step-000000");
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      LlamaConfig cfg = new LlamaConfig(128, 256, 2, 4, 4, tok.vocabSize(), 96, 10000.0, 1e-5, true,
          tok.bosId(), tok.eosId(), tok.padId());
      HfCheckpoint.save(LlamaModel.init(cfg, false, 11, m), tok.toTokenizerJson(), Map.of(), start.toString());
    }
    int uiPort = StandaloneCluster.freePort();
    Path events = TestSpark.tempDir("grpo-it-events");  // Spark's event log: the record of every task's end
    java.util.function.Function<String, Map<String, String>> env = run -> Map.of("RLHF_SPARK_CONF",
        "--conf spark.executor.memory=1g --conf spark.cores.max=2 --conf spark.task.maxFailures=8"
        + " --conf spark.executorEnv.DJL_CACHE_DIR=" + RolloutsClusterIT.djlCache()
        + " --conf spark.ui.enabled=true --conf spark.ui.port=" + uiPort
        + " --conf spark.eventLog.enabled=true --conf spark.eventLog.compress=false --conf spark.eventLog.dir="
        + eventLog(events, run).toUri());
    List<String> settings = List.of("--checkpoint", start.toString(),
        "--set", "grpo.iterations=" + ITERATIONS, "--set", "grpo.prompts_per_iteration=32",
        "--set", "grpo.group_size=4", "--set", "grpo.max_new_tokens=64", "--set", "grpo.minibatch_size=32",
        "--set", "grpo.lr=2e-5", "--set", "grpo.filter_groups=false", "--set", "grpo.checkpoint_every=0",
        "--set", "grpo.write_every=0", "--set", "grpo.rollout_partitions=2", "--set", "grpo.rollout_batch_size=4",
        "--set", "grpo.threads=1", "--set", "grpo.reward.rules=[{name: length_limit, weight: 1.0, "
            + "params: {max_tokens: 8}}]");
    List<Process> workers;
    try (StandaloneCluster cluster = new StandaloneCluster(2, 1, "1500m")) {
      workers = cluster.workers();
      // 1. undisturbed
      Process calm = RolloutsClusterIT.rlhf(env.apply("calm"), args(cluster, lakeRoot, "calm", settings));
      RolloutsClusterIT.Result r1 = RolloutsClusterIT.finish(calm);
      assertEquals(0, r1.code(), RolloutsClusterIT.tail(r1.stderr()));
      r1.stdout().lines().filter(l -> l.startsWith("grpo: iter")).forEach(System.out::println);
      JsonNode rep1 = RolloutsClusterIT.JSON.readTree(Files.readString(Path.of(r1.lastLine())));
      assertEquals(2, rep1.get("last_rollout_executors").asInt(), "both executors generated: " + rep1);
      assertEquals(0, lostTasks(events, "calm"));

      // 2. a Worker dies while its executor runs rollout tasks of a middle iteration
      Process killed = RolloutsClusterIT.rlhf(env.apply("killed"), args(cluster, lakeRoot, "killed", settings));
      RolloutsClusterIT.awaitStdout(killed, "iter    2/", 240);
      awaitLongRunningTasks(killed, uiPort, 120);
      StandaloneCluster.kill(workers.get(0));
      RolloutsClusterIT.Result r2 = RolloutsClusterIT.finish(killed);
      assertEquals(0, r2.code(), RolloutsClusterIT.tail(r2.stderr()));
      assertTrue(r2.stderr().contains("Lost executor"), "the driver saw the executor go");
      assertTrue(lostTasks(events, "killed") > 0, "running rollout tasks were lost with the executor and retried");
      JsonNode rep2 = RolloutsClusterIT.JSON.readTree(Files.readString(Path.of(r2.lastLine())));
      assertEquals(1, rep2.get("last_rollout_executors").asInt(), "the survivor generated the rest: " + rep2);

      // the same samples, once each, and the same weights
      Dataset<Row> rollouts = lake.read(Tables.ROLLOUTS).filter("stage = 'grpo'");
      List<String> calmRows = samples(rollouts, "calm");
      assertEquals(ITERATIONS * 32 * 4, calmRows.size());
      assertEquals(calmRows, samples(rollouts, "killed"), "retried tasks regenerated the same completions");
      byte[] calmWeights = Files.readAllBytes(Path.of(URI.create(uri(rep1.get("checkpoint").asText())))
          .resolve(HfCheckpoint.WEIGHTS));
      byte[] killedWeights = Files.readAllBytes(Path.of(URI.create(uri(rep2.get("checkpoint").asText())))
          .resolve(HfCheckpoint.WEIGHTS));
      assertNotEquals(java.util.Arrays.hashCode(Files.readAllBytes(start.resolve(HfCheckpoint.WEIGHTS))),
          java.util.Arrays.hashCode(calmWeights), "the policy moved from its start");
      assertArrayEquals(calmWeights, killedWeights, "final weights bit for bit");
    }
    for (Process w : workers) assertFalse(w.isAlive(), "every process the test started is stopped");
  }

  static String[] args(StandaloneCluster cluster, String lakeRoot, String run, List<String> settings) {
    List<String> a = new ArrayList<>(List.of("grpo", "--master", cluster.masterUrl(), "--lake", lakeRoot,
        "--run-id", run));
    a.addAll(settings);
    return a.toArray(String[]::new);
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
          JsonNode reason = RolloutsClusterIT.JSON.readTree(l).path("Task End Reason");
          if ("ExecutorLostFailure".equals(reason.path("Reason").asText())) lost++;
        }
      }
    }
    return lost;
  }

  static String uri(String path) {
    return path.contains(":") ? path : "file://" + path;
  }

  /** (iteration, prompt, sample, completion, reward, token log-probs) of a run's rollouts, sorted: a run's samples as a list. */
  static List<String> samples(Dataset<Row> rollouts, String run) {
    return rollouts.filter("run_id = '" + run + "'")
        .selectExpr("concat_ws('|', iteration, prompt_id, sample_index, completion, reward, to_json(token_logprobs))").as(
            org.apache.spark.sql.Encoders.STRING()).collectAsList().stream().sorted().toList();
  }

  /**
   * Waits, through the driver's REST API, until two tasks have been running for at least half a second: rollout
   * tasks (the shuffle tasks before them take milliseconds), one on each 1-core executor, so the Worker killed
   * next takes a running rollout task down with it.
   */
  static void awaitLongRunningTasks(Process driver, int uiPort, int seconds) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + uiPort + "/api/v1/applications";
    java.time.format.DateTimeFormatter launch = java.time.format.DateTimeFormatter
        .ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'GMT'").withZone(java.time.ZoneOffset.UTC);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (!driver.isAlive()) throw new IllegalStateException("bin/rlhf grpo ended before the worker was killed");
      try {
        String app = base + "/" + RolloutsClusterIT.JSON.readTree(get(http, base)).get(0).get("id").asText();
        int longRunning = 0;
        for (JsonNode stage : RolloutsClusterIT.JSON.readTree(get(http, app + "/stages?status=active"))) {
          String tasks = app + "/stages/" + stage.get("stageId").asInt() + "/" + stage.get("attemptId").asInt()
              + "/taskList?length=1000";
          for (JsonNode t : RolloutsClusterIT.JSON.readTree(get(http, tasks))) {
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
    throw new IllegalStateException("no two rollout tasks ran at once for 0.5 s within " + seconds + " s");
  }

  static String get(HttpClient http, String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body();
  }
}
