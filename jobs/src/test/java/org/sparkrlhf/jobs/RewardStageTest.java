package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.reward.model.HeldOut;

/**
 * The reward stage on a tiny lake: from the run's sft checkpoint (found in the checkpoints table), on preferences
 * with margins and one untrainable pair; the loss falls, the held-out accuracy is reported, and the checkpoint it
 * registers reloads to the reported held-out accuracy.
 */
class RewardStageTest {
  static SparkSession spark;
  static String lakeRoot;
  static final CharTokenizer TOK = new CharTokenizer();

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("reward-test");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    String sft = TestSpark.tempDir("reward-sft").resolve("sft").toString();
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaConfig cfg = new LlamaConfig(32, 64, 1, 2, 1, TOK.vocabSize(), 64, 10000.0, 1e-5, true, TOK.bosId(),
          TOK.eosId(), TOK.padId());
      LlamaModel model = LlamaModel.init(cfg, false, 5, m);
      HfCheckpoint.save(model, TOK.toTokenizerJson(), Map.of(), sft);
      model.close();
    }
    Lake lake = new Lake(spark, lakeRoot);
    // the run's sft checkpoint, registered as the sft stage registers its own
    lake.appendOnce(Tables.CHECKPOINTS, lake.frame(Tables.CHECKPOINTS, List.of(RowFactory.create("rm", "sft", 10L,
        sft, "policy", scala.collection.immutable.Map$.MODULE$.empty(), null, "{}", null))).drop("created_at"),
        "rm/sft/checkpoints/policy", 10);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      int a = i % 10;
      int b = i / 10;
      String prompt = a + "+" + b + "=?\n";
      rows.add(pair("p" + i, prompt, "=" + (a + b) + "\n#### " + (a + b) + "\n", "#### " + (a + b + 1) + "\n"));
    }
    rows.add(pair("same", "1+1=?\n", "#### 2\n", "#### 2\n"));
    lake.insertNew(Tables.PREFERENCES, lake.frame(Tables.PREFERENCES, rows));
  }

  static Row pair(String id, String prompt, String chosen, String rejected) {
    return RowFactory.create("rmt", "train", id, prompt, chosen, rejected, 1.0, 0.0, 1.0, null, null, "test", "setup",
        null);
  }

  static JsonNode report(String path) throws Exception {
    return new ObjectMapper().readTree(Files.readString(Path.of(path)));
  }

  @Test
  void trainsFromTheRunsSftCheckpointAndReportsHeldOutAccuracy() throws Exception {
    String path = Stages.run(spark, lakeRoot, "rm", "reward", StageConfigs.load(null, List.of("reward.dataset=rmt",
        "reward.max_steps=30", "reward.batch_size=8", "reward.lr=3e-3", "reward.warmup_steps=0", "reward.threads=1",
        "reward.eval_share=0.2", "reward.use_margin=true", "reward.center_rewards_coefficient=0.01")));
    JsonNode rep = report(path);
    assertEquals(61, rep.get("pairs_read").asInt());
    assertEquals(1, rep.get("skipped_invalid").asInt(), "identical sides are not a preference");
    int held = rep.get("eval_pairs").asInt();
    assertEquals(60, rep.get("pairs").asInt() + held);
    assertTrue(held >= 6 && held <= 20, "about a fifth held out: " + held);
    assertTrue(rep.get("init_checkpoint").asText().endsWith("/sft"), rep.get("init_checkpoint").asText());
    JsonNode before = rep.get("eval_before");
    JsonNode after = rep.get("eval_after");
    assertTrue(after.get("eval_loss").asDouble() < before.get("eval_loss").asDouble(), rep.toString());
    assertTrue(after.get("eval_accuracy").asDouble() >= 0.9, after.toString());

    Lake lake = new Lake(spark, lakeRoot);
    Map<String, Map<Long, Double>> byName = new HashMap<>();
    for (Row r : lake.read(Tables.METRICS).filter("run_id = 'rm' AND stage = 'reward'").collectAsList()) {
      byName.computeIfAbsent(r.getAs("name"), k -> new HashMap<>()).put(r.getAs("step"), r.getAs("value"));
    }
    for (String n : List.of("loss", "accuracy", "margin", "mean_reward", "min_reward", "max_reward", "lr",
        "grad_norm")) {
      assertEquals(30, byName.getOrDefault(n, Map.of()).size(), n + " every step: " + byName.keySet());
    }
    for (String n : List.of("eval_loss", "eval_accuracy", "eval_margin", "eval_mean_reward")) {
      assertEquals(java.util.Set.of(0L, 30L), byName.get(n).keySet(), n);
    }
    Map<Long, Double> loss = byName.get("loss");
    double early = (loss.get(1L) + loss.get(2L) + loss.get(3L)) / 3;
    double late = (loss.get(28L) + loss.get(29L) + loss.get(30L)) / 3;
    assertTrue(late < 0.5 * early, "the training loss falls: " + early + " -> " + late);

    List<Row> ckpts = lake.read(Tables.CHECKPOINTS).filter("run_id = 'rm' AND stage = 'reward'").collectAsList();
    assertEquals(1, ckpts.size());
    Row ck = ckpts.get(0);
    assertEquals("reward", ck.getAs("kind"));
    assertEquals(30L, ck.<Long>getAs("step"));
    assertTrue(ck.getJavaMap(ck.fieldIndex("data_versions")).containsKey(Tables.PREFERENCES), ck.toString());
    String folder = ck.getAs("path");
    assertEquals(folder, rep.get("checkpoint").asText());
    JsonNode config = new ObjectMapper().readTree(Files.readString(Path.of(folder, "config.json")));
    assertEquals("LlamaForSequenceClassification", config.get("architectures").get(0).asText());

    // The checkpoint, reloaded and scored on the driver, gives the held-out accuracy the stage reported.
    List<TokenSequence> seqs = new ArrayList<>();
    for (Row r : lake.read(Tables.PREFERENCES).filter("dataset = 'rmt' AND id != 'same'").collectAsList()) {
      if (!HeldOut.isHeldOut(r.getAs("id"), 1234, 0.2)) continue;
      seqs.add(TokenSequence.encode(TOK, r.getAs("prompt"), r.<String>getAs("chosen"), true));
      seqs.add(TokenSequence.encode(TOK, r.getAs("prompt"), r.<String>getAs("rejected"), true));
    }
    assertEquals(2 * held, seqs.size());
    try (NDManager m = NDManager.newBaseManager(); HfCheckpoint back = HfCheckpoint.load(folder, m)) {
      List<SequenceLogProbs.SequenceScore> s = SequenceLogProbs.score(back.model(), seqs, 1.0, true, 8);
      int wins = 0;
      for (int i = 0; i < held; i++) if (s.get(2 * i).score() > s.get(2 * i + 1).score()) wins++;
      assertEquals(after.get("eval_accuracy").asDouble(), (double) wins / held, 1e-9);
    }
  }
}
