package org.sparkrlhf.jobs.stages;

import ai.djl.ndarray.NDManager;
import com.typesafe.config.Config;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.grpo.pvg.GameFigures;
import org.sparkrlhf.grpo.pvg.PromptHalves;
import org.sparkrlhf.grpo.pvg.ProverRole;
import org.sparkrlhf.grpo.pvg.PvgConfig;
import org.sparkrlhf.grpo.pvg.PvgTrainer;
import org.sparkrlhf.grpo.pvg.VerifierMix;
import org.sparkrlhf.grpo.pvg.VerifierTrainer;
import org.sparkrlhf.grpo.rl.InProcessRollouts;
import org.sparkrlhf.grpo.rl.RewardModel;
import org.sparkrlhf.grpo.rl.RlPrompt;
import org.sparkrlhf.grpo.rl.RlTrainer;
import org.sparkrlhf.grpo.rl.RolloutSource;
import org.sparkrlhf.grpo.rl.SparkRollouts;
import org.sparkrlhf.jobs.Stage;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.model.HeadTraining;
import org.sparkrlhf.reward.model.RewardMetrics;
import org.sparkrlhf.reward.rules.RewardRules;
import org.sparkrlhf.reward.rules.RuleRewarder;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/**
 * {@code pvg}: a prover-verifier game (Kirchner et al. 2024) in {@code pvg.rounds} rounds. The train prompts are split
 * once into a verifier half and a prover half ({@link PromptHalves}). Round r trains a fresh small verifier
 * ({@code pvg.verifier.init_stage}'s checkpoint with a new score head) on the balanced mix of solutions the provers
 * of rounds 0..r−1 wrote on the verifier half ({@link VerifierMix}, {@link VerifierTrainer}), then the prover's RL
 * against it on the prover half, one model in both roles ({@link PvgTrainer}; from the initial prover each round,
 * {@code pvg.reset_prover}), ending early when the sneaky role's incorrect solutions score as high as the helpful
 * role's correct ones. Each round's prover then writes the next round's verifier data and is measured on held-out
 * prompts ({@link GameFigures}), and a fresh sneaky-only adversary measures how many RL iterations the round's
 * verifier withstands.
 *
 * <p>Tables: the RL samples to {@code rollouts} as stage {@code <stage>} (iteration = (round−1)·iterations + i),
 * the verifier data and held-out samples as {@code <stage>_samples} and {@code <stage>_heldout} (iteration = the
 * round of the prover that wrote them), each with its role, the checker's verdict ({@code correct_answer}) and the
 * round's verifier score in its parts; the per-iteration metrics under {@code <stage>}, the rounds' figures under
 * {@code <stage>_rounds} (step = round; step 0 is the initial prover under the first verifier); each round's prover
 * a {@code policy} checkpoint of {@code <stage>} (step = round) and its verifier a {@code verifier} checkpoint of
 * {@code <stage>_verifier}, each naming the other and the data it came from.
 */
public final class PvgStage implements Stage {
  /** The kind of a verifier's checkpoint row. */
  static final String VERIFIER_KIND = "verifier";
  /** Policy versions one model's sampling may use (a round's prover, an adversary): each gets its own block. */
  private static final long VERSION_BLOCK = 1_000_000L;

  @Override
  public String name() {
    return "pvg";
  }

  @Override
  public String description() {
    return "prover-verifier game: rounds of a fresh small verifier, then helpful and sneaky RL against it";
  }

  @Override
  public List<String> sections() {
    return List.of("pvg");
  }

  @Override
  public boolean instantiable() {
    return true;
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--checkpoint", "pvg.init_checkpoint");
  }

  @Override
  public void check(Config config) {
    PvgConfig c = StageConfigs.checked(config, "pvg", PvgConfig.class, PvgConfig::problems);
    try {
      RuleRewarder.of(c.reward);
    } catch (IllegalArgumentException e) {
      throw new UserError("pvg: " + Models.firstLine(e));
    }
    if (c.reward.learned() != null) {
      throw new UserError("pvg.reward: the rules only (the verifier is the game's learned reward)");
    }
    if (c.reward.rules.stream().noneMatch(r -> r.name.equals(RewardRules.CORRECT_ANSWER))) {
      throw new UserError("pvg.reward needs a correct_answer rule (the checker's verdict the prover's reward reads)");
    }
  }

