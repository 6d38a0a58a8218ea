package org.sparkrlhf.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A Llama decoder (Hugging Face {@code LlamaForCausalLM} math) on plain DJL NDArrays, with an optional
 * scalar head ({@code score.weight}, as in {@code LlamaForSequenceClassification}) for reward, value,
 * process-reward and verifier models.
 *
 * <pre>
 *   x = embed_tokens[ids]                                   [B,T,H]
 *   for each layer:
 *     x = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))   n1 = RMSNorm(x)
 *     x = x + down_proj(silu(gate_proj(n2)) * up_proj(n2))                  n2 = RMSNorm(x)
 *   h = RMSNorm(x)                                          hidden(...)
 *   logits = lm_head(h)                                     logits(...)   (lm_head = embed_tokens if tied)
 *   scores = score(h)[..., 0]                               scores(...)
 * </pre>
 *
 * <p>Weights are float32 NDArrays keyed by their Hugging Face names, linear weights in HF {@code [out, in]}
 * layout (applied with the fused {@code linear} op). Rotary embeddings use HF's rotate_half layout (dim i
 * pairs with dim i + d/2); grouped-query attention is computed by grouping the query heads of each
 * key/value head rather than by copying K/V ({@code repeat_kv}), which gives the same result.
 *
 * <p><b>Ownership.</b> The model owns its weights and rope tables in its own {@link NDManager} (a child of
 * the manager given at construction); {@link #close()} frees them. Every forward call runs in a temporary
 * sub-manager of {@code inputIds.getManager()}: intermediates are freed when the call returns and the result
 * is attached to {@code inputIds}' manager (the caller's). KV-cache tensors belong to the {@link KvCache}.
 *
 * <p><b>Threads.</b> Forward calls may run concurrently from several threads (weights are only read). Grad
 * mode is per thread: inference threads should run inside {@link #noGrad()} (or call
 * {@code JniUtils.setGradMode(false)}), so no autograd graph is recorded for trainable weights.
 */
public final class LlamaModel implements AutoCloseable {

    public static final String EMBED = "model.embed_tokens.weight";
    public static final String NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";
    public static final String SCORE = "score.weight";

    /** Added to the attention scores of hidden keys (finite, so fully masked pad rows stay NaN-free). */
    private static final float MASK_VALUE = -1e9f;

    /**
     * The fewest rows a slot-cache matrix product is given. Measured on this libtorch (CPU, one thread): a row of
     * an [M, K] x [K, N] product gets the same bits for every M &ge; 4, but other ones for M = 1, 2, 3 (another
     * kernel), so a row's numbers would depend on how many rows ran with it. Decoding callers run at least this many
     * slots (free ones, at length 0, are harmless); a prefill pads its LM-head rows itself.
     */
    public static final int MIN_GEMM_ROWS = 4;

    private final LlamaConfig config;
    private final boolean scoreHead;
    private final NDManager manager;
    /** Trainable parameters in canonical order; lm_head is absent when tied. */
    private final Map<String, NDArray> weights;
    private final Layer[] layers;
    private final NDArray embed;
    private final NDArray finalNorm;
    private final NDArray lmHead;
    private final NDArray score;
    /** cos/sin of position x frequency, [max_position_embeddings, head_dim], HF layout (halves repeated). */
    private final NDArray ropeCos;
    private final NDArray ropeSin;

    private record Layer(NDArray inNorm, NDArray q, NDArray k, NDArray v, NDArray o, NDArray postNorm,
                         NDArray gate, NDArray up, NDArray down) {
    }

    private LlamaModel(LlamaConfig config, boolean scoreHead, NDManager manager, Map<String, NDArray> weights) {
        this.config = config;
        this.scoreHead = scoreHead;
        this.manager = manager;
        this.weights = Collections.unmodifiableMap(weights);
        this.layers = new Layer[config.numHiddenLayers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "model.layers." + l + ".";
            layers[l] = new Layer(weights.get(p + "input_layernorm.weight"),
                    weights.get(p + "self_attn.q_proj.weight"), weights.get(p + "self_attn.k_proj.weight"),
                    weights.get(p + "self_attn.v_proj.weight"), weights.get(p + "self_attn.o_proj.weight"),
                    weights.get(p + "post_attention_layernorm.weight"), weights.get(p + "mlp.gate_proj.weight"),
                    weights.get(p + "mlp.up_proj.weight"), weights.get(p + "mlp.down_proj.weight"));
        }
        this.embed = weights.get(EMBED);
        this.finalNorm = weights.get(NORM);
        this.lmHead = config.tieWordEmbeddings() ? embed : weights.get(LM_HEAD);
        this.score = scoreHead ? weights.get(SCORE) : null;
        NDList rope = ropeTables(manager, config.maxPositionEmbeddings(), config.headDim(), config.ropeTheta());
        this.ropeCos = rope.get(0);
        this.ropeSin = rope.get(1);
    }

    // ---------------------------------------------------------------------------------- construction

