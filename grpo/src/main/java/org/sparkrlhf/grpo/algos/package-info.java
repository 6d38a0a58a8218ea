/**
 * Online policy-optimisation math as small pure functions, one per algorithm, each registered by the name config
 * selects it with (the layout of verl's {@code trainer/ppo/core_algos.py}): advantage estimators
 * ({@link org.sparkrlhf.grpo.algos.AdvantageEstimators}: grpo, dr_grpo, rloo, grpo_process), policy losses
 * ({@link org.sparkrlhf.grpo.algos.PolicyLosses}: ppo_clip), loss aggregation
 * ({@link org.sparkrlhf.grpo.algos.Aggregation}: token-mean, seq-mean-token-mean) and the GRPO objective
 * ({@link org.sparkrlhf.grpo.algos.GrpoLoss}). KL estimators, shared with DPO, are
 * {@link org.sparkrlhf.core.algos.Kl} in core; token entropy from logits is {@code LlamaModel.entropy}.
 */
package org.sparkrlhf.grpo.algos;
