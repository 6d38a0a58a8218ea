package org.sparkrlhf.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.jobs.stages.LineageStage;

/**
 * A run's report in one self-contained HTML file, {@code <lake>/runs/<run>/report.html}: each stage's time and
 * result, the curves of its metrics (JFreeChart, PNG inlined), the evaluations with their paired differences, and
 * the lineage of every checkpoint (tables and Delta versions read, parent). Rendered from a Jinja template
 * ({@code report/run.html.j2}, Jinjava); written after every stage run from the command line, so it is never older
 * than the run's last stage.
 */
public final class RunReport {
  private RunReport() {}

  /** The metrics drawn, in this order, when a stage logged them. */
  static final List<String> CHARTED = List.of(
      "loss", "valid_loss", "valid_accuracy", "reward_mean", "accuracy", "kl_ref", "entropy", "train_groups",
      "rewards/margins", "rewards/accuracies", "margin", "eval_loss", "eval_accuracy", "objective/kl",
      "objective/scores");

  static final int WIDTH = 420;
  static final int HEIGHT = 260;

  /** Writes the run's report and returns its path. */
  public static String write(Lake lake, String runId) {
    System.setProperty("java.awt.headless", "true");
    String runDir = lake.root() + "/runs/" + runId;
    ObjectMapper json = new ObjectMapper();

    // stage reports: time, summary, evaluations
    List<Map<String, Object>> stages = new ArrayList<>();
    List<Map<String, Object>> evals = new ArrayList<>();
    for (String stage : HadoopFiles.listFolders(runDir)) {
      String reportFile = runDir + "/" + stage + "/report.json";
      if (!HadoopFiles.exists(reportFile)) continue;
      JsonNode r;
      try {
        r = json.readTree(HadoopFiles.readText(reportFile));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      Map<String, Object> s = new LinkedHashMap<>();
      s.put("name", stage);
      s.put("seconds", String.format("%.1f", r.path("seconds").asDouble()));
      s.put("summary", r.path("summary").isTextual() ? r.path("summary").asText() : "");
      s.put("started", r.path("started_at").asText(""));
      stages.add(s);
      if (r.has("greedy_accuracy")) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("name", stage);
        e.put("n", r.path("n").asInt());
        e.put("accuracy", pct(r.path("greedy_accuracy")));
        e.put("stderr", pct(r.path("greedy_accuracy_stderr")));
        e.put("pass_at_k", pct(r.path("pass_at_k")));
        e.put("maj_at_k", pct(r.path("maj_at_k")));
        JsonNode p = r.path("paired");
        e.put("baseline", p.isMissingNode() ? "" : p.path("completions").asText(""));
        e.put("difference", p.isMissingNode() ? "" : String.format("%+.1f pts", 100 * p.path("difference").asDouble()));
        e.put("paired_stderr", p.isMissingNode() ? "" : pct(p.path("stderr")));
        evals.add(e);
      }
    }
    stages.sort((a, b) -> ((String) a.get("started")).compareTo((String) b.get("started")));

    // curves: one chart per charted metric a stage logged
    Map<String, Map<String, XYSeries>> byStage = new TreeMap<>();
    List<Row> rows = lake.read(Tables.METRICS).filter(org.apache.spark.sql.functions.col("run_id").equalTo(runId))
        .select("stage", "name", "step", "value").orderBy("stage", "name", "step").collectAsList();
    for (Row r : rows) {
      String name = r.getString(1);
      if (!CHARTED.contains(name) || r.isNullAt(3)) continue;
      double v = r.getDouble(3);
      if (!Double.isFinite(v)) continue;
      byStage.computeIfAbsent(r.getString(0), k -> new LinkedHashMap<>())
          .computeIfAbsent(name, k -> new XYSeries(name, false, true)).add(r.getLong(2), v);
    }
    List<Map<String, Object>> charted = new ArrayList<>();
    int chartCount = 0;
    for (Map.Entry<String, Map<String, XYSeries>> s : byStage.entrySet()) {
      List<Map<String, Object>> charts = new ArrayList<>();
      for (String name : CHARTED) {
        XYSeries series = s.getValue().get(name);
        if (series == null || series.getItemCount() == 0) continue;
        String title = s.getKey() + ": " + name;
        JFreeChart chart = ChartFactory.createXYLineChart(title, "step", name, new XYSeriesCollection(series),
            PlotOrientation.VERTICAL, false, false, false);
        byte[] png;
        try {
          png = ChartUtils.encodeAsPNG(chart.createBufferedImage(WIDTH, HEIGHT));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("title", title);
        c.put("png", Base64.getEncoder().encodeToString(png));
        c.put("width", WIDTH);
        c.put("height", HEIGHT);
        charts.add(c);
      }
      if (charts.isEmpty()) continue;
      chartCount += charts.size();
      charted.add(Map.of("name", s.getKey(), "charts", charts));
    }

    // lineage: every checkpoint of the run
    List<Map<String, Object>> checkpoints = new ArrayList<>();
    for (Row r : lake.read(Tables.CHECKPOINTS).filter(org.apache.spark.sql.functions.col("run_id").equalTo(runId))
        .orderBy("created_at").collectAsList()) {
      Map<String, Object> k = new LinkedHashMap<>();
      k.put("path", r.getAs("path"));
      k.put("stage", r.getAs("stage"));
      k.put("step", r.<Long>getAs("step"));
      k.put("kind", r.getAs("kind"));
      k.put("data", LineageStage.versionsLine(LineageStage.dataVersions(r)));
      k.put("parent", r.getAs("parent") == null ? "" : r.getAs("parent"));
      checkpoints.add(k);
    }

    Map<String, Object> context = new LinkedHashMap<>();
    context.put("run_id", runId);
    context.put("lake", lake.root());
    context.put("written_at", java.time.Instant.now().toString());
    context.put("stages", stages);
    context.put("charted", charted);
    context.put("chart_count", chartCount);
    context.put("evals", evals);
    context.put("checkpoints", checkpoints);
    String html = new Jinjava().render(template(), context);
    String path = runDir + "/report.html";
    HadoopFiles.writeText(path, html);
    return path;
  }

  private static String pct(JsonNode v) {
    return v.isNumber() ? String.format("%.1f %%", 100 * v.asDouble()) : "";
  }

  private static String template() {
    try (InputStream in = RunReport.class.getResourceAsStream("/report/run.html.j2")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
