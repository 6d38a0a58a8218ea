package org.sparkrlhf.grpo.rl;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.reward.rules.RewardResult;
import org.sparkrlhf.reward.rules.RewardSpec;

/**
 * A learned reward in the RL loop: a reward model (a checkpoint with the scalar head) scores each sample, and its
 * score times {@code weight} is added to the rules' total, the raw score kept as the part {@value RewardSpec#MODEL}.
 * A sample is scored as the reward model was trained: the head at the last token of {@code [bos] prompt completion
 * [eos]} ({@link TokenSequence#encode}). The rollout sources apply it where they score: {@link SparkRollouts} on the
 * executors (the model broadcast once), {@link InProcessRollouts} in process.
 *
 * @param checkpoint where the model came from (for provenance)
 */
public record RewardModel(LlamaModel model, TextTokenizer tokenizer, double weight, String checkpoint) {
  public RewardModel {
    if (!model.hasScoreHead()) throw new IllegalArgumentException("reward model " + checkpoint + " has no score head");
  }

  /** The model as a checkpoint blob, for a broadcast. */
  byte[] blob() {
    return HfCheckpoint.toBytes(model, tokenizer.toTokenizerJson(), Map.of("source", checkpoint));
  }

  /** The scores of (prompt, completion text) pairs in process, {@code batchSize} per forward pass. */
  public double[] score(List<String> prompts, List<String> completions, int batchSize) {
    double[] out = new double[prompts.size()];
    for (int from = 0; from < out.length; from += batchSize) {
      int to = Math.min(out.length, from + batchSize);
      List<TokenSequence> seqs = new ArrayList<>(to - from);
      for (int i = from; i < to; i++) seqs.add(TokenSequence.encode(tokenizer, prompts.get(i), completions.get(i), true));
      try (var sm = model.manager().newSubManager()) {
        float[] s = SequenceLogProbs.lastTokenScores(model, PackedBatch.pack(seqs, model.config().padTokenId()), false,
            sm).toFloatArray();
        for (int i = from; i < to; i++) out[i] = s[i - from];
      }
    }
    return out;
  }

  /** The rules' result with the model's score added: total + weight · score, part {@value RewardSpec#MODEL} = score. */
  RewardResult combine(RewardResult rules, double score) {
    Map<String, Double> parts = new LinkedHashMap<>(rules.parts());
    parts.put(RewardSpec.MODEL, score);
    return new RewardResult(rules.total() + weight * score, parts);
  }
}
