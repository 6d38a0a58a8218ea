package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/**
 * data → sft → a smaller {@code verifier_base:sft} → pvg with two rounds on tiny models: every round trains a
 * verifier and a prover and leaves their checkpoints with lineage, the samples of both halves and the held-out ones
 * land with their roles, checker labels and verifier scores, the halves never share a prompt, and every round has
 * its figures.
 */
class PvgStageTest {
  static SparkSession spark;
  static String lakeRoot;

  static final List<String> SETTINGS = List.of(
      "data.train_size=60", "data.valid_size=6", "data.test_size=6", "data.test_ood_size=4",
      "data.step_label_problems=0", "data.min_ops=1", "data.max_ops=1", "data.operand_max=9",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=120", "sft.eval_every=120", "sft.checkpoint_every=0", "sft.log_every=120",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "verifier_base.model.hidden_size=16", "verifier_base.model.intermediate_size=32",
      "verifier_base.model.num_attention_heads=1", "verifier_base.max_steps=40",
      "pvg.rounds=2", "pvg.iterations=2", "pvg.prompts_per_iteration=4", "pvg.group_size=4",
      "pvg.max_new_tokens=16", "pvg.minibatch_size=8", "pvg.lr=1e-3", "pvg.threads=1",
      "pvg.verifier_prompts=20", "pvg.verifier_samples=4", "pvg.heldout_problems=6", "pvg.heldout_samples=2",
      "pvg.adversary_iterations=2", "pvg.role_warmup_steps=20", "pvg.verifier.epochs=1", "pvg.verifier.batch_size=8");

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("pvg-stage-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    var config = StageConfigs.load(null, SETTINGS);
    Stages.run(spark, lakeRoot, "t1", "data", config);
    Stages.run(spark, lakeRoot, "t1", "sft", config);
    Stages.run(spark, lakeRoot, "t1", "verifier_base:sft", config);
  }

  @Test
  void roundsLeaveVerifiersProversSamplesAndFigures() throws Exception {
    Lake lake = new Lake(spark, lakeRoot);
    JsonNode r = new ObjectMapper().readTree(Files.readString(Path.of(
        Stages.run(spark, lakeRoot, "t1", "pvg", StageConfigs.load(null, SETTINGS)))));
    assertTrue(r.get("verifier_compute_ratio").asDouble() < 0.5, "the verifier is the smaller model");
    assertEquals(3, r.get("rounds").size(), "the initial prover, then two rounds");
    for (int k = 0; k <= 2; k++) {
      JsonNode round = r.get("rounds").get(k);
      assertEquals(k, round.get("round").asInt());
      for (String f : List.of("helpful_accuracy", "helpful_accuracy_se", "sneaky_accuracy", "spot_check_helpful",
          "spot_check_sneaky", "helpful_valid_line_share")) {
        assertTrue(round.has(f), "round " + k + " has " + f + ": " + round);
      }
    }
    for (int k = 1; k <= 2; k++) {
      JsonNode round = r.get("rounds").get(k);
      assertTrue(round.has("verifier_heldout_accuracy") && round.has("prover") && round.has("verifier"), round.toString());
      assertTrue(round.get("iterations").asInt() >= 1 && round.get("iterations").asInt() <= 2);
    }

    // Checkpoints with lineage: a verifier and a prover per round, the prover naming its verifier.
    List<Row> provers = lake.read(Tables.CHECKPOINTS).filter("run_id = 't1' AND stage = 'pvg'").orderBy("step")
        .collectAsList();
    List<Row> verifiers = lake.read(Tables.CHECKPOINTS).filter("run_id = 't1' AND stage = 'pvg_verifier'")
        .orderBy("step").collectAsList();
    assertEquals(List.of(1L, 2L), provers.stream().map(x -> (Long) x.getAs("step")).toList());
    assertEquals(List.of(1L, 2L), verifiers.stream().map(x -> (Long) x.getAs("step")).toList());
    String verifierBase = lake.read(Tables.CHECKPOINTS).filter("run_id = 't1' AND stage = 'verifier_base'")
        .select("path").as(Encoders.STRING()).first();
    String sft = lake.read(Tables.CHECKPOINTS).filter("run_id = 't1' AND stage = 'sft'").select("path")
        .as(Encoders.STRING()).first();
    // The initial prover: the sft policy taught the role lines, its own checkpoint with sft as its parent.
    Row start = lake.read(Tables.CHECKPOINTS).filter("run_id = 't1' AND stage = 'pvg_start'").first();
    assertEquals(sft, start.getAs("parent"));
    String startPath = start.getAs("path");
    assertEquals(startPath, r.get("role_warmup").get("checkpoint").asText());
    for (int k = 0; k < 2; k++) {
      assertEquals("verifier", verifiers.get(k).getAs("kind"));
      assertEquals(verifierBase, verifiers.get(k).getAs("parent"));
      assertEquals(startPath, provers.get(k).getAs("parent"), "every round's prover descends from the initial prover");
      JsonNode prov = new ObjectMapper().readTree(Files.readString(
          Path.of((String) provers.get(k).getAs("path"), "rlhf_provenance.json")));
      assertEquals((String) verifiers.get(k).getAs("path"), prov.get("verifier").asText());
    }

    // Samples: the RL rows, the verifier's data (rounds 0 and 1: the last round's prover writes none) and the
    // held-out rows (rounds 0..2), each with its role line, the role part, the checker's verdict and (except the
    // initial prover's verifier data, which no verifier scored) the verifier's score.
    Set<String> verifierPrompts = new HashSet<>();
    Set<String> proverPrompts = new HashSet<>();
    for (String stage : List.of("pvg", "pvg_samples", "pvg_heldout")) {
      List<Row> rows = lake.read(Tables.ROLLOUTS).filter("run_id = 't1' AND stage = '" + stage + "'").collectAsList();
      assertFalse(rows.isEmpty(), stage);
      Set<Integer> iterations = new HashSet<>();
      for (Row row : rows) {
        String prompt = row.getAs("prompt");
        String id = row.getAs("prompt_id");
        scala.collection.Map<String, Object> parts = row.getAs("reward_parts");
        boolean helpful = prompt.startsWith("?+\n");
        assertTrue(helpful || prompt.startsWith("?-\n"), prompt);
        assertEquals(helpful ? "helpful" : "sneaky", id.substring(id.lastIndexOf('/') + 1));
        assertEquals(helpful ? 1.0 : 0.0, (Double) parts.apply("helpful"));
        assertTrue(parts.contains("correct_answer"));
        int it = row.getAs("iteration");
        iterations.add(it);
        assertEquals(!(stage.equals("pvg_samples") && it == 0), parts.contains("verifier_score"), stage + " " + it);
        String base = id.substring(0, id.lastIndexOf('/'));
        if (stage.equals("pvg")) proverPrompts.add(base);
        if (stage.equals("pvg_samples")) verifierPrompts.add(base);
      }
      if (stage.equals("pvg_samples")) assertEquals(Set.of(0, 1), iterations);
      if (stage.equals("pvg_heldout")) assertEquals(Set.of(0, 1, 2), iterations);
    }
    Set<String> both = new HashSet<>(verifierPrompts);
    both.retainAll(proverPrompts);
    assertTrue(both.isEmpty(), "the verifier's and the prover's prompts overlap: " + both);
    assertEquals(20 * 2 * 4, lake.read(Tables.ROLLOUTS)
        .filter("run_id = 't1' AND stage = 'pvg_samples' AND iteration = 0").count(), "20 prompts x 2 roles x 4");

    // The rounds' figures in metrics, step = round.
    List<Long> steps = lake.read(Tables.METRICS)
        .filter("run_id = 't1' AND stage = 'pvg_rounds' AND name = 'helpful_accuracy'").select("step")
        .as(Encoders.LONG()).collectAsList();
    assertEquals(Set.of(0L, 1L, 2L), new HashSet<>(steps));
    // The adversary runs against every round's verifier whose prover wrote a correct helpful solution (the bar is
    // their median score); it needs at least one iteration and at most one past its budget (not fooled).
    for (int k = 1; k <= 2; k++) {
      JsonNode round = r.get("rounds").get(k);
      assertEquals(round.get("helpful_accuracy").asDouble() > 0, round.has("adversary_steps_to_exploit"), round.toString());
      if (round.has("adversary_steps_to_exploit")) {
        double toExploit = round.get("adversary_steps_to_exploit").asDouble();
        assertTrue(toExploit >= 1 && toExploit <= 3, round.toString());
        assertEquals(toExploit <= 2 ? 1.0 : 0.0, round.get("adversary_fooled").asDouble());
        double best = round.get("adversary_best_success").asDouble();
        assertTrue(best >= 0 && best <= 1 && (toExploit > 2 || best >= 0.5), round.toString());
      }
    }

    // A second run of the same run id adds nothing twice.
    long rollouts = lake.read(Tables.ROLLOUTS).filter("run_id = 't1'").count();
    Stages.run(spark, lakeRoot, "t1", "pvg", StageConfigs.load(null, SETTINGS));
    assertEquals(rollouts, lake.read(Tables.ROLLOUTS).filter("run_id = 't1'").count());
  }

