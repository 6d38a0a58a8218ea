package org.sparkrlhf.reward.rules;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The vote of many samples of one prompt over their final answers, as self-training reads it (Huang et al. 2022,
 * "Large Language Models Can Self-Improve"): the most frequent answer, how many samples carry it, and of how many. No
 * reference answer is involved. Answers vote as the text {@link RewardRules#finalAnswer} reads, as
 * {@link OutcomeGrading#majorityIndex} counts them; a sample without a final answer votes for nothing but still counts
 * in the total, so a prompt whose samples mostly fail to answer is not a confident one.
 *
 * @param answer the winning answer, null when no sample has one
 * @param votes the samples that carry it
 * @param samples all samples
 * @param tied another answer has as many votes (no majority to trust)
 */
public record MajorityVote(String answer, int votes, int samples, boolean tied) {

  /** The vote of {@code samples}. */
  public static MajorityVote of(List<String> samples) {
    Map<String, Integer> votes = new LinkedHashMap<>();
    for (String s : samples) {
      String a = RewardRules.finalAnswer(s);
      if (a != null && !a.isEmpty()) votes.merge(a, 1, Integer::sum);
    }
    String best = null;
    int bestVotes = 0;
    boolean tied = false;
    for (Map.Entry<String, Integer> e : votes.entrySet()) {
      if (e.getValue() > bestVotes) {
        best = e.getKey();
        bestVotes = e.getValue();
        tied = false;
      } else if (e.getValue() == bestVotes) {
        tied = true;
      }
    }
    return new MajorityVote(best, bestVotes, samples.size(), tied);
  }

  /** The winning answer's share of all samples; 0 for no samples. */
  public double share() {
    return samples == 0 ? 0 : (double) votes / samples;
  }

  /** A winner, no tie, and a share strictly above {@code threshold}. */
  public boolean confident(double threshold) {
    return answer != null && !tied && share() > threshold;
  }

  /** The indices of the samples whose final answer is the winning one (none without a winner). */
  public List<Integer> agreeing(List<String> samples) {
    List<Integer> out = new ArrayList<>();
    if (answer == null) return out;
    for (int i = 0; i < samples.size(); i++) {
      if (answer.equals(RewardRules.finalAnswer(samples.get(i)))) out.add(i);
    }
    return out;
  }
}
