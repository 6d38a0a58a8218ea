package org.sparkrlhf.jobs.stages;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.jobs.LocalStage;
import org.sparkrlhf.jobs.Main;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.jobs.Stages;

/**
 * {@code airflow-dag}: the pipeline the quickstart runs ({@code quickstart.stages}) as an Airflow DAG, one
 * {@code SparkSubmitOperator} task per entry in the pipeline's order, each running
 * {@code <entry> --conf <resolved conf> --run-id <run id> --lake <lake>} from the application jar. The settings are
 * resolved here (every {@code --conf} and {@code --set} layer) and written beside the DAG, so the DAG runs exactly the
 * settings it was made from; both are made from the same definition as the quickstart, so they cannot drift apart.
 */
public final class AirflowDagStage implements LocalStage {
  /** Settings of the generated DAG (config section {@code airflow}); the pipeline itself is {@code quickstart.stages}. */
  public static class AirflowConfig {
    /** Folder the DAG ({@code <dag_id>.py}) and its settings ({@code <dag_id>.conf}) are written to. */
    public String out = "airflow/dags";
    /** The DAG's id, also the two files' names. */
    public String dagId = "spark_rlhf";
    /** The Airflow connection naming the Spark master (and deploy mode) the tasks submit to. */
    public String connId = "spark_default";
    /** The application jar as the Airflow workers see it; empty: the jar this command runs from. */
    public String jar = "";
    /** {@code spark-submit --driver-memory}: the driver trains, so it needs what {@code bin/rlhf} gives it. */
    public String driverMemory = "6g";
    /**
     * More Spark settings for every task, e.g. {@code "spark.executor.memory" = 4g}; a key given here replaces the DAG's
     * own (so a {@code spark.driver.extraJavaOptions} here must keep {@code -Dai.djl.offline=true
     * -Dai.djl.default_engine=PyTorch}).
     */
    public Map<String, String> sparkConf = new LinkedHashMap<>();
    /** Airflow's schedule (a cron expression or a preset such as {@code @daily}); empty: triggered by hand only. */
    public String schedule = "";
    /** Retries of a failed task; safe, since a stage re-run under the same run id adds no duplicate rows. */
    public int retries = 0;

    List<String> problems() {
      List<String> p = new ArrayList<>();
      if (!dagId.matches("[A-Za-z0-9_.-]+")) p.add("airflow.dag_id may use letters, digits, '.', '_' and '-' only: " + dagId);
      if (out.isBlank()) p.add("airflow.out must name a folder");
      if (connId.isBlank()) p.add("airflow.conn_id must name an Airflow connection");
      if (retries < 0) p.add("airflow.retries must be >= 0, got " + retries);
      return p;
    }
  }

  /** Options every stage's engine needs on the driver and the executors, as bin/rlhf passes them. */
  static final String DJL_JAVA_OPTIONS = "-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch";

  /** One task of the DAG: its Airflow task id and the pipeline entry it runs. */
  public record Task(String taskId, String entry) {}

  @Override
  public String name() {
    return "airflow-dag";
  }

  @Override
  public String description() {
    return "write quickstart.stages as an Airflow DAG (one SparkSubmitOperator per stage) beside its resolved config;"
        + " without --run-id each DAG run writes its own run, named from Airflow's run id";
  }

  @Override
  public List<String> sections() {
    return List.of("airflow");
  }

