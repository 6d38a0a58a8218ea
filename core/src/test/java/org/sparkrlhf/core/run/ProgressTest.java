package org.sparkrlhf.core.run;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressTest {
  @Test
  void rateAndTimeLeftByHand() {
    AtomicLong now = new AtomicLong();
    Progress p = new Progress(1000, "steps", now::get).startAt(0);
    now.set(20_000_000_000L);  // 20 s for 50 steps: 2.5 steps/s; 950 left: 380 s
    assertEquals("2.50 steps/s, 6:20 left", p.at(50));
    now.set(100_000_000_000L);  // 100 s for 1000 steps: 10/s, done
    assertEquals("10 steps/s, 0:00 left", p.at(1000));
  }

  @Test
  void aResumedRunCountsFromWhereItResumed() {
    AtomicLong now = new AtomicLong(5_000_000_000L);
    Progress p = new Progress(200, "iters", now::get).startAt(150);
    now.addAndGet(10_000_000_000L);  // 10 iterations in 10 s since the resume at 150; 40 left
    assertEquals("1.00 iters/s, 0:40 left", p.at(160));
    assertEquals("", new Progress(10, "steps", now::get).startAt(3).at(3), "no rate before a step is done");
    assertEquals("2:46:40", Progress.clock(10_000));
  }
}
