package org.sparkrlhf.core.fuzz;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs Jazzer's coverage-guided fuzzer on one target class ({@code fuzzerTestOneInput(byte[])}) in its own JVM for
 * a bounded time, starting from seed inputs. The JVM has a small heap, so a size taken on trust ends as an
 * OutOfMemoryError, which Jazzer reports as a finding like any uncaught exception, a hang past the per-input
 * timeout or a crash of the JVM. A finding fails the test with Jazzer's report and the path of the input that
 * provoked it (replay: the same command with that file as the only argument).
 *
 * <p>{@code -Dfuzz.seconds=N} runs each target for N seconds instead of the suite's bound (for a longer run by
 * hand: {@code mvn -pl jobs test -Dtest=ImportFuzzTest -Dfuzz.seconds=600}); the corpus Jazzer grows is kept
 * under {@code target/fuzz/<target>/corpus} between runs.
 */
public final class Jazzer {
  private Jazzer() {}

  /** Seconds each target runs: the suite's bound unless {@code fuzz.seconds} says otherwise. */
  public static int seconds(int suiteDefault) {
    return Integer.getInteger("fuzz.seconds", suiteDefault);
  }

  /**
   * Fuzzes {@code target} for {@code seconds}, its corpus seeded with {@code seeds}, coverage measured in this
   * project's classes and in the packages {@code fuzz.instrument} names (for a run by hand, such as
   * {@code org.apache.parquet.**}: instrumenting a library slows the first inputs too much for the suite's bound);
   * returns Jazzer's count of inputs run.
   */
  public static long fuzz(Class<?> target, Map<String, byte[]> seeds, int seconds, String heap) {
    try {
      Path dir = Path.of("target", "fuzz", target.getSimpleName()).toAbsolutePath();
      Path corpus = Files.createDirectories(dir.resolve("corpus"));
      Path seedDir = Files.createDirectories(dir.resolve("seeds"));
      Path findings = Files.createDirectories(dir.resolve("findings"));
      for (Map.Entry<String, byte[]> s : seeds.entrySet()) Files.write(seedDir.resolve(s.getKey()), s.getValue());
      Path log = dir.resolve("jazzer.log");
      List<String> cmd = new ArrayList<>(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx" + heap));
      // The test JVM's module openings and system properties (Spark and DJL need them), not its heap or agents.
      for (String a : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
        if (a.startsWith("--add-") || (a.startsWith("-D") && !a.startsWith("-Djava.class.path"))) cmd.add(a);
      }
      cmd.addAll(List.of(
          "-cp", System.getProperty("java.class.path"),
          "com.code_intelligence.jazzer.Jazzer",
          "--target_class=" + target.getName(),
          "--instrumentation_includes=org.sparkrlhf.**"
              + (System.getProperty("fuzz.instrument", "").isBlank() ? "" : ":" + System.getProperty("fuzz.instrument")),
          "--custom_hook_excludes=io.netty.**",  // its Unsafe queue writes trip Jazzer's Unsafe hook as Spark starts
          "--reproducer_path=" + findings,
          "-artifact_prefix=" + findings + "/",
          "-max_total_time=" + seconds,
          "-timeout=20",          // one input running longer than this is a hang
          "-rss_limit_mb=0",      // the JVM's own footprint; the heap bound above catches allocations on trust
          "-seed=1",
          corpus.toString(), seedDir.toString()));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      if (!p.waitFor(seconds + 240L, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("Jazzer on " + target.getSimpleName() + " did not stop within " + (seconds + 240) + " s; log: " + log);
      }
      String out = Files.readString(log, StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        List<String> found;
        try (Stream<Path> f = Files.list(findings)) {
          found = f.map(Path::toString).sorted().toList();
        }
        fail("Jazzer found an input " + target.getSimpleName() + " does not handle (exit " + p.exitValue() + "); inputs: "
            + found + "\n" + tail(out, 60));
      }
      return runs(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The count in libFuzzer's final "Done N runs in S second(s)" line. */
  static long runs(String out) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("Done (\\d+) runs in").matcher(out);
    long n = -1;
    while (m.find()) n = Long.parseLong(m.group(1));
    if (n < 0) fail("Jazzer ended without its summary line:\n" + tail(out, 40));
    return n;
  }

  private static String tail(String s, int lines) {
    String[] all = s.split("\n");
    return String.join("\n", java.util.Arrays.copyOfRange(all, Math.max(0, all.length - lines), all.length));
  }
}
