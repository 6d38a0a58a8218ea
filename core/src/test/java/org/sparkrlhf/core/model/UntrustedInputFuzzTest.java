package org.sparkrlhf.core.model;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

/**
 * Seeded random mutations of valid safetensors files and tokenizer.json texts, bounded in time: every mutant gives
 * a result or an IllegalArgumentException (UncheckedIOException for the tokenizer's own load), never another
 * exception, an Error (OutOfMemoryError from a size taken on trust) or a hang. A failure prints the mutant in base64
 * and the seed, so it can be replayed.
 */
class UntrustedInputFuzzTest {
  private static final long SEED = 20261202L;

  /** Mutates {@code in} with 1–4 random edits, biased to the first {@code hot} bytes (a header). */
  static byte[] mutate(byte[] in, int hot, Random r) {
    byte[] b = in.clone();
    int edits = 1 + r.nextInt(4);
    for (int k = 0; k < edits && b.length > 0; k++) {
      int at = r.nextInt(4) > 0 && hot > 0 ? r.nextInt(Math.min(hot, b.length)) : r.nextInt(b.length);
      switch (r.nextInt(8)) {
        case 0 -> b[at] ^= (byte) (1 << r.nextInt(8));
        case 1 -> b[at] = (byte) r.nextInt(256);
        case 2 -> b[at] = (byte) "0123456789-.,[]{}\":eE".charAt(r.nextInt(21));
        case 3 -> b = Arrays.copyOf(b, r.nextInt(b.length + 1));  // truncated
        case 4 -> {  // a number widened: a digit becomes a long run of digits
          String digits = Long.toString(r.nextLong() & Long.MAX_VALUE);
          b = splice(b, at, 1, digits.getBytes(StandardCharsets.US_ASCII));
        }
        case 5 -> {  // a slice deleted
          int len = r.nextInt(Math.min(16, b.length - at) + 1);
          b = splice(b, at, len, new byte[0]);
        }
        case 6 -> {  // a slice repeated
          int len = r.nextInt(Math.min(32, b.length - at) + 1);
          b = splice(b, at, 0, Arrays.copyOfRange(b, at, at + len));
        }
        default -> {  // the first 8 bytes (safetensors: the header length) set to a random little-endian long
          long v = r.nextBoolean() ? r.nextLong() : r.nextInt(b.length * 2 + 1) - 8;
          for (int i = 0; i < 8 && i < b.length; i++) b[i] = (byte) (v >>> (8 * i));
        }
      }
    }
    return b;
  }

  static byte[] splice(byte[] b, int at, int remove, byte[] insert) {
    byte[] out = new byte[b.length - remove + insert.length];
    System.arraycopy(b, 0, out, 0, at);
    System.arraycopy(insert, 0, out, at, insert.length);
    System.arraycopy(b, at + remove, out, at + insert.length, b.length - at - remove);
    return out;
  }

  /**
   * Runs {@code target} on mutants of {@code seeds} for up to {@code budget} (at least {@code minimum} mutants),
   * failing on any throwable that is not one of {@code allowed}; returns how many mutants ran.
   */
  static int fuzz(List<byte[]> seeds, int hot, Duration budget, int minimum, Consumer<byte[]> target,
      List<Class<? extends Exception>> allowed) {
    Random r = new Random(SEED);
    long deadline = System.nanoTime() + budget.toNanos();
    int n = 0;
    while (n < minimum || System.nanoTime() < deadline) {
      byte[] mutant = mutate(seeds.get(r.nextInt(seeds.size())), hot, r);
      try {
        target.accept(mutant);
      } catch (Throwable t) {
        if (allowed.stream().noneMatch(c -> c.isInstance(t))) {
          fail("mutant " + n + " (seed " + SEED + ") threw " + t + "; base64: "
              + Base64.getEncoder().encodeToString(mutant), t);
        }
        assertTrue(t.getMessage() != null && !t.getMessage().isBlank(), "an exception without a message: " + t);
      }
      n++;
    }
    return n;
  }

  @Test
  void safetensorsMutantsGiveTensorsOrAClearRefusal() {
    Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
    t.put("model.embed_tokens.weight", new SafeTensors.Tensor(new long[] {3, 4}, new float[12]));
    t.put("model.norm.weight", new SafeTensors.Tensor(new long[] {4}, new float[] {1, 2, 3, 4}));
    t.put("empty", new SafeTensors.Tensor(new long[] {0, 5}, new float[0]));
    byte[] f32 = SafeTensors.write(t, Map.of("format", "pt"));
    byte[] half = HfCheckpointTest.handWrittenHalfFile();
    int ran = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> fuzz(List.of(f32, half), 300,
        Duration.ofSeconds(3), 20_000, SafeTensors::read, List.of(IllegalArgumentException.class)));
    System.out.println("safetensors fuzz: " + ran + " mutants");
  }

  @Test
  void tokenizerJsonMutantsGiveATokenizerOrAClearRefusal() throws Exception {
    byte[] builtIn = new CharTokenizer().toTokenizerJson().getBytes(StandardCharsets.UTF_8);
    // The built-in file with one character changed: no longer the built-in tokenizer, so the native library loads it.
    com.fasterxml.jackson.databind.node.ObjectNode other =
        (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper().readTree(builtIn);
    com.fasterxml.jackson.databind.node.ObjectNode vocab = (com.fasterxml.jackson.databind.node.ObjectNode) other.path("model").path("vocab");
    vocab.put("a", vocab.remove("?").intValue());
    String wordLevel = other.toString();
    assertTrue(HfTokenizer.fromJson(wordLevel) instanceof HfTokenizer, "the second seed takes the native path");
    Consumer<byte[]> load = bytes -> {
      TextTokenizer tok = HfTokenizer.fromJson(new String(bytes, StandardCharsets.UTF_8));
      tok.decode(tok.encode("a b 1+2=?\n"));
      if (tok instanceof HfTokenizer hf) hf.close();
    };
    int ran = assertTimeoutPreemptively(Duration.ofSeconds(120), () -> fuzz(
        List.of(builtIn, wordLevel.getBytes(StandardCharsets.UTF_8)), Integer.MAX_VALUE, Duration.ofSeconds(3), 1_000,
        load, List.of(IllegalArgumentException.class, UncheckedIOException.class)));
    System.out.println("tokenizer.json fuzz: " + ran + " mutants");
  }
}
