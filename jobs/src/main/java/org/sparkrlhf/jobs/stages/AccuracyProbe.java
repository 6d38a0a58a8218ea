package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.task.Checker;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/**
 * Greedy accuracy on a fixed set of (prompt, reference completion) pairs, graded by the task's checker
 * against the reference's final answer: the validation-accuracy curve of SFT.
 */
final class AccuracyProbe {
  private final TextTokenizer tok;
  private final List<PromptRef> prompts = new ArrayList<>();
  private final List<Long> answers = new ArrayList<>();
  private final int maxNewTokens;

  AccuracyProbe(TextTokenizer tok, List<String[]> promptAndReference) {
    this.tok = tok;
    int longest = 0;
    for (String[] pr : promptAndReference) {
      Long answer = Checker.predictedAnswer(pr[1]);
      if (answer == null) continue;
      prompts.add(PromptRef.of("p" + prompts.size(), pr[0]));
      answers.add(answer);
      longest = Math.max(longest, tok.encode(pr[1]).length);
    }
    this.maxNewTokens = longest + 16;
  }

  double greedyAccuracy(LlamaModel model) {
    if (prompts.isEmpty()) return Double.NaN;
    List<Completion> out = GenerationEngine.generate(model, tok, prompts, SamplingParams.greedy(maxNewTokens), 64);
    int correct = 0;
    for (int i = 0; i < out.size(); i++) {
      Long got = Checker.predictedAnswer(out.get(i).text());
      if (got != null && got.equals(answers.get(i))) correct++;
    }
    return correct / (double) out.size();
  }
}
