package org.sparkrlhf.reward.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;

/**
 * Trains an outcome reward model on the driver. Each step takes a batch of pairs, packs the chosen and the rejected
 * sequences into one {@link PackedBatch}, runs the backbone forward once with gradients and reads the scalar head at
 * each sequence's last real token ({@link SequenceLogProbs#lastTokenScores}: no LM head runs), and minimises the
 * {@link BradleyTerryLoss} (with the pairs' margins when {@link RewardConfig#useMargin}, and TRL's centring term).
 * The loop is {@link HeadTraining}'s; the held-out pairs are scored with the same loss and TRL's metrics.
 */
public final class RewardModelTrainer implements HeadTraining.Objective<RewardPair, RewardMetrics> {
  private final RewardConfig c;

  public RewardModelTrainer(RewardConfig config) {
    List<String> problems = config.problems();
    if (!problems.isEmpty()) throw new IllegalArgumentException(String.join("; ", problems));
    this.c = config;
  }

  /** Steps a run over {@code n} pairs takes: max_steps, else epochs × ⌈n / batch_size⌉. */
  public int plannedSteps(int n) {
    return HeadTraining.plannedSteps(c, n);
  }

  /**
   * Trains {@code model} (which must have the score head) in place ({@link HeadTraining}).
   *
   * @param eval held-out pairs, possibly empty (then no evaluation)
   */
  public HeadTraining.Result<RewardMetrics> train(LlamaModel model, List<RewardPair> pairs, List<RewardPair> eval,
      HeadTraining.Hooks<RewardMetrics> hooks) {
    return train(model, pairs, eval, hooks, null);
  }

  /** As {@link #train(LlamaModel, List, List, HeadTraining.Hooks)}, continuing after {@code resume} (null: none). */
  public HeadTraining.Result<RewardMetrics> train(LlamaModel model, List<RewardPair> pairs, List<RewardPair> eval,
      HeadTraining.Hooks<RewardMetrics> hooks, org.sparkrlhf.core.train.TrainerState resume) {
    if (pairs.isEmpty()) throw new IllegalArgumentException("no preference pairs to train on");
    return HeadTraining.train(c, model, pairs, eval, this, hooks, resume);
  }

  @Override
  public HeadTraining.Forward<RewardMetrics> forward(LlamaModel model, List<RewardPair> batch, NDManager sm) {
    Scored s = score(model, batch, true, sm);
    return new HeadTraining.Forward<>(s.loss(), loss -> RewardMetrics.of(s.chosen(), s.rejected(), loss));
  }

  /**
   * The loss and TRL metrics of {@code pairs} under {@code model}, without gradients, {@code eval_batch_size} pairs
   * per forward pass; null for no pairs. The loss is the pair-weighted mean of the per-pair Bradley-Terry terms plus
   * the centring term over all pairs, the value one batch of every pair would give.
   */
  @Override
  public RewardMetrics evaluate(LlamaModel model, List<RewardPair> pairs) {
    if (pairs.isEmpty()) return null;
    float[] chosen = new float[pairs.size()];
    float[] rejected = new float[pairs.size()];
    double bt = 0;
    for (int from = 0; from < pairs.size(); from += c.evalBatchSize) {
      List<RewardPair> batch = pairs.subList(from, Math.min(pairs.size(), from + c.evalBatchSize));
      try (NDManager sm = model.manager().newSubManager()) {
        Scored s = score(model, batch, false, sm);
        System.arraycopy(s.chosen(), 0, chosen, from, batch.size());
        System.arraycopy(s.rejected(), 0, rejected, from, batch.size());
        bt += s.btSum();
      }
    }
    double centre = 0;
    for (int i = 0; i < chosen.length; i++) centre += Math.pow((double) chosen[i] + rejected[i], 2);
    double loss = bt / pairs.size() + c.centerRewardsCoefficient * centre / pairs.size();
    return RewardMetrics.of(chosen, rejected, loss);
  }

  /** One batch's scores, the differentiable loss and the sum of its Bradley-Terry terms. */
  private record Scored(float[] chosen, float[] rejected, NDArray loss, double btSum) {}

  /** Scores a batch (chosen rows first, then rejected, in one pass) and computes its loss. */
  private Scored score(LlamaModel model, List<RewardPair> batch, boolean withGradients, NDManager sm) {
    int b = batch.size();
    List<TokenSequence> seqs = new ArrayList<>(2 * b);
    float[] margins = new float[b];
    for (int i = 0; i < b; i++) {
      seqs.add(batch.get(i).chosen());
      margins[i] = c.useMargin ? (float) batch.get(i).margin() : 0f;
    }
    for (RewardPair p : batch) seqs.add(p.rejected());
    PackedBatch packed = PackedBatch.pack(seqs, model.config().padTokenId());
    NDArray scores = SequenceLogProbs.lastTokenScores(model, packed, withGradients, sm);
    NDArray rc = scores.get(new NDIndex("0:" + b));
    NDArray rr = scores.get(new NDIndex(b + ":" + (2 * b)));
    NDArray margin = c.useMargin ? sm.create(margins) : null;
    NDArray loss = BradleyTerryLoss.loss(rc, rr, margin, c.centerRewardsCoefficient);
    double btSum = BradleyTerryLoss.perPair(rc, rr, margin).sum().getFloat();
    float[] chosen = rc.toFloatArray();
    float[] rejected = rr.toFloatArray();
    return new Scored(chosen, rejected, loss, btSum);
  }
}
