package org.sparkrlhf.core.fuzz;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

/**
 * Jazzer target: any text as a tokenizer.json gives a tokenizer that encodes and decodes, or a refusal with a
 * reason: IllegalArgumentException from the loader's own checks or from a tokenizer that loads but cannot encode
 * (a word-level vocabulary without its unknown token), UncheckedIOException from the native library's load.
 */
public final class TokenizerJsonFuzzTarget {
  private TokenizerJsonFuzzTarget() {}

  public static void fuzzerTestOneInput(byte[] file) {
    TextTokenizer tok;
    try {
      tok = HfTokenizer.fromJson(new String(file, StandardCharsets.UTF_8));
    } catch (IllegalArgumentException | UncheckedIOException e) {
      Refusals.check(e);
      return;
    }
    try {
      tok.decode(tok.encode("a b 1+2=?\n"));
    } catch (IllegalArgumentException e) {
      Refusals.check(e);
    } finally {
      if (tok instanceof HfTokenizer hf) hf.close();
    }
  }
}