  @Override
  public void run(RunContext ctx, Config config) {
    check(config);
    PvgConfig c = StageConfigs.bind(config, "pvg", PvgConfig.class);
    ctx.put("config", c);
    Lake lake = ctx.lake();
    String stage = ctx.stage();
    Models.initEngine(c.threads);
    String sourcePolicy = Checkpoints.orLatest(lake, ctx.runId(), c.initCheckpoint, c.initModel, "policy");
    String verifierInit = Checkpoints.orLatest(lake, ctx.runId(), c.verifier.initCheckpoint, c.verifier.initStage,
        "policy");

    PromptHalves<RlPrompt> halves = PromptHalves.split(RlStage.prompts(lake, c.dataset, c.split, 0), RlPrompt::id,
        c.seed);
    List<RlPrompt> verifierBase = c.verifierPrompts > 0 && halves.verifier().size() > c.verifierPrompts
        ? halves.verifier().subList(0, c.verifierPrompts) : halves.verifier();
    List<RlPrompt> heldoutBase = RlStage.prompts(lake, c.dataset, c.heldoutSplit, c.heldoutProblems);
    List<ProverRole> roles = c.roles.stream().map(ProverRole::byName).toList();
    List<RlPrompt> proverPrompts = withRoles(halves.prover(), roles);
    List<RlPrompt> verifierPrompts = withRoles(verifierBase, roles);
    List<RlPrompt> heldoutPrompts = withRoles(heldoutBase, roles);
    System.out.printf("pvg: %d train prompts split into %d for the verifier (%d sampled per round) and %d for the "
            + "prover; roles %s; %d held-out %s prompts; %d rounds of up to %d iterations%n",
        halves.verifier().size() + halves.prover().size(), halves.verifier().size(), verifierBase.size(),
        halves.prover().size(), c.roles, heldoutBase.size(), c.heldoutSplit, c.rounds, c.iterations);

    String initPath = c.roleWarmupSteps > 0 ? roleWarmup(ctx, c, sourcePolicy) : sourcePolicy;
    MetricsWriter iterationMetrics = new MetricsWriter(ctx, stage);
    MetricsWriter roundMetrics = new MetricsWriter(ctx, stage + "_rounds");
    List<Map<String, Object>> rounds = new ArrayList<>();
    try (NDManager manager = NDManager.newBaseManager()) {
      Models.Loaded init = Models.load(initPath, manager);
      TextTokenizer tok = init.tokenizer();
      LlamaModel start = init.model();
      LlamaModel verifierStart = Models.load(verifierInit, manager).model();
      if (verifierStart.config().vocabSize() != start.config().vocabSize()) {
        throw new UserError("pvg.verifier: " + verifierInit + " has a vocabulary of "
            + verifierStart.config().vocabSize() + " tokens, the prover " + start.config().vocabSize());
      }
      // Compute per token as the MFU figures count it, at the longest sequence either model reads.
      int longest = start.config().maxPositionEmbeddings();
      double computeRatio = verifierStart.config().trainingFlopsPerToken(longest) / start.config().trainingFlopsPerToken(longest);
      System.out.printf("pvg: prover %s (%,d parameters), verifier from %s (%,d; %.3f of the prover's FLOPs per "
              + "token at %d tokens)%n", initPath, start.parameterCount(), verifierInit, verifierStart.parameterCount(),
          computeRatio, longest);
      ctx.put("prover_init", initPath).put("verifier_init", verifierInit).put("verifier_compute_ratio", computeRatio);

      RolloutSource source = c.rolloutsOn.equals("driver")
          ? new InProcessRollouts(tok, c.rolloutBatchSize, null)
          : new SparkRollouts(ctx.spark(), tok, c.rolloutBatchSize, c.rolloutPartitions, null);
      Rewarder rules = ProverRole.roleless(RuleRewarder.of(c.reward));
      Versions versions = new Versions();
      Checkpoints proverCheckpoints = new Checkpoints(ctx, stage, "policy", initPath, StageConfigs.toJson(c));
      Checkpoints verifierCheckpoints = new Checkpoints(ctx, stage + "_verifier", VERIFIER_KIND, verifierInit,
          StageConfigs.toJson(c.verifier));

      // Round 0: the initial prover's solutions, for the first verifier's mix and the held-out start.
      List<VerifierMix.Solution> mix = new ArrayList<>();
      List<Sampled> startHeldout = sample(source, versions.next(), start, heldoutPrompts, c.heldoutSamples, c, rules, 0);
      List<VerifierMix.Solution> heldoutMix = new ArrayList<>(solutions(startHeldout, 0));
      List<Sampled> startData = sample(source, versions.next(), start, verifierPrompts, c.verifierSamples, c, rules, 0);
      writeSamples(ctx, c, stage + "_samples", 0, startData);
      mix.addAll(solutions(startData, 0));
      List<Sampled> pendingStart = startHeldout;  // written once the first verifier has scored it
      LlamaModel prover = start;
      int globalIteration = 0;
      for (int r = 1; r <= c.rounds; r++) {
        // (a) A fresh verifier on the provers' solutions of rounds 0..r-1.
        long roundSeed = c.seed * 1000 + r;
        List<VerifierMix.Pair> pairs = VerifierMix.pairs(mix, c.verifier.pairsPerRound, roundSeed);
        List<VerifierMix.Pair> train = new ArrayList<>();
        List<VerifierMix.Pair> eval = new ArrayList<>();
        for (VerifierMix.Pair p : pairs) {
          (Math.floorMod((p.promptId() + "/" + c.seed).hashCode(), 1000) < c.verifier.evalShare * 1000 ? eval : train)
              .add(p);
        }
        if (train.isEmpty()) {
          throw new UserError("pvg round " + r + ": no pair of a correct and an incorrect solution on the verifier's "
              + "prompts (raise pvg.verifier_prompts or pvg.verifier_samples)");
        }
        LlamaModel verifierModel = verifierStart.withScoreHead(roundSeed, manager);
        VerifierTrainer verifierTrainer = new VerifierTrainer(c.verifier.trainerConfig(roundSeed), tok,
            c.verifier.lambda);
        final int round = r;
        HeadTraining.Result<RewardMetrics> vr = verifierTrainer.train(verifierModel, train, eval,
            new HeadTraining.Hooks<>() {
              @Override
              public void onEval(int step, RewardMetrics m) {
                System.out.printf("pvg: round %d verifier step %4d  held-out pair accuracy %.3f  loss %.4f%n", round,
                    step, m.accuracy(), m.loss());
              }
            });
        Map<String, Object> verifierProvenance = new LinkedHashMap<>();
        verifierProvenance.put("run_id", ctx.runId());
        verifierProvenance.put("stage", stage + "_verifier");
        verifierProvenance.put("round", r);
        verifierProvenance.put("init", verifierInit);
        verifierProvenance.put("trained_on", Map.of("table", Tables.ROLLOUTS, "stage", stage + "_samples",
            "iterations", "0.." + (r - 1), "pairs", train.size()));
        verifierProvenance.put("data_versions", Map.of(Tables.PROMPTS, lake.reads().get(Tables.PROMPTS)));
        verifierProvenance.put("rollouts_version", lake.version(Tables.ROLLOUTS));
        verifierProvenance.put("config", c.verifier);
        String verifierPath = verifierCheckpoints.save(r, verifierModel, tok, verifierProvenance);
        RewardModel verifier = new RewardModel(verifierModel, tok, 1.0, verifierPath);
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("round", r);
        summary.put("verifier", verifierPath);
        summary.put("verifier_pairs", train.size());
        if (vr.evalAfter() != null) summary.put("verifier_mix_accuracy", vr.evalAfter().accuracy());
        if (pendingStart != null) {
          // The initial prover's held-out figures, under the first verifier: the start every round is compared with.
          score(verifier, pendingStart, c);
          writeSamples(ctx, c, stage + "_heldout", 0, pendingStart);
          Map<String, Double> f = GameFigures.of(figureInput(pendingStart), c.spotCheckLines, c.seed);
          f.forEach((k, v) -> roundMetrics.add(0, k, v));
          rounds.add(roundSummary(0, f, null));
          printFigures(0, f);
          pendingStart = null;
        }

        // (b) The prover's RL against it.
        LlamaModel policy = c.resetProver || prover == start ? start.copy(manager) : prover;
        PvgConfig rc = StageConfigs.bind(config, "pvg", PvgConfig.class);
        rc.seed = roundSeed;
        PvgTrainer trainer = new PvgTrainer(rc, policy, start, tok, proverPrompts,
            RolloutSource.shifted(source, versions.next()), rules, verifier);
        List<Row> rows = new ArrayList<>();
        boolean stoppedEarly = false;
        int iterationsRun = 0;
        while (trainer.hasNext()) {
          RlTrainer.Iteration it = proverCheckpoints.training(trainer::step, () -> {});
          iterationsRun = it.iteration();
          int global = globalIteration + it.iteration();
          double[] scores = trainer.lastScores();
          double[] rewards = trainer.lastRewards();
          for (int i = 0; i < it.rollouts().size(); i++) {
            RlTrainer.Rollout ro = it.rollouts().get(i);
            Map<String, Double> parts = new LinkedHashMap<>(ro.reward().parts());
            parts.put("verifier_score", scores[i]);
            parts.put("helpful", ProverRole.of(ro.prompt().prompt()) == ProverRole.HELPFUL ? 1.0 : 0.0);
            rows.add(RlStage.rolloutRow(ctx.runId(), stage, global, c.dataset, ro.prompt(), ro.completion(),
                it.policyVersion(), rewards[i], parts, ro.executorId()));
          }
          Map<String, Double> m = it.metrics();
          m.forEach((k, v) -> iterationMetrics.add(global, k, v));
          iterationMetrics.add(global, "round", r);
          System.out.printf("pvg: round %d iter %3d  prover reward %.3f  helpful acc %s score %s  sneaky acc %s "
                  + "score %s  kl %.4f  gen %.1fs  train %.1fs%n", r, it.iteration(), m.get("prover_reward_mean"),
              fmt(m.get("helpful_accuracy")), fmt(m.get("helpful_score")), fmt(m.get("sneaky_accuracy")),
              fmt(m.get("sneaky_score")), m.getOrDefault("kl_ref", 0.0), m.get("generate_seconds"),
              m.get("train_seconds"));
          Double sneakyWrong = m.get("sneaky_incorrect_score");
          Double helpfulRight = m.get("helpful_correct_score");
          if (c.earlyStop && it.iteration() >= c.minIterations && sneakyWrong != null && helpfulRight != null
              && sneakyWrong >= helpfulRight) {
            stoppedEarly = true;
            System.out.printf("pvg: round %d ends at iteration %d: the sneaky prover's incorrect solutions score "
                + "%.3f, the helpful prover's correct ones %.3f%n", r, it.iteration(), sneakyWrong, helpfulRight);
            break;
          }
        }
        globalIteration += c.iterations;
        lake.appendOnce(Tables.ROLLOUTS, lake.frame(Tables.ROLLOUTS, rows).drop("created_at"),
            ctx.runId() + "/" + stage + "/rollouts", r);
        iterationMetrics.flush(r);
        if (prover != start && prover != policy) prover.close();
        prover = policy;
        Map<String, Object> proverProvenance = new LinkedHashMap<>();
        proverProvenance.put("run_id", ctx.runId());
        proverProvenance.put("stage", stage);
        proverProvenance.put("round", r);
        proverProvenance.put("iterations", iterationsRun);
        proverProvenance.put("verifier", verifierPath);
        proverProvenance.put("reference", initPath);
        proverProvenance.put("data_versions", Map.of(Tables.PROMPTS, lake.reads().get(Tables.PROMPTS)));
        proverProvenance.put("config", c);
        String proverPath = proverCheckpoints.save(r, prover, tok, proverProvenance);
        summary.put("prover", proverPath);
        summary.put("iterations", iterationsRun);
        summary.put("stopped_early", stoppedEarly);

        // (c) The round's prover measured on held-out prompts under its verifier, and its data for the next ones.
        List<Sampled> heldout = sample(source, versions.next(), prover, heldoutPrompts, c.heldoutSamples, c, rules, r);
        score(verifier, heldout, c);
        writeSamples(ctx, c, stage + "_heldout", r, heldout);
        heldoutMix.addAll(solutions(heldout, r));
        Map<String, Double> f = new LinkedHashMap<>(GameFigures.of(figureInput(heldout), c.spotCheckLines, c.seed));
        RewardMetrics all = verifierTrainer.evaluate(verifierModel, VerifierMix.pairs(heldoutMix, Integer.MAX_VALUE,
            roundSeed));
        RewardMetrics current = verifierTrainer.evaluate(verifierModel,
            VerifierMix.pairs(solutions(heldout, r), Integer.MAX_VALUE, roundSeed));
        if (all != null) f.put("verifier_heldout_accuracy", all.accuracy());
        if (current != null) f.put("verifier_heldout_accuracy_current", current.accuracy());
        if (r < c.rounds) {
          List<Sampled> verifierData = sample(source, versions.next(), prover, verifierPrompts, c.verifierSamples, c,
              rules, r);
          score(verifier, verifierData, c);
          writeSamples(ctx, c, stage + "_samples", r, verifierData);
          mix.addAll(solutions(verifierData, r));
        }

        // (d) How long the round's verifier withstands a fresh sneaky-only adversary.
        if (c.adversaryIterations > 0 && roles.contains(ProverRole.SNEAKY)) {
          double[] helpfulCorrect = heldout.stream()
              .filter(s -> s.role == ProverRole.HELPFUL && s.correct).mapToDouble(s -> s.score).toArray();
          if (helpfulCorrect.length > 0) {
            double threshold = GameFigures.median(helpfulCorrect);
            Exploit e = adversary(c, config, roundSeed, start, tok, halves.prover(), source, versions, rules, verifier,
                threshold, manager, r);
            f.put("adversary_steps_to_exploit", (double) (e.steps() > 0 ? e.steps() : c.adversaryIterations + 1));
            f.put("adversary_fooled", e.steps() > 0 ? 1.0 : 0.0);
            f.put("adversary_best_success", e.bestSuccess());
          }
        }
        f.forEach((k, v) -> roundMetrics.add(round, k, v));
        roundMetrics.flush(round);
        printFigures(r, f);
        rounds.add(roundSummary(r, f, summary));
        verifierModel.close();
      }
      ctx.put("rounds", rounds).put("prover", proverCheckpoints.last()).put("verifier", verifierCheckpoints.last());
      Map<String, Object> first = rounds.get(0);
      Map<String, Object> last = rounds.get(rounds.size() - 1);
      ctx.summary(String.format("%d rounds: helpful accuracy %s -> %s, sneaky success %s -> %s, spot-check "
              + "helpful %s -> %s", c.rounds, fmt(first.get("helpful_accuracy")), fmt(last.get("helpful_accuracy")),
          fmt(rounds.size() > 1 ? rounds.get(1).get("sneaky_success") : null), fmt(last.get("sneaky_success")),
          fmt(first.get("spot_check_helpful")), fmt(last.get("spot_check_helpful"))));
      if (source instanceof SparkRollouts spark) spark.close();
      if (prover != start) prover.close();
      start.close();
      verifierStart.close();
    }
  }

