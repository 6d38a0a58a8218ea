package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;

/**
 * Settings of the {@code shepherd} stage (config section {@code shepherd}): Math-Shepherd's automatic step labels for
 * sampled solutions, from K continuations of each step's prefix.
 */
public class ShepherdConfig {
  /** Run whose rollouts are labelled; empty = this run. Default empty. */
  public String sourceRun = "";
  /** Stage of those rollouts. Default {@code rollouts}. */
  public String sourceStage = "rollouts";
  /** Dataset in prompts the rollouts answer (its reference answers grade the continuations). Default {@code arith}. */
  public String dataset = "arith";
  /** Split of the prompts whose solutions are labelled; empty = every split. Default {@code train}. Flag --split. */
  public String split = "train";
  /** Solutions labelled (the first by prompt id and sample index); 0 = all. Default 2000. */
  public int limit = 2000;
  /** Policy that writes the continuations; empty = the newest policy checkpoint of stage {@link #model} in this run. Flag --checkpoint. */
  public String checkpoint = "";
  /** Stage whose newest policy completes when no checkpoint is given. Default {@code sft}. */
  public String model = "sft";
  /** Continuations per step prefix, K (Math-Shepherd's N). Default 8. */
  public int samples = 8;
  /** Sampling temperature of the continuations. Default 1.0. */
  public double temperature = 1.0;
  /** Longest continuation in tokens. Default 160. */
  public int maxNewTokens = 160;
  /** Seed of the continuations. Default 1234. */
  public long seed = 1234;
  /** Continuations per generation forward pass. Default 64. */
  public int batchSize = 64;
  /** The step_labels dataset written; empty = {@code <dataset>-shepherd-<run>}. Default empty. */
  public String name = "";
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;

  /** Checks ranges; the problems found, each naming its key. */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (samples < 1) p.add("shepherd.samples must be >= 1");
    if (limit < 0) p.add("shepherd.limit must be >= 0");
    if (batchSize < 1) p.add("shepherd.batch_size must be >= 1");
    if (!(temperature > 0)) p.add("shepherd.temperature must be > 0");
    if (maxNewTokens < 1) p.add("shepherd.max_new_tokens must be >= 1");
    return p;
  }
}
