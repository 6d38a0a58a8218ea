package org.sparkrlhf.jobs.stages;

/** Settings of the {@code data} stage (config section {@code data}): the built-in arithmetic task. */
public class DataConfig {
  /** Dataset name the rows are written under. Default {@code arith}. */
  public String dataset = "arith";
  /** Seed of every split's generator: the same seed gives the same problems. Default 1234. */
  public long seed = 1234;
  /** Fewest operators per training expression. Default 1. */
  public int minOps = 1;
  /** Most operators per training expression. Default 3. */
  public int maxOps = 3;
  /** Smallest operand. Default 0. */
  public int operandMin = 0;
  /** Largest operand. Default 9. */
  public int operandMax = 9;
  /** Operators used, a subset of {@code +-*}. Default {@code +-*}. */
  public String operators = "+-*";
  /** test_ood has this many more operators than the most in training. Default 1. */
  public int oodExtraOps = 1;
  /** Problems in train (each with a worked solution in sft_demos). Default 20000. */
  public int trainSize = 20000;
  /** Problems in valid. Default 500. */
  public int validSize = 500;
  /** Problems in test. Default 1000. */
  public int testSize = 1000;
  /** Problems in test_ood. Default 500. */
  public int testOodSize = 500;
  /** Train problems that also get step-labelled solutions in step_labels. Default 2000. */
  public int stepLabelProblems = 2000;
  /** Corrupted solutions per step-labelled problem (besides its correct one). Default 1. */
  public int corruptionsPerProblem = 1;
  /** The demonstrator of the train split's sft_demos (a perfect one by default); see {@link TeacherConfig}. */
  public TeacherConfig teacher = new TeacherConfig();
}