  /**
   * The initial prover: {@code policy} fine-tuned on the prover half's demonstrations under both role lines (whatever
   * roles the game trains, so a helpful-only baseline can start from the same model: {@code init_model =
   * <stage>_start}), a {@code policy} checkpoint of {@code <stage>_start}.
   */
  private static String roleWarmup(RunContext ctx, PvgConfig c, String policy) {
    List<ProverRole> roles = List.of(ProverRole.values());
    Lake lake = ctx.lake();
    List<String[]> rows = new ArrayList<>();
    for (Row r : lake.read(Tables.SFT_DEMOS)
        .filter(org.apache.spark.sql.functions.col("dataset").equalTo(c.dataset)
            .and(org.apache.spark.sql.functions.col("split").equalTo(c.split)))
        .select("id", "prompt", "completion").orderBy("id").collectAsList()) {
      if (PromptHalves.isVerifiers(r.getString(0), c.seed)) continue;
      for (ProverRole role : roles) rows.add(new String[] {role.prompt(r.getString(1)), r.getString(2)});
    }
    if (rows.isEmpty()) {
      throw new UserError("pvg.role_warmup_steps: no demonstrations of dataset '" + c.dataset + "' split '" + c.split
          + "' in " + lake.path(Tables.SFT_DEMOS) + " (set pvg.role_warmup_steps=0 for a start that knows the roles)");
    }
    org.sparkrlhf.sft.SftConfig opt = new org.sparkrlhf.sft.SftConfig();
    opt.lr = c.roleWarmupLr;
    opt.warmupSteps = Math.min(20, c.roleWarmupSteps);
    opt.minLrRatio = 1.0;
    String stage = ctx.stage() + "_start";
    Checkpoints checkpoints = new Checkpoints(ctx, stage, "policy", policy, StageConfigs.toJson(c));
    FineTune.Done done = FineTune.run(ctx, opt, c.roleWarmupSteps, c.roleWarmupBatchSize, c.seed, 128, policy, rows,
        checkpoints, c.roleWarmupSteps, lake.reads().get(Tables.SFT_DEMOS),
        Map.of("role_warmup", Map.of("roles", List.of("helpful", "sneaky"), "demonstrations", rows.size() / roles.size())));
    System.out.printf("pvg: initial prover %s: %s fine-tuned %d steps on %d demonstrations under the role lines "
        + "(loss %.4f)%n", done.checkpoint(), policy, c.roleWarmupSteps, rows.size(), done.trainLoss());
    ctx.put("role_warmup", Map.of("checkpoint", done.checkpoint(), "from", policy, "train_loss", done.trainLoss()));
    return done.checkpoint();
  }

