package org.sparkrlhf.grpo.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/** Trainers sharing one source each count versions from 0: the shifted source keeps their versions apart. */
class ShiftedRolloutSourceTest {
  @Test
  void everyCallSeesTheVersionMovedByTheOffset() {
    List<Long> seen = new ArrayList<>();
    RolloutSource inner = (policy, version, requests, params) -> {
      seen.add(version);
      return List.of();
    };
    RolloutSource a = RolloutSource.shifted(inner, 1_000_000);
    RolloutSource b = RolloutSource.shifted(inner, 2_000_000);
    a.generate(null, 0, List.of(), SamplingParams.defaults());
    b.generate(null, 0, List.of(), SamplingParams.defaults());
    b.sampleAndScore(null, 3, List.of(), 2, SamplingParams.defaults(), (p, ans, c) -> null, false);
    assertEquals(List.of(1_000_000L, 2_000_000L, 2_000_003L), seen);
  }
}
