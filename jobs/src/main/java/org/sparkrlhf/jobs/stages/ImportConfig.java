package org.sparkrlhf.jobs.stages;

/** Settings of the {@code import} stage (config section {@code import}). */
public class ImportConfig {
  /** A JSONL or Parquet file, or a folder of them (local or Hadoop path). Required; flag --path. */
  public String path = "";
  /** Dataset name the rows are written under. Default {@code imported}. */
  public String dataset = "imported";
  /** Split the rows belong to. Default {@code train}. */
  public String split = "train";
  /** {@code jsonl}, {@code parquet} or {@code auto} (by file extension). Default auto. */
  public String format = "auto";
  /**
   * {@code sft} (prompt, completion), {@code preference} (prompt, chosen, rejected), {@code step}
   * (prompt, completions[], labels[]), {@code prompt} (prompt, answer), or {@code auto}: per file,
   * from the fields of its first JSON object. Default auto.
   */
  public String kind = "auto";
  /**
   * A tokenizer.json (or a folder holding one, e.g. a checkpoint) whose chat template renders conversational rows:
   * TRL's {@code {"messages": [{role, content}, ...]}} (one sft_demos row per assistant reply, the loss on that
   * reply only) and {@code {"prompt": [...], "chosen": [...], "rejected": [...]}} as message lists (preferences:
   * the prompt rendered with the generation prompt, chosen and rejected the rest) and {@code {"prompt": [...],
   * "answer": ...}} (prompts: the messages rendered with the generation prompt, for rollouts, grpo and eval).
   * Empty (default): such rows are quarantined.
   */
  public String tokenizer = "";
  /** Longest text field accepted, in characters; longer rows are quarantined. Default 8192. */
  public int maxChars = 8192;
}