    /** Hugging Face names and shapes of every parameter, in canonical order (lm_head only when untied). */
    public static Map<String, long[]> parameterShapes(LlamaConfig c, boolean scoreHead) {
        Map<String, long[]> s = new LinkedHashMap<>();
        long h = c.hiddenSize();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long i = c.intermediateSize();
        s.put(EMBED, new long[] {c.vocabSize(), h});
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = "model.layers." + l + ".";
            s.put(p + "input_layernorm.weight", new long[] {h});
            s.put(p + "self_attn.q_proj.weight", new long[] {h, h});
            s.put(p + "self_attn.k_proj.weight", new long[] {kv, h});
            s.put(p + "self_attn.v_proj.weight", new long[] {kv, h});
            s.put(p + "self_attn.o_proj.weight", new long[] {h, h});
            s.put(p + "post_attention_layernorm.weight", new long[] {h});
            s.put(p + "mlp.gate_proj.weight", new long[] {i, h});
            s.put(p + "mlp.up_proj.weight", new long[] {i, h});
            s.put(p + "mlp.down_proj.weight", new long[] {h, i});
        }
        s.put(NORM, new long[] {h});
        if (!c.tieWordEmbeddings()) {
            s.put(LM_HEAD, new long[] {c.vocabSize(), h});
        }
        if (scoreHead) {
            s.put(SCORE, new long[] {1, h});
        }
        return s;
    }

    /**
     * A freshly initialized model: matrices ~ normal(0, 0.02), norm weights 1. Deterministic: each tensor is
     * drawn in Java from a {@link SplittableRandom} seeded by (seed, tensor name), so the same seed gives
     * bit-identical weights on every run and machine, whatever the thread count.
     */
    public static LlamaModel init(LlamaConfig config, boolean scoreHead, long seed, NDManager parent) {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : parameterShapes(config, scoreHead).entrySet()) {
            t.put(e.getKey(), initialTensor(e.getKey(), e.getValue(), seed));
        }
        return fromTensors(config, t, parent);
    }

    /**
     * This model's weights (copied) plus a freshly initialized scalar head, in a new child of {@code parent}: a
     * reward model started from a language model, as transformers' {@code LlamaForSequenceClassification} starts
     * from a causal checkpoint. The head is drawn exactly as {@link #init} draws it for {@code seed}. A model that
     * already has a head keeps it (a copy), so a reward model can be trained further.
     */
    public LlamaModel withScoreHead(long seed, NDManager parent) {
        if (scoreHead) {
            return copy(parent);
        }
        Map<String, SafeTensors.Tensor> t = toTensors();
        t.put(SCORE, initialTensor(SCORE, new long[] {1, config.hiddenSize()}, seed));
        return fromTensors(config, t, parent);
    }

    /** One parameter as {@link #init} draws it: gains 1, matrices normal(0, 0.02) seeded by (seed, name). */
    private static SafeTensors.Tensor initialTensor(String name, long[] shape, long seed) {
        int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        float[] data = new float[n];
        if (shape.length == 1) {
            Arrays.fill(data, 1f);
        } else {
            SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + name.hashCode());
            for (int k = 0; k < n; k++) {
                data[k] = (float) (0.02 * rnd.nextGaussian());
            }
        }
        return new SafeTensors.Tensor(shape, data);
    }

    /**
     * Builds a model from float32 tensors keyed by Hugging Face names (e.g. a safetensors file). The scalar head
     * is present iff {@code score.weight} is. With tied embeddings a stored {@code lm_head.weight} is ignored
     * (HF ties it anyway); {@code rotary_emb.inv_freq} buffers are ignored; other unknown names are an error.
     */
    public static LlamaModel fromTensors(LlamaConfig config, Map<String, SafeTensors.Tensor> tensors,
                                         NDManager parent) {
        boolean head = tensors.containsKey(SCORE);
        Map<String, long[]> expected = parameterShapes(config, head);
        for (String name : tensors.keySet()) {
            if (!expected.containsKey(name) && !name.endsWith("rotary_emb.inv_freq")
                    && !(name.equals(LM_HEAD) && config.tieWordEmbeddings())) {
                throw new IllegalArgumentException("unexpected tensor " + name);
            }
        }
        NDManager m = parent.newSubManager();
        try {
            Map<String, NDArray> w = new LinkedHashMap<>();
            for (Map.Entry<String, long[]> e : expected.entrySet()) {
                SafeTensors.Tensor t = tensors.get(e.getKey());
                if (t == null) {
                    throw new IllegalArgumentException("missing tensor " + e.getKey());
                }
                if (!Arrays.equals(t.shape(), e.getValue())) {
                    throw new IllegalArgumentException("tensor " + e.getKey() + " has shape "
                            + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(e.getValue()));
                }
                NDArray a = t.toNDArray(m);
                a.setName(e.getKey());
                w.put(e.getKey(), a);
            }
            return new LlamaModel(config, head, m, w);
        } catch (RuntimeException ex) {
            m.close();
            throw ex;
        }
    }

    /** Copies the weights out of the engine (HF names, float32; lm_head only when untied), e.g. for saving. */
    public Map<String, SafeTensors.Tensor> toTensors() {
        Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>();
        weights.forEach((k, v) -> t.put(k, SafeTensors.Tensor.of(v)));
        return t;
    }

    /**
     * A deep copy of the weights in a new child of {@code parent}, with no gradient attached — e.g. the frozen
     * reference model of DPO / PPO / GRPO. Independent of this model afterwards (close both).
     */
    public LlamaModel copy(NDManager parent) {
        NDManager m = parent.newSubManager();
        Map<String, NDArray> w = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : weights.entrySet()) {
            NDArray detached = e.getValue().stopGradient();
            NDArray c = detached.duplicate();
            detached.close();
            c.attach(m);
            c.setName(e.getKey());
            w.put(e.getKey(), c);
        }
        return new LlamaModel(config, scoreHead, m, w);
    }

    // ------------------------------------------------------------------------------------ accessors

    public LlamaConfig config() {
        return config;
    }

    public boolean hasScoreHead() {
        return scoreHead;
    }

    /** The manager that owns the weights. */
    public NDManager manager() {
        return manager;
    }

    /**
     * The trainable parameters keyed by Hugging Face name, in canonical order (unmodifiable). With tied embeddings
     * there is no {@code lm_head.weight} entry: {@code model.embed_tokens.weight} serves both.
     */
    public Map<String, NDArray> parameters() {
        return weights;
    }

    /** The LM head matrix [V, H] that {@link #logits} applies to the hidden states (the embedding when tied). */
    public NDArray lmHeadWeight() {
        return lmHead;
    }

    /** The scalar head [1, H] that {@link #scores} applies to the hidden states (needs the score head). */
    public NDArray scoreHeadWeight() {
        requireScoreHead();
        return score;
    }

    public long parameterCount() {
        return weights.values().stream().mapToLong(NDArray::size).sum();
    }

    // ------------------------------------------------------------------------------------- training

    /**
     * Marks every parameter as requiring a gradient. Then, inside a DJL {@code GradientCollector}:
     * forward, {@code collector.backward(loss)}, and for each entry of {@link #parameters()}
     * {@code optimizer.update(name, weight, weight.getGradient())}.
     */
    public void attachGradient() {
        weights.values().forEach(w -> w.setRequiresGradient(true));
    }

    /** Zeroes the accumulated gradients of the parameters (only needed outside a fresh GradientCollector). */
    public void zeroGradients() {
        for (NDArray w : weights.values()) {
            if (w.hasGradient() && w instanceof PtNDArray pt) {
                JniUtils.zeroGrad(pt);
            }
        }
    }

    /** Disables autograd on the current thread until closed (restores the previous mode). */
    public static AutoCloseable noGrad() {
        boolean before = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        return () -> JniUtils.setGradMode(before);
    }

    // -------------------------------------------------------------------------------------- forward

    /**
     * Final-normed hidden states.
     *
     * @param inputIds      [B,T] int64 token ids
     * @param positionIds   [B,T] int64 rotary positions, or null: derived from the attention mask when given
     *                      (cumulative count of real tokens - 1, so left-padded rows start at 0 at their first
     *                      real token, as HF generation does), else {@code past .. past+T-1}
     * @param attentionMask [B,S] (int or bool, 1 = real, 0 = pad) over all keys, S = cached length + T; or null
     * @param cache         KV cache to read from and append to, or null for a plain forward
     * @return [B,T,H] float32, attached to {@code inputIds}' manager
     */
    public NDArray hidden(NDArray inputIds, NDArray positionIds, NDArray attentionMask, KvCache cache) {
        return forward(inputIds, positionIds, attentionMask, cache, true, false, false).singletonOrThrow();
    }

    /** Next-token logits [B,T,V]; arguments as in {@link #hidden}. */
    public NDArray logits(NDArray inputIds, NDArray positionIds, NDArray attentionMask, KvCache cache) {
        return forward(inputIds, positionIds, attentionMask, cache, false, true, false).singletonOrThrow();
    }

    /** Per-position scalar-head outputs [B,T] (needs the score head); arguments as in {@link #hidden}. */
    public NDArray scores(NDArray inputIds, NDArray positionIds, NDArray attentionMask, KvCache cache) {
        requireScoreHead();
        return forward(inputIds, positionIds, attentionMask, cache, false, false, true).singletonOrThrow();
    }

    /** Logits [B,T,V] and scores [B,T] from one pass (needs the score head). */
    public NDList logitsAndScores(NDArray inputIds, NDArray positionIds, NDArray attentionMask, KvCache cache) {
        requireScoreHead();
        return forward(inputIds, positionIds, attentionMask, cache, false, true, true);
    }

    private void requireScoreHead() {
        if (!scoreHead) {
            throw new IllegalStateException("this model has no score head");
        }
    }

    /** A new, empty KV cache for this model, owning its tensors in a child of {@code parent}. */
    public KvCache newCache(NDManager parent) {
        return new KvCache(config.numHiddenLayers(), parent);
    }

    private NDList forward(NDArray ids, NDArray pos, NDArray mask, KvCache cache,
                           boolean wantHidden, boolean wantLogits, boolean wantScores) {
        NDManager caller = ids.getManager();
        Shape idShape = ids.getShape();
        if (idShape.dimension() != 2) {
            throw new IllegalArgumentException("inputIds must be [B,T], got " + idShape);
        }
        long b = idShape.get(0);
        long t = idShape.get(1);
        int past = cache == null ? 0 : cache.length();
        if (cache != null && cache.length() > 0 && cache.batchSize() != b) {
            throw new IllegalArgumentException("cache holds batch " + cache.batchSize() + ", input has " + b);
        }
        long s = past + t;
        if (mask != null && !mask.getShape().equals(new Shape(b, s))) {
            throw new IllegalArgumentException("attentionMask must be [B, cached+T] = " + new Shape(b, s)
                    + ", got " + mask.getShape());
        }
        if (pos != null && !pos.getShape().equals(idShape)) {
            throw new IllegalArgumentException("positionIds must be " + idShape + ", got " + pos.getShape());
        }
        try (NDManager sub = caller.newSubManager()) {
            // inputs join the sub-manager for the call so every intermediate lands there (ops put their
            // result in the manager of their first operand); they return to their owners on close.
            List<NDArray> in = new ArrayList<>();
            for (NDArray a : new NDArray[] {ids, pos, mask}) {
                if (a != null) {
                    in.add(a);
                }
            }
            sub.tempAttachAll(in.toArray(new NDArray[0]));

            NDArray x = Embedding.embedding(ids, embed, SparseFormat.DENSE).singletonOrThrow();
            if (pos == null) {
                pos = mask != null
                        ? mask.toType(DataType.INT64, false).cumSum(1).sub(1).clip(0, Integer.MAX_VALUE)
                                .get(new NDIndex(":, " + past + ":"))
                        : sub.arange(past, past + (int) t, 1, DataType.INT64).reshape(1, t);
            }
            // [B|1, 1, T, d], broadcast over heads
            NDArray cos = Embedding.embedding(pos, ropeCos, SparseFormat.DENSE).singletonOrThrow().expandDims(1);
            NDArray sin = Embedding.embedding(pos, ropeSin, SparseFormat.DENSE).singletonOrThrow().expandDims(1);
            NDArray addMask = attentionBias(sub, mask, past, t, b);

            for (int l = 0; l < layers.length; l++) {
                Layer ly = layers[l];
                NDArray h = rmsNorm(x, ly.inNorm, config.rmsNormEps());
                x = x.add(attention(h, ly, cos, sin, addMask, cache, l));
                h = rmsNorm(x, ly.postNorm, config.rmsNormEps());
                x = x.add(swiGlu(h, ly.gate, ly.up, ly.down));
            }
            x = rmsNorm(x, finalNorm, config.rmsNormEps());

            NDList out = new NDList();
            if (wantHidden) {
                out.add(x);
            }
            if (wantLogits) {
                out.add(Linear.linear(x, lmHead).singletonOrThrow());
            }
            if (wantScores) {
                out.add(Linear.linear(x, score).singletonOrThrow().squeeze(-1));
            }
            out.attach(caller);
            if (cache != null) {
                cache.advance(b, (int) t);
            }
            return out;
        }
    }

    /** Additive attention bias [B|1, 1, T, S]: 0 where query i (absolute past+i) may see key j, else -1e9. */
    private static NDArray attentionBias(NDManager sub, NDArray mask, int past, long t, long b) {
        long s = past + t;
        NDArray qPos = sub.arange(past, past + (int) t, 1, DataType.INT64).reshape(t, 1);
        NDArray kPos = sub.arange(0, (int) s, 1, DataType.INT64).reshape(1, s);
        NDArray allowed = kPos.lte(qPos).reshape(1, 1, t, s);
        if (mask != null) {
            allowed = allowed.logicalAnd(mask.toType(DataType.BOOLEAN, false).reshape(b, 1, 1, s));
        }
        return allowed.toType(DataType.FLOAT32, false).sub(1f).mul(-MASK_VALUE);
    }

    private NDArray attention(NDArray h, Layer ly, NDArray cos, NDArray sin, NDArray addMask, KvCache cache,
                              int layer) {
        long b = h.getShape().get(0);
        long t = h.getShape().get(1);
        int nH = config.numAttentionHeads();
        int kvH = config.numKeyValueHeads();
        int rep = config.numKeyValueGroups();
        int d = config.headDim();
        NDArray q = Linear.linear(h, ly.q).singletonOrThrow().reshape(b, t, nH, d).transpose(0, 2, 1, 3);
        NDArray k = Linear.linear(h, ly.k).singletonOrThrow().reshape(b, t, kvH, d).transpose(0, 2, 1, 3);
        NDArray v = Linear.linear(h, ly.v).singletonOrThrow().reshape(b, t, kvH, d).transpose(0, 2, 1, 3);
        q = Scalars.times(applyRope(q, cos, sin), 1.0 / Math.sqrt(d));
        k = applyRope(k, cos, sin);
        if (cache != null) {
            k = cache.append(layer, true, k);
            v = cache.append(layer, false, v);
        }
        long s = k.getShape().get(2);
        // GQA: query head j uses kv head j / rep (HF repeat_kv). The rep query heads of one kv head are
        // consecutive, so [B, nH, T, d] -> [B, kvH, rep*T, d] lines them up against their K/V without copies.
        NDArray scores = q.reshape(b, kvH, rep * t, d).matMul(k.transpose(0, 1, 3, 2)).reshape(b, nH, t, s);
        NDArray probs = scores.add(addMask).softmax(-1);
        NDArray o = probs.reshape(b, kvH, rep * t, s).matMul(v)
                .reshape(b, nH, t, d).transpose(0, 2, 1, 3).reshape(b, t, (long) nH * d);
        return Linear.linear(o, ly.o).singletonOrThrow();
    }

    // ------------------------------------------------------------------------- slot-cache generation

    /**
     * A {@link SlotCache} of {@code slots} rows of {@code capacity} positions each, in a child of {@code parent},
     * holding a fused copy of the projection weights as they are now: make a new one after the weights change.
     */
    public SlotCache newSlotCache(NDManager parent, int slots, int capacity) {
        if (slots < 1 || capacity < 1 || capacity > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("slots must be >= 1 and capacity in 1.." + config.maxPositionEmbeddings()
                    + ", got " + slots + " and " + capacity);
        }
        return new SlotCache(this, slots, capacity, parent);
    }

    /**
     * Feeds whole prompts into some slots of {@code cache} and returns each row's next-token logits. The prompts
     * are right-padded, {@code ids} [n, W] with row r's tokens in columns {@code 0 .. lengths[r]-1} at positions
     * {@code 0 .. lengths[r]-1}: under the causal mask no real token sees a pad, so no attention mask is needed.
     * Keys and values of all W columns go to columns {@code 0 .. W-1} of slot {@code slots[r]}; those past
     * {@code lengths[r]} are junk that {@link #decodeSlots} never attends to and overwrites as the row grows. The
     * attention runs over all W columns, so a row's last bits depend on W: a caller that wants a row's numbers to be
     * its own picks W from the row's length alone (and prefills rows of other widths separately).
     *
     * @return [n, V] float32 logits at each row's last prompt token, attached to {@code ids}' manager
     */
    public NDArray prefillSlots(NDArray ids, int[] slots, int[] lengths, SlotCache cache) {
        long n = ids.getShape().get(0);
        int w = (int) ids.getShape().get(1);
        if (ids.getShape().dimension() != 2 || slots.length != n || lengths.length != n || w > cache.capacity) {
            throw new IllegalArgumentException("prefill of " + ids.getShape() + " with " + slots.length + " slots and "
                    + lengths.length + " lengths into capacity " + cache.capacity);
        }
        long[] last = new long[(int) n];
        for (int r = 0; r < n; r++) {
            if (lengths[r] < 1 || lengths[r] > w) {
                throw new IllegalArgumentException("prompt length " + lengths[r] + " outside 1.." + w);
            }
            last[r] = lengths[r] - 1;
        }
        float[] bias = new float[w * w];
        for (int i = 0; i < w; i++) {
            Arrays.fill(bias, i * w + i + 1, (i + 1) * w, MASK_VALUE);
        }
        long[] pos = new long[w];
        for (int i = 0; i < w; i++) {
            pos[i] = i;
        }
        long[] rows = new long[(int) n];
        for (int r = 0; r < n; r++) {
            rows[r] = slots[r];
        }
        NDManager caller = ids.getManager();
        try (NDManager sub = caller.newSubManager()) {
            return slotForward(sub, ids, sub.create(pos, new Shape(1, w)), sub.create(bias, new Shape(1, 1, w, w)),
                    sub.create(rows), null, last, cache);
        }
    }

    /**
     * One decoding step for the first {@code m} slots of {@code cache} ({@code ids} [m, 1], m &le; slots; the
     * caller keeps its running sequences in the leading slots, see {@link SlotCache#moveSlots}). Slot i's newest
     * token sits at position {@code lengths[i]} (the tokens slot i already caches); its key and value are written at
     * column {@code lengths[i]}, and it attends to columns {@code 0 .. lengths[i]} of its own slot only, so slots of
     * different lengths (or unused ones, fed any token at length 0) do not affect each other.
     *
     * <p>Every step attends over the cache's whole capacity, masked past each slot's length, not over the longest
     * slot's prefix: the products' last bits depend on how many columns they run over (in blocks of 16 here), so a
     * prefix set by the other slots would make a row's numbers depend on its batch-mates. With a fixed width they do
     * not, provided the caller decodes at least {@link #MIN_GEMM_ROWS} rows (see there).
     *
     * @return [m, V] float32 next-token logits, attached to {@code ids}' manager
     */
    public NDArray decodeSlots(NDArray ids, int[] lengths, SlotCache cache) {
        int b = (int) ids.getShape().get(0);
        if (ids.getShape().dimension() != 2 || ids.getShape().get(1) != 1 || b > cache.slots
                || lengths.length != b) {
            throw new IllegalArgumentException("decode of " + ids.getShape() + " with " + lengths.length
                    + " lengths for " + cache.slots + " slots");
        }
        for (int len : lengths) {
            if (len < 0 || len >= cache.capacity) {
                throw new IllegalArgumentException("slot length " + len + " outside 0.." + (cache.capacity - 1));
            }
        }
        int s = cache.capacity;
        float[] bias = new float[b * s];
        long[] pos = new long[b];
        for (int i = 0; i < b; i++) {
            Arrays.fill(bias, i * s + lengths[i] + 1, (i + 1) * s, MASK_VALUE);
            pos[i] = lengths[i];
        }
        NDManager caller = ids.getManager();
        try (NDManager sub = caller.newSubManager()) {
            NDArray posNd = sub.create(pos, new Shape(b, 1));
            NDArray rows = b == cache.slots ? cache.rows : sub.arange(0, b, 1, DataType.INT64);
            return slotForward(sub, ids, posNd, sub.create(bias, new Shape(b, 1, 1, s)), rows, posNd.reshape(b),
                    null, cache);
        }
    }

    /**
     * The forward pass of {@link #prefillSlots} ({@code cols == null}: [n, T] tokens attend to each other and are
     * written to columns 0..T-1) and {@link #decodeSlots} ({@code cols} given, T = 1: each token is written at its
     * column and attends over the whole cache, masked by {@code bias}). The math of {@link #forward}, in fewer tensor
     * ops, which is what a small model's decoding step costs: one product against the cache's fused projection
     * gives q, k, v and the rotate_half of q and k; the decoding step keeps its tokens as [n, heads, d] without
     * transposes; keys are cached transposed, ready for the q.k product; and RMSNorm adds a cached eps tensor
     * (a Java number would be wrapped in a fresh tensor at every call).
     */
    private NDArray slotForward(NDManager sub, NDArray ids, NDArray pos, NDArray bias, NDArray rows, NDArray cols,
                                long[] lastCols, SlotCache cache) {
        NDManager caller = ids.getManager();
        sub.tempAttachAll(ids);
        // cache views and in-place writes then land in the call's manager too (the cache keeps its tensors)
        sub.tempAttachAll(cache.keysT);
        sub.tempAttachAll(cache.values);
        boolean decode = cols != null;
        long n = ids.getShape().get(0);
        long t = ids.getShape().get(1);
        int nH = config.numAttentionHeads();
        int kvH = config.numKeyValueHeads();
        int rep = config.numKeyValueGroups();
        int d = config.headDim();
        long heads = 2L * nH + 3L * kvH;
        long[] qkvSplit = {nH + kvH, nH + 2L * kvH};
        long[] qkSplit = {nH};
        long[] mlpSplit = {config.intermediateSize()};
        NDIndex writeK = decode ? new NDIndex("{}, :, :, {}", rows, cols) : new NDIndex("{}, :, :, 0:" + t, rows);
        NDIndex writeV = decode ? new NDIndex("{}, :, {}, :", rows, cols) : new NDIndex("{}, :, 0:" + t + ", :", rows);

        NDArray x = Embedding.embedding(ids, embed, SparseFormat.DENSE).singletonOrThrow();
        // decode: [n, 1, d] against [n, heads, d]; prefill: [1, 1, T, d] against [n, heads, T, d]
        NDArray cos = Embedding.embedding(pos, ropeCos, SparseFormat.DENSE).singletonOrThrow();
        NDArray sin = Embedding.embedding(pos, ropeSin, SparseFormat.DENSE).singletonOrThrow();
        if (!decode) {
            cos = cos.expandDims(1);
            sin = sin.expandDims(1);
        }
        for (int l = 0; l < layers.length; l++) {
            Layer ly = layers[l];
            NDArray h = rmsNorm(x, ly.inNorm, cache.eps);
            NDArray proj = Linear.linear(h, cache.proj[l]).singletonOrThrow();
            proj = decode ? proj.reshape(n, heads, d) : proj.reshape(n, t, heads, d).transpose(0, 2, 1, 3);
            NDList parts = proj.split(qkvSplit, 1);
            NDList qk = parts.get(0).mul(cos).add(parts.get(2).mul(sin)).split(qkSplit, 1);
            NDArray q = qk.get(0);
            NDArray k = qk.get(1);
            NDArray v = parts.get(1);
            NDArray o;
            if (decode) {
                cache.keysT[l].set(writeK, k);
                cache.values[l].set(writeV, v);
                NDArray keysT = cache.keysT[l];
                NDArray values = cache.values[l];
                if (n < cache.slots) {
                    keysT = JniUtils.slice((PtNDArray) keysT, 0, 0, n, 1);
                    values = JniUtils.slice((PtNDArray) values, 0, 0, n, 1);
                }
                // [n, kvH, rep, S]: the rep query heads of a kv head against its keys; bias [n, 1, 1, S]
                NDArray probs = q.reshape(n, kvH, rep, d).matMul(keysT).add(bias).softmax(-1);
                o = probs.matMul(values).reshape(n, 1, (long) nH * d);
            } else {
                NDArray kT = k.transpose(0, 1, 3, 2);
                cache.keysT[l].set(writeK, kT);
                cache.values[l].set(writeV, v);
                NDArray scores = q.reshape(n, kvH, rep * t, d).matMul(kT).reshape(n, nH, t, t);
                NDArray probs = scores.add(bias).softmax(-1).reshape(n, kvH, rep * t, t);
                o = probs.matMul(v).reshape(n, nH, t, d).transpose(0, 2, 1, 3).reshape(n, t, (long) nH * d);
            }
            x = x.add(Linear.linear(o, ly.o).singletonOrThrow());
            h = rmsNorm(x, ly.postNorm, cache.eps);
            NDList gu = Linear.linear(h, cache.gateUp[l]).singletonOrThrow().split(mlpSplit, 2);
            NDArray g = gu.get(0);
            NDArray act = g.mul(Activation.sigmoid(g)).mul(gu.get(1));
            x = x.add(Linear.linear(act, ly.down).singletonOrThrow());
        }
        // RMSNorm is per position: only the positions whose next token is wanted are normed and projected
        NDArray last = decode ? x.reshape(n, config.hiddenSize()) : lastPositions(sub, x, lastCols, n);
        NDArray logits = Linear.linear(rmsNorm(last, finalNorm, cache.eps), lmHead).singletonOrThrow();
        if (!decode && n < MIN_GEMM_ROWS) {
            logits = logits.get(new NDIndex("0:" + n));
        }
        logits.attach(caller);
        return logits;
    }

    /**
     * Row {@code r}'s hidden state at column {@code lastCols[r]} of {@code x} [n, T, H], as [max(n, MIN_GEMM_ROWS), H]:
     * fewer rows are padded with copies of row 0's, so the LM head's product sees at least {@link #MIN_GEMM_ROWS}.
     */
    private static NDArray lastPositions(NDManager sub, NDArray x, long[] lastCols, long n) {
        int m = (int) Math.max(n, MIN_GEMM_ROWS);
        long[] rows = new long[m];
        long[] cols = new long[m];
        for (int r = 0; r < m; r++) {
            rows[r] = r < n ? r : 0;
            cols[r] = r < n ? lastCols[r] : lastCols[0];
        }
        return x.get(new NDIndex("{}, {}", sub.create(rows), sub.create(cols)));
    }

    /** {@link #rmsNorm(NDArray, NDArray, double)} with eps as a float32 0-d tensor: the same numbers. */
    private static NDArray rmsNorm(NDArray x, NDArray weight, NDArray eps) {
        NDArray rms = x.square().mean(new int[] {-1}, true).add(eps).sqrt();
        return x.div(rms).mul(weight);
    }

    // ---------------------------------------------------------------------------- building blocks

    /** RMSNorm as in HF LlamaRMSNorm: {@code weight * x / sqrt(mean(x^2, last axis) + eps)}. */
    public static NDArray rmsNorm(NDArray x, NDArray weight, double eps) {
        NDArray rms = x.square().mean(new int[] {-1}, true).add(eps).sqrt();
        return x.div(rms).mul(weight);
    }

    /** SwiGLU MLP {@code down(silu(gate(x)) * up(x))}, silu(z) = z * sigmoid(z); weights in [out, in] layout. */
    public static NDArray swiGlu(NDArray x, NDArray gate, NDArray up, NDArray down) {
        NDArray g = Linear.linear(x, gate).singletonOrThrow();
        NDArray u = Linear.linear(x, up).singletonOrThrow();
        NDArray act = g.mul(Activation.sigmoid(g)).mul(u);
        return Linear.linear(act, down).singletonOrThrow();
    }

    /** HF rotate_half: {@code [x1, x2] -> [-x2, x1]} with x1, x2 the two halves of the last axis. */
    public static NDArray rotateHalf(NDArray x) {
        int last = x.getShape().dimension() - 1; // DJL's split rejects negative axes
        NDList halves = x.split(2, last);
        return halves.get(1).neg().concat(halves.get(0), last);
    }

    /** Rotary embedding {@code x * cos + rotate_half(x) * sin}; cos/sin broadcast against x [.., T, d]. */
    public static NDArray applyRope(NDArray x, NDArray cos, NDArray sin) {
        return x.mul(cos).add(rotateHalf(x).mul(sin));
    }

    /**
     * Rotary tables [maxPos, d] in HF layout: for position p and i &lt; d/2, angle = p * theta^(-2i/d) and
     * {@code cos[p, i] = cos[p, i + d/2] = cos(angle)}, likewise sin. Computed in double, stored as float32.
     */
    public static NDList ropeTables(NDManager manager, int maxPos, int headDim, double theta) {
        int half = headDim / 2;
        float[] c = new float[maxPos * headDim];
        float[] s = new float[maxPos * headDim];
        for (int i = 0; i < half; i++) {
            double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
            for (int p = 0; p < maxPos; p++) {
                double a = p * invFreq;
                float cv = (float) Math.cos(a);
                float sv = (float) Math.sin(a);
                c[p * headDim + i] = cv;
                c[p * headDim + i + half] = cv;
                s[p * headDim + i] = sv;
                s[p * headDim + i + half] = sv;
            }
        }
        Shape shape = new Shape(maxPos, headDim);
        return new NDList(manager.create(c, shape), manager.create(s, shape));
    }

    // ------------------------------------------------------------------------------- log-prob helpers

    /**
     * {@code log_softmax(logits)[..., targets]}: logits [B,T,V], targets [B,T] int64 → [B,T], in the manager of
     * {@code logits} (intermediates freed). Differentiable.
     */
    public static NDArray tokenLogProbs(NDArray logits, NDArray targets) {
        NDManager caller = logits.getManager();
        try (NDManager sub = caller.newSubManager()) {
            sub.tempAttachAll(logits, targets);
            NDArray out = logits.logSoftmax(-1).gather(targets.toType(DataType.INT64, false).expandDims(-1), -1)
                    .squeeze(-1);
            out.attach(caller);
            return out;
        }
    }

    /** Entropy of the softmax distribution over the last axis, {@code -sum p log p}: [B,T,V] → [B,T]. */
    public static NDArray entropy(NDArray logits) {
        NDManager caller = logits.getManager();
        try (NDManager sub = caller.newSubManager()) {
            sub.tempAttachAll(logits);
            NDArray lp = logits.logSoftmax(-1);
            NDArray out = lp.exp().mul(lp).sum(new int[] {-1}).neg();
            out.attach(caller);
            return out;
        }
    }

    @Override
    public void close() {
        manager.close();
    }

    /**
     * Keys and values of a fixed number of generation slots, per layer [slots, kvHeads, capacity, headDim]
     * (after rotary embedding), written in place by {@link #prefillSlots} and {@link #decodeSlots}; each slot
     * holds one sequence at its own length, which the caller tracks. A finished sequence's slot is reused by
     * prefilling the next one over it. Also holds the fused inference weights of the model at creation (q|k|v
     * and gate|up rows concatenated, one matrix product each instead of three and two); training never sees
     * them. Not thread-safe; close it (or its parent manager) when done.
     */
    public static final class SlotCache implements AutoCloseable {
        private final NDManager manager;
        /** Per layer: keys transposed [slots, kvHeads, headDim, capacity], values [slots, kvHeads, capacity, headDim]. */
        private final NDArray[] keysT;
        private final NDArray[] values;
        /** Per layer: rows of q/sqrt(d), k, v, rotate_half(q)/sqrt(d), rotate_half(k) projections, [(2 nH + 3 kvH) d, H]. */
        private final NDArray[] proj;
        private final NDArray[] gateUp;
        private final NDArray eps;
        /** 0 .. slots-1, the rows a decoding step writes. */
        private final NDArray rows;
        private final int slots;
        private final int capacity;

        private SlotCache(LlamaModel model, int slots, int capacity, NDManager parent) {
            this.manager = parent.newSubManager();
            this.slots = slots;
            this.capacity = capacity;
            LlamaConfig c = model.config;
            int n = c.numHiddenLayers();
            int d = c.headDim();
            keysT = new NDArray[n];
            values = new NDArray[n];
            proj = new NDArray[n];
            gateUp = new NDArray[n];
            eps = manager.full(new Shape(), (float) c.rmsNormEps(), DataType.FLOAT32);
            rows = manager.arange(0, slots, 1, DataType.INT64);
            try (NDManager tmp = manager.newSubManager()) {
                for (int l = 0; l < n; l++) {
                    keysT[l] = manager.zeros(new Shape(slots, c.numKeyValueHeads(), d, capacity));
                    values[l] = manager.zeros(new Shape(slots, c.numKeyValueHeads(), capacity, d));
                    Layer ly = model.layers[l];
                    // the softmax scale folded into q's rows: exact when sqrt(d) is a power of two (d = 16, 64, 256)
                    NDArray q = Scalars.times(detached(tmp, ly.q), 1.0 / Math.sqrt(d));
                    NDArray k = detached(tmp, ly.k);
                    proj[l] = fused(q, k, detached(tmp, ly.v), rotatedRows(q, d), rotatedRows(k, d));
                    gateUp[l] = fused(detached(tmp, ly.gate), detached(tmp, ly.up));
                }
            }
        }

        private static NDArray detached(NDManager tmp, NDArray w) {
            NDArray out = w.stopGradient();
            out.attach(tmp);
            return out;
        }

        /**
         * Rows of the projection whose output is rotate_half of w's, head by head: rotate_half(x) = [-x2, x1] for
         * the halves x1, x2 of a head, so its rows are [-w2, w1]. Negating and reordering rows is exact.
         */
        private static NDArray rotatedRows(NDArray w, int d) {
            long rowsOut = w.getShape().get(0);
            long in = w.getShape().get(1);
            NDArray halves = w.reshape(rowsOut / d, 2, d / 2, in);
            NDList split = halves.split(2, 1);
            return split.get(1).neg().concat(split.get(0), 1).reshape(rowsOut, in);
        }

        /** The weights' rows stacked, owned by this cache. */
        private NDArray fused(NDArray... weights) {
            NDArray out = NDArrays.concat(new NDList(weights), 0);
            out.attach(manager);
            return out;
        }

        /**
         * Copies the cached keys and values of slots {@code from[i]} into slots {@code to[i]} (the two sets
         * disjoint), e.g. to gather the running sequences into the leading slots when fewer remain.
         */
        public void moveSlots(int[] from, int[] to) {
            if (from.length != to.length) {
                throw new IllegalArgumentException(from.length + " source slots for " + to.length + " targets");
            }
            try (NDManager tmp = manager.newSubManager()) {
                NDIndex src = new NDIndex("{}", tmp.create(Arrays.stream(from).asLongStream().toArray()));
                NDIndex dst = new NDIndex("{}", tmp.create(Arrays.stream(to).asLongStream().toArray()));
                tmp.tempAttachAll(keysT);
                tmp.tempAttachAll(values);
                for (int l = 0; l < keysT.length; l++) {
                    keysT[l].set(dst, keysT[l].get(src));
                    values[l].set(dst, values[l].get(src));
                }
            }
        }

        /** Number of slots (the most rows a forward pass through this cache takes). */
        public int slots() {
            return slots;
        }

        /** Positions each slot can hold. */
        public int capacity() {
            return capacity;
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    // ------------------------------------------------------------------------------------- KV cache

    /**
     * Per-layer keys and values [B, kvHeads, S, headDim] (after rotary embedding), appended by each forward call
     * that is given this cache. Typical batched generation: call {@code logits(prompt, null, mask, cache)} once
     * with the left-padded prompts and their mask, then {@code logits(nextTokens [B,1], null, mask', cache)} per
     * step where {@code mask'} is the previous mask with a column of ones appended. Not thread-safe; close it
     * (or its parent manager) when done. Appending concatenates (O(S) copy per step), fine for short sequences.
     */
    public static final class KvCache implements AutoCloseable {
        private final NDManager manager;
        private final NDArray[] keys;
        private final NDArray[] values;
        private int length;
        private long batch = -1;

        KvCache(int numLayers, NDManager parent) {
            this.manager = parent.newSubManager();
            this.keys = new NDArray[numLayers];
            this.values = new NDArray[numLayers];
        }

        /** Number of cached positions S. */
        public int length() {
            return length;
        }

        /** Batch size of the cached sequences (-1 while empty). */
        public long batchSize() {
            return batch;
        }

        /** Cached keys of a layer, [B, kvHeads, S, headDim] (owned by the cache), or null while empty. */
        public NDArray keys(int layer) {
            return keys[layer];
        }

        /** Cached values of a layer, [B, kvHeads, S, headDim] (owned by the cache), or null while empty. */
        public NDArray values(int layer) {
            return values[layer];
        }

        NDArray append(int layer, boolean isKey, NDArray fresh) {
            NDArray[] store = isKey ? keys : values;
            NDArray old = store[layer];
            NDArray all = old == null ? fresh : old.concat(fresh, 2);
            all.attach(manager);
            if (old != null) {
                old.close();
            }
            store[layer] = all;
            return all;
        }

        void advance(long batchSize, int steps) {
            batch = batchSize;
            length += steps;
        }

        @Override
        public void close() {
            manager.close();
        }
    }
}
