/**
 * Offline preference-optimisation losses as small pure functions over per-sequence summed
 * log-probs, selected by name ({@link org.sparkrlhf.dpo.losses.DpoLosses}: sigmoid, cdpo,
 * ipo), with TRL's semantics and metric names ({@link org.sparkrlhf.dpo.losses.DpoMetrics}).
 */
package org.sparkrlhf.dpo.losses;
