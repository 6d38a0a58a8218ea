package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.train.TrainerState;

/**
 * On one tiny data → sft lake: ppo (TRL's metric names, the critic in the state, --resume, a learned reward) and
 * bestofn (samples in rollouts, the curves in metrics, the reward model's pick as an independent reading gives it).
 */
class PpoAndBestOfNStageTest {
  static SparkSession spark;
  static String lakeRoot;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("ppo-stage-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    var config = StageConfigs.load(null, SETTINGS);
    Stages.run(spark, lakeRoot, "p1", "data", config);
    Stages.run(spark, lakeRoot, "p1", "sft", config);
  }

  /** The SFT backbone with a score head, saved as a checkpoint: a stand-in reward model. */
  static String rewardModel(Lake lake) throws Exception {
    String rm = Files.createTempDirectory("stand-in-reward-model").toString();
    try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager();
        org.sparkrlhf.core.model.HfCheckpoint start = org.sparkrlhf.core.model.HfCheckpoint.load(sft0(lake), m)) {
      org.sparkrlhf.core.model.HfCheckpoint.save(start.model().withScoreHead(3, m), start.tokenizerJson(),
          java.util.Map.of(), rm);
    }
    return rm;
  }

  static final List<String> SETTINGS = List.of(
      "data.train_size=64", "data.valid_size=8", "data.test_size=8", "data.test_ood_size=8",
      "data.step_label_problems=0",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=5", "sft.eval_every=5", "sft.checkpoint_every=0", "sft.log_every=5",
      "sft.eval_accuracy_problems=0", "sft.threads=1",
      "ppo.prompts_per_iteration=12", "ppo.iterations=3", "ppo.max_new_tokens=24", "ppo.minibatch_size=8",
      "ppo.checkpoint_every=2", "ppo.threads=1", "ppo.lr=1e-3", "ppo.kl_controller=adaptive");

  static String sft0(Lake lake) {
    return lake.read(Tables.CHECKPOINTS).filter("run_id = 'p1' AND stage = 'sft'").select("path")
        .as(Encoders.STRING()).collectAsList().get(0);
  }

  static long count(Lake lake, String table, String where) {
    return lake.read(table).filter(where).count();
  }

  @Test
  void ppoTrainsWritesTrlMetricsAndResumes() throws Exception {
    var config = StageConfigs.load(null, SETTINGS);
    String report = Stages.run(spark, lakeRoot, "p1", "ppo", config);
    assertTrue(Files.exists(Path.of(report)));
    Lake lake = new Lake(spark, lakeRoot);
    String mine = "run_id = 'p1' AND stage = 'ppo'";
    assertEquals(3 * 12, count(lake, Tables.ROLLOUTS, mine));
    for (String metric : List.of("objective/kl", "objective/scores", "objective/rlhf_reward", "objective/entropy",
        "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg", "val/clipfrac_avg",
        "val/explained_var", "val/ratio", "kl_coef", "tokens_per_s", "generate_seconds", "train_seconds")) {
      assertEquals(3, count(lake, Tables.METRICS, mine + " AND name = '" + metric + "'"), metric);
    }
    // The checkpoint's trainer state carries the critic, its optimizer and β.
    String last = lake.read(Tables.CHECKPOINTS).filter(mine + " AND step = 3").select("path").as(Encoders.STRING())
        .collectAsList().get(0);
    var algorithm = TrainerState.read(last).algorithm();
    assertTrue(algorithm.containsKey("critic.score.weight") && algorithm.containsKey("critic_optimizer.step")
        && algorithm.containsKey("kl_coef"), algorithm.keySet().toString());

    List<String> more = new ArrayList<>(SETTINGS);
    more.addAll(List.of("ppo.resume=true", "ppo.iterations=4"));
    String resumed = Stages.run(spark, lakeRoot, "p1", "ppo", StageConfigs.load(null, more));
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(Path.of(resumed)));
    assertEquals(3, json.get("start_iteration").asInt());
    assertEquals(4 * 12, count(lake, Tables.ROLLOUTS, mine));

    // A learned reward: the SFT backbone with a score head stands in for a reward model, as the reward and as the
    // critic's start. Its raw score is the rollouts' part "model", its mean a metric, the gold accuracy still there.
    String rm = rewardModel(lake);
    List<String> learned = new ArrayList<>(SETTINGS);
    learned.addAll(List.of("ppo.iterations=2", "ppo.init_checkpoint=" + sft0(lake), "ppo.critic_checkpoint=" + rm,
        "ppo.reward.rules=[{name: model, checkpoint: \"" + rm + "\", weight: 1.0}]"));
    Stages.run(spark, lakeRoot, "p3", "ppo", StageConfigs.load(null, learned));
    String p3 = "run_id = 'p3' AND stage = 'ppo'";
    assertEquals(2 * 12, count(lake, Tables.ROLLOUTS, p3 + " AND reward_parts['model'] IS NOT NULL"
        + " AND reward_parts['correct_answer'] IS NOT NULL AND abs(reward - reward_parts['model']) < 1e-9"));
    assertEquals(2, count(lake, Tables.METRICS, p3 + " AND name = 'reward_model_mean'"));
    assertEquals(2, count(lake, Tables.METRICS, p3 + " AND name = 'accuracy'"));

    // A critic checkpoint without a score head is a one-line error naming the key.
    String sft = lake.read(Tables.CHECKPOINTS).filter("run_id = 'p1' AND stage = 'sft'").select("path")
        .as(Encoders.STRING()).collectAsList().get(0);
    List<String> bad = new ArrayList<>(SETTINGS);
    bad.addAll(List.of("ppo.critic_checkpoint=" + sft, "ppo.init_checkpoint=" + sft));
    UserError e = assertThrows(UserError.class,
        () -> Stages.run(spark, lakeRoot, "p2", "ppo", StageConfigs.load(null, bad)));
    assertTrue(e.getMessage().startsWith("ppo.critic_checkpoint") && e.getMessage().contains("no score head")
        && !e.getMessage().contains("\n"), e.getMessage());
  }

  @Test
  void bestOfNWritesItsSamplesAndCurves() throws Exception {
    Lake lake = new Lake(spark, lakeRoot);
    String rm = rewardModel(lake);
    List<String> settings = new ArrayList<>(SETTINGS);
    settings.addAll(List.of("bestofn.limit=6", "bestofn.samples=4", "bestofn.ns=[1, 2, 4]", "bestofn.draws=8",
        "bestofn.max_new_tokens=24", "bestofn.threads=1", "bestofn.reward_model=" + rm,
        "bestofn.checkpoint=" + sft0(lake)));
    String report = Stages.run(spark, lakeRoot, "b1", "bestofn", StageConfigs.load(null, settings));
    assertTrue(Files.exists(Path.of(report)));
    String mine = "run_id = 'b1' AND stage = 'bestofn'";
    assertEquals(24, count(lake, Tables.ROLLOUTS, mine + " AND reward_parts['orm'] = reward"
        + " AND reward_parts['correct_answer'] IS NOT NULL"));
    for (String p : List.of("first", "majority", "orm")) {
      assertEquals(List.of(1L, 2L, 4L), lake.read(Tables.METRICS).filter(mine + " AND name = 'best_of_n/" + p + "'")
          .orderBy("step").select("step").as(Encoders.LONG()).collectAsList(), p);
    }
    // At N = M every draw holds all samples, so the ORM's pick is each problem's best-scored sample: read it back from
    // the rollouts table independently.
    double expected = lake.read(Tables.ROLLOUTS).filter(mine).groupBy("prompt_id")
        .agg(org.apache.spark.sql.functions.max_by(org.apache.spark.sql.functions.col("reward_parts")
            .getItem("correct_answer"), org.apache.spark.sql.functions.col("reward")).as("ok"))
        .agg(org.apache.spark.sql.functions.avg("ok")).first().getDouble(0);
    double orm4 = lake.read(Tables.METRICS).filter(mine + " AND name = 'best_of_n/orm' AND step = 4")
        .select("value").as(Encoders.DOUBLE()).first();
    assertEquals(expected, orm4, 1e-12);
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(Path.of(report)));
    assertEquals(3, json.path("curves").path("orm").size());
    assertEquals(3, json.path("paired_vs_majority").path("orm_vs_majority").size());
  }
}
