package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;

/**
 * pairs from constructed rollouts (never across prompts, never between equal rewards), dpo on them with reference
 * log-probs from the executors (equal to a fresh driver forward pass), and an imported malformed pair that is
 * quarantined rather than trained on.
 */
class DpoStageTest {
  static SparkSession spark;
  static String lakeRoot;
  static String reference;

  @BeforeAll
  static void start() throws Exception {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("dpo-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    CharTokenizer tok = new CharTokenizer();
    reference = TestSpark.tempDir("dpo-ref").resolve("ref").toString();
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaConfig cfg = new LlamaConfig(32, 64, 1, 2, 1, tok.vocabSize(), 64, 10000.0, 1e-5, true, tok.bosId(),
          tok.eosId(), tok.padId());
      LlamaModel model = LlamaModel.init(cfg, false, 5, m);
      HfCheckpoint.save(model, tok.toTokenizerJson(), Map.of(), reference);
      model.close();
    }
    seed();
  }

  static Row prompt(String id, String text, String answer) {
    return RowFactory.create("t", "train", id, text, answer, "test", "setup", null);
  }

  static Row rollout(int iteration, String promptId, int sample, String prompt, String completion, Double reward) {
    return RowFactory.create("pr", "rollouts", iteration, "t", promptId, sample, prompt, completion, List.of(1, 2),
        List.of(-0.5f, -0.5f), "eos", 0L, reward, null, null, null);
  }

  /** Prompts and rollouts written directly, as any producer of the rollouts table would. */
  static void seed() {
    Lake lake = new Lake(spark, lakeRoot);
    lake.insertNew(Tables.PROMPTS, lake.frame(Tables.PROMPTS, List.of(
        prompt("a", "1+2=?\n", "3"), prompt("b", "2*3=?\n", "6"), prompt("c", "4+4=?\n", "8"),
        prompt("d", "9-1=?\n", "8"))));
    List<Row> rows = new ArrayList<>(List.of(
        // a: no reward column -> graded by the checker: 0 and 2 correct, 1 and 3 wrong -> 4 eligible, 3 kept
        rollout(0, "a", 0, "1+2=?\n", "=3\n#### 3\n", null), rollout(0, "a", 1, "1+2=?\n", "#### 4\n", null),
        rollout(0, "a", 2, "1+2=?\n", "#### 3\n", null), rollout(0, "a", 3, "1+2=?\n", "#### 5\n", null),
        // b: explicit rewards with ties: only 1.0 vs 0.5 pairs (4 eligible, 3 kept), never 1.0 vs 1.0
        rollout(0, "b", 0, "2*3=?\n", "#### 6\n", 1.0), rollout(0, "b", 1, "2*3=?\n", "=6\n#### 6\n", 1.0),
        rollout(0, "b", 2, "2*3=?\n", "#### 5\n", 0.5), rollout(0, "b", 3, "2*3=?\n", "#### 7\n", 0.5),
        // c: all correct, d: one wrong sample; pairing across prompts would match them (same answer 8)
        rollout(0, "c", 0, "4+4=?\n", "#### 8\n", null), rollout(0, "c", 1, "4+4=?\n", "=8\n#### 8\n", null),
        rollout(0, "d", 0, "9-1=?\n", "#### 7\n", null),
        // another iteration: not read
        rollout(1, "c", 0, "4+4=?\n", "#### 9\n", null)));
    lake.insertNew(Tables.ROLLOUTS, lake.frame(Tables.ROLLOUTS, rows));
  }

  static String run(String runId, String stage, String... sets) {
    return Stages.run(spark, lakeRoot, runId, stage, StageConfigs.load(null, List.of(sets)));
  }

  static JsonNode report(String path) throws Exception {
    return new ObjectMapper().readTree(Files.readString(Path.of(path)));
  }

  @Test
  void pairsNeverCrossPromptsNorTies() throws Exception {
    String[] sets = {"pairs.max_pairs_per_prompt=3"};
    JsonNode rep = report(run("pr", "pairs", sets));
    assertEquals(11, rep.get("rollouts").asInt());
    Lake lake = new Lake(spark, lakeRoot);
    List<Row> pairs = lake.read(Tables.PREFERENCES).filter("dataset = 't-pairs-pr'").collectAsList();
    assertEquals(6, pairs.size(), pairs.toString());
    Map<String, String> promptOf = Map.of("a", "1+2=?\n", "b", "2*3=?\n", "c", "4+4=?\n", "d", "9-1=?\n");
    Map<String, Integer> perPrompt = new HashMap<>();
    Set<String> ids = new HashSet<>();
    for (Row r : pairs) {
      String id = r.getAs("id");
      assertTrue(ids.add(id));
      String[] parts = id.split("/");
      assertEquals(List.of("pr", "rollouts", "0"), List.of(parts[0], parts[1], parts[2]), id);
      String pid = parts[3];
      perPrompt.merge(pid, 1, Integer::sum);
      assertEquals(promptOf.get(pid), r.getAs("prompt"), "a pair's prompt is its rollouts' prompt");
      double cr = r.getAs("chosen_reward");
      double rr = r.getAs("rejected_reward");
      assertTrue(cr > rr, "never a tie: " + r);
      assertEquals(cr - rr, r.<Double>getAs("margin"), 1e-12);
      assertEquals("pr", r.getAs("source_run"));
      assertEquals(0, r.<Integer>getAs("source_iteration"));
      assertEquals("train", r.getAs("split"));
      if (pid.equals("a")) {
        assertTrue(Checker.grade("1+2=?\n", r.getAs("chosen")).correct(), r.toString());
        assertFalse(Checker.grade("1+2=?\n", r.getAs("rejected")).correct(), r.toString());
      }
      if (pid.equals("b")) {
        assertEquals(1.0, cr);
        assertEquals(0.5, rr);
      }
    }
    assertEquals(Map.of("a", 3, "b", 3), perPrompt, "at most 3 per prompt; none for c (all correct) or d (alone)");

    // Deterministic ids and choice: a re-run adds nothing.
    run("pr", "pairs", sets);
    assertEquals(6, lake.read(Tables.PREFERENCES).filter("dataset = 't-pairs-pr'").count());
  }

