package org.sparkrlhf.core.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
  @Test
  void warmupThenCosineToTheFloor() {
    LrSchedule s = new LrSchedule(1e-3, 10, 110, 0.1);
    assertEquals(1e-4, s.at(1), 1e-12, "step 1 of 10 warm-up: 1/10 of the peak");
    assertEquals(1e-3, s.at(10), 1e-12, "warm-up ends at the peak");
    // halfway through the decay: progress 0.5, cos(pi/2) = 0 -> floor + (peak-floor)/2 = 1e-4 + 4.5e-4
    assertEquals(5.5e-4, s.at(60), 1e-12);
    // a quarter: progress 0.25 -> floor + 0.5 (peak - floor)(1 + cos(pi/4)) = 1e-4 + 4.5e-4 * 1.70710678
    assertEquals(1e-4 + 4.5e-4 * (1 + Math.sqrt(0.5)), s.at(35), 1e-12);
    assertEquals(1e-4, s.at(110), 1e-12);
    assertEquals(1e-4, s.at(500), 1e-12, "held at the floor after the end");
    assertEquals((float) s.at(35), s.getNewValue(35), 0f);
    assertEquals(3e-4, LrSchedule.constant(3e-4).at(77), 1e-15);
  }
}
