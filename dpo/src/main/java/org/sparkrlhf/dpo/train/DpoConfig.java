package org.sparkrlhf.dpo.train;

/**
 * Settings of the {@code dpo} stage (config section {@code dpo}), named as TRL's {@code DPOConfig} where one
 * exists. Defaults are documented beside each field.
 */
public class DpoConfig {
  /**
   * Dataset in {@code preferences} to train on: pairs from rollouts ({@code <dataset>-pairs-<run>}) or an imported
   * one; empty = {@code arith-pairs-<this run>}, what the {@code pairs} stage writes from this run's rollouts.
   * Default empty.
   */
  public String dataset = "";
  /** Split of that dataset trained on; empty = every split. Default {@code train}. */
  public String split = "train";
  /**
   * Starting checkpoint, which is also the frozen reference; empty = the newest {@code policy} checkpoint of
   * stage {@link #referenceStage} in this run. Default empty.
   */
  public String referenceCheckpoint = "";
  /** Stage whose newest policy checkpoint is the reference when {@link #referenceCheckpoint} is empty. Default {@code sft}. */
  public String referenceStage = "sft";
  /** TRL's {@code loss_type}: {@code sigmoid} (DPO), {@code cdpo} (needs label_smoothing &gt; 0) or {@code ipo}. Default {@code sigmoid}. */
  public String lossType = "sigmoid";
  /** β: temperature of the implicit reward β·(log π − log π_ref); for IPO the regularisation (target 1/(2β)). Default 0.1. */
  public double beta = 0.1;
  /** ε, the assumed label-flip probability of cDPO, in [0, 0.5); 0 = plain DPO. Default 0. */
  public double labelSmoothing = 0.0;
  /** α of an RPO-style NLL term on the chosen completion (TRL's {@code rpo_alpha}); 0 = off. Default 0. */
  public double nllCoef = 0.0;
  /** Peak learning rate. Default 1e-4 (DPO moves a converged SFT model with a small step). */
  public double lr = 1e-4;
  /** Passes over the pairs; ignored when {@link #maxSteps} &gt; 0. Default 1. */
  public int epochs = 1;
  /** Optimizer steps; 0 = {@link #epochs} full passes. Default 0. */
  public int maxSteps = 0;
  /** Pairs per optimizer step (each pair is two sequences in the forward pass). Default 32. */
  public int batchSize = 32;
  /** Linear warm-up steps. Default 10. */
  public int warmupSteps = 10;
  /** Final learning rate as a fraction of the peak (cosine decay). Default 1.0 (constant after warm-up). */
  public double minLrRatio = 1.0;
  /** AdamW decoupled weight decay on matrices. Default 0. */
  public double weightDecay = 0.0;
  /** Adam beta1. Default 0.9. */
  public double beta1 = 0.9;
  /** Adam beta2. Default 0.999. */
  public double beta2 = 0.999;
  /** Global gradient-norm clip; 0 disables. Default 1.0. */
  public double gradClip = 1.0;
  /** Seed of the pair order. Default 1234. */
  public long seed = 1234;
  /** Pairs whose longer sequence ([bos]+prompt+completion+[eos]) exceeds this are skipped and counted. Default 128. */
  public int maxSeqLen = 128;
  /** Rows per forward pass of the executor-side reference scoring. Default 32. */
  public int refBatchSize = 32;
  /** Steps between console progress lines; metrics are written to {@code metrics} every step regardless. Default 1. */
  public int logEvery = 1;
  /** Steps between checkpoints (a final one is always written); 0 = final only. Default 0. */
  public int checkpointEvery = 0;
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;
}