  @Test
  void referenceLogpsFromTheExecutorsEqualAFreshForwardPassAndDpoTrains() throws Exception {
    run("pr2", "pairs", "pairs.source_run=pr", "pairs.output_dataset=t-dpo", "pairs.max_pairs_per_prompt=3");
    JsonNode rep = report(run("pr2", "dpo", "dpo.dataset=t-dpo", "dpo.reference_checkpoint=\"" + reference + "\"",
        "dpo.max_steps=6", "dpo.batch_size=6", "dpo.lr=3e-3", "dpo.warmup_steps=0", "dpo.threads=1",
        "dpo.ref_batch_size=4"));
    assertEquals(6, rep.get("pairs").asInt());
    assertEquals(6, rep.get("steps").asInt());

    List<Row> stored = spark.read().parquet(rep.get("reference_logps").asText()).orderBy("id").collectAsList();
    assertEquals(6, stored.size());
    try (NDManager m = NDManager.newBaseManager(); HfCheckpoint ckpt = HfCheckpoint.load(reference, m)) {
      TextTokenizer tok = HfTokenizer.fromJson(ckpt.tokenizerJson());
      List<TokenSequence> seqs = new ArrayList<>();
      for (Row r : stored) {
        seqs.add(TokenSequence.encode(tok, r.<String>getAs("prompt"), r.<String>getAs("chosen"), true));
        seqs.add(TokenSequence.encode(tok, r.<String>getAs("prompt"), r.<String>getAs("rejected"), true));
      }
      List<SequenceLogProbs.SequenceScore> fresh = SequenceLogProbs.score(ckpt.model(), seqs, 1.0, false, 1);
      for (int i = 0; i < stored.size(); i++) {
        assertEquals(fresh.get(2 * i).sumLogProb(), stored.get(i).<Double>getAs("ref_chosen_logp"), 1e-4);
        assertEquals(fresh.get(2 * i + 1).sumLogProb(), stored.get(i).<Double>getAs("ref_rejected_logp"), 1e-4);
      }
    }

    Lake lake = new Lake(spark, lakeRoot);
    List<Row> metrics = lake.read(Tables.METRICS).filter("run_id = 'pr2' AND stage = 'dpo'").collectAsList();
    Map<String, Map<Long, Double>> byName = new HashMap<>();
    for (Row r : metrics) byName.computeIfAbsent(r.getAs("name"), k -> new HashMap<>()).put(r.getAs("step"), r.getAs("value"));
    for (String n : List.of("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
        "logps/chosen", "logps/rejected")) {
      assertEquals(6, byName.getOrDefault(n, Map.of()).size(), n + " every step: " + byName.keySet());
    }
    assertEquals(0.0, byName.get("rewards/margins").get(1L), 1e-4, "step 1 is at the reference");
    assertTrue(byName.get("rewards/margins").get(6L) > byName.get("rewards/margins").get(1L),
        "margins rise: " + byName.get("rewards/margins"));
    assertEquals(1, lake.read(Tables.CHECKPOINTS).filter("run_id = 'pr2' AND stage = 'dpo' AND kind = 'policy'").count());
  }

  @Test
  void aMalformedImportedPairIsQuarantinedNotTrainedOn() throws Exception {
    Path f = TestSpark.tempDir("dpo-import").resolve("pairs.jsonl");
    Files.writeString(f,
        "{\"id\": \"g1\", \"prompt\": \"1+1=?\\n\", \"chosen\": \"=2\\n#### 2\\n\", \"rejected\": \"#### 3\\n\"}\n"
            + "{\"id\": \"b1\", \"prompt\": \"2+2=?\\n\", \"chosen\": \"#### 4\\n\"}\n");
    run("imp", "import", "import.path=\"" + f + "\"", "import.dataset=impdpo");
    Lake lake = new Lake(spark, lakeRoot);
    assertEquals(1, lake.read(Tables.QUARANTINE).filter("run_id = 'imp'").count());
    JsonNode rep = report(run("imp", "dpo", "dpo.dataset=impdpo", "dpo.reference_checkpoint=\"" + reference + "\"",
        "dpo.max_steps=1", "dpo.threads=1"));
    assertEquals(1, rep.get("pairs_read").asInt());
    assertEquals(1, rep.get("pairs").asInt(), "only the good pair is trained on");
  }

