package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;

/**
 * Settings of the {@code rsdpo} stage (config section {@code rsdpo}): rounds of rejection sampling and DPO, each from
 * the previous round's policy. Each round runs the {@code rollouts}, {@code pairs} and {@code dpo} stages with their
 * own sections' settings, and {@code eval} on {@link #evalSplit}.
 */
public class RsDpoConfig {
  /** Rounds. Default 3. */
  public int rounds = 3;
  /** Policy of round 1; empty = the newest policy checkpoint of stage {@link #initStage} in this run. Default empty. */
  public String initCheckpoint = "";
  /** Stage whose newest policy starts round 1 when no checkpoint is given. Default {@code sft}. */
  public String initStage = "sft";
  /** Train prompts sampled per round (the first ones by id, as {@code rollouts.limit}); 0 = {@code rollouts.limit}. Default 0. */
  public int prompts = 0;
  /** Split each round's policy is evaluated on (greedy accuracy, paired against the run's start); empty = none. Default {@code test}. */
  public String evalSplit = "test";

  /** Checks ranges; the problems found, each naming its key. */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (rounds < 1) p.add("rsdpo.rounds must be >= 1");
    if (prompts < 0) p.add("rsdpo.prompts must be >= 0 (0 = rollouts.limit)");
    return p;
  }
}
