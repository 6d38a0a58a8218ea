/**
 * Online policy-optimisation math as small pure functions, one per algorithm, selected by
 * name from config (the layout of verl's {@code trainer/ppo/core_algos.py}):
 * advantage estimators ({@link org.sparkrlhf.grpo.algos.AdvantageEstimators}: grpo, dr_grpo,
 * rloo), the clipped surrogate ({@link org.sparkrlhf.grpo.algos.PolicyLoss}), KL estimators
 * ({@link org.sparkrlhf.grpo.algos.Kl}), loss aggregation
 * ({@link org.sparkrlhf.grpo.algos.Aggregation}: token-mean, seq-mean-token-mean) and the
 * GRPO objective ({@link org.sparkrlhf.grpo.algos.GrpoLoss}). Token entropy from logits is
 * {@code LlamaModel.entropy} in core.
 */
package org.sparkrlhf.grpo.algos;
