package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;

/** Settings of the {@code rollouts} stage (config section {@code rollouts}). */
public class RolloutsConfig {
  /** Checkpoint folder to sample from; empty = the newest policy checkpoint of stage {@link #model} in this run. Flag --checkpoint. */
  public String checkpoint = "";
  /** Stage whose newest policy checkpoint (in this run) is used when no checkpoint is given. Default {@code sft}. */
  public String model = "sft";
  /** Dataset in prompts to sample on. Default {@code arith}. */
  public String dataset = "arith";
  /** Split of that dataset. Default {@code train}. Flag --split. */
  public String split = "train";
  /** At most this many prompts (0 = all), taken in id order. Default 0. */
  public int limit = 0;
  /** Samples per prompt, G (rows get sample_index 0..G-1). Default 4. */
  public int numSamples = 4;
  /** Sampling temperature (0 = greedy). Default 1.0. */
  public double temperature = 1.0;
  /** Keep the k most likely tokens (0 = off). Default 0. */
  public int topK = 0;
  /** Nucleus mass in (0, 1] (1 = off). Default 1.0. */
  public double topP = 1.0;
  /** Longest completion in tokens, eos included. Default 160. */
  public int maxNewTokens = 160;
  /** Stop strings (a row ends once its text contains one). Default none. */
  public List<String> stop = new ArrayList<>();
  /** Base seed: a row's samples depend only on (seed, prompt id, sample index). Default 1234. */
  public long seed = 1234;
  /** Requests (prompt x sample) per forward pass on an executor. Default 32. */
  public int batchSize = 32;
  /** Partitions the prompts are spread over (0 = 2 x Spark's default parallelism). Default 0. */
  public int partitions = 0;
  /** Iteration recorded in the rows and used as the idempotent write's version. Default 0. */
  public int iteration = 0;
  /** Torch intra-op threads on the driver (it only loads and publishes the weights); 0 = all cores. Default 0. */
  public int threads = 0;
}
