/**
 * Generation and scoring with a {@link org.sparkrlhf.core.model.LlamaModel}, shared by rollouts, GRPO/PPO, DPO and
 * eval.
 *
 * <ul>
 *   <li>{@link org.sparkrlhf.rollouts.engine.GenerationEngine#generate} — continuous-batching, KV-cached sampling:
 *       {@code List<PromptRef> -> List<Completion>}, deterministic per (seed, promptId, sampleIndex).</li>
 *   <li>{@link org.sparkrlhf.rollouts.engine.SamplingParams} — temperature / top-k / top-p / max tokens / stop
 *       strings / seed; {@link org.sparkrlhf.rollouts.engine.Sampler} — the per-row sampling math.</li>
 * </ul>
 *
 * <p>Per-token log-probs of given completions (reference model, KL, re-scoring), the same quantity generation
 * records, come from {@link org.sparkrlhf.core.batch.SequenceLogProbs}.
 *
 * <p>Conventions every stage relies on:
 * <ul>
 *   <li>Sequence = {@code [bos] + encode(prompt) + completion tokens} ({@link org.sparkrlhf.core.batch.TokenSequence};
 *       no bos when the tokenizer has none), where a completion that ended on its own carries the eos as its last
 *       token ({@code [bos] + prompt + completion + [eos]} in SFT).</li>
 *   <li>Log-prob of a generated token = {@code log_softmax(logits / T)} at the sampling temperature T, before top-k
 *       / top-p truncation; greedy (T = 0) records {@code log_softmax(logits)}, so it is re-scored at
 *       temperature 1.</li>
 *   <li>Finish reasons: {@code "eos"}, {@code "stop"}, {@code "length"}.</li>
 * </ul>
 */
package org.sparkrlhf.rollouts.engine;
