package org.sparkrlhf.jobs.stages;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.sft.ModelSpec;

/** Where a stage's model comes from: a checkpoint folder, or a new model for the built-in tokenizer. */
final class Models {
  private Models() {}

  /**
   * A model, its tokenizer, a description of where they came from (for provenance), and the provenance the
   * checkpoint itself carries (empty for a new model).
   */
  record Loaded(LlamaModel model, TextTokenizer tokenizer, String source, java.util.Map<String, Object> provenance) {}

  /** Starts the PyTorch engine on the driver and sets its intra-op threads (0 = all cores). */
  static void initEngine(int threads) {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
  }

  /** A checkpoint folder with its tokenizer, as {@link #checkpoint}; the source is the folder. */
  static Loaded load(String checkpoint, NDManager manager) {
    HfCheckpoint ckpt = checkpoint("checkpoint", checkpoint, manager);
    return new Loaded(ckpt.model(), tokenizer(checkpoint, ckpt), checkpoint, ckpt.provenance());
  }

  /** The tokenizer of a checkpoint read by {@link #checkpoint}; a tokenizer.json it cannot read is a one-line error. */
  static TextTokenizer tokenizer(String path, HfCheckpoint ckpt) {
    try {
      return HfTokenizer.fromJson(ckpt.tokenizerJson());
    } catch (RuntimeException e) {
      throw new UserError("checkpoint " + path + " has a tokenizer.json that cannot be read: " + firstLine(e));
    }
  }

  /**
   * Reads the checkpoint folder {@code path} for a stage. Whatever is wrong with it (no such folder, an
   * interrupted save, weights that do not fit the config, no tokenizer.json, which every stage needs) is a
   * one-line {@link UserError} naming what the checkpoint is for ({@code role}, e.g. "reference checkpoint")
   * and its path.
   */
  /**
   * Reads a checkpoint (a one-line error when it cannot be read, naming {@code role}) and publishes it to the
   * executors as a broadcast; the driver keeps no copy of the weights.
   */
  static org.sparkrlhf.rollouts.spark.ModelBroadcast publish(org.apache.spark.sql.SparkSession spark, String role,
      String path, String modelKey, long version) {
    byte[] blob;
    try (NDManager manager = NDManager.newBaseManager()) {
      HfCheckpoint ck = checkpoint(role, path, manager);
      blob = ck.toBytes();
      ck.model().close();
    }
    return org.sparkrlhf.rollouts.spark.ModelBroadcast.publish(spark, modelKey, version, blob);
  }

  static HfCheckpoint checkpoint(String role, String path, NDManager manager) {
    HfCheckpoint ckpt;
    try {
      ckpt = HfCheckpoint.load(path, manager);
    } catch (RuntimeException e) {
      throw new UserError("cannot load " + role + " " + path + ": " + firstLine(e));
    }
    if (ckpt.tokenizerJson() == null) {
      ckpt.close();
      throw new UserError("checkpoint " + path + " has no tokenizer.json");
    }
    return ckpt;
  }

  static Loaded startingPoint(String checkpoint, ModelSpec spec, long seed, NDManager manager) {
    if (checkpoint != null && !checkpoint.isBlank()) {
      return load(checkpoint, manager);
    }
    TextTokenizer tok = new CharTokenizer();
    return new Loaded(LlamaModel.init(spec.toConfig(tok), false, seed, manager), tok, "init:seed=" + seed, java.util.Map.of());
  }

  static String firstLine(Throwable e) {
    String m = e.getMessage() == null ? e.toString() : e.getMessage();
    return m.lines().findFirst().orElse(m);
  }
}
