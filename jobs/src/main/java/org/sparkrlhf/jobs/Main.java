package org.sparkrlhf.jobs;

import com.typesafe.config.Config;
import java.io.File;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.config.StageConfigs;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * The one entry point of the application jar: {@code spark-submit --class org.sparkrlhf.jobs.Main
 * spark-rlhf.jar <stage> [options]}. Standard output carries the stage's summary and, as its last
 * line, the path of its report.json; Spark's logs go to standard error.
 *
 * <p>Exit codes: 0 done, 2 a user mistake (one line on standard error), 1 a failure.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    int code = execute(args);
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Parses and runs; returns the exit code (kept separate from {@link #main} for tests). */
  public static int execute(String[] args) {
    CommandLine cli = commandLine();
    // A pipeline's own entries run as they are named there, so a scheduler can run one entry per task:
    // eval-<model>-<split> is the eval stage and <instance>:<stage> the stage, each parsed as that stage and run and
    // reported under the entry's name.
    String named = args.length > 0 && (Stages.isNamedEval(args[0]) || Stages.instanceName(args[0]) != null) ? args[0] : null;
    try {
      if (named != null) {
        args = args.clone();
        args[0] = Stages.get(named).name();
      }
      ParseResult parsed = cli.parseArgs(args);
      if (CommandLine.printHelpIfRequested(parsed)) {
        return 0;
      }
      if (!parsed.hasSubcommand()) {
        cli.usage(System.out);
        return 2;
      }
      ParseResult sub = parsed.subcommand();
      return runStage(sub, named);
    } catch (CommandLine.ParameterException e) {
      System.err.println("rlhf: " + e.getMessage().lines().findFirst().orElse("bad arguments")
          + " (see rlhf --help)");
      return 2;
    } catch (UserError e) {
      System.err.println("rlhf: error: " + e.getMessage());
      return 2;
    } catch (Exception e) {
      // A user mistake found on an executor arrives inside Spark's job failure (a SparkException, checked).
      UserError u = UserError.in(e).orElse(null);
      if (u == null) throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
      System.err.println("rlhf: error: " + u.getMessage());
      return 2;
    }
  }

  static CommandLine commandLine() {
    CommandSpec top =
        CommandSpec.create()
            .name("rlhf")
            .mixinStandardHelpOptions(true)
            .version("spark-rlhf 0.1.0");
    top.usageMessage()
        .description("RLHF and preference alignment as Spark jobs; every table in Delta Lake.")
        .commandListHeading("%nStages:%n");
    CommandLine cli = new CommandLine(top);
    for (Stage s : Stages.all().values()) {
      CommandSpec spec = CommandSpec.create().name(s.name()).mixinStandardHelpOptions(true);
      spec.usageMessage().description(s.description());
      spec.addOption(opt("--conf", "FILE", "HOCON config file (local or Hadoop path); default: the embedded conf/quickstart.conf"));
      spec.addOption(
          OptionSpec.builder("--set")
              .paramLabel("KEY=VALUE")
              .type(List.class)
              .auxiliaryTypes(String.class)
              .description("override one config key, e.g. --set data.train_size=5000 (repeatable)")
              .build());
      spec.addOption(opt("--lake", "PATH", "lake root (default ./lake)"));
      spec.addOption(opt("--run-id", "ID", "run id; re-running the same id adds no duplicate rows (default: <stage>-<time>)"));
      spec.addOption(opt("--master", "URL", "Spark master when not set by spark-submit (default local[*])"));
      for (Map.Entry<String, String> sc : s.shortcuts().entrySet()) {
        if (sc.getValue().contains("=")) { // a flag: --resume → grpo.resume=true
          spec.addOption(OptionSpec.builder(sc.getKey()).arity("0").type(boolean.class)
              .description("same as --set " + sc.getValue()).build());
        } else {
          spec.addOption(opt(sc.getKey(), "VALUE", "same as --set " + sc.getValue() + "=VALUE"));
        }
      }
      cli.addSubcommand(s.name(), new CommandLine(spec));
    }
    return cli;
  }

  private static OptionSpec opt(String name, String label, String description) {
    return OptionSpec.builder(name).paramLabel(label).type(String.class).description(description).build();
  }

  /** @param named the stage name to run under ({@code eval-<model>-<split>}), or null for the parsed stage's */
  private static int runStage(ParseResult sub, String named) {
    Stage stage = Stages.get(sub.commandSpec().name());
    String stageName = named != null ? named : stage.name();
    List<String> sets = new ArrayList<>();
    List<String> given = sub.matchedOptionValue("--set", List.of());
    sets.addAll(given);
    for (Map.Entry<String, String> sc : stage.shortcuts().entrySet()) {
      if (sc.getValue().contains("=")) {
        if (sub.hasMatchedOption(sc.getKey())) {
          sets.add(sc.getValue());
        }
        continue;
      }
      String v = sub.matchedOptionValue(sc.getKey(), null);
      if (v != null) {
        sets.add(sc.getValue() + "=" + v);
      }
    }
    Config config = StageConfigs.load(sub.matchedOptionValue("--conf", null), sets);
    ConfigSections.checkKnown(config);
    Stages.check(stageName, config);

    String lake = new File(sub.matchedOptionValue("--lake", "lake")).getAbsolutePath();
    if (sub.matchedOptionValue("--lake", "lake").contains("://")) {
      lake = sub.matchedOptionValue("--lake", null);
    }
    String givenRunId = sub.matchedOptionValue("--run-id", null);
    if (givenRunId != null && !givenRunId.matches("[A-Za-z0-9._-]+")) {
      throw new UserError("--run-id may use letters, digits, '.', '_' and '-' only: " + givenRunId);
    }
    if (stage instanceof LocalStage local) {
      System.out.println(local.runLocal(lake, givenRunId, config));
      return 0;
    }
    String runId = givenRunId != null ? givenRunId
        : Stages.runName(stageName) + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
    RunLog.start(lake, runId, Stages.runName(stageName));
    SparkSession spark = SparkSessions.getOrCreate("rlhf " + stage.name(), sub.matchedOptionValue("--master", null));
    try {
      String report = Stages.run(spark, lake, runId, stageName, config);
      try {
        System.out.println("run report: " + RunReport.write(new Lake(spark, lake), runId));
      } catch (RuntimeException e) {  // the stage's work is done and recorded; the page is only a view of it
        System.err.println("rlhf: the run report was not written: " + e);
      }
      System.out.println(report);
      return 0;
    } finally {
      spark.stop();
    }
  }
}
