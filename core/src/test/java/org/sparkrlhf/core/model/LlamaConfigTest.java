package org.sparkrlhf.core.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LlamaConfigTest {

    @Test
    void jsonRoundTripAndHfKeysTolerated() {
        LlamaConfig c = new LlamaConfig(128, 344, 5, 4, 2, 64, 256, 500000.0, 1e-6, true, 1, 2, 0);
        assertEquals(c, LlamaConfig.fromJson(c.toJson()));
        // a Hugging Face style config with extra keys, eos as a list and no num_key_value_heads
        String hf = "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":64,"
                + "\"intermediate_size\":172,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":100,"
                + "\"rope_scaling\":null,\"transformers_version\":\"4.44.0\",\"pretraining_tp\":1,"
                + "\"eos_token_id\":[2,3],\"bos_token_id\":1,\"torch_dtype\":\"bfloat16\"}";
        LlamaConfig p = LlamaConfig.fromJson(hf);
        assertEquals(4, p.numKeyValueHeads());
        assertEquals(2, p.eosTokenId());
        assertEquals(-1, p.padTokenId());
        assertEquals(10000.0, p.ropeTheta());
        assertEquals(1e-6, p.rmsNormEps());
        assertEquals(false, p.tieWordEmbeddings());
        assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(
                hf.replace("\"rope_scaling\":null", "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}")));
    }

    @Test
    void readsTheRotaryBaseFromTransformers5RopeParameters() {
        // transformers 5 writes no top-level rope_theta: the base is only in rope_parameters
        String hf = "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,\"num_hidden_layers\":2,"
                + "\"num_attention_heads\":4,\"vocab_size\":100,"
                + "\"rope_parameters\":{\"rope_theta\":500000.0,\"rope_type\":\"default\"}}";
        assertEquals(500000.0, LlamaConfig.fromJson(hf).ropeTheta());
        assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(hf.replace(
                "\"rope_type\":\"default\"", "\"rope_type\":\"llama3\",\"factor\":8.0")), "scaled rope is refused");
        assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(hf.replace(
                "\"vocab_size\":100", "\"vocab_size\":100,\"rope_theta\":10000.0")), "two different bases");
    }

    @Test
    void parameterCountAndFlops() {
        // H=8, I=16, L=1, heads 2, kv 1 (head_dim 4), V=10, untied
        LlamaConfig c = LlamaConfig.tiny(10, 8, 1, 2, 1, 16, 32, false);
        long embed = 10 * 8;
        long layer = 8 * 8 + 2 * (4 * 8) + 8 * 8 + 3 * 8 * 16 + 2 * 8; // q, k+v, o, mlp, 2 norms
        long expected = embed + layer + 8 + embed; // + final norm + lm_head
        assertEquals(expected, c.parameterCount());
        assertEquals(expected + 8, c.parameterCount(true));
        // 6 * (N without the embedding lookup) + 12 * L * T * heads * head_dim
        int t = 16;
        assertEquals(6.0 * (expected - embed) + 12.0 * 1 * t * 8, c.flopsPerToken(t), 1e-9);
        // tied: the single matrix is the LM head and counts
        LlamaConfig tied = LlamaConfig.tiny(10, 8, 1, 2, 1, 16, 32, true);
        assertEquals(expected - embed, tied.parameterCount());
        assertEquals(6.0 * (expected - embed) + 12.0 * t * 8, tied.flopsPerToken(t), 1e-9);
    }
}
