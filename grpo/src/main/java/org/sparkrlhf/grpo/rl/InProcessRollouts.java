package org.sparkrlhf.grpo.rl;

import java.util.List;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/** Generates on the calling thread with {@link GenerationEngine} (KV cache, batched). */
public final class InProcessRollouts implements RolloutSource {
  private final TextTokenizer tokenizer;
  private final int batchSize;

  public InProcessRollouts(TextTokenizer tokenizer, int batchSize) {
    this.tokenizer = tokenizer;
    this.batchSize = batchSize;
  }

  @Override
  public List<Completion> generate(LlamaModel policy, long policyVersion, List<PromptRef> requests,
      SamplingParams params) {
    return GenerationEngine.generate(policy, tokenizer, requests, params, batchSize);
  }
}
