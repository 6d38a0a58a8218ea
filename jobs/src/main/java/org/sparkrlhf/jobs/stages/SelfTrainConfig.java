package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.train.ScheduledOptimizerSettings;

/**
 * Settings of the {@code selftrain} stage (config section {@code selftrain}): rounds of sampling unlabeled prompts,
 * majority voting and fine-tuning on the agreeing solutions (Huang et al. 2022). The optimizer keys come from
 * {@link ScheduledOptimizerSettings}; their defaults here: {@code lr} 3e-4, {@code warmup_steps} 10,
 * {@code min_lr_ratio} 1.0.
 */
public class SelfTrainConfig extends ScheduledOptimizerSettings {
  /** Dataset in prompts whose prompts are sampled (their answers are never read). Default {@code arith}. */
  public String dataset = "arith";
  /** Split of those prompts. Default {@code train}. */
  public String split = "train";
  /**
   * Prompts skipped before the ones sampled (the first by id): a run whose SFT read the first {@code sft.max_demos}
   * demonstrations skips as many, so self-training sees only prompts it has no solution for. Default 0.
   */
  public int offset = 0;
  /** Prompts per round (the first by id after {@link #offset}); 0 = all. Default 4000. */
  public int prompts = 4000;
  /** Rounds of sample → vote → fine-tune, each from the previous round's policy. Default 3. */
  public int rounds = 3;
  /** Starting policy; empty = the newest policy checkpoint of stage {@link #initStage} in this run. Default empty. */
  public String initCheckpoint = "";
  /** Stage whose newest policy starts the rounds when no checkpoint is given. Default {@code sft}. */
  public String initStage = "sft";
  /** Samples per prompt. Default 32. */
  public int samples = 32;
  /** Sampling temperature (Huang et al. sample at 0.7 to 1.2). Default 0.8. */
  public double temperature = 0.8;
  /** Longest sample in tokens. Default 160. */
  public int maxNewTokens = 160;
  /** A prompt is kept when its winning answer's share of all samples is strictly above this. Default 0.5. */
  public double confidence = 0.5;
  /** Distinct agreeing solutions kept per prompt (0 = all). Default 4. */
  public int maxPerPrompt = 4;
  /** Fine-tuning steps per round. Default 300. */
  public int steps = 300;
  /** Solutions per fine-tuning step. Default 64. */
  public int batchSize = 64;
  /** Rows per generation forward pass. Default 64. */
  public int generationBatchSize = 64;
  /** Tokens of a solution, prompt included, above which it is not trained on. Default 128. */
  public int maxSeqLen = 128;
  /** Seed of the samples (round r samples with seed + r) and of the fine-tuning order. Default 1234. */
  public long seed = 1234;
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;

  public SelfTrainConfig() {
    lr = 3e-4;
    warmupSteps = 10;
  }

  /** Checks ranges; the problems found, each naming its key. */
  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (rounds < 1) p.add("selftrain.rounds must be >= 1");
    if (samples < 2) p.add("selftrain.samples must be >= 2 (a vote needs voters)");
    if (prompts < 0 || offset < 0) p.add("selftrain.prompts and selftrain.offset must be >= 0");
    if (!(confidence >= 0 && confidence < 1)) p.add("selftrain.confidence must be in [0, 1)");
    if (maxPerPrompt < 0) p.add("selftrain.max_per_prompt must be >= 0");
    if (steps < 1 || batchSize < 1 || generationBatchSize < 1) {
      p.add("selftrain.steps, batch_size and generation_batch_size must be >= 1");
    }
    if (!(temperature > 0)) p.add("selftrain.temperature must be > 0");
    if (maxNewTokens < 1) p.add("selftrain.max_new_tokens must be >= 1");
    if (!(lr > 0)) p.add("selftrain.lr must be positive");
    optimizerProblems("selftrain", p);
    return p;
  }
}