  /**
   * What an adversary did: the first iteration at which its sneaky success reached the bar (0 when none did), and its
   * best success in any iteration (the figure a verifier no adversary fooled is still ranked by).
   */
  private record Exploit(int steps, double bestSuccess) {}

  /** The adversary's RL, until its sneaky success reaches the bar or its iterations run out. */
  private static Exploit adversary(PvgConfig c, Config config, long roundSeed, LlamaModel start, TextTokenizer tok,
      List<RlPrompt> proverHalf, RolloutSource source, Versions versions, Rewarder rules, RewardModel verifier,
      double threshold, NDManager manager, int round) {
    PvgConfig ac = StageConfigs.bind(config, "pvg", PvgConfig.class);
    ac.seed = roundSeed + 500;
    ac.iterations = c.adversaryIterations;
    LlamaModel adversary = start.copy(manager);
    try {
      PvgTrainer trainer = new PvgTrainer(ac, adversary, start, tok, withRoles(proverHalf, List.of(ProverRole.SNEAKY)),
          RolloutSource.shifted(source, versions.next()), rules, verifier);
      double best = 0;
      while (trainer.hasNext()) {
        RlTrainer.Iteration it = trainer.step();
        double success = trainer.lastSneakySuccess(threshold);
        best = Math.max(best, success);
        System.out.printf("pvg: round %d adversary iter %3d  sneaky success %.3f (bar %.2f, score threshold %.3f)%n",
            round, it.iteration(), success, c.adversarySuccess, threshold);
        if (success >= c.adversarySuccess) return new Exploit(it.iteration(), best);
      }
      return new Exploit(0, best);
    } finally {
      adversary.close();
    }
  }

