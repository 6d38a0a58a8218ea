package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
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
 * Eight stage processes on one lake at once: four {@code import}s into one preferences dataset (disjoint ids plus
 * ten rows every file shares) and four {@code grpo} runs appending rollouts, metrics and checkpoints. Delta's
 * optimistic concurrency makes commits lose to each other; each is retried, and every process ends with exit 0,
 * every row present once, and import counts that add up to the rows that were in fact added.
 */
class ConcurrentWriterProcessesIT {
  static final int WRITERS = 4;
  static final int OWN = 30;
  static final int SHARED = 10;
  static final int ITERATIONS = 2;
  static final int PROMPTS_PER_ITERATION = 8;
  static final int GROUP = 2;

  static String pair(String id, int x, int y) {
    return "{\"id\": \"" + id + "\", \"prompt\": \"" + x + "+" + y + "=?\\n\", \"chosen\": \"#### " + (x + y)
        + "\\n\", \"rejected\": \"#### " + (x + y + 1) + "\\n\"}\n";
  }

  @Test
  void fourImportsAndFourGrpoRunsAtOnceAllFinishWithEveryRowOnce() throws Exception {
    String lakeRoot = TestSpark.newLake("concurrent-processes-it");
    Lake lake = new Lake(TestSpark.session(), lakeRoot);
    List<Row> prompts = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      prompts.add(RowFactory.create("arith", "train", String.format("train-%04d", i), i + "+" + (i % 5) + "=?\n",
          String.valueOf(i + i % 5), "it", "setup", null));
    }
    lake.insertNew(Tables.PROMPTS, lake.frame(Tables.PROMPTS, prompts));
    CharTokenizer tok = new CharTokenizer();
    Path start = TestSpark.tempDir("concurrent-it-start").resolve("step-000000");
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      LlamaConfig cfg = new LlamaConfig(32, 64, 1, 2, 1, tok.vocabSize(), 64, 10000.0, 1e-5, true,
          tok.bosId(), tok.eosId(), tok.padId());
      HfCheckpoint.save(LlamaModel.init(cfg, false, 5, m), tok.toTokenizerJson(), Map.of(), start.toString());
    }
    Path files = TestSpark.tempDir("concurrent-it-files");
    for (int w = 0; w < WRITERS; w++) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < OWN; i++) b.append(pair("w" + w + "-" + i, w, i));
      for (int i = 0; i < SHARED; i++) b.append(pair("shared-" + i, 9, i));
      Files.writeString(files.resolve("prefs-" + w + ".jsonl"), b.toString(), StandardCharsets.UTF_8);
    }

    List<String> names = new ArrayList<>();
    List<Process> procs = new ArrayList<>();
    List<File[]> outputs = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      names.add("import-" + w);
      names.add("grpo-" + w);
    }
    for (String name : names) {
      File out = File.createTempFile(name, ".out");
      File err = File.createTempFile(name, ".err");
      outputs.add(new File[] {out, err});
      int w = Integer.parseInt(name.substring(name.indexOf('-') + 1));
      List<String> a = new ArrayList<>();
      if (name.startsWith("import")) {
        a.addAll(List.of("import", "--master", "local[1]", "--lake", lakeRoot, "--run-id", name,
            "--path", files.resolve("prefs-" + w + ".jsonl").toString(), "--set", "import.dataset=together"));
      } else {
        a.addAll(List.of("grpo", "--master", "local[1]", "--lake", lakeRoot, "--run-id", name,
            "--checkpoint", start.toString(), "--set", "grpo.iterations=" + ITERATIONS,
            "--set", "grpo.prompts_per_iteration=" + PROMPTS_PER_ITERATION, "--set", "grpo.group_size=" + GROUP,
            "--set", "grpo.max_new_tokens=12", "--set", "grpo.minibatch_size=16", "--set", "grpo.checkpoint_every=1",
            "--set", "grpo.write_every=1", "--set", "grpo.eval_every=0", "--set", "grpo.threads=1",
            "--set", "grpo.filter_groups=false"));
      }
      procs.add(Launcher.start(Map.of(), out, err, a.toArray(String[]::new)));
    }
    int conflicts = 0;
    ObjectMapper json = new ObjectMapper();
    long newRows = 0;
    for (int i = 0; i < procs.size(); i++) {
      Process p = procs.get(i);
      if (!p.waitFor(15, TimeUnit.MINUTES)) {
        for (Process q : procs) {
          q.descendants().forEach(ProcessHandle::destroyForcibly);
          q.destroyForcibly();
        }
        throw new IllegalStateException(names.get(i) + " did not finish in 15 minutes");
      }
      String err = Files.readString(outputs.get(i)[1].toPath());
      assertEquals(0, p.exitValue(), names.get(i) + " failed:\n" + err);
      String stage = names.get(i).substring(0, names.get(i).indexOf('-'));
      JsonNode report = json.readTree(Path.of(lakeRoot, "runs", names.get(i), stage, "report.json").toFile());
      conflicts += report.path("write_conflicts_retried").asInt();
      if (stage.equals("import")) {
        assertEquals(OWN + SHARED, report.path("new").asLong() + report.path("already_present").asLong(),
            names.get(i) + ": new + already present = the file's rows: " + report);
        newRows += report.path("new").asLong();
      }
    }
    System.out.println("concurrent writer processes: " + conflicts + " conflicting commits retried");

    lake = new Lake(TestSpark.session(), lakeRoot);
    long expected = WRITERS * OWN + SHARED;
    assertEquals(expected, lake.read(Tables.PREFERENCES).filter("dataset = 'together'").count());
    assertEquals(expected, lake.read(Tables.PREFERENCES).filter("dataset = 'together'").select("id").distinct().count());
    assertEquals(expected, newRows, "the imports' 'new' counts add up to the rows added");
    for (int w = 0; w < WRITERS; w++) {
      String run = "run_id = 'grpo-" + w + "'";
      long samples = (long) ITERATIONS * PROMPTS_PER_ITERATION * GROUP;
      assertEquals(samples, lake.read(Tables.ROLLOUTS).filter(run).count(), "grpo-" + w + " rollouts");
      assertEquals(samples, lake.read(Tables.ROLLOUTS).filter(run)
          .selectExpr("concat_ws('|', iteration, prompt_id, sample_index)").distinct().count());
      long metrics = lake.read(Tables.METRICS).filter(run).count();
      assertTrue(metrics > 0, "grpo-" + w + " wrote metrics");
      assertEquals(metrics, lake.read(Tables.METRICS).filter(run).selectExpr("concat_ws('|', stage, step, name)")
          .distinct().count(), "grpo-" + w + " metrics once each");
      assertEquals(lake.read(Tables.METRICS).filter("run_id = 'grpo-0'").count(), metrics,
          "the same settings, the same metrics rows");
      assertEquals(ITERATIONS, lake.read(Tables.CHECKPOINTS).filter(run).count(), "grpo-" + w + " checkpoints");
      assertEquals(ITERATIONS, lake.read(Tables.CHECKPOINTS).filter(run).select("path").distinct().count());
    }
    assertTrue(conflicts > 0, "the writers did conflict, so the retries were exercised");
  }
}
