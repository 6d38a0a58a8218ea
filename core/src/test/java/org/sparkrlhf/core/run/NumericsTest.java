package org.sparkrlhf.core.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NumericsTest {
  @Test
  void theWidestInstructionSetNeedsEveryFlagAtensAvx512KernelsUse() {
    assertEquals("avx512", Numerics.widest(" fpu sse4_2 avx2 fma avx512f avx512bw avx512vl avx512dq "));
    // avx512f alone (Knights Landing) is not enough for ATen's avx512 build: it falls back to avx2.
    assertEquals("avx2", Numerics.widest(" sse4_2 avx2 fma avx512f "));
    assertEquals("sse4_2", Numerics.widest(" sse4_2 avx "));
    assertEquals("other", Numerics.widest(" neon "));
  }

  @Test
  void differencesNameEachChangedSettingWithBothValues() {
    Map<String, Object> was = record("AMD EPYC", "avx512", 2, "avx2", "");
    Map<String, Object> now = record("Intel Xeon", "avx512", 1, "avx2", "AVX2");
    assertEquals(List.of("cpu: AMD EPYC → Intel Xeon", "torch_threads: 2 → 1", "MKL_CBWR: unset → AVX2"),
        Numerics.differences(was, now));
    assertTrue(Numerics.differences(now, record("Intel Xeon", "avx512", 1, "avx2", "AVX2")).isEmpty());
  }

  @Test
  void aCheckpointFromBeforeTheRecordSaysUnrecorded() {
    List<String> d = Numerics.differences(null, record("AMD EPYC", "avx2", 2, "", ""));
    assertTrue(d.contains("cpu: unrecorded → AMD EPYC"), d.toString());
    assertTrue(d.contains("ATEN_CPU_CAPABILITY: unrecorded → unset"), d.toString());
  }

  @Test
  void theCurrentRecordNamesThreadsLibtorchAndEveryPin() {
    Map<String, Object> n = Numerics.current();
    assertEquals("2.7.1", n.get("libtorch"));
    assertTrue((Integer) n.get("torch_threads") >= 1);
    assertEquals(Numerics.PINS, List.copyOf(((Map<?, ?>) n.get("pins")).keySet()));
  }

  private static Map<String, Object> record(String cpu, String isa, int threads, String aten, String cbwr) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cpu", cpu);
    m.put("cpu_isa", isa);
    m.put("torch_threads", threads);
    Map<String, String> pins = new LinkedHashMap<>();
    pins.put("ATEN_CPU_CAPABILITY", aten);
    pins.put("MKL_CBWR", cbwr);
    m.put("pins", pins);
    return m;
  }
}
