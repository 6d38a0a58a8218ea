package org.sparkrlhf.jobs.stages;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.rules.OutcomeGrading;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/**
 * {@code eval}: a checkpoint on a split of {@code prompts} or on a JSONL of {@code {prompt, answer}}.
 * Greedy accuracy, format compliance, and pass@k / maj@k over k samples; writes every generated text to
 * {@code completions.jsonl} (so anyone can re-grade it), the figures to {@code metrics} and the report.
 * Run as {@code eval-<model>-<split>} (e.g. {@code eval-sft-test}) it evaluates the newest checkpoint of
 * stage {@code <model>} in this run on {@code <split>}, under that name.
 */
public final class EvalStage implements Stage {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The provenance key of the text a checkpoint's policy expects after every prompt (Chain of Hindsight's). */
  static final String PROMPT_SUFFIX = "prompt_suffix";

  /** One problem: id, prompt, reference answer. */
  record Problem(String id, String prompt, String answer) {}

  @Override
  public String name() {
    return "eval";
  }

  @Override
  public String description() {
    return "evaluate a checkpoint: greedy accuracy, format rate, pass@k, maj@k (also as eval-<model>-<split>)";
  }

  @Override
  public List<String> sections() {
    return List.of("eval");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--checkpoint", "eval.checkpoint", "--split", "eval.split", "--prompts", "eval.prompts");
  }

  @Override
  public void check(Config config) {
    EvalConfig c = StageConfigs.bind(config, "eval", EvalConfig.class);
    if (c.k < 0 || c.maxNewTokens < 1 || c.batchSize < 1) {
      throw new UserError("eval.k must be >= 0, eval.max_new_tokens and eval.batch_size >= 1");
    }
    if (c.k > 0 && c.temperature <= 0) throw new UserError("eval.temperature must be > 0 when eval.k > 0");
  }

  @Override
  public void run(RunContext ctx, Config config) {
    EvalConfig c = StageConfigs.bind(config, "eval", EvalConfig.class);
    check(config);
    Models.initEngine(c.threads);
    Lake lake = ctx.lake();
    String checkpoint = c.checkpoint.isBlank() ? Checkpoints.latest(lake, ctx.runId(), c.model, "policy") : c.checkpoint;
    List<Problem> problems = c.prompts.isBlank() ? fromSplit(lake, c) : fromJsonl(ctx, c.prompts);
    if (c.limit > 0 && problems.size() > c.limit) problems = problems.subList(0, c.limit);
    if (problems.isEmpty()) {
      throw new UserError(c.prompts.isBlank()
          ? "no prompts for dataset '" + c.dataset + "' split '" + c.split + "' (run the data stage first)"
          : "no valid {prompt, answer} rows in " + c.prompts);
    }

    try (NDManager manager = NDManager.newBaseManager()) {
      Models.Loaded loaded = Models.load(checkpoint, manager);
      // A policy trained to answer after a feedback text (hindsight) names it in its provenance.
      Object trained = loaded.provenance().get(PROMPT_SUFFIX);
      String suffix = !c.promptSuffix.isEmpty() || !(trained instanceof String t) ? c.promptSuffix : t;
      List<PromptRef> refs = new ArrayList<>();
      // Generation sees the prompt and the suffix (Chain of Hindsight's positive feedback); grading, the prompt.
      for (Problem p : problems) refs.add(new PromptRef(p.id(), p.prompt() + suffix, 0));
      long t0 = System.nanoTime();
      List<Completion> greedy = GenerationEngine.generate(
          loaded.model(), loaded.tokenizer(), refs, SamplingParams.greedy(c.maxNewTokens), c.batchSize);
      double greedySeconds = (System.nanoTime() - t0) / 1e9;

      int correct = 0;
      int formatted = 0;
      StringBuilder jsonl = new StringBuilder();
      Map<String, Boolean> byProblem = new LinkedHashMap<>();
      for (int i = 0; i < problems.size(); i++) {
        Problem p = problems.get(i);
        Completion g = greedy.get(i);
        boolean ok = OutcomeGrading.correct(g.text(), p.answer());
        boolean fmt = Checker.grade(p.prompt(), g.text()).formatOk();
        correct += ok ? 1 : 0;
        byProblem.put(pairKey(p.id(), p.prompt()), ok);
        formatted += fmt ? 1 : 0;
        ObjectNode line = JSON.createObjectNode();
        line.put("id", p.id()).put("prompt", p.prompt()).put("completion", g.text()).put("answer", p.answer())
            .put("correct", ok).put("format_ok", fmt).put("finish_reason", g.finishReason());
        jsonl.append(line.toString()).append('\n');
      }
      int n = problems.size();
      double acc = correct / (double) n;

      double stderr = Math.sqrt(acc * (1 - acc) / n);
      String completionsPath = ctx.runDir() + "/completions.jsonl";
      HadoopFiles.writeText(completionsPath, jsonl.toString());

      Double passAtK = null;
      Double majAtK = null;
      int sampled = 0;
      if (c.k > 0) {
        List<Problem> subset = c.sampledProblems > 0 && c.sampledProblems < n ? problems.subList(0, c.sampledProblems) : problems;
        sampled = subset.size();
        List<PromptRef> sRefs = new ArrayList<>();
        for (Problem p : subset) for (int j = 0; j < c.k; j++) sRefs.add(new PromptRef(p.id(), p.prompt() + suffix, j));
        SamplingParams sp = SamplingParams.defaults().withTemperature(c.temperature)
            .withMaxNewTokens(c.maxNewTokens).withSeed(c.seed);
        List<Completion> samples = GenerationEngine.generate(loaded.model(), loaded.tokenizer(), sRefs, sp, c.batchSize);
        int pass = 0;
        int maj = 0;
        for (int i = 0; i < subset.size(); i++) {
          Problem p = subset.get(i);
          List<String> texts = new ArrayList<>();
          for (int j = 0; j < c.k; j++) texts.add(samples.get(i * c.k + j).text());
          pass += OutcomeGrading.anyCorrect(texts, p.answer()) ? 1 : 0;
          maj += OutcomeGrading.majorityCorrect(texts, p.answer()) ? 1 : 0;
        }
        passAtK = pass / (double) subset.size();
        majAtK = maj / (double) subset.size();
      }

      MetricsWriter metrics = new MetricsWriter(ctx, ctx.stage());
      metrics.add(0, "greedy_accuracy", acc);
      metrics.add(0, "greedy_accuracy_stderr", stderr);
      metrics.add(0, "format_rate", formatted / (double) n);
      if (passAtK != null) {
        metrics.add(0, "pass@" + c.k, passAtK);
        metrics.add(0, "maj@" + c.k, majAtK);
      }
      String baseline = baselineCompletions(ctx, c);
      PairedComparison paired = null;
      if (baseline != null) {
        paired = PairedComparison.of(readCorrectness(baseline), byProblem);
        metrics.add(0, "paired_difference", paired.difference());
        metrics.add(0, "paired_difference_stderr", paired.stderr());
      }
      metrics.flush();
      ctx.put("n", n).put("greedy_accuracy", acc).put("greedy_accuracy_stderr", stderr)
          .put("format_rate", formatted / (double) n).put("checkpoint", checkpoint).put("prompt_suffix", suffix)
          .put("completions", completionsPath)
          .put("source", c.prompts.isBlank() ? c.dataset + "/" + c.split : c.prompts)
          .put("k", c.k).put("sampled_problems", sampled)
          .put("pass_at_k", passAtK).put("maj_at_k", majAtK)
          .put("greedy_seconds", greedySeconds);
      if (paired != null) {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("completions", baseline);
        b.put("n", paired.n());
        b.put("baseline_accuracy", paired.accuracyA());
        b.put("accuracy", paired.accuracyB());
        b.put("difference", paired.difference());
        b.put("stderr", paired.stderr());
        b.put("z", paired.z());
        b.put("better", paired.better());
        b.put("worse", paired.worse());
        ctx.put("paired", b);
      }
      ctx.summary(String.format("greedy accuracy %.3f (±%.3f) on %d problems%s%s", acc, stderr, n,
          passAtK == null ? "" : String.format(", pass@%d %.3f, maj@%d %.3f", c.k, passAtK, c.k, majAtK),
          paired == null ? "" : String.format("; paired against the baseline %+.1f points (±%.1f, %.1f standard errors)",
              100 * paired.difference(), 100 * paired.stderr(), paired.z())));
      System.out.printf("%s: n %d  greedy_accuracy %.3f (±%.3f)  format_rate %.3f%s  checkpoint %s%n",
          ctx.stage(), n, acc, stderr, formatted / (double) n,
          passAtK == null ? "" : String.format("  pass@%d %.3f  maj@%d %.3f", c.k, passAtK, c.k, majAtK),
          checkpoint);
      if (paired != null) {
        System.out.printf("%s: against %s on %d shared problems: %+.4f (±%.4f, %.2f standard errors), %d better, %d worse%n",
            ctx.stage(), baseline, paired.n(), paired.difference(), paired.stderr(), paired.z(), paired.better(),
            paired.worse());
      }
      loaded.model().close();
    }
  }

  /** A problem is the same on both sides only when id and prompt agree (ids of different datasets can collide). */
  private static String pairKey(String id, String prompt) {
    return id + "\u0000" + prompt;
  }

  /** The completions file {@code eval.baseline} points at, or null for no comparison. */
  static String baselineCompletions(RunContext ctx, EvalConfig c) {
    String b = c.baseline.trim();
    if (b.isEmpty()) return null;
    if (b.equals("auto")) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("eval-(.+)-" + java.util.regex.Pattern.quote(c.split))
          .matcher(ctx.stage());
      if (!c.prompts.isBlank() || !m.matches() || m.group(1).equals("sft")) return null;
      String path = ctx.runDir("eval-sft-" + c.split) + "/completions.jsonl";
      return HadoopFiles.exists(path) ? path : null;
    }
    String path = b.endsWith(".jsonl") ? b : ctx.runDir(b) + "/completions.jsonl";
    if (!HadoopFiles.exists(path)) {
      throw new UserError("eval.baseline: no completions at " + path + " (run that evaluation first, or set eval.baseline = \"\")");
    }
    return path;
  }

  private static Map<String, Boolean> readCorrectness(String completions) {
    Map<String, Boolean> out = new LinkedHashMap<>();
    for (String l : HadoopFiles.readText(completions).split("\n")) {
      if (l.isBlank()) continue;
      try {
        JsonNode j = JSON.readTree(l);
        out.put(pairKey(j.get("id").asText(), j.get("prompt").asText()), j.get("correct").asBoolean());
      } catch (java.io.IOException | NullPointerException e) {
        throw new UserError("eval.baseline: " + completions + " is not an eval completions.jsonl (" + e.getMessage() + ")");
      }
    }
    return out;
  }

  private static List<Problem> fromSplit(Lake lake, EvalConfig c) {
    List<Problem> out = new ArrayList<>();
    for (Row r : lake.read(Tables.PROMPTS)
        .filter(org.apache.spark.sql.functions.col("dataset").equalTo(c.dataset)
            .and(org.apache.spark.sql.functions.col("split").equalTo(c.split)))
        .select("id", "prompt", "answer").orderBy("id").collectAsList()) {
      out.add(new Problem(r.getString(0), r.getString(1), r.getString(2)));
    }
    return out;
  }

  /** A JSONL of {prompt, answer}; refused lines go to quarantine with their reason. */
  private static List<Problem> fromJsonl(RunContext ctx, String file) {
    String text;
    try {
      text = HadoopFiles.readText(file);
    } catch (java.io.UncheckedIOException e) {
      throw new UserError("cannot read --prompts file " + file);
    }
    List<Problem> out = new ArrayList<>();
    List<Row> refused = new ArrayList<>();
    Map<String, Integer> seen = new HashMap<>();
    long lineNo = 0;
    for (String line : text.split("\n", -1)) {
      lineNo++;
      if (line.isBlank()) continue;
      String reason = null;
      try {
        JsonNode n = JSON.readTree(line);
        JsonNode p = n == null ? null : n.get("prompt");
        JsonNode a = n == null ? null : n.get("answer");
        if (n == null || !n.isObject()) reason = "not a JSON object";
        else if (p == null || p.isNull() || !p.isTextual() || p.asText().isBlank()) reason = "field 'prompt' missing, null, empty or not a string";
        else if (a == null || a.isNull() || !(a.isTextual() || a.isIntegralNumber())) reason = "field 'answer' missing, null or not a string/integer";
        else {
          String id = n.hasNonNull("id") ? n.get("id").asText() : "line-" + lineNo;
          if (seen.putIfAbsent(id, 1) != null) reason = "duplicate id '" + id + "'";
          else out.add(new Problem(id, p.asText(), a.asText()));
        }
      } catch (Exception e) {
        reason = "unparseable JSON";
      }
      if (reason != null) {
        refused.add(RowFactory.create(ctx.runId(), ctx.stage(), null, file, lineNo, reason,
            line.length() > 2000 ? line.substring(0, 2000) : line, null));
      }
    }
    if (!refused.isEmpty()) {
      ctx.lake().appendOnce(Tables.QUARANTINE, ctx.lake().frame(Tables.QUARANTINE, refused).drop("created_at"),
          ctx.runId() + "/" + ctx.stage() + "/quarantine", 0);
      System.out.printf("%s: %d line(s) of %s quarantined%n", ctx.stage(), refused.size(), file);
    }
    return out;
  }
}
