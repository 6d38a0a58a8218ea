package org.sparkrlhf.grpo.pvg;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.train.ScheduledOptimizerSettings;
import org.sparkrlhf.reward.model.RewardConfig;

/**
 * How each round's fresh verifier is made and trained (config section {@code pvg.verifier}): from a small model's
 * checkpoint with a new score head, on {@link VerifierMix}'s pairs with {@link VerifierTrainer}'s loss; AdamW with the
 * optimizer keys of {@link ScheduledOptimizerSettings} (lr 1e-3 after 10 warm-up steps, then constant, by default).
 */
public class VerifierSettings extends ScheduledOptimizerSettings {
  /**
   * The stage whose newest policy checkpoint in the run starts every verifier, with a fresh score head (a small
   * decoder fine-tuned on the demonstrations, e.g. a stage instance {@code "verifier_base:sft"} with a smaller
   * model). Default {@code verifier_base}.
   */
  public String initStage = "verifier_base";
  /** A checkpoint path to start from instead of {@link #initStage}'s. Default empty. */
  public String initCheckpoint = "";
  /** The centring coefficient λ of the loss's λ·V² term. Default 0.01. */
  public double lambda = 0.01;
  /** Pairs from each earlier round's prover in the mix (fewer when a round gives fewer). Default 2000. */
  public int pairsPerRound = 2000;
  /** Share of the verifier prompts whose pairs are held out to measure it while it trains. Default 0.1. */
  public double evalShare = 0.1;
  /** Passes over the mix. Default 2. */
  public int epochs = 2;
  /** Pairs per step. Default 32. */
  public int batchSize = 32;
  /** The seed of the score head's initialisation and of the pair order. Default 1234. */
  public long seed = 1234;

  public VerifierSettings() {
    lr = 1e-3;
    warmupSteps = 10;
  }

  /** The reward model trainer's settings these amount to. */
  public RewardConfig trainerConfig(long roundSeed) {
    RewardConfig c = copyTo(new RewardConfig());
    c.epochs = epochs;
    c.batchSize = batchSize;
    c.seed = roundSeed;
    c.logEvery = 50;
    return c;
  }

  public List<String> problems() {
    List<String> p = new ArrayList<>();
    if (!(lambda >= 0)) p.add("pvg.verifier.lambda must be >= 0");
    if (pairsPerRound < 1) p.add("pvg.verifier.pairs_per_round must be positive");
    if (!(evalShare >= 0 && evalShare < 1)) p.add("pvg.verifier.eval_share must be in [0, 1)");
    if (!(lr > 0)) p.add("pvg.verifier.lr must be positive");
    optimizerProblems("pvg.verifier", p);
    if (epochs < 1 || batchSize < 1) p.add("pvg.verifier.epochs and pvg.verifier.batch_size must be positive");
    if (initStage.isBlank() && initCheckpoint.isBlank()) {
      p.add("pvg.verifier needs init_stage or init_checkpoint (the small model each verifier starts from)");
    }
    return p;
  }
}
