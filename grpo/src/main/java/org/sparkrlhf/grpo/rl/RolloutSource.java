package org.sparkrlhf.grpo.rl;

import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardResult;
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

  /**
   * A sampled completion, its reward, and the Spark executor that drew it ({@code "driver"} in process).
   *
   * @param stepRewards the rewarder's step rewards when they were asked for (null otherwise, or when the rewarder
   *     judges outcomes only)
   */
  record Scored(Completion completion, RewardResult reward, double[] stepRewards, String executorId) {}

  /**
   * Samples {@code groupSize} completions of each prompt and scores each with {@code rewarder}, in prompt-major
   * order (prompt 0's samples 0..G-1, then prompt 1's, ...). This default scores in the calling JVM; a
   * distributed source scores on the executors, next to the generation, and ships back only the results.
   *
   * @param stepRewards also ask the rewarder for each completion's step rewards (process supervision)
   */
  default List<Scored> sampleAndScore(LlamaModel policy, long policyVersion, List<RlPrompt> prompts, int groupSize,
      SamplingParams params, Rewarder rewarder, boolean stepRewards) {
    List<PromptRef> requests = requests(prompts, groupSize);
    List<Completion> completions = generate(policy, policyVersion, requests, params);
    List<Scored> out = new ArrayList<>(completions.size());
    for (int i = 0; i < completions.size(); i++) {
      RlPrompt p = prompts.get(i / groupSize);
      Completion c = completions.get(i);
      out.add(new Scored(c, rewarder.score(p.prompt(), p.answer(), c),
          stepRewards ? rewarder.stepRewards(p.prompt(), p.answer(), c) : null, "driver"));
    }
    return out;
  }

  /** The requests of {@code groupSize} samples per prompt, in prompt-major order. */
  static List<PromptRef> requests(List<RlPrompt> prompts, int groupSize) {
    List<PromptRef> requests = new ArrayList<>(prompts.size() * groupSize);
    for (RlPrompt p : prompts) {
      for (int j = 0; j < groupSize; j++) requests.add(new PromptRef(p.id(), p.prompt(), j));
    }
    return requests;
  }

  /**
   * {@code inner} with every policy version moved by {@code offset}: for trainers that each count their versions from
   * 0 and share one distributed source, which keeps a broadcast while the version stays the same (a prover-verifier
   * game's provers and adversaries, one after another, each from its own start).
   */
  static RolloutSource shifted(RolloutSource inner, long offset) {
    return new Shifted(inner, offset);
  }

  /** {@link #shifted}. */
  record Shifted(RolloutSource inner, long offset) implements RolloutSource {
    @Override
    public List<Completion> generate(LlamaModel policy, long policyVersion, List<PromptRef> requests,
        SamplingParams params) {
      return inner.generate(policy, policyVersion + offset, requests, params);
    }

    @Override
    public List<Scored> sampleAndScore(LlamaModel policy, long policyVersion, List<RlPrompt> prompts, int groupSize,
        SamplingParams params, Rewarder rewarder, boolean stepRewards) {
      return inner.sampleAndScore(policy, policyVersion + offset, prompts, groupSize, params, rewarder, stepRewards);
    }
  }
}
