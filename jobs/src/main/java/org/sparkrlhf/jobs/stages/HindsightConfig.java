package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.train.ScheduledOptimizerSettings;

/**
 * Settings of the {@code hindsight} stage (config section {@code hindsight}): Chain of Hindsight fine-tuning on
 * graded rollouts. The optimizer keys come from {@link ScheduledOptimizerSettings}; their defaults here: {@code lr}
 * 3e-4, {@code warmup_steps} 10, {@code min_lr_ratio} 1.0.
 */
public class HindsightConfig extends ScheduledOptimizerSettings {
  /** Run whose rollouts are trained on; empty = this run. Default empty. */
  public String sourceRun = "";
  /** Stage of those rollouts. Default {@code rollouts}. */
  public String sourceStage = "rollouts";
  /** Dataset in prompts (its reference answers grade the rollouts). Default {@code arith}. */
  public String dataset = "arith";
  /** Split of those prompts. Default {@code train}. */
  public String split = "train";
  /** Rollouts used (the first by prompt id and sample index); 0 = all. Default 0. */
  public int limit = 0;
  /** Policy fine-tuned; empty = the newest policy checkpoint of stage {@link #initStage} in this run. Default empty. */
  public String initCheckpoint = "";
  /** Stage whose newest policy is fine-tuned when no checkpoint is given. Default {@code sft}. */
  public String initStage = "sft";
  /**
   * Feedback placed after the prompt of a correct completion, and the one the policy is evaluated under (in the
   * built-in alphabet: the task's tokenizer has no letters). Default {@code "#+\n"}.
   */
  public String positive = "#+\n";
  /** Feedback placed after the prompt of an incorrect completion. Default {@code "#-\n"}. */
  public String negative = "#-\n";
  /** Fine-tuning steps. Default 500. */
  public int steps = 500;
  /** Completions per step. Default 64. */
  public int batchSize = 64;
  /** Tokens of a row, feedback included, above which it is not trained on. Default 128. */
  public int maxSeqLen = 128;
  /** Seed of the training order. Default 1234. */
  public long seed = 1234;
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;

  public HindsightConfig() {
    lr = 3e-4;
    warmupSteps = 10;
  }

  /** Checks ranges; the problems found, each naming its key. */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (positive == null || negative == null || positive.isEmpty() || positive.equals(negative)) {
      p.add("hindsight.positive and hindsight.negative must be two different non-empty texts");
    }
    if (steps < 1 || batchSize < 1) p.add("hindsight.steps and hindsight.batch_size must be >= 1");
    if (limit < 0) p.add("hindsight.limit must be >= 0");
    if (!(lr > 0)) p.add("hindsight.lr must be positive");
    optimizerProblems("hindsight", p);
    return p;
  }
}
