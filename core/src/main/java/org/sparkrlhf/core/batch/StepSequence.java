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
 * causal), so what follows the last step, such as the final answer line, changes none of them and is left out.
 *
 * @param sequence the tokens, scored from the first step on
 * @param stepEnds for each step, the index in {@code sequence.ids()} of its last token
 */
public record StepSequence(TokenSequence sequence, int[] stepEnds) {
  /** What ends a step: a completion's steps are its lines that end with it. */
  public static final String SEPARATOR = "\n";

  /**
   * The steps of a completion: each line that ends with a newline, without it. A last line with no newline after it
   * (the final answer {@code #### N} of the built-in task) is not a step, and a completion with no newline has none.
   */
  public static List<String> steps(String completion) {
    List<String> steps = new ArrayList<>();
    int from = 0;
    for (int nl = completion.indexOf(SEPARATOR, from); nl >= 0; nl = completion.indexOf(SEPARATOR, from)) {
      steps.add(completion.substring(from, nl));
      from = nl + SEPARATOR.length();
    }
    return steps;
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
