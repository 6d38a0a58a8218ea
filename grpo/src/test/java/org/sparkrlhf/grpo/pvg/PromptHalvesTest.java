package org.sparkrlhf.grpo.pvg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class PromptHalvesTest {
  static List<String> ids(int n) {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) ids.add(String.format("train-%06d", i));
    return ids;
  }

  @Test
  void theHalvesNeverOverlapAndTogetherHoldEveryPrompt() {
    List<String> all = ids(2000);
    PromptHalves<String> h = PromptHalves.split(all, Function.identity(), 7);
    Set<String> v = new HashSet<>(h.verifier());
    Set<String> p = new HashSet<>(h.prover());
    Set<String> both = new HashSet<>(v);
    both.retainAll(p);
    assertTrue(both.isEmpty(), "prompts in both halves: " + both);
    assertEquals(2000, v.size() + p.size());
    // Near half each: a binomial(2000, 0.5) is within 1000 ± 100 with probability > 1 - 1e-5.
    assertTrue(Math.abs(v.size() - 1000) < 100, "verifier half " + v.size());
  }

  @Test
  void aPromptsHalfDependsOnItsIdAndTheSeedOnly() {
    List<String> all = ids(500);
    PromptHalves<String> a = PromptHalves.split(all, Function.identity(), 7);
    List<String> shuffled = new ArrayList<>(all.subList(100, 500));
    Collections.shuffle(shuffled, new Random(3));
    PromptHalves<String> b = PromptHalves.split(shuffled, Function.identity(), 7);
    Set<String> aVerifier = new HashSet<>(a.verifier());
    for (String id : b.verifier()) assertTrue(aVerifier.contains(id), id);
    for (String id : b.prover()) assertTrue(!aVerifier.contains(id), id);
    assertNotEquals(a.verifier(), PromptHalves.split(all, Function.identity(), 8).verifier());
  }
}
