package org.sparkrlhf.sft;

import org.sparkrlhf.core.train.ScheduledOptimizerSettings;

/**
 * Settings of the {@code sft} stage (config section {@code sft}). The optimizer keys come from
 * {@link ScheduledOptimizerSettings}; their defaults here: {@code lr} 2e-3 (the peak), {@code warmup_steps} 100,
 * {@code min_lr_ratio} 0.1, {@code weight_decay} 0.1, {@code beta1} 0.9, {@code beta2} 0.95, {@code grad_clip} 1.0.
 */
public class SftConfig extends ScheduledOptimizerSettings {
  /** Dataset in sft_demos to train on. Default {@code arith}. */
  public String dataset = "arith";
  /** Split trained on. Default {@code train}. */
  public String trainSplit = "train";
  /** Split for validation loss and accuracy. Default {@code valid}. */
  public String validSplit = "valid";
  /**
   * Most demonstrations of the train split read, the first ones by id (scarce demonstrations: RL then learns from
   * prompts that never show a solution); 0 = all. Default 0.
   */
  public int maxDemos = 0;
  /** A Hugging Face checkpoint folder to start from; empty = a new model of {@link #model}. Default empty. */
  public String initCheckpoint = "";
  /** Architecture when training from scratch. */
  public ModelSpec model = new ModelSpec();
  /** Seed of initialisation and batch order. Default 1234. */
  public long seed = 1234;
  /** Sequences per optimizer step. Default 64. */
  public int batchSize = 64;
  /** Optimizer steps. Default 3000. */
  public int maxSteps = 3000;
  /** Longer sequences (prompt + completion tokens) are skipped and counted. Default 128. */
  public int maxSeqLen = 128;
  /** Steps between validation loss / accuracy measurements. Default 250. */
  public int evalEvery = 250;
  /** Validation problems decoded greedily for accuracy at each evaluation; 0 = loss only. Default 300. */
  public int evalAccuracyProblems = 300;
  /** Steps between checkpoints (a final one is always written); 0 = final only. Default 1000. */
  public int checkpointEvery = 1000;
  /** Steps between console progress lines and metric rows. Default 50. */
  public int logEvery = 50;
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;

  public SftConfig() {
    lr = 2e-3;
    warmupSteps = 100;
    minLrRatio = 0.1;
    weightDecay = 0.1;
    beta2 = 0.95;
  }
}
