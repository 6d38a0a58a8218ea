package org.sparkrlhf.dpo.pairs;

/** Settings of the {@code pairs} stage (config section {@code pairs}); serializable: the executors' pairing reads it. */
public class PairsConfig implements java.io.Serializable {
  private static final long serialVersionUID = 1L;

  /** Run whose rollouts are paired; empty = this run. Default empty. */
  public String sourceRun = "";
  /** Stage that wrote those rollouts (the {@code stage} column of {@code rollouts}). Default {@code rollouts}. */
  public String sourceStage = "rollouts";
  /** Iteration of those rollouts. Default 0 (a one-shot rollouts stage). */
  public int iteration = 0;
  /** Only rollouts of this dataset; empty = every dataset in those rollouts. Default empty. */
  public String dataset = "";
  /**
   * Dataset name the pairs are written under in {@code preferences}; empty = {@code <dataset>-pairs-<source run>}
   * (e.g. {@code arith-pairs-r1}). Default empty.
   */
  public String outputDataset = "";
  /** At most this many pairs per prompt, chosen at random (seeded) among the eligible ones. Default 4. */
  public int maxPairsPerPrompt = 4;
  /**
   * A pair needs {@code chosen_reward - rejected_reward > min_margin}; 0 pairs any strictly better with any strictly
   * worse completion (ties are never paired). Default 0.
   */
  public double minMargin = 0.0;
  /**
   * Which eligible pairs are kept: {@code random} (a seeded shuffle) or {@code likely} — hard negatives: the
   * rejected completions the sampling policy found most likely (highest summed token log-prob) first, each with
   * the most likely chosen one, so the pairs push down the mistakes the model actually makes rather than rare
   * slips. Default {@code random}.
   */
  public String selection = "random";
  /**
   * Step-DPO (Lai et al. 2024): cut each rejected completion just after its first invalid step line (the task
   * checker's line validity), so the loss pushes down the step that went wrong, not the correctly carried-out
   * steps after it, which the chosen completions need too. Rows whose prompt the checker cannot read keep the
   * whole completion. Default false.
   */
  public boolean truncateRejected = false;
  /**
   * Only prompts the policy mostly fails: at most this fraction of a prompt's ranked samples may reach the
   * group's best reward. 1 keeps every prompt; 0.5 keeps those where the best answer is the minority, whose
   * rejected completions are the model's systematic mistakes rather than rare slips. Default 1.0.
   */
  public double maxPassRate = 1.0;
  /** Seed of the choice among eligible pairs. Default 1234. */
  public long seed = 1234;

  /** What is wrong with these settings, one line each naming the key; empty when fine. */
  public java.util.List<String> problems() {
    java.util.List<String> p = new java.util.ArrayList<>();
    if (maxPairsPerPrompt < 1) p.add("pairs.max_pairs_per_prompt must be positive");
    if (minMargin < 0) p.add("pairs.min_margin must be >= 0");
    if (!(maxPassRate > 0 && maxPassRate <= 1)) p.add("pairs.max_pass_rate must be in (0, 1]");
    if (!selection.equals("random") && !selection.equals("likely")) {
      p.add("pairs.selection must be random or likely, got '" + selection + "'");
    }
    return p;
  }
}
