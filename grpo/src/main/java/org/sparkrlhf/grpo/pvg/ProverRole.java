package org.sparkrlhf.grpo.pvg;

import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardResult;
import org.sparkrlhf.rollouts.engine.Completion;

/**
 * The prover's role, given in its prompt: one line before the task's prompt, written in the task's own alphabet
 * (the character tokenizer has no letters), {@code ?+} for the helpful role, which is rewarded for correct and
 * convincing solutions, and {@code ?-} for the sneaky role, rewarded for incorrect but convincing ones. The role line
 * is the only difference between the two prompts of a problem; the verifier and the checker read the prompt without
 * it ({@link #base}).
 */
public enum ProverRole {
  HELPFUL("?+\n"),
  SNEAKY("?-\n");

  private final String line;

  ProverRole(String line) {
    this.line = line;
  }

  /** The role line, newline included. */
  public String line() {
    return line;
  }

  /** The config name of the role: {@code helpful} or {@code sneaky}. */
  public String configName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** The prover's prompt for {@code base} (a task prompt) in this role: the role line, then {@code base}. */
  public String prompt(String base) {
    return line + base;
  }

  /** The role whose line starts {@code prompt}, or null when none does. */
  public static ProverRole of(String prompt) {
    for (ProverRole r : values()) if (prompt != null && prompt.startsWith(r.line)) return r;
    return null;
  }

  /** The role by its config name ({@code helpful}, {@code sneaky}); one-line error for another. */
  public static ProverRole byName(String name) {
    for (ProverRole r : values()) if (r.configName().equals(name)) return r;
    throw new IllegalArgumentException("unknown prover role '" + name + "' (known: helpful, sneaky)");
  }

  /** {@code prompt} without its role line (unchanged when it has none). */
  public static String base(String prompt) {
    ProverRole r = of(prompt);
    return r == null ? prompt : prompt.substring(r.line.length());
  }

  /**
   * {@code inner} applied to the prompt without its role line: the checker's grade of a solution does not depend on
   * the role it was written under.
   */
  public static Rewarder roleless(Rewarder inner) {
    return new Roleless(inner);
  }

  private record Roleless(Rewarder inner) implements Rewarder {
    @Override
    public RewardResult score(String prompt, String answer, Completion completion) {
      return inner.score(base(prompt), answer, completion);
    }

    @Override
    public double[] stepRewards(String prompt, String answer, Completion completion) {
      return inner.stepRewards(base(prompt), answer, completion);
    }
  }
}