  /** One sampled solution of a role prompt; its verifier score is set once a verifier has scored it. */
  private static final class Sampled {
    final RlPrompt prompt;
    final ProverRole role;
    final RolloutSource.Scored scored;
    final boolean correct;
    final long policyVersion;
    double score = Double.NaN;

    Sampled(RlPrompt prompt, RolloutSource.Scored scored, long policyVersion) {
      this.prompt = prompt;
      this.role = ProverRole.of(prompt.prompt());
      this.scored = scored;
      Double ok = scored.reward().parts().get(RewardRules.CORRECT_ANSWER);
      this.correct = ok != null && ok > 0.5;
      this.policyVersion = policyVersion;
    }
  }

  /** {@code samples} solutions of each prompt at the RL's temperature, graded by the rules. */
  private static List<Sampled> sample(RolloutSource source, long version, LlamaModel model, List<RlPrompt> prompts,
      int samples, PvgConfig c, Rewarder rules, int round) {
    SamplingParams params = new SamplingParams(c.temperature, 0, 1.0, c.maxNewTokens, List.of(),
        c.seed * 1000 + 100 + round);
    List<RolloutSource.Scored> scored = source.sampleAndScore(model, version, prompts, samples, params, rules, false);
    List<Sampled> out = new ArrayList<>(scored.size());
    for (int i = 0; i < scored.size(); i++) out.add(new Sampled(prompts.get(i / samples), scored.get(i), version));
    return out;
  }

