package org.sparkrlhf.jobs.stages;

/** Settings of the {@code bench} stage (config section {@code bench}); {@code bin/rlhf bench rollouts} sets {@code what}. */
public class BenchConfig {
  /** What to measure; only {@code rollouts} so far. Default {@code rollouts}. */
  public String what = "rollouts";
  /** Prompts per measurement. Default 16. */
  public int prompts = 16;
  /** New tokens per row for the KV-cache comparison and the MFU (eos is never sampled there). Default 128. */
  public int newTokens = 128;
  /** Rows per forward pass. Default 16. */
  public int batchSize = 16;
  /** Samples per prompt in the Spark vs in-process comparison. Default 4. */
  public int numSamples = 4;
  /** Longest completion in the Spark vs in-process comparison (random weights stop at eos early or not). Default 64. */
  public int sparkNewTokens = 64;
  /** Timed repetitions of each measurement; the best is kept. Default 2. */
  public int repeats = 2;
  /** Torch intra-op threads per generating thread (driver and tasks). Default 1. */
  public int threads = 1;
  /** Seed of the random weights and the samples. Default 1234. */
  public long seed = 1234;
  /**
   * SFT optimizer steps timed for the training tokens/s and MFU (after as many untimed warm-up steps), on
   * {@code sft.batch_size} rows of {@code train_seq_len} tokens. Default 20.
   */
  public int trainSteps = 20;
  /** Tokens per training row: 31 is the quickstart's mean demonstration (bos, problem, worked answer, eos). */
  public int trainSeqLen = 31;
  /**
   * Also run the peer: the same model (its random weights exported as a Hugging Face checkpoint), prompts, batch
   * sizes, torch threads and new tokens in PyTorch eager through transformers, measured alternately with the
   * project's generation and SFT steps. Needs {@code peer_python} and {@code peer_script}; tools/bench/peer.sh sets
   * all three. Default false.
   */
  public boolean peer = false;
  /** Python of the venv of tools/hf-reference/requirements.txt (official torch and transformers). */
  public String peerPython = "";
  /** Path of tools/bench/peer_bench.py. */
  public String peerScript = "";
}
