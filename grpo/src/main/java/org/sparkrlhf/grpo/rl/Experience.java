package org.sparkrlhf.grpo.rl;

import java.util.List;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.reward.rules.RewardResult;
import org.sparkrlhf.rollouts.engine.Completion;

/**
 * One iteration's scored samples as the update sees them (index i is sample i throughout; sample i belongs to group
 * {@code i / groupSize}, the group of prompt {@code prompts.get(i / groupSize)}): what an algorithm's advantages are
 * computed from.
 *
 * @param prompts the prompt of each group
 * @param samples each sample with its reward (and step rewards when the algorithm asked for them)
 * @param sequences each sample as the policy saw it: prompt ids + sampled ids (eos included when sampled)
 * @param train the samples the update uses, in sample order
 * @param refLogProbs the frozen reference's log-prob of each completion token of the {@code train} samples (null rows
 *     for the others); null when the loop has no reference
 */
public record Experience(List<RlPrompt> prompts, int groupSize, List<RolloutSource.Scored> samples,
    List<TokenSequence> sequences, int[] train, float[][] refLogProbs) {

  /** The number of samples. */
  public int size() {
    return samples.size();
  }

  public RlPrompt promptOf(int i) {
    return prompts.get(i / groupSize);
  }

  public Completion completion(int i) {
    return samples.get(i).completion();
  }

  public RewardResult reward(int i) {
    return samples.get(i).reward();
  }

  /** The outcome reward of each sample. */
  public double[] rewards() {
    double[] r = new double[size()];
    for (int i = 0; i < r.length; i++) r[i] = reward(i).total();
    return r;
  }

  /** The group of each sample. */
  public int[] groupIds() {
    int[] g = new int[size()];
    for (int i = 0; i < g.length; i++) g[i] = i / groupSize;
    return g;
  }

  /** The completion length of each sample, in tokens: an algorithm gives that many advantages for it. */
  public int[] lengths() {
    int[] n = new int[size()];
    for (int i = 0; i < n.length; i++) n[i] = completion(i).length();
    return n;
  }
}
