package org.sparkrlhf.jobs.stages;

/** Settings of the {@code lineage} and {@code reproduce} stages (sections {@code lineage}, {@code reproduce}). */
public final class LineageConfig {
  /** The checkpoint folder to trace or reproduce. Required. Flag --checkpoint. */
  public String checkpoint = "";
  /** {@code reproduce} only: the run id the reproduction writes under; empty = {@code <the checkpoint's run>-reproduce}. */
  public String runId = "";
}
