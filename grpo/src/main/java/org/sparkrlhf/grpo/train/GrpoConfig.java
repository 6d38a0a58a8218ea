package org.sparkrlhf.grpo.train;

import java.util.List;
import org.sparkrlhf.core.train.OptimizerSettings;
import org.sparkrlhf.reward.rules.RewardRules;
import org.sparkrlhf.reward.rules.RewardSpec;

/**
 * Settings of the {@code grpo} stage (config section {@code grpo}), named after TRL's {@code GRPOConfig}
 * where one exists. Every field's default is given beside it. Keys are snake_case in config files
 * ({@code prompts_per_iteration}, {@code group_size}, ...).
 *
 * <p>The optimizer keys come from {@link OptimizerSettings}; their defaults here:
 * <ul>
 *   <li>{@code lr} 1e-4, constant (no warm-up or decay); keep it low for RL: on the quickstart model 2e-4 and
 *       3e-4 lowered greedy accuracy within 20–40 iterations; with filter_groups, 1e-4 gained +0.3 points on
 *       test, 5e-5 +1.3, 3e-5 +1.8 (the quickstart's setting);</li>
 *   <li>{@code weight_decay} 0 (TRL's default), {@code beta1} 0.9, {@code beta2} 0.99;</li>
 *   <li>{@code grad_clip} 1.0 (TRL: {@code max_grad_norm}).</li>
 * </ul>
 */
public class GrpoConfig extends OptimizerSettings {
  /** Dataset in {@code prompts} to train on. Default {@code arith}. */
  public String dataset = "arith";
  /** Split of {@code prompts} to draw training prompts from (rows need an answer). Default {@code train}. */
  public String split = "train";
  /** Stage whose newest {@code policy} checkpoint in this run is the start (and the reference). Default {@code sft}. */
  public String initModel = "sft";
  /** A Hugging Face checkpoint folder to start from instead of {@link #initModel}. Default empty. */
  public String initCheckpoint = "";
  /**
   * Continue from the newest {@code grpo} checkpoint of this run (command line {@code --resume}); with no such
   * checkpoint the stage fails rather than starting over. Default false.
   */
  public boolean resume = false;
  /** Seed of the prompt order, the sampling and the minibatch order: all are functions of (seed, iteration). Default 1234. */
  public long seed = 1234;
  /** Distinct prompts drawn per iteration (TRL: generation batch / num_generations). Default 32. */
  public int promptsPerIteration = 32;
  /**
   * DAPO's dynamic sampling (Yu et al. 2025, verl: {@code filter_groups}): a group whose samples all got the same
   * reward has zero advantage under a group baseline and only dilutes the update, so it is left out of training
   * and further rounds of {@code prompts_per_iteration} fresh prompts are sampled until that many groups with
   * differing rewards are collected or {@code max_generation_rounds} rounds are done. All sampled rollouts are still
   * written (the filtered ones with their zero advantage). Default false.
   */
  public boolean filterGroups = false;
  /** Most sampling rounds per iteration when {@code filter_groups} is on (verl: {@code max_num_gen_batches}). Default 4. */
  public int maxGenerationRounds = 4;
  /** Completions sampled per prompt, G (TRL: {@code num_generations}). Default 8. */
  public int groupSize = 8;
  /** Iterations (rollout → update rounds) in total, counting those of a resumed run. Default 200. */
  public int iterations = 200;
  /** Sampling temperature; training log-probs use the same {@code log_softmax(logits / T)}. Default 1.0. */
  public double temperature = 1.0;
  /** Most tokens generated per completion, eos included (TRL: {@code max_completion_length}). Default 160. */
  public int maxNewTokens = 160;
  /**
   * Advantage estimator, by its name in {@code AdvantageEstimators}: {@code grpo} (group mean and std),
   * {@code dr_grpo} (mean only, Dr. GRPO) or {@code rloo} (leave-one-out mean), or {@code grpo_process} (GRPO with
   * process supervision, DeepSeekMath §4.1.3: per-token advantages from the rewarder's step rewards, with the rules
   * the task checker's validity of each line), or one registered there by name. Default {@code grpo}.
   */
  public String advantage = "grpo";
  /** Lower clip range ε_low of the ratio (TRL: {@code epsilon}). Default 0.2. */
  public double clipLow = 0.2;
  /** Upper clip range ε_high (DAPO's clip-higher; TRL: {@code epsilon_high}). Default 0.28. */
  public double clipHigh = 0.28;
  /** β, coefficient of the k3 KL to the frozen reference inside the loss; 0 disables the term (TRL: {@code beta}). Default 0.02. */
  public double klCoef = 0.02;
  /** Loss aggregation: {@code token-mean} (DAPO) or {@code seq-mean-token-mean} (original GRPO). Default {@code token-mean}. */
  public String aggregation = "token-mean";
  /** Passes over each iteration's rollouts (TRL: {@code num_iterations}, μ). Default 1. */
  public int epochs = 1;
  /** Completions per optimizer step; each iteration's P·G rollouts are cut into minibatches of this size. Default 64. */
  public int minibatchSize = 64;
  /** Reward rules and weights. Default {@code correct_answer} 1.0 + {@code format} 0.1. */
  public RewardSpec reward = defaultReward();
  /** Iterations between checkpoints (a final one is always written); 0 = final only. Default 50. */
  public int checkpointEvery = 50;
  /**
   * Iterations between writes of the buffered rollouts and metrics to the lake (also written at every checkpoint
   * and at the end); 0 = only then. A Delta commit costs seconds on a small machine, so writing every iteration
   * can cost more than the iteration. Default 10.
   */
  public int writeEvery = 10;
  /**
   * Iterations between greedy accuracy probes on {@code eval_split} (also before the first iteration and after
   * the last), logged as {@code valid_accuracy}: the curve that shows whether RL moves past the start; 0 = none.
   * Default 10.
   */
  public int evalEvery = 10;
  /** Split of {@code prompts} the accuracy probe reads. Default {@code valid}. */
  public String evalSplit = "valid";
  /** Problems of {@code eval_split} the probe answers (the first by id). Default 500. */
  public int evalProblems = 500;
  /** Rows per generation forward pass. Default 64. */
  public int rolloutBatchSize = 64;
  /**
   * Where rollouts are sampled: {@code executors} (the policy broadcast once per iteration, G samples per
   * prompt generated in the executors' partitions) or {@code driver} (in process). Both give the same
   * samples for the same seed. Default {@code executors}.
   */
  public String rolloutsOn = "executors";
  /** Rows per reference-scoring forward pass. Default 32. */
  public int scoreBatchSize = 32;
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;

