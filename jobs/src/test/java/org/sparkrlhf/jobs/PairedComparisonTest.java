package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.jobs.stages.PairedComparison;

class PairedComparisonTest {
  static Map<String, Boolean> of(Object... kv) {
    Map<String, Boolean> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], (Boolean) kv[i + 1]);
    return m;
  }

  @Test
  void differenceAndStandardErrorByHand() {
    Map<String, Boolean> a = of("p1", true, "p2", true, "p3", false, "p4", false, "p5", true);
    Map<String, Boolean> b = of("p1", true, "p2", false, "p3", true, "p4", true, "p5", true, "p6", true);
    PairedComparison c = PairedComparison.of(a, b);
    // p6 is only in b: left out, n = 5. d = B - A = [0, -1, +1, +1, 0], mean 0.2.
    // deviations -0.2, -1.2, 0.8, 0.8, -0.2 -> squares 0.04 + 1.44 + 0.64 + 0.64 + 0.04 = 2.8
    // sample variance 2.8 / 4 = 0.7; stderr = sqrt(0.7) / sqrt(5) = sqrt(0.14) = 0.3741657...; z = 0.2 / 0.3741657 = 0.5345225
    assertEquals(5, c.n());
    assertEquals(0.6, c.accuracyA(), 1e-12);
    assertEquals(0.8, c.accuracyB(), 1e-12);
    assertEquals(0.2, c.difference(), 1e-12);
    assertEquals(Math.sqrt(0.14), c.stderr(), 1e-12);
    assertEquals(0.5345225, c.z(), 1e-6);
    assertEquals(2, c.better());
    assertEquals(1, c.worse());
  }

  @Test
  void identicalEvaluationsHaveNoDifferenceAndNoError() {
    Map<String, Boolean> a = of("p1", true, "p2", false);
    PairedComparison c = PairedComparison.of(a, a);
    assertEquals(0.0, c.difference());
    assertEquals(0.0, c.stderr());
    assertEquals(0.0, c.z());
  }

  @Test
  void noSharedProblemIsAnError() {
    assertThrows(IllegalArgumentException.class, () -> PairedComparison.of(of("p1", true), of("p2", true)));
  }
}
