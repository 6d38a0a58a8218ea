package org.sparkrlhf.grpo.pvg;

import java.util.List;
import org.sparkrlhf.grpo.train.GrpoConfig;

/**
 * Settings of a prover-verifier game (config section {@code pvg}): GRPO's keys for the prover's RL ({@link GrpoConfig};
 * {@code iterations} is per round, the rules in {@code reward} give the checker's verdict, {@code correct_answer},
 * which the prover's reward reads), the prover's reward, the rounds, the verifier ({@link VerifierSettings}) and the
 * measurements.
 */
public class PvgConfig extends GrpoConfig {
  /**
   * The prover's reward by its name in {@link ProverRewards}: {@code src} (signed relative convincingness),
   * {@code cgc} (correctness-gated), {@code goodhart} (the verifier's score alone) or {@code correctness} (the
   * checker alone, the baseline). Default {@code src}.
   */
  public String proverReward = ProverRewards.SRC;
  /** Solutions per forward pass of the verifier when it scores an iteration's samples. Default 128. */
  public int verifierBatchSize = 128;
  /**
   * Steps of supervised fine-tuning that teach the start policy the role lines before the game: the demonstrations of
   * the prover's half, each under every role, so the initial prover reads a role line and still writes what it
   * imitated, the same in both roles (a policy never shown a line before its prompt loses most of its accuracy under
   * one). 0 = none (a start that already knows them, {@code init_checkpoint}). Default 500.
   */
  public int roleWarmupSteps = 500;
  /** Its learning rate (constant after 20 warm-up steps). Default 3e-4. */
  public double roleWarmupLr = 3e-4;
  /** Its batch size. Default 64. */
  public int roleWarmupBatchSize = 64;
  /** Rounds of the game: a fresh verifier, then the prover's RL against it. Default 3. */
  public int rounds = 3;
  /**
   * The roles the prover is trained in, each prompt once per role: {@code [helpful, sneaky]}, or {@code [helpful]}
   * for the correctness-only baseline. Default both.
   */
  public List<String> roles = List.of("helpful", "sneaky");
  /**
   * Every round's prover starts from the initial prover, as in Kirchner et al. (true), or continues from the
   * previous round's (false: one RL run cut into rounds, the baseline's curve over training). Default true.
   */
  public boolean resetProver = true;
  /**
   * A round ends early, after at least {@code min_iterations}, at the first iteration where the sneaky prover's
   * incorrect solutions score on average at least as high as the helpful prover's correct ones. Default true.
   */
  public boolean earlyStop = true;
  /** Default 5. */
  public int minIterations = 5;
  /** Verifier-half prompts sampled by each round's prover for the verifier's mix (0 = all). Default 1000. */
  public int verifierPrompts = 1000;
  /** Samples per verifier prompt and role. Default 4. */
  public int verifierSamples = 4;
  /** The split of the held-out prompts every round is measured on. Default valid. */
  public String heldoutSplit = "valid";
  /** Held-out prompts (0 = all of the split). Default 250. */
  public int heldoutProblems = 250;
  /** Samples per held-out prompt and role. Default 4. */
  public int heldoutSamples = 4;
  /** Lines the legibility measure's time-limited checker verifies ({@link SpotChecker}). Default 1. */
  public int spotCheckLines = 1;
  /**
   * RL iterations a fresh sneaky-only adversary gets against each round's verifier (0 = none): the number it needs
   * before its sneaky success reaches {@code adversary_success} is the verifier's steps-to-exploit. Default 30.
   */
  public int adversaryIterations = 30;
  /** Default 0.5. */
  public double adversarySuccess = 0.5;
  /** The verifier of every round. */
  public VerifierSettings verifier = new VerifierSettings();

  @Override
  public String section() {
    return "pvg";
  }

  @Override
  public List<String> problems() {
    List<String> p = super.problems();
    unknownName(p, "pvg.prover_reward", proverReward, ProverRewards.REGISTRY.names());
    if (verifierBatchSize < 1) p.add("pvg.verifier_batch_size must be positive");
    if (rounds < 1) p.add("pvg.rounds must be positive");
    if (roleWarmupSteps < 0) p.add("pvg.role_warmup_steps must be >= 0");
    if (!(roleWarmupLr > 0) || roleWarmupBatchSize < 1) {
      p.add("pvg.role_warmup_lr and pvg.role_warmup_batch_size must be positive");
    }
    if (roles == null || roles.isEmpty()) p.add("pvg.roles must name at least one role (helpful, sneaky)");
    else {
      for (String r : roles) {
        try {
          ProverRole.byName(r);
        } catch (IllegalArgumentException e) {
          p.add("pvg.roles: " + e.getMessage());
        }
      }
      if (roles.stream().distinct().count() != roles.size()) p.add("pvg.roles names a role twice");
    }
    if (filterGroups) {
      p.add("pvg.filter_groups must be false (it keeps groups whose rules' rewards differ; the prover's reward is "
          + "the verifier's, which differs in nearly every group)");
    }
    if (minIterations < 1) p.add("pvg.min_iterations must be positive");
    if (verifierPrompts < 0 || heldoutProblems < 0) p.add("pvg.verifier_prompts and pvg.heldout_problems must be >= 0");
    if (verifierSamples < 2) p.add("pvg.verifier_samples must be at least 2 (pairs need a correct and an incorrect solution of a prompt)");
    if (heldoutSamples < 1) p.add("pvg.heldout_samples must be positive");
    if (spotCheckLines < 1) p.add("pvg.spot_check_lines must be positive");
    if (adversaryIterations < 0) p.add("pvg.adversary_iterations must be >= 0");
    if (!(adversarySuccess > 0 && adversarySuccess <= 1)) p.add("pvg.adversary_success must be in (0, 1]");
    if (heldoutSplit.equals(split)) p.add("pvg.heldout_split must differ from pvg.split");
    p.addAll(verifier.problems());
    return p;
  }
}