  @Test
  void pairsFromTheRolloutsStage() throws Exception {
    JsonNode gen = report(run("gen", "rollouts", "rollouts.checkpoint=\"" + reference + "\"", "rollouts.dataset=t",
        "rollouts.limit=2", "rollouts.num_samples=2", "rollouts.max_new_tokens=6", "rollouts.threads=1"));
    Lake lake = new Lake(spark, lakeRoot);
    List<Row> rows = lake.read(Tables.ROLLOUTS).filter("run_id = 'gen' AND stage = 'rollouts'").collectAsList();
    assertEquals(4, rows.size(), gen.toString());
    for (Row r : rows) {
      assertTrue(Set.of("a", "b").contains(r.<String>getAs("prompt_id")), r.toString());
      assertEquals(r.getList(r.fieldIndex("token_ids")).size(), r.getList(r.fieldIndex("token_logprobs")).size());
    }
    JsonNode rep = report(run("gen", "pairs"));
    assertEquals(4, rep.get("rollouts").asInt());
    assertEquals("rollouts", rep.get("source_stage").asText());
    assertEquals(2, rep.get("prompts").asInt());
  }

  static Row scoredRollout(String promptId, int sample, String prompt, String completion, float logprob) {
    return RowFactory.create("ps", "rollouts", 0, "t", promptId, sample, prompt, completion, List.of(1, 2),
        List.of(logprob, logprob), "eos", 0L, null, null, null, null);
  }

  @Test
  void hardPromptsLikelyRejectedAndStepTruncation() throws Exception {
    Lake lake = new Lake(spark, lakeRoot);
    String e = "8*5*7+5=?\n";
    String f = "2+3=?\n";
    lake.insertNew(Tables.PROMPTS, lake.frame(Tables.PROMPTS, List.of(prompt("e", e, "285"), prompt("f", f, "5"))));
    lake.insertNew(Tables.ROLLOUTS, lake.frame(Tables.ROLLOUTS, List.of(
        // e: 1 of 4 correct (pass rate 0.25); the most likely wrong sample (3) errs in its first line
        scoredRollout("e", 0, e, "=40*7+5\n=280+5\n=285\n#### 285\n", -0.1f),
        scoredRollout("e", 1, e, "=40*7+5\n=240+5\n=245\n#### 245\n", -1f),
        scoredRollout("e", 2, e, "=40*7+5\n=280+5\n=286\n#### 286\n", -3f),
        scoredRollout("e", 3, e, "=41*7+5\n=287+5\n=292\n#### 292\n", -0.2f),
        // f: 3 of 4 correct (pass rate 0.75): not a hard prompt
        scoredRollout("f", 0, f, "=5\n#### 5\n", -0.1f), scoredRollout("f", 1, f, "#### 5\n", -0.1f),
        scoredRollout("f", 2, f, "=5\n#### 5\n", -0.1f), scoredRollout("f", 3, f, "=6\n#### 6\n", -0.1f))));

    run("ps", "pairs", "pairs.max_pairs_per_prompt=2", "pairs.selection=likely", "pairs.max_pass_rate=0.5",
        "pairs.truncate_rejected=true", "pairs.output_dataset=t-step");
    List<Row> pairs = lake.read(Tables.PREFERENCES).filter("dataset = 't-step'").orderBy("id").collectAsList();
    assertEquals(2, pairs.size(), pairs.toString());
    // most likely rejected first (3 at -0.4, then 1 at -2), each cut after its first wrong line
    assertEquals("ps/rollouts/0/e/0-1", pairs.get(0).getAs("id"));
    assertEquals("=40*7+5\n=240+5\n", pairs.get(0).getAs("rejected"));
    assertEquals("ps/rollouts/0/e/0-3", pairs.get(1).getAs("id"));
    assertEquals("=41*7+5\n", pairs.get(1).getAs("rejected"));
    for (Row r : pairs) assertEquals("=40*7+5\n=280+5\n=285\n#### 285\n", r.getAs("chosen"));

    // Defaults: every prompt, whole completions.
    run("ps", "pairs", "pairs.max_pairs_per_prompt=2", "pairs.output_dataset=t-all");
    List<Row> all = lake.read(Tables.PREFERENCES).filter("dataset = 't-all'").collectAsList();
    assertEquals(Set.of("e", "f"), all.stream().map(r -> r.<String>getAs("id").split("/")[3]).collect(
        java.util.stream.Collectors.toSet()));
    Set<String> wholeWrong = Set.of("=40*7+5\n=240+5\n=245\n#### 245\n", "=40*7+5\n=280+5\n=286\n#### 286\n",
        "=41*7+5\n=287+5\n=292\n#### 292\n", "=6\n#### 6\n");
    for (Row r : all) assertTrue(wholeWrong.contains(r.<String>getAs("rejected")), r.toString());
  }
}
