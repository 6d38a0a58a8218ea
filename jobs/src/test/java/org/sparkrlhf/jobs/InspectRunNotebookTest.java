package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.jobs.stages.LineageStage;

/**
 * notebooks/inspect_run.ipynb executed headless (nbclient, a kernel of the notebooks' pinned virtual environment, its
 * own PySpark JVM reading the lake with delta-spark) against a tiny run made here — data → sft → grpo → pairs of
 * grpo's last iteration → dpo — so a broken cell fails the build; and what it prints is what the lake holds: the
 * run's pair count, the rollouts of one iteration, the checkpoint chain, a time-travel read of an earlier version.
 */
class InspectRunNotebookTest {
  static final String RUN = "nb";

  static final List<String> SETTINGS = List.of(
      // One-operator expressions of digits: a briefly trained model gets some right, so grpo's samples pair up.
      "data.train_size=40", "data.valid_size=4", "data.test_size=4", "data.test_ood_size=4",
      "data.step_label_problems=0", "data.min_ops=1", "data.max_ops=1", "data.operand_max=9",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=120", "sft.eval_every=120", "sft.checkpoint_every=0", "sft.log_every=20",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "grpo.prompts_per_iteration=4", "grpo.group_size=4", "grpo.iterations=3", "grpo.max_new_tokens=16",
      "grpo.minibatch_size=8", "grpo.checkpoint_every=3", "grpo.threads=1", "grpo.lr=1e-3", "grpo.eval_every=0",
      "grpo.filter_groups=false",
      // a commit per iteration: the rollouts table has earlier versions to travel back to
      "grpo.write_every=1",
      "pairs.source_stage=grpo", "pairs.iteration=3",
      "dpo.max_steps=3", "dpo.batch_size=4", "dpo.threads=1", "dpo.lr=1e-3", "dpo.checkpoint_every=3");

