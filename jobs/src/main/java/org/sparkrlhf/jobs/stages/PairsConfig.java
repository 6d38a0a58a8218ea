package org.sparkrlhf.jobs.stages;

/** Settings of the {@code pairs} stage (config section {@code pairs}). */
public class PairsConfig {
  /** Run whose rollouts are paired; empty = this run. Default empty. */
  public String sourceRun = "";
  /** Stage that wrote those rollouts (the {@code stage} column of {@code rollouts}). Default {@code rollouts}. */
  public String sourceStage = "rollouts";
  /** Iteration of those rollouts. Default 0 (a one-shot rollouts stage). */
  public int iteration = 0;
  /** Only rollouts of this dataset; empty = every dataset in those rollouts. Default empty. */
  public String dataset = "";
  /**
   * Dataset name the pairs are written under in {@code preferences}; empty = {@code <dataset>-pairs-<source run>}
   * (e.g. {@code arith-pairs-r1}). Default empty.
   */
  public String outputDataset = "";
  /** At most this many pairs per prompt, chosen at random (seeded) among the eligible ones. Default 4. */
  public int maxPairsPerPrompt = 4;
  /**
   * A pair needs {@code chosen_reward - rejected_reward > min_margin}; 0 pairs any strictly better with any strictly
   * worse completion (ties are never paired). Default 0.
   */
  public double minMargin = 0.0;
  /** Seed of the choice among eligible pairs (and of driver-side sampling). Default 1234. */
  public long seed = 1234;

  /**
   * Driver-side sampling, a stand-in for the {@code rollouts} stage: when &gt; 0, first sample this many completions
   * per prompt with {@link DriverRollouts} from {@link #generateCheckpoint} and write them to {@code rollouts} under
   * this run, stage {@code pairs}, iteration {@link #iteration}, then pair those (source_run / source_stage are
   * ignored). 0 = read rollouts written by another producer. Default 0.
   */
  public int generateSamples = 0;
  /** Checkpoint sampled from; empty = the newest {@code policy} checkpoint of stage {@code sft} in this run. Default empty. */
  public String generateCheckpoint = "";
  /** Dataset of {@code prompts} sampled from. Default {@code arith}. */
  public String generateDataset = "arith";
  /** Split of {@code prompts} sampled from. Default {@code train}. */
  public String generateSplit = "train";
  /** Prompts sampled (the first N by id); 0 = all of the split. Default 2000. */
  public int generatePrompts = 2000;
  /** Sampling temperature. Default 1.0. */
  public double temperature = 1.0;
  /** Longest completion in tokens. Default 160. */
  public int maxNewTokens = 160;
  /** Rows per forward pass when sampling. Default 64. */
  public int generateBatchSize = 64;
  /** Torch intra-op threads on the driver for sampling; 0 = all cores. Default 0. */
  public int threads = 0;
}
