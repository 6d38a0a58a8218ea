package org.sparkrlhf.grpo.pvg;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Function;

/**
 * The prompts split once into a verifier half and a prover half, so that neither model trains on the other's
 * prompts. A prompt's half is a function of its id and the seed alone (a 64-bit FNV-1a hash of both, its low bit),
 * so it does not change when prompts are added, removed or reordered, and every run with the seed agrees.
 *
 * @param <P> a prompt
 */
public record PromptHalves<P>(List<P> verifier, List<P> prover) {

  /** Splits {@code prompts} by the ids {@code id} gives, in their order. */
  public static <P> PromptHalves<P> split(Collection<P> prompts, Function<P, String> id, long seed) {
    List<P> v = new ArrayList<>();
    List<P> p = new ArrayList<>();
    for (P x : prompts) (isVerifiers(id.apply(x), seed) ? v : p).add(x);
    return new PromptHalves<>(List.copyOf(v), List.copyOf(p));
  }

  /** True when the prompt with {@code id} belongs to the verifier's half under {@code seed}. */
  public static boolean isVerifiers(String id, long seed) {
    long h = 0xcbf29ce484222325L ^ seed;
    for (byte b : id.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    // The FNV's low bits mix poorly on their own: fold the high half in first.
    h ^= h >>> 32;
    return (h & 1) == 0;
  }
}
