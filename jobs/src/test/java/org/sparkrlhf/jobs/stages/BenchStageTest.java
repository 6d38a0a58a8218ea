package org.sparkrlhf.jobs.stages;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.rollouts.engine.PromptRef;

/** The bench measures the model the quickstart trains, as its config says. */
class BenchStageTest {

  @Test
  void theArchitectureIsTheConfigsSftModelWithRoomForTheNewTokens() {
    Config config = StageConfigs.load(null, List.of("sft.model.hidden_size=32", "sft.model.intermediate_size=96"));
    BenchConfig c = StageConfigs.bind(config, "bench", BenchConfig.class);
    CharTokenizer tok = new CharTokenizer();
    List<PromptRef> prompts = List.of(new PromptRef("a", "1+2=?\n", 0), new PromptRef("b", "123+4*5=?\n", 0));
    LlamaConfig cfg = BenchStage.architecture(config, c, tok, prompts);
    assertEquals(32, cfg.hiddenSize());
    assertEquals(96, cfg.intermediateSize());
    assertEquals(StageConfigs.bind(config, "sft.model", org.sparkrlhf.sft.ModelSpec.class).numHiddenLayers,
        cfg.numHiddenLayers());
    // [bos] + 10 characters, then the larger of new_tokens (128) and spark_new_tokens (64)
    assertEquals(1 + 10 + 128, cfg.maxPositionEmbeddings());
  }
}
