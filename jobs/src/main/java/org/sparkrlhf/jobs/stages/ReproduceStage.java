package org.sparkrlhf.jobs.stages;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.SafeTensors;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.jobs.Stages;

/**
 * {@code reproduce --checkpoint PATH}: runs again the stage that made a checkpoint, from the config its row records
 * and from the same parent, every input table read at the Delta version the row records (time travel: rows added
 * since are not read), under run {@code <run>-reproduce}; then compares the new checkpoint of the same step with the
 * old one, tensor by tensor. The report says whether they are bit for bit equal and, when not, the largest
 * difference and the tensors that differ.
 */
public final class ReproduceStage implements Stage {
  /** The stages a reproduction can rerun, each with the config key that names the checkpoint it started from. */
  static final Map<String, String> PARENT_KEY = Map.of(
      "sft", "init_checkpoint", "dpo", "reference_checkpoint", "reward", "init_checkpoint",
      "grpo", "init_checkpoint", "ppo", "init_checkpoint");

  @Override
  public String name() {
    return "reproduce";
  }

  @Override
  public String description() {
    return "rerun the stage that made a checkpoint at its recorded table versions and config; compare the weights";
  }

  @Override
  public List<String> sections() {
    return List.of("reproduce");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--checkpoint", "reproduce.checkpoint");
  }

  @Override
  public void check(Config config) {
    LineageConfig c = StageConfigs.bind(config, "reproduce", LineageConfig.class);
    if (c.checkpoint.isBlank()) throw new UserError("reproduce needs a checkpoint: --checkpoint PATH");
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    LineageConfig c = StageConfigs.bind(config, "reproduce", LineageConfig.class);
    Row row = Checkpoints.registered(ctx.lake(), c.checkpoint);
    if (row == null) {
      throw new UserError(c.checkpoint + " is not a checkpoint registered in " + ctx.lake().path(Tables.CHECKPOINTS)
          + ": nothing records how it was made");
    }
    String stage = row.getAs("stage");
    String parentKey = PARENT_KEY.get(stage);
    if (parentKey == null) {
      throw new UserError("reproduce reruns checkpoints of " + String.join(", ", new java.util.TreeSet<>(PARENT_KEY.keySet()))
          + "; " + c.checkpoint + " was made by '" + stage + "'");
    }
    long step = row.<Long>getAs("step");
    String parent = row.getAs("parent");
    Map<String, Long> versions = LineageStage.dataVersions(row);
    String runId = c.runId.isBlank() ? row.<String>getAs("run_id") + "-reproduce" : c.runId;

    // The recorded section, started from the recorded parent, never resumed; the rest of the config as given.
    Config section = ConfigFactory.parseString(row.<String>getAs("config_json"))
        .withValue("resume", ConfigValueFactory.fromAnyRef(false));
    if (parent != null && !parent.startsWith(LineageStage.NEW_MODEL)) {
      section = section.withValue(parentKey, ConfigValueFactory.fromAnyRef(parent));
    }
    // The torch threads the checkpoint was trained with, not this machine's core count: a reduction split over
    // another number of threads sums in another order (measured: a hidden-512 SFT on 1 and on 2 threads differs).
    Map<String, Object> recorded = Checkpoints.numerics(row.getAs("path"));
    if (recorded != null && recorded.get("torch_threads") instanceof Number threads && section.hasPath("threads")) {
      section = section.withValue("threads", ConfigValueFactory.fromAnyRef(threads.intValue()));
    }
    Config rerun = config.withValue(stage, section.root());
    System.out.printf("reproduce: %s step %d of run %s, reading %s%n", stage, step, row.getAs("run_id"), versions);
    Lake pinned = ctx.lake().pinnedTo(versions);
    String report = Stages.run(pinned, runId, stage, rerun);

    String again = ctx.lake().root() + "/runs/" + runId + "/" + stage + "/checkpoints/" + String.format("step-%06d", step);
    Map<String, Object> diff = compare(row.getAs("path"), again);
    List<String> numerics = org.sparkrlhf.core.run.Numerics.differences(
        Checkpoints.numerics(row.getAs("path")), Checkpoints.numerics(again));
    ctx.put("checkpoint", c.checkpoint).put("stage", stage).put("step", step).put("data_versions", versions)
        .put("parent", parent).put("reproduced", again).put("reproduction_report", report);
    diff.forEach(ctx::put);
    ctx.put("numerics_differences", numerics);
    boolean same = (Boolean) diff.get("identical");
    String line = same ? "bit for bit identical (" + diff.get("tensors") + " tensors)"
        : "differs: largest difference " + diff.get("max_abs_diff") + " in " + diff.get("differing_tensors");
    if (!numerics.isEmpty()) line += "; numerics not as recorded: " + String.join("; ", numerics);
    ctx.summary(stage + " step " + step + " reproduced: " + line);
    System.out.printf("reproduce: %s -> %s: %s%n", c.checkpoint, again, line);
  }

  /** Tensor-by-tensor comparison of two checkpoints' weights. */
  static Map<String, Object> compare(String a, String b) {
    Map<String, SafeTensors.Tensor> x = weights(a);
    Map<String, SafeTensors.Tensor> y = weights(b);
    double max = 0;
    List<String> differing = new java.util.ArrayList<>();
    for (String k : x.keySet()) {
      SafeTensors.Tensor u = x.get(k);
      SafeTensors.Tensor v = y.get(k);
      if (v == null || !java.util.Arrays.equals(u.shape(), v.shape())) {
        differing.add(k);
        max = Double.POSITIVE_INFINITY;
        continue;
      }
      boolean same = true;
      for (int i = 0; i < u.data().length; i++) {
        if (Float.floatToRawIntBits(u.data()[i]) != Float.floatToRawIntBits(v.data()[i])) {
          same = false;
          max = Math.max(max, Math.abs((double) u.data()[i] - v.data()[i]));
        }
      }
      if (!same) differing.add(k);
    }
    for (String k : y.keySet()) if (!x.containsKey(k)) differing.add(k);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("identical", differing.isEmpty());
    out.put("tensors", x.size());
    out.put("max_abs_diff", max);
    out.put("differing_tensors", differing);
    return out;
  }

  private static Map<String, SafeTensors.Tensor> weights(String checkpoint) {
    String file = checkpoint + "/model.safetensors";
    return SafeTensors.read(HadoopFiles.readBytes(file)).tensors();
  }
}
