/**
 * Prover-verifier games (Kirchner et al. 2024, "Prover-Verifier Games improve legibility of LLM outputs"): the
 * prover's roles ({@link ProverRole}), its rewards against a verifier's scores ({@link ProverRewards}), the split of
 * the prompts between verifier and prover ({@link PromptHalves}), the verifier's balanced training mix over rounds
 * ({@link VerifierMix}) and the time-limited checker of the legibility measure ({@link SpotChecker}). Each is a small
 * pure function of its inputs; the verifier's loss is {@code BradleyTerryLoss.signedWithScorePenalty}.
 */
package org.sparkrlhf.grpo.pvg;
