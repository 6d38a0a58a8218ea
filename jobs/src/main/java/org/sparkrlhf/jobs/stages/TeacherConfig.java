package org.sparkrlhf.jobs.stages;

/**
 * The demonstrator that writes the training split's worked solutions (config section {@code data.teacher}).
 * The defaults are a perfect teacher. With {@code pair_share > 0} it is a {@link org.sparkrlhf.core.task.FlawedTeacher}:
 * it gets a seeded share of the small reductions wrong, on a share of their occurrences. Only {@code train}
 * demonstrations come from it; {@code valid}, {@code test} and {@code test_ood} keep the true solutions, and the
 * checker, the rewards and every evaluation grade against the truth.
 */
public class TeacherConfig {
  /** Operators whose reductions the teacher can get wrong, a subset of {@code +-*}. Default {@code *}. */
  public String operators = "*";
  /** Largest operand (both sides) of a reduction the teacher can get wrong. Default 9 (single-digit products). */
  public int maxOperand = 9;
  /**
   * Share of those reductions the teacher gets wrong, in [0, 1] (of the 100 single-digit products, 0.28 is 28).
   * Default 0: a perfect teacher.
   */
  public double pairShare = 0.0;
  /** Probability that the teacher writes the wrong value on an occurrence of a flawed reduction, in [0, 1]. Default 0.7. */
  public double errorRate = 0.7;
  /** Largest distance of a wrong value from the right one. Default 2. */
  public int maxOffset = 2;
  /**
   * {@code fixed}: one wrong value per flawed reduction, every time (a misconception); {@code random}: a fresh
   * wrong value each time (a slip). Default {@code fixed}.
   */
  public String mistake = "fixed";
  /** Seed of which reductions are flawed, their wrong values and each occurrence's draw. Default 1234. */
  public long seed = 1234;
}
