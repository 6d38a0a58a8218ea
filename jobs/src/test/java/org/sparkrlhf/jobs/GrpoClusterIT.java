package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
        + RolloutsClusterIT.eventLog(events, run).toUri());
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
      assertEquals(0, RolloutsClusterIT.lostTasks(events, "calm"));

      // 2. a Worker dies while its executor runs rollout tasks of a middle iteration
      Process killed = RolloutsClusterIT.rlhf(env.apply("killed"), args(cluster, lakeRoot, "killed", settings));
      RolloutsClusterIT.awaitStdout(killed, "iter    2/", 240);
      RolloutsClusterIT.awaitLongRunningTasks(killed, uiPort, 120);
      StandaloneCluster.kill(workers.get(0));
      RolloutsClusterIT.Result r2 = RolloutsClusterIT.finish(killed);
      assertEquals(0, r2.code(), RolloutsClusterIT.tail(r2.stderr()));
      assertTrue(r2.stderr().contains("Lost executor"), "the driver saw the executor go");
      assertTrue(RolloutsClusterIT.lostTasks(events, "killed") > 0, "running rollout tasks were lost with the executor and retried");
      JsonNode rep2 = RolloutsClusterIT.JSON.readTree(Files.readString(Path.of(r2.lastLine())));
      assertEquals(1, rep2.get("last_rollout_executors").asInt(), "the survivor generated the rest: " + rep2);

      // the same samples, once each, and the same weights
      Dataset<Row> rollouts = lake.read(Tables.ROLLOUTS).filter("stage = 'grpo'");
      List<String> calmRows = samples(rollouts, "calm");
      assertEquals(ITERATIONS * 32 * 4, calmRows.size());
      List<String> killedRows = samples(rollouts, "killed");
      java.util.Set<String> differing = new java.util.HashSet<>(calmRows);
      differing.removeAll(killedRows);
      assertTrue(calmRows.equals(killedRows), "retried tasks regenerated the same completions and log-probs; "
          + differing.size() + " of the undisturbed run's " + calmRows.size() + " samples differ");
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

  static String uri(String path) {
    return path.contains(":") ? path : "file://" + path;
  }

  /** (iteration, prompt, sample, completion, reward, token log-probs) of a run's rollouts, sorted: a run's samples as a list. */
  static List<String> samples(Dataset<Row> rollouts, String run) {
    return rollouts.filter("run_id = '" + run + "'")
        .selectExpr("concat_ws('|', iteration, prompt_id, sample_index, completion, reward, to_json(token_logprobs))").as(
            org.apache.spark.sql.Encoders.STRING()).collectAsList().stream().sorted().toList();
  }

}
