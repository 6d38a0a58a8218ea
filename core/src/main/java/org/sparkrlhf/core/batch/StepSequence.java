package org.sparkrlhf.core.batch;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

/**
 * A solution as a process reward model sees it: {@code [bos] + prompt + step₁ + "\n" + step₂ + "\n" + …}, and the
 * position of each step's last token, the newline, where the model's step score is read and its step label sits
 * (as TRL's {@code PRMTrainer} puts a label on each step's separator and ignores every other position).
 *
 * <p>Each step is tokenized on its own with its separator, so a step ends on a token boundary whatever the
 * tokenizer (a merge across the newline would leave no token to read); the prompt is tokenized as
 * {@link TokenSequence#promptIds} does. A step score depends only on the tokens up to its end (the decoder is
 * causal), so what follows the last step, the final answer line, changes none of them and is left out.
 *
 * @param sequence the tokens, scored from the first step on
 * @param stepEnds for each step, the index in {@code sequence.ids()} of its last token
 */
public record StepSequence(TokenSequence sequence, int[] stepEnds) {
  /** What ends a step line. */
  public static final String SEPARATOR = "\n";

  /**
   * The steps of a completion: its lines but the last non-empty one, which is the final answer ({@code #### N} in the
   * built-in task) and graded as an outcome, not as a step; trailing empty lines are dropped first. So
   * {@code "=33-5\n=28\n#### 28"} and {@code "=33-5\n=28\n#### 28\n"} both have the steps {@code =33-5} and
   * {@code =28}, as a {@code step_labels} row of the same solution does, and a one-line completion has none.
   */
  public static List<String> steps(String completion) {
    List<String> lines = new ArrayList<>(List.of(completion.split(SEPARATOR, -1)));
    while (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
      lines.remove(lines.size() - 1);
    }
    return lines.isEmpty() ? List.of() : List.copyOf(lines.subList(0, lines.size() - 1));
  }

  /** {@code [bos] + prompt} then each step with its separator, and where each step ends. */
  public static StepSequence encode(TextTokenizer tok, String prompt, List<String> steps) {
    int[] promptIds = TokenSequence.promptIds(tok, prompt);
    List<int[]> parts = new ArrayList<>(steps.size());
    int total = promptIds.length;
    for (String step : steps) {
      int[] ids = tok.encode(step + SEPARATOR);
      if (ids.length == 0) {
        throw new IllegalArgumentException("step '" + step + "' encodes to no tokens");
      }
      parts.add(ids);
      total += ids.length;
    }
    int[] ids = java.util.Arrays.copyOf(promptIds, total);
    int[] ends = new int[steps.size()];
    int at = promptIds.length;
    for (int k = 0; k < parts.size(); k++) {
      System.arraycopy(parts.get(k), 0, ids, at, parts.get(k).length);
      at += parts.get(k).length;
      ends[k] = at - 1;
    }
    return new StepSequence(new TokenSequence(ids, promptIds.length), ends);
  }

  /** Number of steps. */
  public int steps() {
    return stepEnds.length;
  }
}
