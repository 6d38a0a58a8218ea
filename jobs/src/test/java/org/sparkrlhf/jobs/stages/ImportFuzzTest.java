package org.sparkrlhf.jobs.stages;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.fuzz.Jazzer;

/**
 * Coverage-guided fuzzing (Jazzer) of the import stage's file parsing: 20 s per target in the suite,
 * {@code -Dfuzz.seconds=600} for a longer run by hand.
 */
class ImportFuzzTest {

  @Test
  void everyNonBlankJsonlLineGivesExactlyOneRowOrQuarantineReason() {
    Map<String, byte[]> seeds = new LinkedHashMap<>();
    seeds.put("sft.jsonl", utf8("{\"id\":\"a1\",\"prompt\":\"2+3=\",\"completion\":\"5\"}\n"
        + "{\"prompt\":\"7*8=\",\"completion\":\"56\"}\n\n{\"prompt\":\"\",\"completion\":\"1\"}\n"));
    seeds.put("preference-bom-crlf.jsonl", concat(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF},
        utf8("{\"id\":7,\"prompt\":\"9-4=\",\"chosen\":\"5\",\"rejected\":\"4\"}\r\n"
            + "{\"prompt\":\"1+1=\",\"chosen\":\"2\",\"rejected\":\"2\"}\r\n{not json")));
    seeds.put("step.jsonl", utf8("{\"prompt\":\"(2+3)*4=\",\"completions\":[\"2+3=5\",\"5*4=20\"],"
        + "\"labels\":[true,true]}\n{\"prompt\":\"p\",\"completions\":[\"x\"],\"labels\":[true,false]}\n"));
    seeds.put("prompt.jsonl", utf8("{\"prompt\":\"3*3=\",\"answer\":\"9\"}\n{\"prompt\":\"\\u00e9\\ud800\",\"answer\":9}\n"
        + "[1,2]\n{\"text\":\"no known field\"}\n"));
    long runs = Jazzer.fuzz(JsonlImportFuzzTarget.class, seeds, Jazzer.seconds(20), "1g");
    System.out.println("jsonl import: " + runs + " inputs fuzzed");
    assertTrue(runs > 1000, "Jazzer ran " + runs + " inputs");
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
