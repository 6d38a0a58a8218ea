package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.SafeTensors;

/**
 * {@code sft}, {@code reward}, {@code dpo} and {@code ppo} killed with SIGKILL mid-run (the JVM and the launcher; no
 * shutdown hook runs) and resumed with {@code --resume} end with the weights an uninterrupted run ends with, bit for
 * bit, and with its metrics rows, each once. {@code ppo} runs the RL loop {@code grpo} shares, with a critic beside.
 */
class KillResumeIT {
  static final List<String> SETTINGS = List.of(
      "data.train_size=300", "data.valid_size=20", "data.test_size=20", "data.test_ood_size=10",
      "data.step_label_problems=0",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=80", "sft.warmup_steps=10", "sft.eval_every=80", "sft.checkpoint_every=20",
      "sft.log_every=40", "sft.eval_accuracy_problems=0", "sft.threads=1");

  static String[] args(String stage, String lake, String run, String... more) {
    List<String> a = new ArrayList<>(List.of(stage, "--master", "local[1]", "--lake", lake, "--run-id", run));
    for (String s : SETTINGS) a.addAll(List.of("--set", s));
    a.addAll(List.of(more));
    return a.toArray(String[]::new);
  }

  static Map<String, SafeTensors.Tensor> weights(Path checkpoint) throws Exception {
    return SafeTensors.read(Files.readAllBytes(checkpoint.resolve("model.safetensors"))).tensors();
  }

  /**
   * Runs {@code stage} uninterrupted under run {@code <name>-whole}; then under {@code <name>-killed}, killed once the
   * checkpoint of step {@code killAfter} is on disk, and resumed; and compares the two final checkpoints' weights.
   * {@code killAfter} is a later checkpoint than the first: the kill may fall between a checkpoint's files and its
   * row in the checkpoints table, and only registered checkpoints are resumed from.
   */
  static void killAndResume(String lake, String stage, String name, int killAfter, int last, String... more)
      throws Exception {
    Launcher.Result whole = Launcher.rlhf(Map.of(), args(stage, lake, name + "-whole", more));
    assertEquals(0, whole.code(), whole.stderr());

    File out = File.createTempFile(name + "-killed", ".txt");
    File err = File.createTempFile(name + "-killed", ".err");
    Process p = Launcher.start(Map.of(), out, err, args(stage, lake, name + "-killed", more));
    Path checkpoints = Path.of(lake, "runs", name + "-killed", stage, "checkpoints");
    Path mid = checkpoints.resolve(String.format("step-%06d", killAfter)).resolve("trainer_state.json");
    long deadline = System.currentTimeMillis() + 10 * 60_000;
    while (!Files.exists(mid) && p.isAlive() && System.currentTimeMillis() < deadline) Thread.sleep(50);
    assertTrue(p.isAlive(), "the run was still going when it was killed:\n" + Files.readString(out.toPath()));
    Launcher.kill(p);
    String end = String.format("step-%06d", last);
    assertFalse(Files.exists(checkpoints.resolve(end)), "killed before its end");

    List<String> resume = new ArrayList<>(List.of(more));
    resume.add("--resume");
    Launcher.Result resumed = Launcher.rlhf(Map.of(), args(stage, lake, name + "-killed", resume.toArray(String[]::new)));
    assertEquals(0, resumed.code(), resumed.stderr());
    assertTrue(resumed.stdout().contains(stage + ": resuming after "), resumed.stdout());

    Map<String, SafeTensors.Tensor> a = weights(Path.of(lake, "runs", name + "-whole", stage, "checkpoints", end));
    Map<String, SafeTensors.Tensor> b = weights(checkpoints.resolve(end));
    assertEquals(a.keySet(), b.keySet());
    for (String k : a.keySet()) assertArrayEquals(a.get(k).data(), b.get(k).data(), k);

    // the metrics: every (step, name) of the uninterrupted run, each once (none lost to the kill, none doubled)
    List<String> wholeMetrics = metricKeys(lake, name + "-whole", stage);
    List<String> killedMetrics = metricKeys(lake, name + "-killed", stage);
    assertEquals(wholeMetrics.size(), new java.util.HashSet<>(wholeMetrics).size(), "the uninterrupted run's rows once");
    assertEquals(wholeMetrics, killedMetrics, "the killed and resumed run's metrics rows");
  }

  /** "step name" of a run's metrics rows, sorted (duplicates kept). */
  static List<String> metricKeys(String lake, String run, String stage) {
    return new Lake(TestSpark.session(), lake).read(Tables.METRICS)
        .filter("run_id = '" + run + "' AND stage = '" + stage + "'").selectExpr("concat(step, ' ', name)")
        .as(org.apache.spark.sql.Encoders.STRING()).collectAsList().stream().sorted().toList();
  }

  @Test
  void everyTrainerKilledMidRunResumesToTheUninterruptedWeightsAndMetrics() throws Exception {
    String lake = TestSpark.newLake("kill-resume-it");
    assertEquals(0, Launcher.rlhf(Map.of(), args("data", lake, "d")).code());
    killAndResume(lake, "sft", "sft", 40, 80);

    // a reward model from that SFT on 240 pairs of the lake's own prompts (the right answer over an off-by-one)
    List<Row> pairs = new ArrayList<>();
    for (int i = 0; i < 240; i++) {
      int x = i % 10;
      int y = i / 10 % 10;
      pairs.add(RowFactory.create("kr", "train", String.format("kr-%04d", i), x + "+" + y + "=?\n",
          "#### " + (x + y), "#### " + (x + y + 1), 1.0, 0.0, 1.0, null, null, "kill-resume-it", "setup", null));
    }
    Lake l = new Lake(TestSpark.session(), lake);
    l.insertNew(Tables.PREFERENCES, l.frame(Tables.PREFERENCES, pairs));
    String sft = Path.of(lake, "runs", "sft-whole", "sft", "checkpoints", "step-000080").toString();
    killAndResume(lake, "reward", "reward", 40, 400, "--set", "reward.init_checkpoint=" + sft,
        "--set", "reward.dataset=kr", "--set", "reward.max_steps=400", "--set", "reward.batch_size=16",
        "--set", "reward.checkpoint_every=20", "--set", "reward.eval_every=100", "--set", "reward.log_every=100",
        "--set", "reward.eval_share=0.1", "--set", "reward.threads=1", "--set", "reward.lr=1e-3");
    // DPO on the same pairs with that SFT as its reference and start
    killAndResume(lake, "dpo", "dpo", 40, 80, "--set", "dpo.reference_checkpoint=" + sft,
        "--set", "dpo.dataset=kr", "--set", "dpo.epochs=4", "--set", "dpo.max_steps=80", "--set", "dpo.batch_size=8",
        "--set", "dpo.checkpoint_every=20", "--set", "dpo.log_every=10", "--set", "dpo.threads=1");
    // PPO (the RL loop GRPO shares, plus the critic and its optimizer in the trainer state) on the lake's prompts
    killAndResume(lake, "ppo", "ppo", 8, 12, "--checkpoint", sft, "--set", "ppo.iterations=12",
        "--set", "ppo.prompts_per_iteration=8", "--set", "ppo.group_size=2", "--set", "ppo.max_new_tokens=24",
        "--set", "ppo.minibatch_size=8", "--set", "ppo.checkpoint_every=4", "--set", "ppo.write_every=1",
        "--set", "ppo.eval_every=0", "--set", "ppo.threads=1", "--set", "ppo.lr=1e-3");
  }
}
