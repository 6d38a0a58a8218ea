package org.sparkrlhf.grpo.pvg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.reward.model.BradleyTerryLoss;
import org.sparkrlhf.reward.model.HeadTraining;
import org.sparkrlhf.reward.model.RewardConfig;
import org.sparkrlhf.reward.model.RewardMetrics;

/**
 * Trains a prover-verifier game's verifier on the driver: {@link HeadTraining}'s loop over {@link VerifierMix}
 * pairs, the head read at the last token of {@code [bos] prompt solution [eos]} (the prompt without a role), the
 * loss Kirchner et al.'s ({@link BradleyTerryLoss#signedWithScorePenalty}, each pair's correct solution first, so
 * every sign is +1) with λ = {@code lambda}; held-out pairs measured with the same loss and the reward model's
 * metrics (accuracy = the share of pairs whose correct solution scores higher).
 */
public final class VerifierTrainer implements HeadTraining.Objective<VerifierMix.Pair, RewardMetrics> {
  private final RewardConfig c;
  private final TextTokenizer tok;
  private final double lambda;

  public VerifierTrainer(RewardConfig config, TextTokenizer tok, double lambda) {
    List<String> problems = config.problems();
    if (!problems.isEmpty()) throw new IllegalArgumentException(String.join("; ", problems));
    if (!(lambda >= 0)) throw new IllegalArgumentException("the verifier's centring coefficient must be >= 0");
    this.c = config;
    this.tok = tok;
    this.lambda = lambda;
  }

  /** Trains {@code model} (with the score head) in place. */
  public HeadTraining.Result<RewardMetrics> train(LlamaModel model, List<VerifierMix.Pair> pairs,
      List<VerifierMix.Pair> eval, HeadTraining.Hooks<RewardMetrics> hooks) {
    if (pairs.isEmpty()) throw new IllegalArgumentException("no pairs of a correct and an incorrect solution to train the verifier on");
    return HeadTraining.train(c, model, pairs, eval, this, hooks);
  }

  @Override
  public HeadTraining.Forward<RewardMetrics> forward(LlamaModel model, List<VerifierMix.Pair> batch, NDManager sm) {
    Scored s = score(model, batch, true, sm);
    return new HeadTraining.Forward<>(s.loss(), loss -> RewardMetrics.of(s.correct(), s.incorrect(), loss));
  }

  @Override
  public RewardMetrics evaluate(LlamaModel model, List<VerifierMix.Pair> pairs) {
    if (pairs.isEmpty()) return null;
    float[] correct = new float[pairs.size()];
    float[] incorrect = new float[pairs.size()];
    double lossSum = 0;
    for (int from = 0; from < pairs.size(); from += c.evalBatchSize) {
      List<VerifierMix.Pair> batch = pairs.subList(from, Math.min(pairs.size(), from + c.evalBatchSize));
      try (NDManager sm = model.manager().newSubManager()) {
        Scored s = score(model, batch, false, sm);
        System.arraycopy(s.correct(), 0, correct, from, batch.size());
        System.arraycopy(s.incorrect(), 0, incorrect, from, batch.size());
        lossSum += s.loss().getFloat() * batch.size();
      }
    }
    return RewardMetrics.of(correct, incorrect, lossSum / pairs.size());
  }

  private record Scored(float[] correct, float[] incorrect, NDArray loss) {}

  private Scored score(LlamaModel model, List<VerifierMix.Pair> batch, boolean withGradients, NDManager sm) {
    int b = batch.size();
    List<TokenSequence> seqs = new ArrayList<>(2 * b);
    for (VerifierMix.Pair p : batch) seqs.add(TokenSequence.encode(tok, p.prompt(), p.correct(), true));
    for (VerifierMix.Pair p : batch) seqs.add(TokenSequence.encode(tok, p.prompt(), p.incorrect(), true));
    NDArray scores = SequenceLogProbs.lastTokenScores(model, PackedBatch.pack(seqs, model.config().padTokenId()),
        withGradients, sm);
    NDArray v1 = scores.get(new NDIndex("0:" + b));
    NDArray v2 = scores.get(new NDIndex(b + ":" + (2 * b)));
    float[] ones = new float[b];
    Arrays.fill(ones, 1f);
    NDArray loss = BradleyTerryLoss.signedWithScorePenalty(v1, v2, sm.create(ones), lambda);
    return new Scored(v1.toFloatArray(), v2.toFloatArray(), loss);
  }
}
