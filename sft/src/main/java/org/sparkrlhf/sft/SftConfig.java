package org.sparkrlhf.sft;

import org.sparkrlhf.core.train.ScheduledOptimizerSettings;

/**
 * Settings of the {@code sft} stage (config section {@code sft}). The optimizer keys come from
 * {@link ScheduledOptimizerSettings}; their defaults here: {@code lr} 2e-3 (the peak), {@code warmup_steps} 100,
 * {@code min_lr_ratio} 0.1, {@code weight_decay} 0.1, {@code beta1} 0.9, {@code beta2} 0.95, {@code grad_clip} 1.0,
 * {@code max_skipped_steps} 10.
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
  /**
   * A stage of this run whose newest policy to start from when no checkpoint is given (continued SFT:
   * {@code sft_more:sft} with {@code sft_more.init_stage = sft}); empty = a new model of {@link #model}. Default empty.
   */
  public String initStage = "";
  /**
   * Continue after the newest checkpoint this stage wrote in the run, with its optimizer state and place in the batch
   * order (command line {@code --resume}): the result equals an uninterrupted run's. With no such checkpoint, a
   * one-line error. Default false.
   */
  public boolean resume = false;
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

  /** What is wrong with these settings, one line each naming the key, in a fixed order; empty when fine. */
  public java.util.List<String> problems() {
    java.util.List<String> p = new java.util.ArrayList<>();
    if (maxSteps < 1 || batchSize < 1) p.add("sft.max_steps and sft.batch_size must be positive");
    if (lr <= 0) p.add("sft.lr must be positive");
    optimizerProblems("sft", p);
    if (maxDemos < 0) p.add("sft.max_demos must be 0 (all) or positive, got " + maxDemos);
    if (logEvery < 1) p.add("sft.log_every must be at least 1, got " + logEvery);
    if (evalEvery < 0 || checkpointEvery < 0 || evalAccuracyProblems < 0) {
      p.add("sft.eval_every, sft.checkpoint_every and sft.eval_accuracy_problems must not be negative");
    }
    if (maxSeqLen < 2) p.add("sft.max_seq_len must be at least 2, got " + maxSeqLen);
    // The architecture only matters when training from scratch; a checkpoint brings its own.
    String modelProblem = initCheckpoint.isBlank() ? model.problem("sft.model") : null;
    if (modelProblem != null) p.add(modelProblem);
    return p;
  }

  public SftConfig() {
    lr = 2e-3;
    warmupSteps = 100;
    minLrRatio = 0.1;
    weightDecay = 0.1;
    beta2 = 0.95;
  }
}
