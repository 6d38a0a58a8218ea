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
  /** Seed of the choice among eligible pairs. Default 1234. */
  public long seed = 1234;
}
