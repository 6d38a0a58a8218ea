package org.sparkrlhf.reward.model;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.train.ScheduledOptimizerSettings;

/**
 * Settings of the {@code reward} stage (config section {@code reward}; GRPO's reward rules are {@code grpo.reward},
 * nested under GRPO, so the top-level name is free): an outcome reward model trained with the Bradley-Terry loss on
 * {@code preferences} ({@code kind = orm}), or a process reward model trained on per-step labels in
 * {@code step_labels} ({@code kind = prm}), named as TRL's {@code RewardConfig} / {@code PRMConfig} where one exists. Defaults are documented beside each field. The optimizer keys
 * come from {@link ScheduledOptimizerSettings}; their defaults here: {@code lr} 1e-4 (TRL's), {@code warmup_steps}
 * 10, {@code min_lr_ratio} 1.0 (constant after warm-up), {@code weight_decay} 0, {@code beta1} 0.9, {@code beta2}
 * 0.999, {@code grad_clip} 1.0.
 */
public class RewardConfig extends ScheduledOptimizerSettings {
  /** {@code orm}: an outcome reward model on preference pairs; {@code prm}: a process reward model on step labels. Default {@code orm}. */
  public String kind = "orm";
  /**
   * Dataset in {@code preferences} to train on: pairs from rollouts ({@code <dataset>-pairs-<run>}) or an imported
   * one; empty = {@code arith-pairs-<this run>}, what the {@code pairs} stage writes from this run's rollouts.
   * Default empty.
   */
  public String dataset = "";
  /**
   * For {@code kind = prm}: the {@code step_labels} dataset trained on (the data stage's {@code arith}, a
   * {@code shepherd} stage's automatic labels, or an imported one); empty = {@code arith}. Default empty.
   */
  public String stepDataset = "";
  /**
   * Dataset the held-out rows come from when {@link #evalSplit} is set; empty = the training dataset. Lets two
   * models trained on different data be measured on the same rows. Default empty.
   */
  public String evalDataset = "";
  /**
   * For {@code kind = prm}: train on the dataset's soft labels (Math-Shepherd's share of continuations that reached
   * the answer) where a row has them, else on the hard ones. Default false.
   */
  public boolean softLabels = false;
  /** Split of that dataset trained on; empty = every split. Default {@code train}. */
  public String split = "train";
  /**
   * Split of the dataset whose pairs are held out for evaluation; empty = hold out {@link #evalShare} of the
   * training split's pairs instead, chosen by a hash of their id and {@link #seed}. Default empty.
   */
  public String evalSplit = "";
  /** Share of the pairs held out when {@link #evalSplit} is empty, in [0, 1); 0 = no evaluation. Default 0.1. */
  public double evalShare = 0.1;
  /**
   * Checkpoint the backbone starts from (a causal LM; a new {@code score} head is drawn, or a reward model whose head
   * is kept); empty = the newest {@code policy} checkpoint of stage {@link #initStage} in this run. Default empty.
   */
  public String initCheckpoint = "";
  /** Stage whose newest policy checkpoint is the start when {@link #initCheckpoint} is empty. Default {@code sft}. */
  public String initStage = "sft";
  /**
   * Continue after the newest checkpoint this stage wrote in the run, with its optimizer state and place in the batch
   * order (command line {@code --resume}): the result equals an uninterrupted run's. With no such checkpoint, a
   * one-line error. Outcome models ({@code kind = orm}) only. Default false.
   */
  public boolean resume = false;
  /**
   * Subtract the table's {@code margin} column inside the sigmoid, −log σ(r_c − r_r − margin) (a null margin counts
   * as 0); false = no margin. Default false.
   */
  public boolean useMargin = false;
  /** TRL's {@code center_rewards_coefficient}: adds coef · mean((r_c + r_r)²); 0 = off. Default 0. */
  public double centerRewardsCoefficient = 0.0;
  /** Passes over the training pairs; ignored when {@link #maxSteps} &gt; 0. Default 1. */
  public int epochs = 1;
  /** Optimizer steps; 0 = {@link #epochs} full passes. Default 0. */
  public int maxSteps = 0;
  /** Pairs per optimizer step (each pair is two sequences in the forward pass); solutions for a PRM. Default 32. */
  public int batchSize = 32;
  /** Pairs per forward pass when scoring the held-out pairs. Default 64. */
  public int evalBatchSize = 64;
  /** Steps between evaluations on the held-out pairs (also before the first step and after the last); 0 = only those two. Default 0. */
  public int evalEvery = 0;
  /** Seed of the pair order, the held-out choice and the new score head. Default 1234. */
  public long seed = 1234;
  /** Pairs whose longer sequence ([bos]+prompt+completion+[eos]) exceeds this are skipped and counted. Default 128. */
  public int maxSeqLen = 128;
  /** Steps between console progress lines; metrics are written to {@code metrics} every step regardless. Default 1. */
  public int logEvery = 1;
  /** Steps between checkpoints (a final one is always written); 0 = final only. Default 0. */
  public int checkpointEvery = 0;
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;

  public RewardConfig() {
    lr = 1e-4;
    warmupSteps = 10;
  }

  /**
   * Checks ranges and combinations; returns the problems found, in a fixed order (empty when fine): the stage
   * reports the first as a user error before Spark starts, and the trainer refuses a config with any.
   */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (!kind.equals("orm") && !kind.equals("prm")) p.add("reward.kind must be orm or prm, got '" + kind + "'");
    if (lr <= 0) p.add("reward.lr must be positive");
    if (batchSize < 1 || evalBatchSize < 1) p.add("reward.batch_size and reward.eval_batch_size must be positive");
    if (maxSteps < 0 || (maxSteps == 0 && epochs < 1)) p.add("reward needs max_steps > 0 or epochs > 0");
    if (!(evalShare >= 0 && evalShare < 1)) p.add("reward.eval_share must be in [0, 1)");
    if (!evalSplit.isBlank() && evalSplit.equals(split) && evalDataset.isBlank()) {
      p.add("reward.eval_split must differ from reward.split (the held-out pairs would be trained on)");
    }
    if (resume && kind.equals("prm")) p.add("reward.resume continues outcome models only (reward.kind = orm)");
    if (!(centerRewardsCoefficient >= 0)) p.add("reward.center_rewards_coefficient must be >= 0");
    if (maxSeqLen < 2) p.add("reward.max_seq_len must be at least 2");
    if (evalEvery < 0 || checkpointEvery < 0) p.add("reward.eval_every and reward.checkpoint_every must be >= 0");
    if (logEvery < 1) p.add("reward.log_every must be positive");
    return p;
  }
}
