package org.sparkrlhf.dpo.train;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.train.ScheduledOptimizerSettings;
import org.sparkrlhf.dpo.losses.DpoLosses;

/**
 * Settings of the {@code dpo} stage (config section {@code dpo}), named as TRL's {@code DPOConfig} where one
 * exists. Defaults are documented beside each field. The optimizer keys come from
 * {@link ScheduledOptimizerSettings}; their defaults here: {@code lr} 1e-4 (the peak: DPO moves a converged SFT
 * model with a small step), {@code warmup_steps} 10, {@code min_lr_ratio} 1.0 (constant after warm-up),
 * {@code weight_decay} 0, {@code beta1} 0.9, {@code beta2} 0.999, {@code grad_clip} 1.0, {@code max_skipped_steps} 10.
 */
public class DpoConfig extends ScheduledOptimizerSettings {
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
  /**
   * Continue after the newest checkpoint this stage wrote in the run, with its optimizer state and place in the batch
   * order, against the same reference (command line {@code --resume}): the result equals an uninterrupted run's. With
   * no such checkpoint, a one-line error. Default false.
   */
  public boolean resume = false;
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
  /** Passes over the pairs; ignored when {@link #maxSteps} &gt; 0. Default 1. */
  public int epochs = 1;
  /** Optimizer steps; 0 = {@link #epochs} full passes. Default 0. */
  public int maxSteps = 0;
  /** Pairs per optimizer step (each pair is two sequences in the forward pass). Default 32. */
  public int batchSize = 32;
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

  public DpoConfig() {
    lr = 1e-4;
    warmupSteps = 10;
  }

  /**
   * Checks ranges and combinations; returns the problems found, in a fixed order (empty when fine). The one
   * place these are checked: the stage reports the first as a user error, the trainer refuses a config with any,
   * and the losses take β and ε as given.
   */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    try {
      DpoLosses.REGISTRY.byName(lossType);
      if (lossType.equals(DpoLosses.CDPO) && !(labelSmoothing > 0)) {
        p.add("dpo.loss_type=cdpo needs dpo.label_smoothing in (0, 0.5)");
      }
    } catch (IllegalArgumentException unknown) {
      p.add(unknown.getMessage());
    }
    if (labelSmoothing < 0 || labelSmoothing >= 0.5) p.add("dpo.label_smoothing must be in [0, 0.5)");
    if (DpoLosses.IPO.equals(lossType) && labelSmoothing != 0) p.add("dpo.loss_type=ipo takes no label_smoothing");
    if (nllCoef < 0) p.add("dpo.nll_coef must be >= 0");
    if (beta <= 0) p.add("dpo.beta must be positive");
    if (lr <= 0) p.add("dpo.lr must be positive");
    optimizerProblems("dpo", p);
    if (batchSize < 1 || refBatchSize < 1) p.add("dpo.batch_size and dpo.ref_batch_size must be positive");
    if (maxSteps < 0 || (maxSteps == 0 && epochs < 1)) p.add("dpo needs max_steps > 0 or epochs > 0");
    return p;
  }
}
