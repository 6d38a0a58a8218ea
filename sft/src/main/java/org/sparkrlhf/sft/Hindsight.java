package org.sparkrlhf.sft;

/**
 * Chain of Hindsight (Liu et al. 2023, "Chain of Hindsight Aligns Language Models with Feedback"): a model fine-tuned
 * on its own outputs, each placed after the feedback it earned, learns what the feedback means; asked with the
 * positive feedback, it writes what earns it. A training row is {@code prompt + feedback} as the prompt and the
 * completion as the target, so the loss falls on the completion only (the SFT convention); at evaluation the
 * prompt is {@code prompt + positive}.
 *
 * @param positive the feedback before a correct completion, e.g. {@code "#+\n"}
 * @param negative the feedback before an incorrect one, e.g. {@code "#-\n"}
 */
public record Hindsight(String positive, String negative) {
  public Hindsight {
    if (positive == null || negative == null || positive.isEmpty() || positive.equals(negative)) {
      throw new IllegalArgumentException("hindsight feedback must be two different non-empty texts");
    }
  }

  /** The prompt a completion is trained after: the prompt, then the feedback its grade earned. */
  public String trainingPrompt(String prompt, boolean correct) {
    return prompt + (correct ? positive : negative);
  }

  /** The prompt the model is asked at evaluation: the prompt, then the positive feedback. */
  public String evaluationPrompt(String prompt) {
    return prompt + positive;
  }
}
