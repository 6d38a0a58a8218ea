package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The DAG bin/rlhf airflow-dag writes, in real Airflow (the pinned airflow/requirements.txt): Airflow's DagBag loads
 * it with the pipeline's tasks in the pipeline's order (and reports a broken copy), then {@code airflow dags test}
 * runs it end to end, each task a spark-submit (pyspark's, Spark 4.2.0) of the application jar on local[2].
 */
class AirflowDagIT {
  static final List<String> PIPELINE = List.of("data", "sft", "eval-sft-test", "grpo");

  /** Tiny data, model and steps: the point is that every task runs its stage, not what the stages learn. */
  static final String TINY = String.join("\n",
      "quickstart.stages = [data, sft, eval-sft-test, grpo]",
      "data { train_size = 64, valid_size = 8, test_size = 8, test_ood_size = 8, step_label_problems = 0 }",
      "sft {",
      "  model { hidden_size = 32, intermediate_size = 64, num_hidden_layers = 1, num_attention_heads = 2, num_key_value_heads = 1 }",
      "  batch_size = 16, max_steps = 4, eval_every = 4, checkpoint_every = 0, log_every = 4, eval_accuracy_problems = 0, threads = 1",
      "}",
      "eval { k = 0, max_new_tokens = 24, threads = 1 }",
      "grpo { prompts_per_iteration = 4, group_size = 4, iterations = 2, max_new_tokens = 24, minibatch_size = 8,",
      "  checkpoint_every = 2, threads = 1 }",
      "");

  @Test
  void theGeneratedDagLoadsAndRunsThePipelineInAirflow() throws Exception {
    Path venv = venv();
    Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "airflow-it");
    Path dags = dir.resolve("dags");
    Path lake = dir.resolve("lake");
    Path conf = dir.resolve("tiny.conf");
    Files.writeString(conf, TINY);

    // (a) the DAG, from the same pipeline definition bin/rlhf quickstart would run
    Launcher.Result gen = Launcher.rlhf(Map.of(), "airflow-dag", "--conf", conf.toString(), "--out", dags.toString(),
        "--lake", lake.toString(), "--driver-memory", "2g",
        "--set", "airflow.spark_conf={\"spark.ui.enabled\": \"false\", \"spark.sql.shuffle.partitions\": \"2\","
            + " \"spark.databricks.delta.snapshotPartitions\": \"2\"}");
    assertEquals(0, gen.code(), gen.stderr());
    Path dag = dags.resolve("spark_rlhf.py");
    assertEquals(dag.toString(), gen.lastLine(), gen.stdout());

    // (b) Airflow's DagBag: no import error; the tasks, their order and their spark-submit are the pipeline's.
    // A copy with a deliberate mistake shows the same check fails on a DAG Airflow cannot import.
    Path broken = dir.resolve("broken");
    Files.createDirectories(broken);
    String python = Files.readString(dag);
    assertTrue(python.contains("stage(\"grpo\", \"grpo\"),"), python);
    Files.writeString(broken.resolve("spark_rlhf.py"), python.replace("stage(\"grpo\", \"grpo\"),", "stage(\"grpo\", \"grpo\", \"extra\"),"));
    Path check = dir.resolve("dagbag_check.py");
    try (InputStream in = AirflowDagIT.class.getResourceAsStream("/airflow/dagbag_check.py")) {
      Files.copy(in, check);
    }
    Map<String, String> env = airflowEnv(venv, dir, dags);
    Path found = dir.resolve("dagbag.json");
    Run bag = run(env, dir, 5, venv.resolve("bin/python").toString(), check.toString(), found.toString(),
        dags.toString(), broken.toString());
    assertEquals(0, bag.code(), bag.output());
    JsonNode loaded = new ObjectMapper().readTree(found.toFile());
    JsonNode good = loaded.path(dags.toString());
    assertEquals(0, good.path("import_errors").size(), good.toString());
    List<JsonNode> tasks = new ArrayList<>();
    good.path("dags").path("spark_rlhf").forEach(tasks::add);
    assertEquals(PIPELINE, tasks.stream().map(t -> t.path("task_id").asText()).toList(), good.toString());
    for (int i = 0; i < tasks.size(); i++) {
      JsonNode t = tasks.get(i);
      assertEquals(i == 0 ? "[]" : "[\"" + PIPELINE.get(i - 1) + "\"]", t.path("upstream").toString());
      assertEquals(i == tasks.size() - 1 ? "[]" : "[\"" + PIPELINE.get(i + 1) + "\"]", t.path("downstream").toString());
      assertEquals("SparkSubmitOperator", t.path("operator").asText());
      assertEquals("org.sparkrlhf.jobs.Main", t.path("java_class").asText());
      assertEquals(Launcher.repoRoot().resolve("jobs/target/spark-rlhf.jar").toString(), t.path("application").asText(),
          "by default the jar bin/rlhf runs");
      assertEquals("[\"" + PIPELINE.get(i) + "\",\"--conf\",\"" + dags.resolve("spark_rlhf.conf") + "\",\"--run-id\","
          + "\"{{ run_id | rlhf_run_id }}\",\"--lake\",\"" + lake + "\"]", t.path("application_args").toString());
      assertEquals("2g", t.path("driver_memory").asText());
      assertEquals("-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch",
          t.path("conf").path("spark.driver.extraJavaOptions").asText());
    }
    JsonNode bad = loaded.path(broken.toString());
    assertEquals(1, bad.path("import_errors").size(), bad.toString());
    assertTrue(bad.path("import_errors").toString().contains("takes 2 positional arguments but 3 were given"), bad.toString());
    assertEquals(0, bad.path("dags").size(), bad.toString());

    // (c) the whole DAG run by Airflow on a fresh sqlite database
    Run migrate = run(env, dir, 5, venv.resolve("bin/airflow").toString(), "db", "migrate");
    assertEquals(0, migrate.code(), migrate.output());
    long t0 = System.nanoTime();
    Run test = run(env, dir, 15, venv.resolve("bin/airflow").toString(), "dags", "test", "spark_rlhf");
    String tail = test.output().substring(Math.max(0, test.output().length() - 6000));
    assertEquals(0, test.code(), tail);
    assertTrue(test.output().contains("state=success"), tail);
    System.out.printf("airflow dags test: %.0f s%n", (System.nanoTime() - t0) / 1e9);

    // one lake run for the DAG run, named from Airflow's run id; every task's report and the tables they wrote
    File[] runs = lake.resolve("runs").toFile().listFiles(File::isDirectory);
    assertEquals(1, runs == null ? 0 : runs.length, tail);
    String runId = runs[0].getName();
    assertTrue(runId.startsWith("manual__") && runId.matches("[A-Za-z0-9._-]+"), runId);
    for (String stage : PIPELINE) {
      Path report = runs[0].toPath().resolve(stage).resolve("report.json");
      assertTrue(Files.exists(report), report + " missing; " + tail);
      assertTrue(test.output().contains(report.toString()), "the task's last line names its report: " + report);
    }
    for (String table : List.of("prompts", "sft_demos", "checkpoints", "metrics", "rollouts")) {
      Path log = lake.resolve(table).resolve("_delta_log");
      String[] commits = log.toFile().list((d, n) -> n.endsWith(".json"));
      assertFalse(commits == null || commits.length == 0, "no Delta commit in " + log);
    }
    JsonNode eval = new ObjectMapper().readTree(runs[0].toPath().resolve("eval-sft-test/report.json").toFile());
    assertEquals(8, eval.path("n").asInt(), eval.toString());
    JsonNode grpo = new ObjectMapper().readTree(runs[0].toPath().resolve("grpo/report.json").toFile());
    assertTrue(grpo.path("writes").has("rollouts"), grpo.toString());
  }

  /** The environment tools/python/venv.sh makes (once) from airflow/requirements.txt. */
  static Path venv() throws Exception {
    Path root = Launcher.repoRoot();
    boolean python;
    try {
      python = new ProcessBuilder("python3", "-c", "import venv, ensurepip").start().waitFor() == 0;
    } catch (IOException none) {
      python = false;
    }
    Assumptions.assumeTrue(python, "no python3 with venv and ensurepip (Debian: python3-venv) to make the Airflow environment in");
    Run made = run(Map.of(), root, 20, root.resolve("tools/python/venv.sh").toString(),
        root.resolve("airflow/requirements.txt").toString());
    assertEquals(0, made.code(), made.output());
    return Path.of(made.output().strip().lines().reduce((a, b) -> b).orElseThrow());
  }

  /**
   * Airflow on its own home and sqlite database in {@code dir}; the Spark connection is local[2] through the
   * provider's {@code spark-submit} on the PATH, here pyspark's in the environment (provider 6.x takes the binary
   * from the PATH, never from a SPARK_HOME).
   */
  static Map<String, String> airflowEnv(Path venv, Path dir, Path dags) {
    Map<String, String> env = new HashMap<>();
    env.put("AIRFLOW_HOME", dir.resolve("airflow-home").toString());
    env.put("AIRFLOW__CORE__DAGS_FOLDER", dags.toString());
    env.put("AIRFLOW__CORE__LOAD_EXAMPLES", "False");
    env.put("AIRFLOW_CONN_SPARK_DEFAULT", "{\"conn_type\": \"spark\", \"host\": \"local[2]\"}");
    env.put("PATH", venv.resolve("bin") + File.pathSeparator + System.getenv("PATH"));
    env.put("JAVA_HOME", System.getProperty("java.home"));
    env.put("SPARK_LOCAL_IP", "127.0.0.1");
    env.put("OPT_OUT_TRACKING", "true");
    return env;
  }

  record Run(int code, String output) {}

  /** Runs a command to the end (output and errors together); a SPARK_HOME of the caller's would pick another Spark. */
  static Run run(Map<String, String> env, Path cwd, int minutes, String... cmd) throws IOException, InterruptedException {
    File out = File.createTempFile("airflow-it", ".txt");
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).redirectOutput(out);
    pb.environment().remove("SPARK_HOME");
    pb.environment().putAll(env);
    Process p = pb.start();
    if (!p.waitFor(minutes, TimeUnit.MINUTES)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", cmd) + " did not finish in " + minutes + " minutes");
    }
    return new Run(p.exitValue(), Files.readString(out.toPath(), StandardCharsets.UTF_8));
  }
}