  @Override
  public Map<String, String> shortcuts() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("--out", "airflow.out");
    m.put("--dag-id", "airflow.dag_id");
    m.put("--conn-id", "airflow.conn_id");
    m.put("--jar", "airflow.jar");
    m.put("--driver-memory", "airflow.driver_memory");
    return m;
  }

  @Override
  public void check(Config config) {
    StageConfigs.checked(config, "airflow", AirflowConfig.class, AirflowConfig::problems);
    tasks(config);
  }

  /**
   * The DAG's tasks in the pipeline's order, every entry checked as it will run ({@link Stages#check}, as the
   * quickstart checks its own); a task's id is the name the entry writes under.
   */
  public static List<Task> tasks(Config config) {
    List<String> entries = StageConfigs.bind(config, "quickstart", QuickstartStage.QuickstartConfig.class).stages;
    if (entries.isEmpty()) throw new UserError("quickstart.stages is empty: a DAG needs at least one stage");
    List<Task> tasks = new ArrayList<>();
    Set<String> ids = new LinkedHashSet<>();
    for (String entry : entries) {
      Stage stage = Stages.get(entry);
      if (stage instanceof LocalStage || stage instanceof QuickstartStage) {
        throw new UserError("quickstart.stages: '" + entry + "' is not a Spark stage and cannot be a task of the DAG");
      }
      Stages.check(entry, config);
      String id = Stages.runName(entry);
      if (!ids.add(id)) {
        throw new UserError("quickstart.stages runs '" + id + "' twice: each entry is an Airflow task, whose id must be unique");
      }
      tasks.add(new Task(id, entry));
    }
    return tasks;
  }

  @Override
  public String runLocal(String lake, String runId, Config config) {
    AirflowConfig a = StageConfigs.checked(config, "airflow", AirflowConfig.class, AirflowConfig::problems);
    List<Task> tasks = tasks(config);
    Path dir = Path.of(a.out).toAbsolutePath().normalize();
    Path dag = dir.resolve(a.dagId + ".py");
    Path conf = dir.resolve(a.dagId + ".conf");
    String jar = a.jar.isBlank() ? runningJar() : a.jar;
    try {
      Files.createDirectories(dir);
      // The stages' settings only: the DAG's own section says how the DAG was made, not how a stage runs.
      Files.writeString(conf, resolvedConf(config.withoutPath("airflow"), a.dagId), StandardCharsets.UTF_8);
      Files.writeString(dag, render(a, tasks, conf.getFileName().toString(), jar, lake, runId), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UserError("cannot write the DAG to " + dir + ": " + e.getMessage());
    }
    System.out.println("airflow-dag: " + tasks.size() + " tasks (" + String.join(" -> ", tasks.stream().map(Task::taskId).toList())
        + "); settings in " + conf);
    return dag.toString();
  }

  /** The settings as HOCON, every layer resolved: what each task passes with --conf. */
  static String resolvedConf(Config config, String dagId) {
    String body = config.root().render(ConfigRenderOptions.defaults().setOriginComments(false).setComments(false).setJson(false));
    return "# The resolved settings of the Airflow DAG " + dagId + ".py beside this file, written by bin/rlhf airflow-dag:\n"
        + "# every task runs its stage with --conf this file. Regenerate both rather than edit one.\n" + body;
  }

  /** The generated Python: a small Jinja template whose values are Python literals made here. */
  static String render(AirflowConfig a, List<Task> tasks, String confName, String jar, String lake, String runId) {
    Map<String, Object> sparkConf = new LinkedHashMap<>();
    sparkConf.put("spark.driver.extraJavaOptions", DJL_JAVA_OPTIONS);
    sparkConf.put("spark.executor.extraJavaOptions", DJL_JAVA_OPTIONS);
    sparkConf.put("spark.executorEnv.OPT_OUT_TRACKING", "true");
    // The kernel pins bin/rlhf sets, on the executors here and on the driver through the operator's env_vars.
    org.sparkrlhf.core.run.Numerics.REPRODUCIBLE.forEach((k, v) -> sparkConf.put("spark.executorEnv." + k, v));
    sparkConf.putAll(a.sparkConf);
    List<Map<String, String>> envRows = new ArrayList<>();
    org.sparkrlhf.core.run.Numerics.REPRODUCIBLE.forEach((k, v) -> envRows.add(Map.of("key", py(k), "value", py(v))));
    List<Map<String, String>> taskRows = new ArrayList<>();
    for (Task t : tasks) taskRows.add(Map.of("task_id", py(t.taskId()), "entry", py(t.entry())));
    List<Map<String, String>> confRows = new ArrayList<>();
    for (Map.Entry<String, Object> e : sparkConf.entrySet()) {
      confRows.add(Map.of("key", py(e.getKey()), "value", py(String.valueOf(e.getValue()))));
    }
    Map<String, Object> context = new LinkedHashMap<>();
    context.put("dag_id", py(a.dagId));
    context.put("dag_id_text", a.dagId);
    context.put("conf_name", py(confName));
    context.put("conf_name_text", confName);
    context.put("jar", py(jar));
    context.put("lake", py(lake));
    context.put("conn_id", py(a.connId));
    context.put("java_class", py(Main.class.getName()));
    context.put("driver_memory", py(a.driverMemory));
    context.put("spark_conf", confRows);
    context.put("driver_env", envRows);
    context.put("schedule", a.schedule.isBlank() ? "None" : py(a.schedule));
    context.put("retries", a.retries);
    context.put("fixed_run_id", runId == null ? "" : py(runId));
    context.put("tasks", taskRows);
    JinjavaConfig jc = JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).build();
    return new Jinjava(jc).render(template(), context);
  }

  /** A Python string literal: JSON's string syntax is a subset of Python's. */
  static String py(String s) {
    try {
      return new ObjectMapper().writeValueAsString(s);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The application jar this command runs from (bin/rlhf runs it from the jar it submits). */
  private static String runningJar() {
    String where;
    try {
      where = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    } catch (java.net.URISyntaxException | SecurityException | NullPointerException e) {
      where = "";
    }
    if (!where.endsWith(".jar")) {
      throw new UserError("give the application jar with --jar PATH (this command is not running from one: " + where + ")");
    }
    return where;
  }

  private static String template() {
    try (InputStream in = AirflowDagStage.class.getResourceAsStream("/airflow/dag.py.j2")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
