package org.sparkrlhf.grpo.train;

import java.util.List;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/**
 * Where the trainer's samples come from: in process ({@link InProcessRollouts}) or fanned out over Spark
 * executors (which broadcast {@code policy} once per {@code policyVersion}). Implementations must be
 * deterministic per (params.seed, promptId, sampleIndex), as {@code GenerationEngine} is, so that a resumed run
 * sees the same samples.
 */
public interface RolloutSource {
  /**
   * One completion per request, in request order, with token ids (eos included when finished on eos) and
   * log-probs under {@code log_softmax(logits / T)} of the policy that sampled them.
   *
   * @param policy the current weights (read only)
   * @param policyVersion a number that changes whenever the weights do (the trainer passes the number of
   *     finished iterations), so a distributed source can reuse a broadcast of the same version
   */
  List<Completion> generate(LlamaModel policy, long policyVersion, List<PromptRef> requests, SamplingParams params);
}
