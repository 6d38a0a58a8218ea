/**
 * The online RL loop every policy-optimisation algorithm shares: {@link org.sparkrlhf.grpo.rl.RlTrainer} (sample →
 * reward → advantage → update → metrics → state), {@link org.sparkrlhf.grpo.rl.GroupSampler} (which prompts, which
 * seeds, DAPO's extra rounds), {@link org.sparkrlhf.grpo.rl.Experience} (what advantages are computed from),
 * {@link org.sparkrlhf.core.train.TrainerState} (resume), the rollout sources (in process, or on Spark executors with
 * the rewards computed there) and {@link org.sparkrlhf.grpo.rl.RlConfig}, the keys every algorithm's section has. An
 * algorithm subclasses {@code RlTrainer} with its advantages (GRPO: a group baseline; PPO: a critic and GAE) and,
 * where it has them, its own minibatch work and state.
 */
package org.sparkrlhf.grpo.rl;
