package org.sparkrlhf.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Llama decoder hyper-parameters, named as in Hugging Face's {@code LlamaConfig} / {@code config.json}.
 *
 * <p>Only the plain Llama architecture is supported: no rope scaling, no attention / MLP biases,
 * {@code hidden_act = "silu"}, {@code head_dim = hidden_size / num_attention_heads}. A config.json
 * asking for anything else is rejected on read rather than silently mis-computed; other unknown
 * keys are ignored. Both ways transformers writes the rotary base are read: {@code rope_theta} at the
 * top level (up to 4.x) and {@code rope_parameters.rope_theta} (5.x, which writes no top-level key).
 *
 * @param hiddenSize            width of the residual stream (H)
 * @param intermediateSize      width of the SwiGLU MLP
 * @param numHiddenLayers       decoder layers (L)
 * @param numAttentionHeads     query heads
 * @param numKeyValueHeads      key/value heads (&lt; query heads = grouped-query attention)
 * @param vocabSize             vocabulary size (V)
 * @param maxPositionEmbeddings longest sequence (positions) the model is meant for
 * @param ropeTheta             rotary base (10000 for Llama 1/2)
 * @param rmsNormEps            epsilon inside RMSNorm
 * @param tieWordEmbeddings     LM head shares the token-embedding matrix
 * @param bosTokenId            beginning-of-sequence id (or -1 when none)
 * @param eosTokenId            end-of-sequence id (or -1 when none)
 * @param padTokenId            padding id (or -1 when none)
 */
