package org.sparkrlhf.jobs.stages;

import com.typesafe.config.Config;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.jobs.Stage;

/**
 * {@code lineage --checkpoint PATH}: where a checkpoint came from, back to its first ancestor made in this lake —
 * for each: the run and stage that made it, its step, the Delta version of every table that stage read, its
 * config (and that config's SHA-256), and the parent it was trained from. The chain is printed and is the report's
 * {@code chain}; a new model (initialised from a seed) or a parent brought from elsewhere ends it, named as such.
 */
public final class LineageStage implements Stage {
  @Override
  public String name() {
    return "lineage";
  }

  @Override
  public String description() {
    return "a checkpoint's chain: runs, stages, the Delta versions of every table each read, configs, parents";
  }

  @Override
  public List<String> sections() {
    return List.of("lineage");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--checkpoint", "lineage.checkpoint");
  }

  @Override
  public void check(Config config) {
    LineageConfig c = StageConfigs.bind(config, "lineage", LineageConfig.class);
    if (c.checkpoint.isBlank()) throw new UserError("lineage needs a checkpoint: --checkpoint PATH");
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    LineageConfig c = StageConfigs.bind(config, "lineage", LineageConfig.class);
    List<Map<String, Object>> chain = chain(ctx, c.checkpoint);
    if (chain.get(0).containsKey("not_registered")) {
      throw new UserError(c.checkpoint + " is not a checkpoint registered in " + ctx.lake().path(Tables.CHECKPOINTS));
    }
    for (int i = 0; i < chain.size(); i++) {
      Map<String, Object> link = chain.get(i);
      String indent = "  ".repeat(i);
      if (link.containsKey("new_model")) {
        System.out.printf("lineage: %sfrom a new model (%s)%n", indent, link.get("path"));
        continue;
      }
      if (link.containsKey("not_registered")) {
        System.out.printf("lineage: %sfrom %s (not made in this lake)%n", indent, link.get("path"));
        continue;
      }
      System.out.printf("lineage: %s%s%n", indent, link.get("path"));
      System.out.printf("lineage: %s  made by run %s, stage %s, step %s (%s), at %s%n", indent, link.get("run_id"),
          link.get("stage"), link.get("step"), link.get("kind"), link.get("created_at"));
      System.out.printf("lineage: %s  read %s%n", indent, versionsLine(dataVersions(link)));
      System.out.printf("lineage: %s  config sha256 %s%n", indent, link.get("config_sha256"));
      if (link.get("numerics") != null) {
        System.out.printf("lineage: %s  numerics %s%n", indent, numericsLine((Map<?, ?>) link.get("numerics")));
      }
    }
    ctx.put("checkpoint", c.checkpoint).put("chain", chain);
    ctx.summary(chain.size() + " checkpoint(s) in the chain");
  }

  /** The chain from {@code path} up through its parents: one map per checkpoint, newest first. */
  /** How a stage names the start of a model it initialised from a seed rather than loaded. */
  static final String NEW_MODEL = "init:";

  static List<Map<String, Object>> chain(RunContext ctx, String path) {
    List<Map<String, Object>> chain = new ArrayList<>();
    java.util.Set<String> seen = new java.util.HashSet<>();
    List<Row> registered = Checkpoints.registered(ctx.lake());
    String at = path;
    while (at != null && seen.add(Checkpoints.normalized(at))) {
      Map<String, Object> link = new LinkedHashMap<>();
      link.put("path", at);
      if (at.startsWith(NEW_MODEL)) {  // a model initialised from a seed (Models' name for it), not a checkpoint
        link.put("new_model", true);
        chain.add(link);
        break;
      }
      Row r = Checkpoints.registered(registered, at);
      if (r == null) {
        link.put("not_registered", true);
        chain.add(link);
        break;
      }
      link.put("run_id", r.getAs("run_id"));
      link.put("stage", r.getAs("stage"));
      link.put("step", r.<Long>getAs("step"));
      link.put("kind", r.getAs("kind"));
      link.put("created_at", String.valueOf(r.<Object>getAs("created_at")));
      link.put("data_versions", new TreeMap<>(dataVersions(r)));
      String config = r.getAs("config_json");
      link.put("config_sha256", sha256(config));
      link.put("config", config);
      link.put("parent", r.getAs("parent"));
      link.put("numerics", Checkpoints.numerics(at));
      chain.add(link);
      at = r.getAs("parent");
    }
    return chain;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Long> dataVersions(Map<String, Object> link) {
    return (Map<String, Long>) link.get("data_versions");
  }

  /** "table@version, …" in table order. */
  public static String versionsLine(Map<String, Long> versions) {
    StringBuilder data = new StringBuilder();
    new TreeMap<>(versions).forEach((t, v) -> data.append(data.length() == 0 ? "" : ", ").append(t).append('@').append(v));
    return data.toString();
  }

  /** "AMD EPYC (avx512, 2 cores), libtorch 2.7.1, OpenJDK 64-Bit Server VM 17.0.15, 2 torch threads, Spark parallelism 2, pins: MKL_CBWR=AVX2". */
  static String numericsLine(Map<?, ?> n) {
    StringBuilder pins = new StringBuilder();
    if (n.get("pins") instanceof Map<?, ?> p) {
      p.forEach((k, v) -> {
        if (v != null && !v.toString().isEmpty()) pins.append(pins.length() == 0 ? "" : " ").append(k).append('=').append(v);
      });
    }
    return n.get("cpu") + " (" + n.get("cpu_isa") + ", " + n.get("cores") + " cores), libtorch " + n.get("libtorch") + ", "
        + n.get("java") + ", "
        + n.get("torch_threads") + " torch threads, Spark parallelism " + n.get("spark_default_parallelism")
        + ", pins: " + (pins.length() == 0 ? "none" : pins);
  }

  /** A checkpoints row's table → Delta version map. */
  public static Map<String, Long> dataVersions(Row r) {
    scala.collection.Map<String, Long> m = r.getAs("data_versions");
    Map<String, Long> out = new LinkedHashMap<>();
    if (m != null) out.putAll(scala.jdk.javaapi.CollectionConverters.asJava(m));
    return out;
  }

  static String sha256(String s) {
    try {
      byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(d);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
