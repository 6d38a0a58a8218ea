package org.sparkrlhf.reward.process;

import org.sparkrlhf.core.batch.StepSequence;

/**
 * One solution a process reward model trains or is evaluated on: its tokens, where its steps end, and one label per
 * step in [0, 1] (1 = the step is correct; a soft label is the probability that it is).
 *
 * @param id the {@code step_labels} row id
 */
public record StepExample(String id, StepSequence sequence, float[] labels) {
  public StepExample {
    if (labels.length != sequence.steps()) {
      throw new IllegalArgumentException(id + ": " + labels.length + " labels for " + sequence.steps() + " steps");
    }
    if (labels.length == 0) throw new IllegalArgumentException(id + ": a solution with no step has nothing to learn");
    for (float y : labels) {
      if (!(y >= 0 && y <= 1)) throw new IllegalArgumentException(id + ": step label " + y + " outside [0, 1]");
    }
  }
}