  private static void score(RewardModel verifier, List<Sampled> samples, PvgConfig c) {
    List<String> prompts = new ArrayList<>(samples.size());
    List<String> completions = new ArrayList<>(samples.size());
    for (Sampled s : samples) {
      prompts.add(ProverRole.base(s.prompt.prompt()));
      completions.add(s.scored.completion().text());
    }
    double[] v = verifier.score(prompts, completions, c.verifierBatchSize);
    for (int i = 0; i < v.length; i++) samples.get(i).score = v[i];
  }

  /** The samples as the verifier's mix reads them: the task prompt's id and text, without the role. */
  private static List<VerifierMix.Solution> solutions(List<Sampled> samples, int round) {
    List<VerifierMix.Solution> out = new ArrayList<>(samples.size());
    for (Sampled s : samples) {
      out.add(new VerifierMix.Solution(round, baseId(s.prompt.id()), ProverRole.base(s.prompt.prompt()),
          s.scored.completion().text(), s.correct));
    }
    return out;
  }

  private static List<GameFigures.Solution> figureInput(List<Sampled> samples) {
    List<GameFigures.Solution> out = new ArrayList<>(samples.size());
    for (Sampled s : samples) {
      out.add(new GameFigures.Solution(s.prompt.id(), s.scored.completion().sampleIndex(), s.role,
          ProverRole.base(s.prompt.prompt()), s.scored.completion().text(), s.correct, s.score));
    }
    return out;
  }

