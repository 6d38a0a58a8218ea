package org.sparkrlhf.core.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.model.SafeTensors;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

/**
 * Coverage-guided fuzzing (Jazzer) of the files a user brings from elsewhere: safetensors checkpoints and
 * tokenizer.json files. 20 s per target in the suite; {@code -Dfuzz.seconds=600} for a longer run by hand.
 */
class CoverageGuidedFuzzTest {

  @Test
  void safetensorsReaderGivesTensorsOrARefusalForAnyBytes() {
    Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
    t.put("model.embed_tokens.weight", new SafeTensors.Tensor(new long[] {3, 4}, new float[12]));
    t.put("model.norm.weight", new SafeTensors.Tensor(new long[] {4}, new float[] {1, 2, 3, 4}));
    t.put("empty", new SafeTensors.Tensor(new long[] {0, 5}, new float[0]));
    Map<String, byte[]> seeds = new LinkedHashMap<>();
    seeds.put("f32.safetensors", SafeTensors.write(t, Map.of("format", "pt")));
    seeds.put("f16-bf16.safetensors", org.sparkrlhf.core.model.HfCheckpointTest.handWrittenHalfFile());
    long runs = Jazzer.fuzz(SafeTensorsFuzzTarget.class, seeds, Jazzer.seconds(20), "1g");
    System.out.println("safetensors: " + runs + " inputs fuzzed");
    assertTrue(runs > 1000, "Jazzer ran " + runs + " inputs");
  }

  @Test
  void tokenizerJsonLoaderGivesATokenizerOrARefusalForAnyText() throws Exception {
    String builtIn = new CharTokenizer().toTokenizerJson();
    // The built-in file with one entry changed is no longer the built-in tokenizer: the native library loads it.
    ObjectNode other = (ObjectNode) new ObjectMapper().readTree(builtIn);
    ObjectNode vocab = (ObjectNode) other.path("model").path("vocab");
    vocab.put("a", vocab.remove("?").intValue());
    Map<String, byte[]> seeds = new LinkedHashMap<>();
    seeds.put("built-in.json", builtIn.getBytes(StandardCharsets.UTF_8));
    seeds.put("word-level.json", other.toString().getBytes(StandardCharsets.UTF_8));
    long runs = Jazzer.fuzz(TokenizerJsonFuzzTarget.class, seeds, Jazzer.seconds(20), "1g");
    System.out.println("tokenizer.json: " + runs + " inputs fuzzed");
    assertTrue(runs > 100, "Jazzer ran " + runs + " inputs");
  }
}
