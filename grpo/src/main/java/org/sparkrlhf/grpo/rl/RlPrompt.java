package org.sparkrlhf.grpo.rl;

import java.io.Serializable;
import java.util.Objects;

/**
 * A training prompt.
 *
 * @param id stable prompt id (the {@code prompts} table's id): part of each sample's seed
 * @param prompt prompt text, without special tokens
 * @param answer reference final answer, or null
 */
public record RlPrompt(String id, String prompt, String answer) implements Serializable {
  public RlPrompt {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(prompt, "prompt");
  }
}
