package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.reward.rules.RewardRules;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/**
 * Greedy accuracy on a fixed set of prompts, graded like eval and the {@code correct_answer} reward
 * ({@link RewardRules#finalAnswer}, {@link RewardRules#sameAnswer}): the validation-accuracy curves of SFT and
 * GRPO.
 */
final class AccuracyProbe {
  private final TextTokenizer tok;
  private final List<PromptRef> prompts = new ArrayList<>();
  private final List<String> answers = new ArrayList<>();
  private final int maxNewTokens;

  private AccuracyProbe(TextTokenizer tok, int maxNewTokens) {
    this.tok = tok;
    this.maxNewTokens = maxNewTokens;
  }

  /** Probe on (prompt, reference completion) pairs; the answer is the reference's final answer. */
  static AccuracyProbe ofReferences(TextTokenizer tok, List<String[]> promptAndReference) {
    int longest = 0;
    List<String[]> withAnswers = new ArrayList<>();
    for (String[] pr : promptAndReference) {
      withAnswers.add(new String[] {pr[0], RewardRules.finalAnswer(pr[1])});
      longest = Math.max(longest, tok.encode(pr[1]).length);
    }
    return ofAnswers(tok, withAnswers, longest + 16);
  }

  /** Probe on (prompt, answer) pairs; rows without an answer are left out. */
  static AccuracyProbe ofAnswers(TextTokenizer tok, List<String[]> promptAndAnswer, int maxNewTokens) {
    AccuracyProbe p = new AccuracyProbe(tok, maxNewTokens);
    for (String[] pa : promptAndAnswer) {
      if (pa[1] == null || pa[1].isBlank()) continue;
      p.prompts.add(PromptRef.of("p" + p.prompts.size(), pa[0]));
      p.answers.add(pa[1].strip());
    }
    return p;
  }

  /** Number of prompts probed. */
  int size() {
    return prompts.size();
  }

  double greedyAccuracy(LlamaModel model) {
    if (prompts.isEmpty()) return Double.NaN;
    List<Completion> out = GenerationEngine.generate(model, tok, prompts, SamplingParams.greedy(maxNewTokens), 64);
    int correct = 0;
    for (int i = 0; i < out.size(); i++) {
      String got = RewardRules.finalAnswer(out.get(i).text());
      if (got != null && RewardRules.sameAnswer(got, answers.get(i))) correct++;
    }
    return correct / (double) out.size();
  }
}
