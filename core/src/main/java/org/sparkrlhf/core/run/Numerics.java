package org.sparkrlhf.core.run;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What decides the floating-point results of libtorch's CPU kernels besides the config and seed: recorded with every
 * checkpoint, so a reproduction on another machine can say why its weights differ.
 *
 * <p>libtorch chooses kernels at run time. ATen's vectorised kernels (softmax, norms, reductions, element-wise math)
 * are compiled for several instruction sets and picked by the CPU's best one unless {@code ATEN_CPU_CAPABILITY} pins
 * it; MKL's GEMM (every matmul) dispatches on the CPU too unless {@code MKL_CBWR} fixes its code path (Intel's
 * conditional numerical reproducibility). The intra-op thread count splits reductions into partial sums. A float sum
 * in another order is another float, so any of these changing changes the weights from the first step on.
 */
public final class Numerics {
  /** The environment variables that pin or cap libtorch's kernels and threads; read once at library load. */
  public static final List<String> PINS =
      List.of("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "OMP_NUM_THREADS", "MKL_NUM_THREADS");

  /**
   * The kernel pins the launchers set (bin/rlhf and the Airflow DAG; RLHF_PIN_KERNELS=0 leaves libtorch free), so a
   * run gives the same weights on any x86-64 CPU with AVX2 (Intel since 2013, AMD since 2015), with or without
   * AVX-512: ATen's AVX2 kernels and MKL's AVX2 code path. Measured on an AVX-512 CPU: ATen's own choice there and
   * its AVX2 kernels (what a CPU without AVX-512 runs) give other weights within 60 SFT steps; with these two pins the
   * weights are the same whether MKL is capped at AVX2 or not.
   */
  public static final Map<String, String> REPRODUCIBLE = pinned();

  private static Map<String, String> pinned() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("ATEN_CPU_CAPABILITY", "avx2");
    m.put("MKL_CBWR", "AVX2");
    return java.util.Collections.unmodifiableMap(m);
  }

  /** The CPU's model and widest vector set: read from /proc/cpuinfo once per JVM, not at every checkpoint. */
  private static final String[] CPU = cpu();

  private Numerics() {}

  /**
   * This JVM's numerics: the CPU model and its widest vector instruction set, libtorch's version, the JVM, the calling
   * thread's torch intra-op threads, and the pinning variables (absent ones as "").
   */
  public static Map<String, Object> current() {
    Map<String, Object> out = new LinkedHashMap<>();
    String[] cpu = CPU;
    out.put("cpu", cpu[0]);
    out.put("cpu_isa", cpu[1]);
    out.put("cores", Runtime.getRuntime().availableProcessors());
    out.put("libtorch", Engine.getEngine("PyTorch").getVersion());
    // The sampler's Math.exp/log are HotSpot intrinsics, free to differ by an ulp between JVM builds.
    out.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"));
    out.put("torch_threads", JniUtils.getNumThreads());
    Map<String, String> pins = new LinkedHashMap<>();
    for (String k : PINS) pins.put(k, Objects.requireNonNullElse(System.getenv(k), ""));
    out.put("pins", pins);
    return out;
  }

  /**
   * The settings in which {@code now} differs from {@code recorded}, one "key: recorded → now" line each; the CPU's
   * name and core count are listed too, though with every kernel pinned and the thread count fixed they need not
   * change a result. Keys a record lacks (checkpoints made before this was recorded) are "unrecorded".
   */
  public static List<String> differences(Map<String, Object> recorded, Map<String, Object> now) {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Object> e : now.entrySet()) {
      Object was = recorded == null ? null : recorded.get(e.getKey());
      if (e.getValue() instanceof Map<?, ?> m) {
        Map<?, ?> old = was instanceof Map<?, ?> w ? w : Map.of();
        for (Map.Entry<?, ?> p : m.entrySet()) {
          Object o = old.containsKey(p.getKey()) ? old.get(p.getKey()) : (was == null ? null : "");
          if (!String.valueOf(p.getValue()).equals(String.valueOf(o))) {
            out.add(p.getKey() + ": " + shown(o) + " → " + shown(p.getValue()));
          }
        }
      } else if (!String.valueOf(e.getValue()).equals(String.valueOf(was))) {
        out.add(e.getKey() + ": " + shown(was) + " → " + shown(e.getValue()));
      }
    }
    return out;
  }

  private static String shown(Object v) {
    if (v == null) return "unrecorded";
    String s = String.valueOf(v);
    return s.isEmpty() ? "unset" : s;
  }

  /** The CPU's model name and its widest x86 vector set (avx512, avx2, sse4_2 or "other"), from /proc/cpuinfo. */
  static String[] cpu() {
    String model = System.getProperty("os.arch");
    String isa = "other";
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
      String flags = "";
      for (String l : lines) {
        if (l.startsWith("model name") && model.equals(System.getProperty("os.arch"))) {
          model = l.substring(l.indexOf(':') + 1).trim();
        }
        if (l.startsWith("flags") && flags.isEmpty()) flags = " " + l.substring(l.indexOf(':') + 1).trim() + " ";
      }
      isa = widest(flags);
    } catch (IOException | RuntimeException e) {
      // Not Linux (or no procfs): the architecture alone still names the machine's kind.
    }
    return new String[] {model, isa};
  }

  /** The widest of the instruction sets ATen compiles kernels for that a cpuinfo flags line (space-padded) has. */
  static String widest(String flags) {
    if (flags.contains(" avx512f ") && flags.contains(" avx512bw ") && flags.contains(" avx512vl ")
        && flags.contains(" avx512dq ")) {
      return "avx512";
    }
    if (flags.contains(" avx2 ") && flags.contains(" fma ")) return "avx2";
    if (flags.contains(" sse4_2 ")) return "sse4_2";
    return "other";
  }
}
