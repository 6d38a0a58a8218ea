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
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

/** The rollouts stage in-process on local[2]: exactly-once rows, idempotent re-runs, partition-independent samples. */
class RolloutsStageTest {
  static final int PROMPTS = 12;
  static SparkSession spark;
  static String lakeRoot;
  static String checkpoint;
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void start() throws Exception {
    spark = TestSpark.session();
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    lakeRoot = TestSpark.newLake("rollouts-stage-test");
    Lake lake = new Lake(spark, lakeRoot);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < PROMPTS; i++) {
      rows.add(RowFactory.create("arith", "train", String.format("train-%03d", i), i + "+" + (i * 7 % 10) + "=?\n",
          Integer.toString(i + i * 7 % 10), "test", "setup", null));
    }
    rows.add(RowFactory.create("arith", "test", "test-000", "1+1=?\n", "2", "test", "setup", null));
    lake.insertNew(Tables.PROMPTS, lake.frame(Tables.PROMPTS, rows));
    // a tiny random policy saved as an sft checkpoint of run "r1" (step 5 → policy_version 5)
    CharTokenizer tok = new CharTokenizer();
    checkpoint = TestSpark.tempDir("rollouts-ckpt").resolve("step-000005").toString();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      LlamaConfig cfg = new LlamaConfig(32, 64, 1, 2, 1, tok.vocabSize(), 64, 10000.0, 1e-5, true,
          tok.bosId(), tok.eosId(), tok.padId());
      LlamaModel model = LlamaModel.init(cfg, false, 3, m);
      HfCheckpoint.save(model, tok.toTokenizerJson(), Map.of(), checkpoint);
    }
    Row ck = RowFactory.create("r1", "sft", 5L, checkpoint, "policy",
        scala.jdk.javaapi.CollectionConverters.asScala(new HashMap<String, Long>()), null, "{}", null);
    lake.appendOnce(Tables.CHECKPOINTS, lake.frame(Tables.CHECKPOINTS, List.of(ck)).drop("created_at"), "setup", 0);
  }

  static JsonNode run(String runId, String... sets) throws Exception {
    List<String> all = new ArrayList<>(List.of("rollouts.num_samples=3", "rollouts.max_new_tokens=20",
        "rollouts.batch_size=4", "rollouts.limit=10", "rollouts.seed=77"));
    all.addAll(List.of(sets));
    String report = Stages.run(spark, lakeRoot, runId, "rollouts", StageConfigs.load(null, all));
    return JSON.readTree(Files.readString(Path.of(report)));
  }

  /** "prompt_id#sample" → completion, for one run. */
  static Map<String, String> completions(String runId) {
    Map<String, String> m = new HashMap<>();
    for (Row r : new Lake(spark, lakeRoot).read(Tables.ROLLOUTS).filter("run_id = '" + runId + "'")
        .select("prompt_id", "sample_index", "completion").collectAsList()) {
      assertTrue(m.put(r.getString(0) + "#" + r.getInt(1), r.getString(2)) == null, "exactly once");
    }
    return m;
  }

  @Test
  void promptsTimesSamplesExactlyOnceAndRerunAddsNothing() throws Exception {
    JsonNode first = run("r1"); // checkpoint from the checkpoints table (newest sft policy of r1)
    assertEquals(checkpoint, first.get("checkpoint").asText());
    assertEquals(30, first.get("rows").asLong(), "10 prompts x 3 samples");
    assertEquals(30, first.get("distinct_rows").asLong());
    assertEquals(5, first.get("policy_version").asLong());
    assertEquals(1, first.get("executors").asInt(), "local mode: the driver JVM");
    assertTrue(first.get("written").asBoolean());
    assertTrue(first.get("tokens").asLong() > 0);
    long reasons = 0;
    for (JsonNode n : first.get("finish_reasons")) reasons += n.asLong();
    assertEquals(30, reasons);

    Lake lake = new Lake(spark, lakeRoot);
    List<Row> rows = lake.read(Tables.ROLLOUTS).filter("run_id = 'r1'").collectAsList();
    assertEquals(30, rows.size());
    for (Row r : rows) {
      assertEquals("rollouts", r.getAs("stage"));
      assertEquals(0, (int) r.getAs("iteration"));
      assertEquals("arith", r.getAs("dataset"));
      assertTrue(r.<String>getAs("prompt_id").startsWith("train-"), "only the train split");
      assertTrue(r.isNullAt(r.fieldIndex("reward")) && r.isNullAt(r.fieldIndex("reward_parts")));
      assertEquals(r.getList(r.fieldIndex("token_ids")).size(), r.getList(r.fieldIndex("token_logprobs")).size());
      assertEquals(5L, (long) r.getAs("policy_version"));
      assertFalse(r.isNullAt(r.fieldIndex("created_at")));
    }
    assertEquals(10, lake.read(Tables.ROLLOUTS).filter("run_id = 'r1'").select("prompt_id").distinct().count(),
        "the first 10 prompts in id order");
    assertEquals(0, lake.read(Tables.ROLLOUTS).filter("run_id = 'r1' AND prompt_id IN ('train-010', 'train-011')").count());

    long version = lake.version(Tables.ROLLOUTS);
    JsonNode again = run("r1");
    assertFalse(again.get("written").asBoolean(), "same run id: nothing added");
    assertEquals(30, again.get("rows").asLong());
    assertEquals(version, lake.version(Tables.ROLLOUTS));
    assertEquals(30, lake.read(Tables.ROLLOUTS).filter("run_id = 'r1'").count());

    // a new iteration of the same run is a new write
    run("r1", "rollouts.iteration=1", "rollouts.limit=2");
    assertEquals(36, lake.read(Tables.ROLLOUTS).filter("run_id = 'r1'").count());
  }

  @Test
  void sameSeedSameSamplesWithOneOrThreePartitions() throws Exception {
    run("p1", "rollouts.checkpoint=" + checkpoint, "rollouts.partitions=1");
    run("p3", "rollouts.checkpoint=" + checkpoint, "rollouts.partitions=3");
    Map<String, String> one = completions("p1");
    Map<String, String> three = completions("p3");
    assertEquals(30, one.size());
    assertEquals(one, three);
    assertTrue(one.values().stream().distinct().count() > 10, "samples differ");
    run("s2", "rollouts.checkpoint=" + checkpoint, "rollouts.partitions=3", "rollouts.seed=78");
    assertFalse(one.equals(completions("s2")), "another seed, other samples");
  }

  @Test
  void mistakesAreOneLineErrors() {
    UserError e = org.junit.jupiter.api.Assertions.assertThrows(UserError.class,
        () -> run("bad", "rollouts.checkpoint=" + checkpoint, "rollouts.split=nope"));
    assertTrue(e.getMessage().contains("nope"), e.getMessage());
    e = org.junit.jupiter.api.Assertions.assertThrows(UserError.class, () -> run("bad2", "rollouts.top_p=0"));
    assertTrue(e.getMessage().contains("topP"), e.getMessage());
    e = org.junit.jupiter.api.Assertions.assertThrows(UserError.class, () -> run("nockpt"));
    assertTrue(e.getMessage().contains("no policy checkpoint"), e.getMessage());
  }
}
