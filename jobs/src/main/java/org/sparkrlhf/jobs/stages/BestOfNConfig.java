package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;

/**
 * Settings of the {@code bestofn} stage (config section {@code bestofn}): M samples per problem from a policy, then
 * best-of-N accuracy of each picker for every N by Lightman et al.'s subset protocol.
 */
public class BestOfNConfig {
  /** Policy checkpoint to sample; empty = the newest policy checkpoint of stage {@link #model} in this run. Flag --checkpoint. */
  public String checkpoint = "";
  /** Stage whose newest policy is sampled when no checkpoint is given. Default {@code sft}. */
  public String model = "sft";
  /** Dataset in prompts. Default {@code arith}. */
  public String dataset = "arith";
  /** Split of that dataset. Default {@code test}. Flag --split. */
  public String split = "test";
  /** Problems (the first by id); 0 = all. Default 1000. */
  public int limit = 1000;
  /** Samples per problem, M: the largest N. Default 32. */
  public int samples = 32;
  /** The N of the curves (each at most {@code samples}). Default 1, 2, 4, 8, 16, 32. */
  public List<Integer> ns = new ArrayList<>(List.of(1, 2, 4, 8, 16, 32));
  /** Random subsets of N drawn per problem and N. Default 64. */
  public int draws = 64;
  /** Sampling temperature. Default 1.0. */
  public double temperature = 1.0;
  /** Longest completion in tokens. Default 160. */
  public int maxNewTokens = 160;
  /**
   * An outcome reward model's checkpoint (the {@code reward} stage's): adds the {@code orm} picker. Empty = none.
   * Default empty.
   */
  public String rewardModel = "";
  /**
   * A process reward model's checkpoint (the {@code reward} stage's with {@code kind = prm}): adds the
   * {@code prm_product} and {@code prm_min} pickers. Empty = none. Default empty.
   */
  public String processRewardModel = "";
  /** The picker the others are compared with, problem by problem (paired difference and its standard error). Default {@code majority}. */
  public String baseline = "majority";
  /** Seed of the samples and of the subsets. Default 1234. */
  public long seed = 1234;
  /** Rows per generation and scoring forward pass. Default 64. */
  public int batchSize = 64;
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;

  /** Checks ranges; the problems found, each naming its key. */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (samples < 1) p.add("bestofn.samples must be >= 1");
    if (limit < 0) p.add("bestofn.limit must be >= 0");
    if (draws < 1) p.add("bestofn.draws must be >= 1");
    if (batchSize < 1) p.add("bestofn.batch_size must be >= 1");
    if (!(temperature > 0)) p.add("bestofn.temperature must be > 0");
    if (maxNewTokens < 1) p.add("bestofn.max_new_tokens must be >= 1");
    if (ns.isEmpty()) p.add("bestofn.ns must name at least one N");
    for (int n : ns) {
      if (n < 1 || n > samples) p.add("bestofn.ns: N = " + n + " is outside [1, samples = " + samples + "]");
    }
    return p;
  }
}
