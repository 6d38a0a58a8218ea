package org.sparkrlhf.grpo.rl;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.algos.Kl;
import org.sparkrlhf.core.train.OptimizerSettings;
import org.sparkrlhf.grpo.algos.Aggregation;
import org.sparkrlhf.grpo.algos.PolicyLosses;
import org.sparkrlhf.reward.rules.RewardRules;
import org.sparkrlhf.reward.rules.RewardSpec;

/**
 * Settings of the shared RL loop ({@link RlTrainer}): prompts, sampling, the policy update, rewards, probes and
 * checkpoints. Each algorithm's config extends it with its own keys (GRPO: the advantage estimator) and names its
 * section ({@link #section}); keys stay flat in that section ({@code grpo.group_size}). Every field's default is
 * given beside it; snake_case in config files.
 *
 * <p>The optimizer keys come from {@link OptimizerSettings}; their defaults here: {@code lr} 1e-4, constant (no
 * warm-up or decay), {@code weight_decay} 0 (TRL's default), {@code beta1} 0.9, {@code beta2} 0.99,
 * {@code grad_clip} 1.0 (TRL: {@code max_grad_norm}), {@code max_skipped_steps} 10.
 */
public abstract class RlConfig extends OptimizerSettings {
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
  /** Lower clip range ε_low of the ratio (TRL: {@code epsilon}). Default 0.2. */
  public double clipLow = 0.2;
  /** Upper clip range ε_high (DAPO's clip-higher; TRL: {@code epsilon_high}). Default 0.28. */
  public double clipHigh = 0.28;
  /** β, coefficient of the KL ({@code kl_estimator}) to the frozen reference inside the loss; 0 disables the term (TRL: {@code beta}). Default 0.02. */
  public double klCoef = 0.02;
  /** Loss aggregation: {@code token-mean} (DAPO) or {@code seq-mean-token-mean} (original GRPO). Default {@code token-mean}. */
  public String aggregation = "token-mean";
  /**
   * Surrogate loss, by its name in {@code PolicyLosses}: {@code ppo_clip} (PPO's clipped surrogate with DAPO's
   * separate clip ranges) or one registered there (verl: {@code policy_loss.loss_mode}). Default {@code ppo_clip}.
   */
  public String policyLoss = "ppo_clip";
  /**
   * Per-token estimator of the KL to the reference inside the loss, by its name in {@code Kl}: {@code k1}, {@code k2}
   * or {@code k3} (verl: {@code kl_loss_type}; k3 is its {@code low_var_kl}). Default {@code k3}.
   */
  public String klEstimator = "k3";
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
  /**
   * Partitions the prompts of one iteration are cut into on the executors; 0 = Spark's default parallelism (the
   * cluster's cores). Rows share a forward pass only within a partition, and batch shapes move log-probs by float32
   * rounding, so a fixed count gives the same checkpoint on clusters of any size and after a lost executor.
   * Default 0.
   */
  public int rolloutPartitions = 0;
  /** Rows per reference-scoring forward pass. Default 32. */
  public int scoreBatchSize = 32;
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;

  protected RlConfig() {
    lr = 1e-4;
    beta2 = 0.99;
  }

  /** The config section of the algorithm ({@code grpo}), for messages. */
  public abstract String section();

  /** Fewest samples per prompt the algorithm works with (1 by default; a group baseline needs 2). */
  protected int minGroupSize() {
    return 1;
  }

  /** Why, for the message (empty by default). */
  protected String groupSizeReason() {
    return "";
  }

  /** {@code correct_answer} (weight 1) plus a small {@code format} term (weight 0.1). */
  public static RewardSpec defaultReward() {
    return RewardSpec.of(new RewardSpec.RuleSpec(RewardRules.CORRECT_ANSWER, 1.0),
        new RewardSpec.RuleSpec(RewardRules.FORMAT, 0.1));
  }

  /** Checks ranges and names; returns the problems found (empty when fine), each a sentence naming its key. */
  public List<String> problems() {
    String s = section() + ".";
    List<String> p = new ArrayList<>();
    if (promptsPerIteration < 1) p.add(s + "prompts_per_iteration must be >= 1");
    if (groupSize < minGroupSize()) p.add(s + "group_size must be >= " + minGroupSize() + groupSizeReason());
    if (iterations < 1) p.add(s + "iterations must be >= 1");
    if (!rolloutsOn.equals("executors") && !rolloutsOn.equals("driver")) {
      p.add(s + "rollouts_on must be executors or driver, got '" + rolloutsOn + "'");
    }
    if (!(temperature > 0)) p.add(s + "temperature must be > 0");
    if (maxNewTokens < 1) p.add(s + "max_new_tokens must be >= 1");
    if (!(lr > 0)) p.add(s + "lr must be > 0");
    optimizerProblems(section(), p);
    if (epochs < 1) p.add(s + "epochs must be >= 1");
    if (maxGenerationRounds < 1) p.add(s + "max_generation_rounds must be >= 1");
    if (minibatchSize < 1) p.add(s + "minibatch_size must be >= 1");
    if (clipLow < 0 || clipLow >= 1 || clipHigh < 0) {
      p.add(s + "clip_low must be in [0, 1) and " + s + "clip_high >= 0");
    }
    if (klCoef < 0) p.add(s + "kl_coef must be >= 0");
    if (checkpointEvery < 0) p.add(s + "checkpoint_every must be >= 0");
    if (writeEvery < 0) p.add(s + "write_every must be >= 0");
    if (evalEvery < 0 || evalProblems < 0) p.add(s + "eval_every and " + s + "eval_problems must be >= 0");
    if (rolloutPartitions < 0) p.add(s + "rollout_partitions must be >= 0 (0 = Spark's default parallelism)");
    if (rolloutBatchSize < 1 || scoreBatchSize < 1) {
      p.add(s + "rollout_batch_size and " + s + "score_batch_size must be >= 1");
    }
    unknownName(p, s + "policy_loss", policyLoss, PolicyLosses.REGISTRY.names());
    unknownName(p, s + "kl_estimator", klEstimator, Kl.REGISTRY.names());
    unknownName(p, s + "aggregation", aggregation, Aggregation.REGISTRY.names());
    return p;
  }

  /** Adds "key: unknown ... 'x'; known: a, b" when {@code name} is not one of {@code known}. */
  protected static void unknownName(List<String> problems, String key, String name, java.util.Set<String> known) {
    if (name == null || !known.contains(name)) {
      problems.add(key + " '" + name + "' is unknown; known: " + String.join(", ", known));
    }
  }
}