public record LlamaConfig(
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int vocabSize,
        int maxPositionEmbeddings,
        double ropeTheta,
        double rmsNormEps,
        boolean tieWordEmbeddings,
        int bosTokenId,
        int eosTokenId,
        int padTokenId) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public LlamaConfig {
        if (hiddenSize <= 0 || intermediateSize <= 0 || numHiddenLayers <= 0 || numAttentionHeads <= 0
                || numKeyValueHeads <= 0 || vocabSize <= 0 || maxPositionEmbeddings <= 0) {
            throw new IllegalArgumentException("sizes must be positive");
        }
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("hidden_size must be a multiple of num_attention_heads");
        }
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads must be a multiple of num_key_value_heads");
        }
        if ((hiddenSize / numAttentionHeads) % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even for rotary embeddings");
        }
    }

    /** A small config with Llama defaults for theta/eps, no special tokens and MHA. */
    public static LlamaConfig tiny(int vocab, int hidden, int layers, int heads, int kvHeads, int intermediate,
                                   int maxPos, boolean tie) {
        return new LlamaConfig(hidden, intermediate, layers, heads, kvHeads, vocab, maxPos, 10000.0, 1e-5, tie,
                -1, -1, -1);
    }

    /** Per-head width (hidden_size / num_attention_heads). */
    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** Query heads sharing one key/value head. */
    public int numKeyValueGroups() {
        return numAttentionHeads / numKeyValueHeads;
    }

    /**
     * Number of distinct parameters of {@code LlamaForCausalLM} (tied embeddings counted once),
     * plus the scalar score head {@code [1, H]} when {@code withScoreHead}.
     */
    public long parameterCount(boolean withScoreHead) {
        long h = hiddenSize;
        long kv = (long) numKeyValueHeads * headDim();
        long perLayer = h * h /*q*/ + 2 * kv * h /*k,v*/ + h * h /*o*/
                + 3 * h * intermediateSize /*gate,up,down*/ + 2 * h /*two norms*/;
        long embed = (long) vocabSize * h;
        long total = embed + numHiddenLayers * perLayer + h /*final norm*/;
        if (!tieWordEmbeddings) {
            total += embed;
        }
        if (withScoreHead) {
            total += h;
        }
        return total;
    }

    /** {@link #parameterCount(boolean)} without the score head. */
    public long parameterCount() {
        return parameterCount(false);
    }

    /**
     * Parameters that take part in a matmul: every parameter except the token-embedding lookup (with tied
     * embeddings that matrix is also the LM head, so it counts) and the norm weights, which are elementwise.
     */
    public long matmulParameterCount() {
        long h = hiddenSize;
        long norms = 2L * numHiddenLayers * h + h;
        return parameterCount(false) - norms - (tieWordEmbeddings ? 0L : (long) vocabSize * h);
    }

    /**
     * Forward FLOPs per token of a token that attends over {@code context} key positions, the model-FLOPs count of
     * the PaLM paper (appendix B) that every MFU figure of the project divides by:
     *
     * <pre>
     *   forward flops/token = 2 * N_matmul + 4 * L * context * (heads * head_dim)
     * </pre>
     *
     * 2 N_matmul: each matmul weight is one multiply-add (2 FLOPs) per token. 4 L context d: per layer the token's
     * query row against {@code context} keys (QK^T, 2 context d) and its probability row against as many values (PV,
     * 2 context d). Attention is counted over every key position the matmul computes, masked or not: no causal
     * halving. In training (T x T score matrix per sequence) that is {@code context = T} for every token, PaLM's
     * convention; in KV-cached generation the score row of the token at position t is exactly t long, so
     * {@code context = t}. Norms, softmax, RoPE and activations are not counted.
     */
    public double forwardFlopsPerToken(double context) {
        return 2.0 * matmulParameterCount() + 4.0 * numHiddenLayers * context * numAttentionHeads * headDim();
    }

    /**
     * Training FLOPs per token (forward + backward) for sequences of {@code seqLen} tokens: three times
     * {@link #forwardFlopsPerToken} at {@code context = seqLen} (the backward pass runs two matmuls for each forward
     * one: the gradient of the input and of the weight), i.e. {@code 6 N_matmul + 12 L T (heads * head_dim)}.
     */
    public double trainingFlopsPerToken(double seqLen) {
        return 3.0 * forwardFlopsPerToken(seqLen);
    }

    // ---------------------------------------------------------------- JSON (Hugging Face config.json)

    /** Serializes as a Hugging Face {@code config.json} for {@code LlamaForCausalLM}, float32. */
    public String toJson() {
        return toJson(false);
    }

    /**
     * Serializes as a Hugging Face {@code config.json}, float32: for {@code LlamaForCausalLM}, or with
     * {@code sequenceClassifier} for {@code LlamaForSequenceClassification} with one label (a scalar head), which
     * transformers reads at the last token that is not {@code pad_token_id}.
     */
    public String toJson(boolean sequenceClassifier) {
        ObjectNode n = JSON.createObjectNode();
        n.putArray("architectures").add(sequenceClassifier ? "LlamaForSequenceClassification" : "LlamaForCausalLM");
        if (sequenceClassifier) {
            // transformers derives num_labels from id2label; both are written so either reader agrees
            n.put("num_labels", 1);
            n.putObject("id2label").put("0", "LABEL_0");
            n.putObject("label2id").put("LABEL_0", 0);
        }
        n.put("model_type", "llama");
        n.put("hidden_size", hiddenSize);
        n.put("intermediate_size", intermediateSize);
        n.put("num_hidden_layers", numHiddenLayers);
        n.put("num_attention_heads", numAttentionHeads);
        n.put("num_key_value_heads", numKeyValueHeads);
        n.put("head_dim", headDim());
        n.put("vocab_size", vocabSize);
        n.put("max_position_embeddings", maxPositionEmbeddings);
        // transformers 5.x reads these 4.x keys too (into its rope_parameters)
        n.put("rope_theta", ropeTheta);
        n.putNull("rope_scaling");
        n.put("rms_norm_eps", rmsNormEps);
        n.put("tie_word_embeddings", tieWordEmbeddings);
        n.put("hidden_act", "silu");
        n.put("attention_bias", false);
        n.put("mlp_bias", false);
        n.put("initializer_range", 0.02);
        putTokenId(n, "bos_token_id", bosTokenId);
        putTokenId(n, "eos_token_id", eosTokenId);
        putTokenId(n, "pad_token_id", padTokenId);
        n.put("torch_dtype", "float32");
        n.put("use_cache", true);
        try {
            return JSON.writeValueAsString(n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public byte[] toJsonBytes() {
        return toJsonBytes(false);
    }

    /** {@link #toJson(boolean)} as UTF-8. */
    public byte[] toJsonBytes(boolean sequenceClassifier) {
        return toJson(sequenceClassifier).getBytes(StandardCharsets.UTF_8);
    }

    private static void putTokenId(ObjectNode n, String key, int id) {
        if (id < 0) {
            n.putNull(key);
        } else {
            n.put(key, id);
        }
    }

    /**
     * Parses a Hugging Face {@code config.json}. Unknown keys are ignored; missing optional keys take
     * Hugging Face's defaults (num_key_value_heads = num_attention_heads, rope_theta = 10000,
     * rms_norm_eps = 1e-6, tie_word_embeddings = false, max_position_embeddings = 2048).
     *
     * @throws IllegalArgumentException for a config this implementation would compute wrongly
     *                                  (rope scaling of any kind, biases, another activation or head_dim)
     */
    public static LlamaConfig fromJson(String json) {
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("config.json is not valid JSON", e);
        }
        String type = n.path("model_type").asText("llama");
        if (!type.equals("llama")) {
            throw new IllegalArgumentException("model_type " + type + " is not supported (llama only)");
        }
        if (n.hasNonNull("rope_scaling")) {
            throw new IllegalArgumentException("rope_scaling is not supported: " + n.get("rope_scaling"));
        }
        if (n.path("attention_bias").asBoolean(false) || n.path("mlp_bias").asBoolean(false)) {
            throw new IllegalArgumentException("attention/mlp biases are not supported");
        }
        String act = n.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new IllegalArgumentException("hidden_act " + act + " is not supported (silu only)");
        }
        int hidden = required(n, "hidden_size");
        int heads = required(n, "num_attention_heads");
        LlamaConfig c = new LlamaConfig(
                hidden,
                required(n, "intermediate_size"),
                required(n, "num_hidden_layers"),
                heads,
                n.hasNonNull("num_key_value_heads") ? n.get("num_key_value_heads").asInt() : heads,
                required(n, "vocab_size"),
                n.path("max_position_embeddings").asInt(2048),
                ropeTheta(n),
                n.path("rms_norm_eps").asDouble(1e-6),
                n.path("tie_word_embeddings").asBoolean(false),
                tokenId(n, "bos_token_id"),
                tokenId(n, "eos_token_id"),
                tokenId(n, "pad_token_id"));
        if (n.hasNonNull("head_dim") && n.get("head_dim").asInt() != c.headDim()) {
            throw new IllegalArgumentException("head_dim " + n.get("head_dim").asInt()
                    + " != hidden_size / num_attention_heads is not supported");
        }
        return c;
    }

    public static LlamaConfig fromJson(byte[] utf8) {
        return fromJson(new String(utf8, StandardCharsets.UTF_8));
    }

    /**
     * The rotary base: {@code rope_parameters} (transformers 5.x) must be the default rope, and when a
     * top-level {@code rope_theta} is there too they must agree.
     */
    private static double ropeTheta(JsonNode n) {
        JsonNode params = n.get("rope_parameters");
        if (params == null || params.isNull()) {
            return n.path("rope_theta").asDouble(10000.0);
        }
        String type = params.path("rope_type").asText("default");
        List<String> keys = new ArrayList<>();
        params.fieldNames().forEachRemaining(keys::add);
        keys.removeAll(List.of("rope_type", "rope_theta"));
        if (!type.equals("default") || !keys.isEmpty()) {
            throw new IllegalArgumentException("rope_parameters " + params + " are not supported (default rope only)");
        }
        double theta = params.path("rope_theta").asDouble(n.path("rope_theta").asDouble(10000.0));
        if (n.hasNonNull("rope_theta") && n.get("rope_theta").asDouble() != theta) {
            throw new IllegalArgumentException("rope_theta " + n.get("rope_theta") + " and rope_parameters.rope_theta "
                    + theta + " disagree");
        }
        return theta;
    }

    private static int required(JsonNode n, String key) {
        if (!n.hasNonNull(key)) {
            throw new IllegalArgumentException("config.json lacks " + key);
        }
        return n.get(key).asInt();
    }

    /** Token ids may be null, a number, or (eos in newer configs) a list: the first one is taken. */
    private static int tokenId(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            return -1;
        }
        if (v.isArray()) {
            return v.size() == 0 ? -1 : v.get(0).asInt();
        }
        return v.asInt();
    }
}
