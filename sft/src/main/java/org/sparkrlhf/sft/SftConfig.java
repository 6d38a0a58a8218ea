package org.sparkrlhf.sft;

/** Settings of the {@code sft} stage (config section {@code sft}). */
public class SftConfig {
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
  /** Peak learning rate. Default 2e-3. */
  public double lr = 2e-3;
  /** Linear warm-up steps. Default 100. */
  public int warmupSteps = 100;
  /** Final learning rate as a fraction of the peak (cosine decay). Default 0.1. */
  public double minLrRatio = 0.1;
  /** AdamW decoupled weight decay on matrices. Default 0.1. */
  public double weightDecay = 0.1;
  /** Adam beta1. Default 0.9. */
  public double beta1 = 0.9;
  /** Adam beta2. Default 0.95. */
  public double beta2 = 0.95;
  /** Global gradient-norm clip; 0 disables. Default 1.0. */
  public double gradClip = 1.0;
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
}