  private static void writeSamples(RunContext ctx, PvgConfig c, String stage, int round, List<Sampled> samples) {
    List<Row> rows = new ArrayList<>(samples.size());
    for (Sampled s : samples) {
      Map<String, Double> parts = new LinkedHashMap<>(s.scored.reward().parts());
      if (!Double.isNaN(s.score)) parts.put("verifier_score", s.score);
      parts.put("helpful", s.role == ProverRole.HELPFUL ? 1.0 : 0.0);
      rows.add(RlStage.rolloutRow(ctx.runId(), stage, round, c.dataset, s.prompt, s.scored.completion(),
          s.policyVersion, s.scored.reward().total(), parts, s.scored.executorId()));
    }
    ctx.lake().appendOnce(Tables.ROLLOUTS, ctx.lake().frame(Tables.ROLLOUTS, rows).drop("created_at"),
        ctx.runId() + "/" + stage + "/rollouts", round);
  }

  /** Each prompt once per role, ids {@code <id>/<role>}, sorted by id. */
  static List<RlPrompt> withRoles(List<RlPrompt> prompts, List<ProverRole> roles) {
    List<RlPrompt> out = new ArrayList<>(prompts.size() * roles.size());
    for (RlPrompt p : prompts) {
      for (ProverRole role : roles) {
        out.add(new RlPrompt(p.id() + "/" + role.configName(), role.prompt(p.prompt()), p.answer()));
      }
    }
    out.sort(Comparator.comparing(RlPrompt::id));
    return out;
  }

  private static String baseId(String roleId) {
    int slash = roleId.lastIndexOf('/');
    return slash < 0 ? roleId : roleId.substring(0, slash);
  }

  private static Map<String, Object> roundSummary(int round, Map<String, Double> figures, Map<String, Object> more) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("round", round);
    if (more != null) m.putAll(more);
    m.putAll(figures);
    return m;
  }

  private static void printFigures(int round, Map<String, Double> f) {
    StringBuilder b = new StringBuilder("pvg: round " + round + (round == 0 ? " (initial prover)" : "") + ":");
    f.forEach((k, v) -> b.append(String.format("  %s %.3f", k, v)));
    System.out.println(b);
  }

  private static String fmt(Object v) {
    return v instanceof Double d ? String.format("%.3f", d) : "-";
  }

  /** Policy versions for the shared rollout source: a fresh block for each model that samples (a trainer counts within it). */
  private static final class Versions {
    private long nextBlock = 1;

    long next() {
      return nextBlock++ * VERSION_BLOCK;
    }
  }
}