  public GrpoConfig() {
    lr = 1e-4;
    beta2 = 0.99;
  }

  /** {@code correct_answer} (weight 1) plus a small {@code format} term (weight 0.1). */
  public static RewardSpec defaultReward() {
    return RewardSpec.of(new RewardSpec.RuleSpec(RewardRules.CORRECT_ANSWER, 1.0),
        new RewardSpec.RuleSpec(RewardRules.FORMAT, 0.1));
  }

  /** Checks ranges; returns the problems found (empty when fine). */
  public List<String> problems() {
    java.util.List<String> p = new java.util.ArrayList<>();
    if (promptsPerIteration < 1) p.add("grpo.prompts_per_iteration must be >= 1");
    if (groupSize < 2) p.add("grpo.group_size must be >= 2 (advantages compare samples of one prompt)");
    if (iterations < 1) p.add("grpo.iterations must be >= 1");
    if (!rolloutsOn.equals("executors") && !rolloutsOn.equals("driver")) {
      p.add("grpo.rollouts_on must be executors or driver, got '" + rolloutsOn + "'");
    }
    if (!(temperature > 0)) p.add("grpo.temperature must be > 0");
    if (maxNewTokens < 1) p.add("grpo.max_new_tokens must be >= 1");
    if (!(lr > 0)) p.add("grpo.lr must be > 0");
    if (epochs < 1) p.add("grpo.epochs must be >= 1");
    if (maxGenerationRounds < 1) p.add("grpo.max_generation_rounds must be >= 1");
    if (minibatchSize < 1) p.add("grpo.minibatch_size must be >= 1");
    if (clipLow < 0 || clipLow >= 1 || clipHigh < 0) p.add("grpo.clip_low must be in [0, 1) and grpo.clip_high >= 0");
    if (klCoef < 0) p.add("grpo.kl_coef must be >= 0");
    if (checkpointEvery < 0) p.add("grpo.checkpoint_every must be >= 0");
    if (writeEvery < 0) p.add("grpo.write_every must be >= 0");
    if (evalEvery < 0 || evalProblems < 0) p.add("grpo.eval_every and grpo.eval_problems must be >= 0");
    if (rolloutBatchSize < 1 || scoreBatchSize < 1) p.add("grpo.rollout_batch_size and grpo.score_batch_size must be >= 1");
    return p;
  }
}
