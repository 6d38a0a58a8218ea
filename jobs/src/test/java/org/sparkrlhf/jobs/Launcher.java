package org.sparkrlhf.jobs;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs bin/rlhf as a user would, capturing its exit code, standard output and standard error. */
final class Launcher {
  record Result(int code, String stdout, String stderr) {
    List<String> lines() {
      return stdout.lines().toList();
    }

    String lastLine() {
      List<String> l = lines();
      return l.isEmpty() ? "" : l.get(l.size() - 1);
    }
  }

  static Path repoRoot() {
    return Path.of(System.getProperty("rlhf.repoRoot", "..")).toAbsolutePath().normalize();
  }

  /** bin/rlhf started in the background, its output going to {@code out} and {@code err}. */
  static Process start(Map<String, String> env, File out, File err, String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(repoRoot().resolve("bin/rlhf").toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    pb.environment().put("RLHF_DRIVER_MEMORY", "2g");
    pb.redirectOutput(out).redirectError(err);
    return pb.start();
  }

  /** Kills {@code p} and every process it started with SIGKILL, as the kernel's OOM killer or a lost node would. */
  static void kill(Process p) throws InterruptedException {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    p.waitFor(1, TimeUnit.MINUTES);
  }

  static Result rlhf(Map<String, String> env, String... args) throws IOException, InterruptedException {
    File out = File.createTempFile("rlhf-out", ".txt");
    File err = File.createTempFile("rlhf-err", ".txt");
    Process p = start(env, out, err, args);
    if (!p.waitFor(15, TimeUnit.MINUTES)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      throw new IllegalStateException("bin/rlhf " + String.join(" ", args) + " did not finish in 15 minutes");
    }
    return new Result(p.exitValue(), Files.readString(out.toPath(), StandardCharsets.UTF_8),
        Files.readString(err.toPath(), StandardCharsets.UTF_8));
  }

  private Launcher() {}
}
