package org.sparkrlhf.jobs.stages;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

/** The one checkpoint loader of the stages: what a user reads when a checkpoint cannot serve. */
class ModelsTest {
  /** A tiny model for the built-in tokenizer saved at {@code path} with {@code tokenizerJson} (null: none). */
  static void saveTinyCheckpoint(String path, String tokenizerJson, NDManager m) {
    CharTokenizer tok = new CharTokenizer();
    LlamaConfig cfg = new LlamaConfig(16, 32, 1, 2, 2, tok.vocabSize(), 32, 10000.0, 1e-5, true, tok.bosId(),
        tok.eosId(), tok.padId());
    try (LlamaModel model = LlamaModel.init(cfg, false, 1, m)) {
      HfCheckpoint.save(model, tokenizerJson, Map.of(), path);
    }
  }

  @Test
  void aMissingCheckpointIsOneLineNamingItsRoleAndPath(@TempDir Path dir) {
    String missing = dir.resolve("step-000100").toString();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      UserError e = assertThrows(UserError.class, () -> Models.checkpoint("reference checkpoint", missing, m));
      assertEquals("cannot load reference checkpoint " + missing + ": no config.json in " + missing
          + " (not a checkpoint, or an interrupted save)", e.getMessage());
      assertEquals("cannot load checkpoint " + missing + ": no config.json in " + missing
          + " (not a checkpoint, or an interrupted save)",
          assertThrows(UserError.class, () -> Models.load(missing, m)).getMessage());
    }
  }

  @Test
  void aCheckpointWithoutTokenizerIsRefused(@TempDir Path dir) {
    String path = dir.resolve("no-tokenizer").toString();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      saveTinyCheckpoint(path, null, m);
      UserError e = assertThrows(UserError.class, () -> Models.checkpoint("checkpoint", path, m));
      assertEquals("checkpoint " + path + " has no tokenizer.json", e.getMessage());
    }
  }

  @Test
  void aMalformedTokenizerIsAOneLineError(@TempDir Path dir) {
    String path = dir.resolve("bad-tokenizer").toString();
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      saveTinyCheckpoint(path, "{\"model\": {\"type\": \"BPE\", \"vocab\": ", m);
      UserError e = assertThrows(UserError.class, () -> Models.load(path, m));
      assertTrue(e.getMessage().startsWith("checkpoint " + path + " has a tokenizer.json that cannot be read: "),
          e.getMessage());
      assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
  }
}
