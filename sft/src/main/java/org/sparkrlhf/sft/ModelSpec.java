package org.sparkrlhf.sft;

import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

/**
 * Architecture of a model trained from scratch, in Hugging Face {@code LlamaConfig} names (config
 * section {@code sft.model}); the vocabulary and special ids come from the tokenizer.
 */
public class ModelSpec {
  /** Width of the residual stream. Default 128. */
  public int hiddenSize = 128;
  /** Width of the SwiGLU MLP. Default 384. */
  public int intermediateSize = 384;
  /** Decoder layers. Default 4. */
  public int numHiddenLayers = 4;
  /** Query heads. Default 4. */
  public int numAttentionHeads = 4;
  /** Key/value heads (fewer than query heads = grouped-query attention). Default 4. */
  public int numKeyValueHeads = 4;
  /** Longest sequence in tokens. Default 128. */
  public int maxPositionEmbeddings = 128;
  /** Rotary base. Default 10000. */
  public double ropeTheta = 10000.0;
  /** RMSNorm epsilon. Default 1e-5. */
  public double rmsNormEps = 1e-5;
  /** Share the LM head with the token embeddings. Default true. */
  public boolean tieWordEmbeddings = true;

  /**
   * What is wrong with these sizes, in one line naming {@code section}'s keys, or null: the architecture's own
   * rules (LlamaConfig's), checked before any data is read or Spark started.
   */
  public String problem(String section) {
    try {
      new LlamaConfig(hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
          1, maxPositionEmbeddings, ropeTheta, rmsNormEps, tieWordEmbeddings, -1, -1, -1);
      return null;
    } catch (IllegalArgumentException e) {
      return section + ": " + e.getMessage() + " (hidden_size " + hiddenSize + ", num_attention_heads "
          + numAttentionHeads + ", num_key_value_heads " + numKeyValueHeads + ")";
    }
  }

  public LlamaConfig toConfig(TextTokenizer tok) {
    return new LlamaConfig(hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
        tok.vocabSize(), maxPositionEmbeddings, ropeTheta, rmsNormEps, tieWordEmbeddings,
        tok.bosId(), tok.eosId(), tok.padId());
  }
}
