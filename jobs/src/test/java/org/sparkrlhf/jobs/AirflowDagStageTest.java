package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sparkrlhf.core.config.StageConfigs;

/** bin/rlhf airflow-dag: the DAG's tasks are the pipeline's entries in order; a bad entry is a one-line error. */
class AirflowDagStageTest {
  static final String PIPELINE = "quickstart.stages=[data, sft, eval-sft-test, \"sft_more:sft\", eval-sft_more-test, grpo]";

  record Run(int code, String out, String err) {}

  static Run main(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream savedOut = System.out;
    PrintStream savedErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int code = Main.execute(args);
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(savedOut);
      System.setErr(savedErr);
    }
  }

  /** The (task id, entry) pairs of the generated chain, in order. */
  static List<List<String>> chain(String python) {
    List<List<String>> tasks = new ArrayList<>();
    Matcher m = Pattern.compile("^ {8}stage\\(\"([^\"]+)\", \"([^\"]+)\"\\),$", Pattern.MULTILINE).matcher(python);
    while (m.find()) tasks.add(List.of(m.group(1), m.group(2)));
    return tasks;
  }

  @Test
  void oneTaskPerPipelineEntryInOrderWithTheResolvedSettings(@TempDir Path dir) throws Exception {
    Run r = main("airflow-dag", "--out", dir.toString(), "--jar", "/opt/rlhf/spark-rlhf.jar", "--lake", "/data/lake",
        "--conn-id", "spark_cluster", "--set", PIPELINE, "--set", "sft_more.max_steps=7", "--set", "sft.max_steps=11",
        "--set", "airflow.spark_conf={\"spark.executor.memory\": 3g}");
    assertEquals(0, r.code(), r.err());
    Path dag = dir.resolve("spark_rlhf.py");
    assertEquals(dag.toString(), r.out().strip().lines().reduce((a, b) -> b).orElse(""), "the last line names the DAG");
    String python = Files.readString(dag);
    assertEquals(List.of(List.of("data", "data"), List.of("sft", "sft"), List.of("eval-sft-test", "eval-sft-test"),
        List.of("sft_more", "sft_more:sft"), List.of("eval-sft_more-test", "eval-sft_more-test"), List.of("grpo", "grpo")),
        chain(python), python);
    assertTrue(python.contains("java_class=\"org.sparkrlhf.jobs.Main\""), python);
    assertTrue(python.contains("application_args=[entry, \"--conf\", CONF, \"--run-id\", RUN_ID, \"--lake\", LAKE]"), python);
    assertTrue(python.contains("JAR = \"/opt/rlhf/spark-rlhf.jar\""), python);
    assertTrue(python.contains("LAKE = \"/data/lake\""), python);
    assertTrue(python.contains("CONN_ID = \"spark_cluster\""), python);
    assertTrue(python.contains("DRIVER_MEMORY = \"6g\""), python);
    assertTrue(python.contains("\"spark.driver.extraJavaOptions\": \"-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch\""), python);
    // The kernel pins bin/rlhf sets: the executors' through Spark, the driver's through the operator's environment.
    org.sparkrlhf.core.run.Numerics.REPRODUCIBLE.forEach((k, v) -> {
      assertTrue(python.contains("\"spark.executorEnv." + k + "\": \"" + v + "\""), python);
      assertTrue(python.contains("    \"" + k + "\": \"" + v + "\","), python);
    });
    assertTrue(python.contains("env_vars=DRIVER_ENV"), python);
    assertTrue(python.contains("\"spark.executor.memory\": \"3g\""), python);
    // no --run-id: each DAG run writes its own lake run, named from Airflow's run id
    assertTrue(python.contains("RUN_ID = \"{{ run_id | rlhf_run_id }}\""), python);
    assertTrue(python.contains("with_name(\"spark_rlhf.conf\")"), python);
    assertPythonParses(dag);

    // The settings beside it are the resolved layers, and load as a --conf file to exactly the same pipeline.
    Path conf = dir.resolve("spark_rlhf.conf");
    Config written = ConfigFactory.parseFile(conf.toFile());
    assertFalse(written.hasPath("airflow"), "the DAG's own section is not a stage's setting");
    assertEquals(7, written.getInt("sft_more.max_steps"));
    assertEquals(11, written.getInt("sft.max_steps"));
    Config reloaded = StageConfigs.load(conf.toString(), List.of());
    assertEquals(List.of("data", "sft", "eval-sft-test", "sft_more:sft", "eval-sft_more-test", "grpo"),
        reloaded.getStringList("quickstart.stages"));
    assertEquals(StageConfigs.load(null, List.of(PIPELINE, "sft_more.max_steps=7", "sft.max_steps=11")).withoutPath("airflow").root().unwrapped(),
        reloaded.root().unwrapped(), "a task's settings are the generator's");
  }

  @Test
  void aFixedRunIdAndAnotherDagId(@TempDir Path dir) throws Exception {
    Run r = main("airflow-dag", "--out", dir.toString(), "--jar", "/j.jar", "--run-id", "nightly-1", "--dag-id", "rlhf_nightly",
        "--set", "airflow.schedule=@daily");
    assertEquals(0, r.code(), r.err());
    String python = Files.readString(dir.resolve("rlhf_nightly.py"));
    assertTrue(python.contains("RUN_ID = \"nightly-1\""), python);
    assertTrue(python.contains("dag_id=\"rlhf_nightly\""), python);
    assertTrue(python.contains("schedule=\"@daily\""), python);
    // the embedded quickstart's pipeline
    assertEquals(List.of("data", "sft", "eval-sft-test", "eval-sft-test_ood", "grpo", "eval-grpo-test", "eval-grpo-test_ood"),
        chain(python).stream().map(t -> t.get(1)).toList());
    assertTrue(Files.exists(dir.resolve("rlhf_nightly.conf")));
    assertPythonParses(dir.resolve("rlhf_nightly.py"));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "quickstart.stages=[data, sfft]                  | unknown stage 'sfft'",
      "quickstart.stages=[data, \"more:grpo\"]         | cannot run under another name",
      "quickstart.stages=[data, airflow-dag]           | 'airflow-dag' is not a Spark stage",
      "quickstart.stages=[data, quickstart]            | 'quickstart' is not a Spark stage",
      "quickstart.stages=[data, sft, data]             | runs 'data' twice",
      "quickstart.stages=[]                            | quickstart.stages is empty",
      "sft.log_every=0                                 | sft.log_every",
      "airflow.dag_id=\"my dag\"                       | airflow.dag_id",
      "airflow.retires=2                               | airflow.retires",
  })
  void aBadPipelineIsOneLine(String setting, String named, @TempDir Path dir) {
    Run r = main("airflow-dag", "--out", dir.toString(), "--jar", "/j.jar", "--set", setting.strip());
    assertEquals(2, r.code(), r.out() + r.err());
    String printed = r.err().strip();
    assertTrue(printed.startsWith("rlhf: error: ") && !printed.contains("\n"), printed);
    assertTrue(printed.contains(named.strip()), printed);
    assertEquals(0, dir.toFile().list().length, "nothing written");
  }

  @Test
  void aPipelinesEntryRunsAsNamedFromTheCommandLine() {
    // what each task runs: "<instance>:<stage>" is parsed as its stage and checked with the instance's section over it
    Run r = main("sft_more:sft", "--set", "quickstart.stages=[data, sft, \"sft_more:sft\"]", "--set", "sft_more.log_every=0");
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().strip().startsWith("rlhf: error: ") && r.err().contains("log_every"), r.err());
    Run notInstantiable = main("more:grpo");
    assertEquals(2, notInstantiable.code());
    assertTrue(notInstantiable.err().contains("cannot run under another name"), notInstantiable.err());
  }

  /** Python's own parser on the file, where a python3 is installed (the DAG itself is loaded by Airflow in AirflowDagIT). */
  static void assertPythonParses(Path file) throws Exception {
    Process p;
    try {
      p = new ProcessBuilder("python3", "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])", file.toString())
          .redirectErrorStream(true).start();
    } catch (java.io.IOException noPython) {
      return;
    }
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), said);
  }
}
