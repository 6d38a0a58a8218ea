package org.sparkrlhf.grpo.rl;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/** Generates on the calling thread with {@link GenerationEngine} (KV cache, batched); scores there too. */
public final class InProcessRollouts implements RolloutSource {
  private final TextTokenizer tokenizer;
  private final int batchSize;
  private final RewardModel rewardModel;

  public InProcessRollouts(TextTokenizer tokenizer, int batchSize) {
    this(tokenizer, batchSize, null);
  }

  /** @param rewardModel a learned reward added to the rules' (null for rules only) */
  public InProcessRollouts(TextTokenizer tokenizer, int batchSize, RewardModel rewardModel) {
    this.tokenizer = tokenizer;
    this.batchSize = batchSize;
    this.rewardModel = rewardModel;
  }

  @Override
  public List<Scored> sampleAndScore(LlamaModel policy, long policyVersion, List<RlPrompt> prompts, int groupSize,
      SamplingParams params, Rewarder rewarder, boolean stepRewards) {
    List<Scored> byRules = RolloutSource.super.sampleAndScore(policy, policyVersion, prompts, groupSize, params,
        rewarder, stepRewards);
    if (rewardModel == null) return byRules;
    List<String> texts = new ArrayList<>(byRules.size());
    List<String> completions = new ArrayList<>(byRules.size());
    for (int i = 0; i < byRules.size(); i++) {
      texts.add(prompts.get(i / groupSize).prompt());
      completions.add(byRules.get(i).completion().text());
    }
    double[] scores = rewardModel.score(texts, completions, batchSize);
    List<Scored> out = new ArrayList<>(byRules.size());
    for (int i = 0; i < byRules.size(); i++) {
      Scored s = byRules.get(i);
      out.add(new Scored(s.completion(), rewardModel.combine(s.reward(), scores[i]), s.stepRewards(), s.executorId()));
    }
    return out;
  }

  @Override
  public List<Completion> generate(LlamaModel policy, long policyVersion, List<PromptRef> requests,
      SamplingParams params) {
    return GenerationEngine.generate(policy, tokenizer, requests, params, batchSize);
  }
}
