package org.sparkrlhf.jobs.stages;

/** Settings of the {@code eval} stage (config section {@code eval}). */
public class EvalConfig {
  /** Checkpoint folder to evaluate; empty = the newest checkpoint of stage {@link #model} in this run. Flag --checkpoint. */
  public String checkpoint = "";
  /** Stage whose newest policy checkpoint (in this run) is evaluated when no checkpoint is given. Default {@code sft}. */
  public String model = "sft";
  /** Dataset in prompts to evaluate on. Default {@code arith}. */
  public String dataset = "arith";
  /** Split of that dataset. Default {@code test}. Flag --split. */
  public String split = "test";
  /** A JSONL of {prompt, answer} to evaluate on instead of a split. Flag --prompts. */
  public String prompts = "";
  /** Evaluate at most this many problems (0 = all), taken in id order. Default 0. */
  public int limit = 0;
  /** Longest completion in tokens. Default 160. */
  public int maxNewTokens = 160;
  /** Rows per forward pass. Default 64. */
  public int batchSize = 64;
  /** Samples per problem for pass@k and maj@k; 0 = greedy only. Default 8. */
  public int k = 8;
  /** Sampling temperature for pass@k / maj@k. Default 1.0. */
  public double temperature = 1.0;
  /** Problems (first in id order) that get k samples; 0 = all. Default 0. */
  public int sampledProblems = 0;
  /** Seed of the samples. Default 1234. */
  public long seed = 1234;
  /**
   * Evaluation to compare against problem by problem (paired difference and its standard error, in the report and
   * {@code metrics}): a stage of this run ({@code eval-sft-test}) or a {@code completions.jsonl} path. {@code auto}:
   * run as {@code eval-<model>-<split>} with a model other than {@code sft}, the run's {@code eval-sft-<split>}
   * when it exists. Empty = none. Default {@code auto}.
   */
  public String baseline = "auto";
  /**
   * Text appended to every prompt the model generates from (the completion is still graded against the prompt
   * alone); empty = the {@code prompt_suffix} the checkpoint's provenance names, if any: a Chain of Hindsight policy
   * is evaluated under its positive feedback without being told. Default empty.
   */
  public String promptSuffix = "";
  /** Torch intra-op threads on the driver; 0 = all cores. Default 0. */
  public int threads = 0;
}
