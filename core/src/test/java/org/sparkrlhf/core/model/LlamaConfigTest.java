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
        LlamaConfig tied = LlamaConfig.tiny(10, 8, 1, 2, 1, 16, 32, true);
        assertEquals(expected - embed, tied.parameterCount());
    }

    /** 2·m·n·k for an (m × k) by (k × n) matmul: one multiply and one add per term. */
    private static double mm(double m, double k, double n) {
        return 2 * m * k * n;
    }

    @Test
    void flopsPerTokenAreEveryMatmulCountedByHand() {
        // H=8, I=16, L=2, heads 2 of head_dim 4, kv heads 1, V=10; one token (m = 1) at context t
        int t = 16;
        double perLayer = mm(1, 8, 8) /*q*/ + mm(1, 8, 4) /*k*/ + mm(1, 8, 4) /*v*/
                + 2 * mm(1, 4, t) /*QK^T per head*/ + 2 * mm(1, t, 4) /*PV per head*/ + mm(1, 8, 8) /*o*/
                + mm(1, 8, 16) /*gate*/ + mm(1, 8, 16) /*up*/ + mm(1, 16, 8) /*down*/;
        double forward = 2 * perLayer + mm(1, 8, 10) /*lm_head; the embedding lookup is no matmul*/;
        // = 2 * (128 + 64 + 64 + 256 + 256 + 128 + 768) + 160 = 3488: 2 * 1232 matmul weights + 4 * L * t * 8
        assertEquals(3488.0, forward);
        assertEquals(2 * 1232 + 4 * 2 * t * 8, forward);
        LlamaConfig untied = LlamaConfig.tiny(10, 8, 2, 2, 1, 16, 32, false);
        assertEquals(forward, untied.forwardFlopsPerToken(t));
        // forward + backward: two matmuls of the same size for each forward one (input and weight gradients)
        assertEquals(3 * forward, untied.trainingFlopsPerToken(t));
        // tied: the one matrix is the LM head (a matmul) and the lookup (none), so the count is the same
        assertEquals(forward, LlamaConfig.tiny(10, 8, 2, 2, 1, 16, 32, true).forwardFlopsPerToken(t));
        // generation: the token at position 40 attends over 40 keys; only the attention terms change (2 layers x 2 heads)
        double at40 = forward + 2 * 2 * (mm(1, 4, 40) - mm(1, 4, t)) + 2 * 2 * (mm(1, 40, 4) - mm(1, t, 4));
        assertEquals(at40, untied.forwardFlopsPerToken(40));
        assertEquals(5024.0, at40);
    }
}
