package org.sparkrlhf.jobs;

import com.typesafe.config.Config;
import org.sparkrlhf.core.run.RunContext;

/** One stage of the pipeline: reads tables, writes tables, fills its report. */
public interface Stage {
  /** The name used on the command line and as the run sub-folder. */
  String name();

  /** One line for {@code rlhf --help}. */
  String description();

  /** Config sections this stage reads (top-level keys of the config). */
  java.util.List<String> sections();

  /**
   * Command-line shortcuts, flag → config key (e.g. --checkpoint → eval.checkpoint, taking a value), or flag →
   * {@code key=value} for a flag without a value (e.g. --resume → grpo.resume=true).
   */
  default java.util.Map<String, String> shortcuts() {
    return java.util.Map.of();
  }

  /**
   * True when the stage may run more than once in a run under other names ({@code <instance>:<stage>}): it writes
   * its folder, metrics and checkpoints under the name it runs as. Default false.
   */
  default boolean instantiable() {
    return false;
  }

  /** Binds and checks this stage's config before Spark starts, so a mistake costs no start-up. */
  void check(Config config);

  /** Runs the stage; the caller writes the report afterwards. */
  void run(RunContext ctx, Config config);
}
