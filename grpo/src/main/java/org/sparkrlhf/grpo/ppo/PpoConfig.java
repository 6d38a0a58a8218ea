package org.sparkrlhf.grpo.ppo;

import java.util.List;
import org.sparkrlhf.core.algos.Kl;
import org.sparkrlhf.grpo.algos.KlController;
import org.sparkrlhf.grpo.rl.RlConfig;

/**
 * Settings of the {@code ppo} stage (config section {@code ppo}), named after TRL's {@code PPOConfig} where one
 * exists: the shared loop's keys ({@link RlConfig}, documented there) and the critic's, the GAE's and the KL
 * penalty's. Defaults that differ from the shared loop's: {@code group_size} 1 and {@code prompts_per_iteration}
 * 256 (PPO needs no group: its baseline is the critic; 256 samples per iteration as GRPO's default 32 × 8),
 * {@code clip_high} 0.2 (PPO's symmetric clip), {@code kl_coef} 0 (the KL is in the reward, not in the loss).
 * The optimizer keys ({@code lr}, {@code grad_clip}, ...) are the actor's; the critic has its own learning rate.
 */
public class PpoConfig extends RlConfig {
  /** Discount γ of the GAE (TRL: {@code gamma}). Default 1.0. */
  public double gamma = 1.0;
  /** λ of the GAE (TRL: {@code lam}). Default 0.95. */
  public double lam = 0.95;
  /** Initial coefficient β of the per-token KL penalty in the reward (TRL: {@code kl_coef}). Default 0.05. */
  public double klPenaltyCoef = 0.05;
  /** Per-token KL estimate in the reward, by its name in {@code Kl}: {@code k1}, {@code k2}, {@code k3} (TRL: {@code kl_estimator}). Default {@code k1}. */
  public String klPenalty = Kl.K1;
  /**
   * How β moves: {@code fixed}, or {@code adaptive} (Ziegler et al. 2019: toward {@code kl_target} over
   * {@code kl_horizon} samples). Default {@code fixed}.
   */
  public String klController = KlController.FIXED;
  /** Target of the adaptive controller: the mean per-sequence summed KL to the reference. Default 6.0 (Ziegler et al.). */
  public double klTarget = 6.0;
  /** Horizon of the adaptive controller, in samples. Default 10000 (Ziegler et al.). */
  public double klHorizon = 10000;
  /** Whiten the advantages over each iteration's response tokens (TRL always does). Default true. */
  public boolean whitenAdvantages = true;
  /** ε of the clipped value loss (TRL: {@code cliprange_value}). Default 0.2. */
  public double valueClip = 0.2;
  /** The critic's learning rate (AdamW, constant; its betas, decay and clip are the actor's). Default 1e-4. */
  public double criticLr = 1e-4;
  /**
   * The critic's start: a reward-model checkpoint folder (its backbone and score head, as InstructGPT), or empty
   * for the start policy with a fresh score head. Default empty.
   */
  public String criticCheckpoint = "";

  public PpoConfig() {
    groupSize = 1;
    promptsPerIteration = 256;
    clipHigh = 0.2;
    klCoef = 0;
  }

  @Override
  public String section() {
    return "ppo";
  }

  @Override
  public List<String> problems() {
    List<String> p = super.problems();
    if (!(gamma >= 0 && gamma <= 1)) p.add("ppo.gamma must be in [0, 1]");
    if (!(lam >= 0 && lam <= 1)) p.add("ppo.lam must be in [0, 1]");
    if (!(klPenaltyCoef >= 0)) p.add("ppo.kl_penalty_coef must be >= 0");
    if (!(klTarget > 0) || !(klHorizon > 0)) p.add("ppo.kl_target and ppo.kl_horizon must be > 0");
    if (!(valueClip > 0)) p.add("ppo.value_clip must be > 0");
    if (!(criticLr > 0)) p.add("ppo.critic_lr must be > 0");
    unknownName(p, "ppo.kl_penalty", klPenalty, Kl.REGISTRY.names());
    unknownName(p, "ppo.kl_controller", klController, KlController.REGISTRY.names());
    return p;
  }
}