  @Test
  void theNotebookRunsOnATinyRunAndShowsWhatTheLakeHolds() throws Exception {
    Path repo = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent();
    Path notebook = repo.resolve("notebooks/inspect_run.ipynb");
    // Committed without outputs: a diff of the notebook is a diff of its code, never of one run's results.
    for (JsonNode cell : new ObjectMapper().readTree(notebook.toFile()).get("cells")) {
      JsonNode count = cell.path("execution_count");  // absent from markdown cells, null in a cleared code cell
      assertTrue(cell.path("outputs").isEmpty() && (count.isNull() || count.isMissingNode()),
          "notebooks/inspect_run.ipynb is committed with outputs: clear them");
    }
    Assumptions.assumeTrue(onPath("python3"), "no python3 (.ci/run installs it)");
    String venv = venv(repo);

    SparkSession spark = TestSpark.session();
    String lakeRoot = TestSpark.newLake("notebook-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    var config = StageConfigs.load(null, SETTINGS);
    for (String stage : List.of("data", "sft", "grpo", "pairs", "dpo")) {
      Stages.run(spark, lakeRoot, RUN, stage, config);
    }

    // What the notebook should find, read here through the project's own lake access.
    Lake lake = new Lake(spark, lakeRoot);
    long pairs = lake.read(Tables.PREFERENCES).filter("run_id = '" + RUN + "' OR source_run = '" + RUN + "'").count();
    assertTrue(pairs > 0, "the run made pairs");
    long lastIterationRollouts =
        lake.read(Tables.ROLLOUTS).filter("run_id = '" + RUN + "' AND stage = 'grpo' AND iteration = 3").count();
    long rolloutsVersion = lake.version(Tables.ROLLOUTS);
    long earlier = rolloutsVersion - 1;
    long rolloutsThen = spark.read().format("delta").option("versionAsOf", earlier)
        .load(lakeRoot + "/" + Tables.ROLLOUTS).count();
    long rolloutsNow = lake.read(Tables.ROLLOUTS).count();
    assertTrue(rolloutsThen < rolloutsNow, "the earlier version has fewer rollouts");
    Row newest = lake.read(Tables.CHECKPOINTS).filter("run_id = '" + RUN + "'").orderBy("created_at")
        .collectAsList().stream().reduce((a, b) -> b).orElseThrow();
    assertEquals("dpo", newest.getAs("stage"));
    String dpoCheckpoint = newest.getAs("path");
    String sftCheckpoint = newest.getAs("parent");
    Map<String, Long> trainedOn = LineageStage.dataVersions(newest);
    long preferencesVersion = trainedOn.get(Tables.PREFERENCES);
    long pairsThen = spark.read().format("delta").option("versionAsOf", preferencesVersion)
        .load(lakeRoot + "/" + Tables.PREFERENCES).count();

    Path work = TestSpark.tempDir("notebook-run");
    Path executed = work.resolve("inspect_run.out.ipynb");
    List<String> cmd = List.of(venv + "/bin/python", repo.resolve("notebooks/run_notebook.py").toString(),
        notebook.toString(), "--output", executed.toString(), "--cwd", work.toString());
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(work.toFile()).redirectErrorStream(true)
        .redirectOutput(work.resolve("run_notebook.log").toFile());
    pb.environment().putAll(Map.of(
        "RLHF_LAKE", lakeRoot, "RLHF_RUN", RUN, "RLHF_MASTER", "local[2]", "RLHF_PARTITIONS", "2",
        "RLHF_DELTA_JARS", deltaJars(),
        // PySpark starts its own JVM: this test's Java 17, not whatever java is first on the PATH
        "JAVA_HOME", System.getProperty("java.home"),
        "SPARK_LOCAL_IP", "127.0.0.1"));
    Process p = pb.start();
    boolean finished = p.waitFor(10, TimeUnit.MINUTES);
    if (!finished) p.destroyForcibly();
    String log = Files.readString(work.resolve("run_notebook.log"), StandardCharsets.UTF_8);
    assertTrue(finished, "the notebook did not finish in 10 minutes:\n" + log);
    assertEquals(0, p.exitValue(), "a notebook cell failed (executed notebook: " + executed + "):\n" + tail(log));

    JsonNode nb = new ObjectMapper().readTree(executed.toFile());
    StringBuilder printed = new StringBuilder();
    int images = 0;
    for (JsonNode cell : nb.get("cells")) {
      for (JsonNode out : cell.path("outputs")) {
        if (out.path("output_type").asText().equals("stream")) printed.append(text(out.get("text")));
        if (out.path("data").has("image/png")) images++;
      }
    }
    String text = printed.toString();
    assertTrue(text.contains("pairs: " + pairs + "\n"), "the pair count, " + pairs + ":\n" + text);
    assertTrue(text.contains("rollouts of grpo iteration 3: " + lastIterationRollouts + "\n"),
        "the last iteration's rollouts, " + lastIterationRollouts + ":\n" + text);
    assertTrue(text.contains("pairs traced to their chosen rollout: " + pairs + "\n"), "every pair traced:\n" + text);
    assertTrue(text.contains("lineage: 3 link(s)\n"), "dpo ← sft ← a new model:\n" + text);
    assertTrue(text.contains(dpoCheckpoint + ": " + RUN + "/dpo step 3 (policy)\n"), text);
    assertTrue(text.contains("  " + sftCheckpoint + ": " + RUN + "/sft step 120 (policy)\n"), text);
    assertTrue(text.contains("rows of rollouts at version " + earlier + ": " + rolloutsThen + "\n"),
        "the time-travel read of version " + earlier + ":\n" + text);
    assertTrue(text.contains("rows of rollouts at version " + rolloutsVersion + ": " + rolloutsNow + "\n"), text);
    assertTrue(text.contains("was trained on preferences@" + preferencesVersion + ": " + pairsThen + " rows"), text);
    assertTrue(text.contains("curves of grpo: ") && text.contains("curves of dpo: "), text);
    assertTrue(images >= 2, "the reward histogram and the curves are drawn: " + images + " image(s)");
  }

  /** The notebooks' virtual environment: made once from notebooks/requirements.txt by the project's helper. */
  static String venv(Path repo) throws Exception {
    Path log = Files.createTempFile("venv", ".log");
    Process p = new ProcessBuilder("bash", repo.resolve("tools/python/venv.sh").toString(), "notebooks/requirements.txt")
        .directory(repo.toFile()).redirectError(log.toFile()).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertTrue(p.waitFor(20, TimeUnit.MINUTES), "venv.sh did not finish");
    assertEquals(0, p.exitValue(), "venv.sh failed:\n" + Files.readString(log));
    String[] lines = out.split("\n");
    return lines[lines.length - 1];
  }

  /**
   * Delta's JVM side for the notebook's session: the very jars Maven resolved for this project (the ones the
   * application jar shades in), so nothing is fetched at test time and the reader is the Delta that wrote the lake.
   */
  static String deltaJars() {
    // surefire may start the JVM from a manifest-only jar; it names the real test classpath in its own property
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> jars = Arrays.stream(classpath.split(File.pathSeparator))
        .filter(j -> j.contains("/io/delta/") || j.contains("/io/unitycatalog/") || j.contains("jackson-datatype-jdk8"))
        .collect(Collectors.toList());
    assertTrue(jars.stream().anyMatch(j -> j.contains("delta-spark_2.13")), "delta-spark on the classpath: " + jars);
    return String.join(",", jars);
  }

  static boolean onPath(String command) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (new File(dir, command).canExecute()) return true;
    }
    return false;
  }

  /** A notebook's text field: one string or a list of lines. */
  static String text(JsonNode node) {
    if (node == null) return "";
    if (node.isArray()) {
      StringBuilder s = new StringBuilder();
      node.forEach(n -> s.append(n.asText()));
      return s.toString();
    }
    return node.asText();
  }

  static String tail(String log) {
    List<String> lines = new ArrayList<>(List.of(log.split("\n")));
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
  }
}
