package org.sparkrlhf.jobs.stages;

import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.task.ArithmeticTask;
import org.sparkrlhf.core.task.FlawedTeacher;
import org.sparkrlhf.core.task.Problem;
import org.sparkrlhf.core.task.StepLabels;
import org.sparkrlhf.core.task.TaskSpec;
import org.sparkrlhf.jobs.Stage;

/**
 * {@code data}: generates the built-in arithmetic task into {@code prompts}, {@code sft_demos} and
 * {@code step_labels}. Deterministic from the seed; writes are insert-only MERGEs on (dataset, id), so a
 * re-run adds nothing. A dataset name already used with other generator settings is refused rather
 * than mixed.
 */
public final class DataStage implements Stage {
  @Override
  public String name() {
    return "data";
  }

  @Override
  public String description() {
    return "generate the built-in arithmetic task: prompts, sft_demos, step_labels";
  }

  @Override
  public List<String> sections() {
    return List.of("data");
  }

  @Override
  public void check(Config config) {
    DataConfig c = StageConfigs.bind(config, "data", DataConfig.class);
    spec(c);
    teacher(c.teacher);
  }

  /** The demonstrator of the train split, its settings checked here (before Spark starts). */
  static FlawedTeacher teacher(TeacherConfig t) {
    FlawedTeacher.Mistake mistake;
    try {
      mistake = FlawedTeacher.Mistake.valueOf(t.mistake.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new UserError("data.teacher.mistake must be fixed or random, got '" + t.mistake + "'");
    }
    try {
      return new FlawedTeacher(t.operators, t.maxOperand, t.pairShare, t.errorRate, t.maxOffset, mistake, t.seed);
    } catch (IllegalArgumentException e) {
      throw new UserError("data.teacher: " + e.getMessage());
    }
  }

  static TaskSpec spec(DataConfig c) {
    if (c.minOps < 1 || c.maxOps < c.minOps) {
      throw new UserError("data.min_ops and data.max_ops must satisfy 1 <= min_ops <= max_ops");
    }
    if (c.operandMin < 0 || c.operandMax < c.operandMin) {
      throw new UserError("data.operand_min and data.operand_max must satisfy 0 <= operand_min <= operand_max");
    }
    if (c.operators.isEmpty() || !c.operators.matches("[-+*]+")) {
      throw new UserError("data.operators must be a non-empty subset of +-*, got '" + c.operators + "'");
    }
    if (c.trainSize < 0 || c.validSize < 0 || c.testSize < 0 || c.testOodSize < 0) {
      throw new UserError("data.*_size must not be negative");
    }
    if (c.oodExtraOps < 1) {
      throw new UserError("data.ood_extra_ops must be at least 1 (test_ood has more operators than training), got "
          + c.oodExtraOps);
    }
    try {
      return new TaskSpec(c.minOps, c.maxOps, c.operandMin, c.operandMax, c.operators, c.seed);
    } catch (IllegalArgumentException e) {
      throw new UserError("data: " + e.getMessage());
    }
  }

  /** Identifies the generator settings; a dataset keeps one for life. */
  static String source(DataConfig c, FlawedTeacher teacher) {
    // A perfect teacher adds nothing, so lakes written before teachers existed keep their source.
    return "builtin:arith seed=" + c.seed + " ops=" + c.minOps + "-" + c.maxOps + " operands="
        + c.operandMin + "-" + c.operandMax + " operators=" + c.operators + " ood_extra_ops=" + c.oodExtraOps
        // The operator counts test_ood really has: a lake whose test_ood was drawn with other counts is refused.
        + " test_ood_ops=" + (c.maxOps + 1) + "-" + (c.maxOps + c.oodExtraOps)
        + (teacher.perfect() ? "" : " teacher=" + teacher);
  }

  @Override
  public void run(RunContext ctx, Config config) {
    DataConfig c = StageConfigs.bind(config, "data", DataConfig.class);
    TaskSpec spec = spec(c);
    FlawedTeacher teacher = teacher(c.teacher);
    String source = source(c, teacher);
    Lake lake = ctx.lake();
    ctx.put("config", c);

    List<Row> existing =
        lake.read(Tables.PROMPTS).filter("dataset = '" + c.dataset.replace("'", "''") + "'")
            .select("source").distinct().limit(2).collectAsList();
    for (Row r : existing) {
      if (!r.getString(0).equals(source)) {
        throw new UserError(
            "dataset '" + c.dataset + "' already exists with other settings (" + r.getString(0)
                + "); choose another data.dataset or the same settings");
      }
    }

    Map<String, List<Problem>> splits = new LinkedHashMap<>();
    splits.put("train", ArithmeticTask.generate(spec, "train", c.trainSize));
    splits.put("valid", ArithmeticTask.generate(spec, "valid", c.validSize));
    splits.put("test", ArithmeticTask.generate(spec, "test", c.testSize));
    splits.put("test_ood", ArithmeticTask.generate(spec, spec.ood(c.oodExtraOps), "test_ood", c.testOodSize));

    List<Row> prompts = new ArrayList<>();
    List<Row> demos = new ArrayList<>();
    Map<String, Integer> counts = new LinkedHashMap<>();
    // Only train's demonstrations come from the teacher; held-out splits keep the true solutions as references.
    Map<String, FlawedTeacher.Demonstration> taught = new LinkedHashMap<>();
    for (Map.Entry<String, List<Problem>> e : splits.entrySet()) {
      counts.put(e.getKey(), e.getValue().size());
      for (Problem p : e.getValue()) {
        String completion = p.completion();
        if (p.split().equals(ArithmeticTask.TRAIN)) {
          FlawedTeacher.Demonstration d = teacher.demonstrate(p.expression());
          taught.put(p.id(), d);
          completion = d.completion();
        }
        prompts.add(RowFactory.create(c.dataset, p.split(), p.id(), p.prompt(), Long.toString(p.answer()), source, ctx.runId(), null));
        demos.add(RowFactory.create(c.dataset, p.split(), p.id(), p.prompt(), completion, source, ctx.runId(), null));
      }
    }
    List<Row> labels = new ArrayList<>();
    List<Problem> train = splits.get("train");
    int labelled = Math.min(c.stepLabelProblems, train.size());
    for (int i = 0; i < labelled; i++) {
      Problem p = train.get(i);
      List<StepLabels> rows = StepLabels.forProblem(p, c.corruptionsPerProblem, c.seed);
      for (int k = 0; k < rows.size(); k++) {
        StepLabels s = rows.get(k);
        // forProblem puts the correct solution first, then the corrupted ones.
        labels.add(RowFactory.create(
            c.dataset, p.split(), p.id() + "-s" + k, s.prompt(), s.steps().toArray(new String[0]),
            s.labels().toArray(new Boolean[0]), null, k == 0 ? "correct" : "corrupted", source, ctx.runId(), null));
      }
      // The teacher's own wrong demonstration, labelled through its first wrong step: what SFT was shown.
      FlawedTeacher.Demonstration d = taught.get(p.id());
      if (d != null && !d.flawless()) {
        StepLabels t = StepLabels.throughFirstWrong(p.prompt(), d.steps(), d.firstWrongStep());
        labels.add(RowFactory.create(c.dataset, p.split(), p.id() + "-t", t.prompt(), t.steps().toArray(new String[0]),
            t.labels().toArray(new Boolean[0]), null, "teacher", source, ctx.runId(), null));
      }
    }
    Map<String, Object> teacherReport = teacherReport(teacher, taught.values());

    long vPrompts = lake.insertNew(Tables.PROMPTS, noTimestamp(lake, Tables.PROMPTS, prompts));
    long vDemos = lake.insertNew(Tables.SFT_DEMOS, noTimestamp(lake, Tables.SFT_DEMOS, demos));
    long vLabels = lake.insertNew(Tables.STEP_LABELS, noTimestamp(lake, Tables.STEP_LABELS, labels));
    ctx.put("dataset", c.dataset).put("source", source).put("problems", counts)
        .put("step_label_rows", labels.size()).put("teacher", teacherReport);
    String taughtBy = teacher.perfect() ? "a perfect teacher" : String.format(
        "teacher %s, its train demonstrations %.1f %% correct", teacher, 100 * (double) teacherReport.get("accuracy"));
    ctx.summary("problems " + counts + "; " + taughtBy);
    System.out.printf("data: dataset %s  train %d  valid %d  test %d  test_ood %d  step_labels %d%n",
        c.dataset, counts.get("train"), counts.get("valid"), counts.get("test"), counts.get("test_ood"), labels.size());
    System.out.println("data: " + taughtBy);
    System.out.printf("data: prompts v%d  sft_demos v%d  step_labels v%d%n", vPrompts, vDemos, vLabels);
  }

  /** What the teacher is and what it did on the train split: its accuracy and its measured error rate. */
  static Map<String, Object> teacherReport(FlawedTeacher teacher, java.util.Collection<FlawedTeacher.Demonstration> demos) {
    long correct = 0;
    long occurrences = 0;
    long mistakes = 0;
    for (FlawedTeacher.Demonstration d : demos) {
      correct += d.correct() ? 1 : 0;
      occurrences += d.flawedOccurrences();
      mistakes += d.mistakes();
    }
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("teacher", teacher.toString());
    r.put("flawed_reductions", teacher.flawedReductions());
    r.put("demonstrations", demos.size());
    r.put("accuracy", demos.isEmpty() ? 1.0 : (double) correct / demos.size());
    r.put("flawed_occurrences", occurrences);
    r.put("measured_error_rate", occurrences == 0 ? null : (double) mistakes / occurrences);
    return r;
  }

  /** created_at is left to the writer (null → dropped so Lake fills in the write time). */
  private static Dataset<Row> noTimestamp(Lake lake, String table, List<Row> rows) {
    return lake.frame(table, rows).drop("created_at");
  }
}