  @Test
  void badSettingsAreOneLineErrors() {
    List<String> s = new ArrayList<>(SETTINGS);
    s.add("pvg.roles=[helpful, cunning]");
    UserError e = assertThrows(UserError.class, () -> Stages.check("pvg", StageConfigs.load(null, s)));
    assertTrue(e.getMessage().contains("cunning") && !e.getMessage().contains("\n"), e.getMessage());
    List<String> f = new ArrayList<>(SETTINGS);
    f.add("pvg.filter_groups=true");
    e = assertThrows(UserError.class, () -> Stages.check("pvg", StageConfigs.load(null, f)));
    assertTrue(e.getMessage().contains("filter_groups"), e.getMessage());
    List<String> g = new ArrayList<>(SETTINGS);
    g.add("pvg.reward.rules=[{name: format, weight: 1.0}]");
    e = assertThrows(UserError.class, () -> Stages.check("pvg", StageConfigs.load(null, g)));
    assertTrue(e.getMessage().contains("correct_answer"), e.getMessage());
    assertNotNull(Stages.get("baseline:pvg"), "pvg runs under another name (the correctness-only baseline)");
  }

  @Test
  void theShippedConfChecks() {
    var config = StageConfigs.load(System.getProperty("user.dir") + "/../conf/pvg.conf", List.of());
    ConfigSections.checkKnown(config);
    List<String> stages = config.getStringList("quickstart.stages");
    for (String st : stages) Stages.check(st, config);
    var game = StageConfigs.bind(Stages.configFor("pvg", config), "pvg", org.sparkrlhf.grpo.pvg.PvgConfig.class);
    var baseline = StageConfigs.bind(Stages.configFor("pvg_correctness:pvg", config), "pvg",
        org.sparkrlhf.grpo.pvg.PvgConfig.class);
    assertEquals(List.of("helpful", "sneaky"), game.roles);
    assertEquals("src", game.proverReward);
    // the baseline differs in its reward, its roles and nothing of the RL's settings
    assertEquals("correctness", baseline.proverReward);
    assertEquals(List.of("helpful"), baseline.roles);
    assertEquals(game.lr, baseline.lr);
    assertEquals(game.iterations, baseline.iterations);
    assertEquals(game.rounds, baseline.rounds);
  }
}
