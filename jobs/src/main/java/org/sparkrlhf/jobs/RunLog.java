package org.sparkrlhf.jobs;

import java.io.File;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.Appender;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.FileAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.layout.PatternLayout;

/**
 * Spark's and the libraries' own logs, from INFO up, into {@code <lake>/runs/<run>/<stage>/spark.log}, while the
 * console keeps only warnings and errors ({@code conf/log4j2.properties}): a user reads the stage's lines, and the
 * log is there when something needs explaining. Only for a lake on the local file system.
 */
final class RunLog {
  private RunLog() {}

  static final String NAME = "run-log";

  /** Starts the run's log file; returns its path, or null when the lake is not local or logging is not log4j's. */
  static String start(String lake, String runId, String stage) {
    if (lake.contains("://") && !lake.startsWith("file:")) return null;
    if (!(LogManager.getContext(false) instanceof LoggerContext ctx)) return null;
    File dir = new File(lake.startsWith("file:") ? java.net.URI.create(lake).getPath() : lake,
        "runs/" + runId + "/" + stage);
    if (!dir.isDirectory() && !dir.mkdirs()) return null;
    String file = new File(dir, "spark.log").getPath();
    Configuration cfg = ctx.getConfiguration();
    FileAppender appender = FileAppender.newBuilder().setName(NAME).withFileName(file).withAppend(true)
        .setLayout(PatternLayout.newBuilder().withConfiguration(cfg)
            .withPattern("%d{yyyy-MM-dd HH:mm:ss.SSS} %p %c{1}: %m%n%ex").build())
        .setConfiguration(cfg).build();
    appender.start();
    cfg.addAppender(appender);
    LoggerConfig root = cfg.getRootLogger();
    // The console's own threshold stays where its config put it (the root's level, warn): only the file sees INFO.
    Level consoleLevel = root.getLevel();
    java.util.Map<String, Appender> before = new java.util.LinkedHashMap<>(root.getAppenders());
    for (String name : before.keySet()) root.removeAppender(name);
    for (Appender a : before.values()) root.addAppender(a, consoleLevel, null);
    root.addAppender(appender, Level.INFO, null);
    root.setLevel(Level.INFO);
    ctx.updateLoggers();
    return file;
  }
}
