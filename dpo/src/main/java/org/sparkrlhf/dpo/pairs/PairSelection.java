package org.sparkrlhf.dpo.pairs;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.sparkrlhf.core.task.Checker;

/**
 * Preference pairs from one prompt's ranked samples: a higher-rewarded completion (chosen) against a lower-rewarded
 * one (rejected). Equal rewards are never paired, nor two identical texts. Prompts where more than
 * {@code max_pass_rate} of the samples reach the best reward give no pairs (hard prompts only). Of the eligible
 * pairs at most {@code max_pairs_per_prompt} are kept, by a seeded shuffle or, with {@code selection = likely},
 * most likely rejected completion first (hard negatives); with {@code truncate_rejected} the rejected text is cut
 * after its first invalid step line (Step-DPO). A pure function of its inputs: the same pairs on every executor.
 */
public final class PairSelection {
  private PairSelection() {}

  /**
   * One ranked sample.
   *
   * @param index its sample index in the group (pairs are named by the two indices)
   * @param text the completion
   * @param reward the reward it is ranked by
   * @param logprob its summed token log-prob under the sampling policy (for {@code selection = likely})
   */
  public record Sample(int index, String text, double reward, double logprob) {}

  /** A chosen/rejected pair; {@code rejectedText} is the (possibly cut) text to train on. */
  public record Pair(Sample chosen, Sample rejected, String rejectedText) {
    public double margin() {
      return chosen.reward() - rejected.reward();
    }
  }

  /**
   * The pairs of one prompt.
   *
   * @param prompt the prompt (read by the step checker when rejected completions are cut)
   * @param samples the prompt's ranked samples, in any order
   * @param c the settings
   * @param groupKey names the prompt (e.g. {@code dataset/prompt_id}); seeds the shuffle with {@code c.seed}
   */
  public static List<Pair> select(String prompt, List<Sample> samples, PairsConfig c, String groupKey) {
    List<Sample> sorted = new ArrayList<>(samples);
    sorted.sort(Comparator.comparingInt(Sample::index)); // the input order is not deterministic (collect_list)
    double best = sorted.stream().mapToDouble(Sample::reward).max().orElse(0);
    long atBest = sorted.stream().filter(x -> x.reward() == best).count();
    if (atBest > c.maxPassRate * sorted.size()) return List.of();
    List<Sample[]> eligible = new ArrayList<>();
    for (Sample a : sorted) {
      for (Sample b : sorted) {
        if (a.reward() - b.reward() > c.minMargin && a.reward() > b.reward() && !a.text().equals(b.text())) {
          eligible.add(new Sample[] {a, b});
        }
      }
    }
    // String.hashCode is specified, so the choice is the same on every executor and run.
    Collections.shuffle(eligible, new Random(c.seed * 31 + groupKey.hashCode()));
    if (c.selection.equals("likely")) {
      // stable sort: equal log-probs keep the seeded order
      eligible.sort(Comparator.<Sample[]>comparingDouble(p -> -p[1].logprob())
          .thenComparingDouble(p -> -p[0].logprob()));
    }
    List<Pair> out = new ArrayList<>();
    for (Sample[] p : eligible.subList(0, Math.min(c.maxPairsPerPrompt, eligible.size()))) {
      String rejected = p[1].text();
      if (c.truncateRejected) {
        String cut = Checker.throughFirstInvalidLine(prompt, rejected);
        if (cut != null) rejected = cut;
      }
      out.add(new Pair(p[0], p[1], rejected));
    }
    return out;
  }
}
