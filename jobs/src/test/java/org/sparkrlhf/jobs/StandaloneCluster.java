package org.sparkrlhf.jobs;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real Spark standalone cluster on loopback: one Master and N Workers started from the same jars
 * bin/rlhf uses. {@link #close()} stops every process it started, and their children (executors), by pid.
 */
final class StandaloneCluster implements AutoCloseable {
  final int masterPort;
  final int masterUiPort;
  final Path workDir;
  private final Path logs;
  private final List<Process> processes = new ArrayList<>();
  private final List<Process> workers = new ArrayList<>();

  StandaloneCluster(int workers, int coresPerWorker, String memoryPerWorker) throws Exception {
    masterPort = freePort();
    masterUiPort = freePort();
    workDir = Files.createTempDirectory("standalone");
    logs = workDir.resolve("logs");
    Files.createDirectories(logs);
    processes.add(start("master", "org.apache.spark.deploy.master.Master",
        "--host", "127.0.0.1", "--port", Integer.toString(masterPort), "--webui-port", Integer.toString(masterUiPort)));
    for (int i = 0; i < workers; i++) {
      Path dir = workDir.resolve("worker-" + i);
      Files.createDirectories(dir);
      Process w = start("worker-" + i, "org.apache.spark.deploy.worker.Worker",
          "--host", "127.0.0.1", "--webui-port", Integer.toString(freePort()),
          "--cores", Integer.toString(coresPerWorker), "--memory", memoryPerWorker,
          "--work-dir", dir.toString(), masterUrl());
      processes.add(w);
      this.workers.add(w);
    }
    awaitWorkers(workers, Duration.ofSeconds(90));
  }

  String masterUrl() {
    return "spark://127.0.0.1:" + masterPort;
  }

  List<Process> workers() {
    return workers;
  }

  String masterJson() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + masterUiPort + "/json/")).build();
    return http.send(req, HttpResponse.BodyHandlers.ofString()).body();
  }

  private void awaitWorkers(int n, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      try {
        String json = masterJson();
        int alive = json.split("\"state\" ?: ?\"ALIVE\"", -1).length - 1;
        if (alive >= n) return;
      } catch (IOException e) {
        // the master's UI is not up yet
      }
      Thread.sleep(1000);
    }
    throw new IllegalStateException(n + " workers did not register in " + timeout + "; logs in " + logs);
  }

  private Process start(String name, String mainClass, String... args) throws IOException {
    Path jars = Path.of(System.getProperty("rlhf.sparkJars"));
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx512m");
    cmd.addAll(List.of(
        "-XX:+IgnoreUnrecognizedVMOptions", "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED"));
    cmd.add("-cp");
    cmd.add(jars + File.separator + "*");
    cmd.add(mainClass);
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    // A Worker builds its executors' command line from SPARK_HOME/jars, and Spark's launcher needs the Scala
    // version when SPARK_HOME is not a source build ("Cannot find any build directories" otherwise).
    pb.environment().put("SPARK_HOME", jars.getParent().toString());
    pb.environment().put("SPARK_SCALA_VERSION", "2.13");
    pb.redirectErrorStream(true).redirectOutput(logs.resolve(name + ".log").toFile());
    return pb.start();
  }

  /** Kills one process and its children (a Worker's executors) at once, as a crash would. */
  static void kill(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
  }

  @Override
  public void close() {
    for (Process p : processes) {
      List<ProcessHandle> children = p.descendants().toList();
      p.destroy();
      children.forEach(ProcessHandle::destroy);
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) kill(p);
      } catch (InterruptedException e) {
        kill(p);
      }
      p.descendants().forEach(ProcessHandle::destroyForcibly);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 0, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
