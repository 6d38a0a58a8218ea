package org.sparkrlhf.rollouts.engine;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Token choice on one row of next-token logits, in plain Java (double precision) so the decision depends only on
 * that row's logits and random number — never on the batch it was computed in. All methods read
 * {@code logits[off .. off+n)}.
 *
 * <p>Sampling order (Hugging Face / vLLM): scale by 1/T, keep the top k (ties to the lower id), keep the nucleus
 * (the most likely tokens, in order, while the mass before them is below topP of what top-k kept), renormalize,
 * then invert the cumulative distribution at {@code u} in that order.
 */
public final class Sampler {

    /** Candidates with weight below this fraction of the best one are skipped by top-p when the rest suffices. */
    private static final double NUCLEUS_PREFILTER = 1e-7;

    private Sampler() {
    }

    /** Index (relative to off) of the largest logit; ties go to the lowest index. NaN never wins. */
    public static int argmax(float[] logits, int off, int n) {
        int best = 0;
        float bv = Float.NEGATIVE_INFINITY;
        boolean found = false;
        for (int i = 0; i < n; i++) {
            float v = logits[off + i];
            if (!found ? !Float.isNaN(v) : v > bv) {
                bv = v;
                best = i;
                found = true;
            }
        }
        return best;
    }

    /**
     * {@code log_softmax(logits / T)[token]} (T &le; 0 means 1: the untempered distribution, used for greedy), in
     * double.
     */
    public static double logProb(float[] logits, int off, int n, double temperature, int token) {
        double invT = temperature > 0 ? 1.0 / temperature : 1.0;
        float max = logits[off + argmax(logits, off, n)];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp((logits[off + i] - (double) max) * invT);
        }
        return (logits[off + token] - (double) max) * invT - Math.log(sum);
    }

    /**
     * Draws a token. {@code temperature} must be &gt; 0 (use {@link #argmax} for greedy); {@code topK} 0 = off;
     * {@code topP} 1 = off; {@code u} uniform in [0, 1).
     */
    public static int sample(float[] logits, int off, int n, double temperature, int topK, double topP, double u) {
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("sample needs temperature > 0; use argmax for greedy");
        }
        double[] w = new double[n];
        double total = weights(logits, off, n, 1.0 / temperature, w);
        return sampleWeighted(logits, off, n, w, total, topK, topP, u);
    }

    /**
     * Chooses the next token of one row and scores it, computing the softmax weights once: argmax for greedy
     * params, else a draw with one {@code random.nextDouble()}. Stores {@link #logProb} of the choice (at the
     * sampling temperature, 1 for greedy) in {@code logProbOut[0]}. {@code scratch} holds at least n doubles.
     */
    static int pick(float[] logits, int off, int n, SamplingParams p, SplittableRandom random,
                    double[] scratch, double[] logProbOut) {
        double invT = p.isGreedy() ? 1.0 : 1.0 / p.temperature();
        int best = argmax(logits, off, n);
        double total = weights(logits, off, n, invT, scratch);
        int token = p.isGreedy() ? best
                : sampleWeighted(logits, off, n, scratch, total, p.topK(), p.topP(), random.nextDouble());
        logProbOut[0] = (logits[off + token] - (double) logits[off + best]) * invT - Math.log(total);
        return token;
    }

    /** Fills {@code w[i] = exp((logit_i - max) * invT)} and returns their sum (same order as {@link #logProb}). */
    private static double weights(float[] logits, int off, int n, double invT, double[] w) {
        float max = logits[off + argmax(logits, off, n)];
        double total = 0;
        for (int i = 0; i < n; i++) {
            w[i] = weight(logits[off + i], max, invT);
            total += w[i];
        }
        return total;
    }

    private static int sampleWeighted(float[] logits, int off, int n, double[] w, double total, int topK,
                                      double topP, double u) {
        boolean useK = topK > 0 && topK < n;
        boolean useP = topP < 1.0;
        if (!useK && !useP) {
            double target = u * total;
            double cum = 0;
            int last = -1;
            for (int i = 0; i < n; i++) {
                if (w[i] > 0) {
                    cum += w[i];
                    last = i;
                    if (cum > target) {
                        return i;
                    }
                }
            }
            return last >= 0 ? last : argmax(logits, off, n);
        }
        int[] kept = truncated(logits, off, n, w, total, topK, topP);
        double mass = 0;
        for (int id : kept) {
            mass += w[id];
        }
        double target = u * mass;
        double cum = 0;
        for (int id : kept) {
            cum += w[id];
            if (cum > target) {
                return id;
            }
        }
        return kept[kept.length - 1];
    }

    /**
     * The ids top-k then top-p keep, most likely first (ties: lower id first). Top-p renormalizes over the top-k
     * survivors when top-k is on (Hugging Face warper order), else over the whole vocabulary; it keeps a token while
     * the mass before it is below topP of that base, so at least one token.
     */
    private static int[] truncated(float[] logits, int off, int n, double[] w, double total, int topK,
                                   double topP) {
        boolean useK = topK > 0 && topK < n;
        boolean useP = topP < 1.0;
        int[] order = useK ? topKOrder(logits, off, n, topK)
                : useP ? nucleusCandidates(logits, off, n, w, total, topP)
                : sortedDescending(logits, off, n, allIndices(n));
        if (!useP) {
            return order;
        }
        double base = total;
        if (useK) {
            base = 0;
            for (int id : order) {
                base += w[id];
            }
        }
        double limit = topP * base;
        double before = 0;
        int kept = 0;
        while (kept < order.length && (kept == 0 || before < limit)) {
            before += w[order[kept]];
            kept++;
        }
        return kept == order.length ? order : Arrays.copyOf(order, kept);
    }

    /**
     * The distribution {@link #sample} draws from, over all n tokens (zeros outside top-k / the nucleus); for tests
     * and inspection.
     */
    public static double[] distribution(float[] logits, int off, int n, double temperature, int topK, double topP) {
        double[] w = new double[n];
        double total = weights(logits, off, n, 1.0 / temperature, w);
        int[] kept = truncated(logits, off, n, w, total, topK, topP);
        double mass = 0;
        for (int id : kept) {
            mass += w[id];
        }
        double[] p = new double[n];
        for (int id : kept) {
            p[id] = w[id] / mass;
        }
        return p;
    }

    private static double weight(float logit, float max, double invT) {
        return Math.exp((logit - (double) max) * invT);
    }

    /** Order key: larger logit first, then lower id first, as one ascending-sorted long read from the end. */
    private static long key(float v, int id) {
        int bits = Float.floatToIntBits(Float.isNaN(v) ? Float.NEGATIVE_INFINITY : v);
        bits ^= (bits >> 31) & 0x7fffffff; // monotone float -> signed int
        return ((long) bits << 32) | (~id & 0xffffffffL);
    }

    private static int idOf(long key) {
        return ~(int) key;
    }

    private static int[] allIndices(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    /** {@code ids} sorted by (logit desc, id asc). */
    private static int[] sortedDescending(float[] logits, int off, int n, int[] ids) {
        long[] keys = new long[ids.length];
        for (int j = 0; j < ids.length; j++) {
            keys[j] = key(logits[off + ids[j]], ids[j]);
        }
        Arrays.sort(keys);
        int[] out = new int[keys.length];
        for (int j = 0; j < keys.length; j++) {
            out[j] = idOf(keys[keys.length - 1 - j]);
        }
        return out;
    }

    /** The k best ids in (logit desc, id asc) order, via a size-k min-heap of keys: O(n log k). */
    static int[] topKOrder(float[] logits, int off, int n, int k) {
        long[] heap = new long[k];
        int size = 0;
        for (int i = 0; i < n; i++) {
            long key = key(logits[off + i], i);
            if (size < k) {
                heap[size] = key;
                int c = size++;
                while (c > 0) {
                    int p = (c - 1) >>> 1;
                    if (heap[p] <= heap[c]) {
                        break;
                    }
                    long t = heap[p];
                    heap[p] = heap[c];
                    heap[c] = t;
                    c = p;
                }
            } else if (key > heap[0]) {
                heap[0] = key;
                int p = 0;
                while (true) {
                    int l = 2 * p + 1;
                    if (l >= k) {
                        break;
                    }
                    int m = l + 1 < k && heap[l + 1] < heap[l] ? l + 1 : l;
                    if (heap[p] <= heap[m]) {
                        break;
                    }
                    long t = heap[p];
                    heap[p] = heap[m];
                    heap[m] = t;
                    p = m;
                }
            }
        }
        Arrays.sort(heap, 0, size);
        int[] out = new int[size];
        for (int j = 0; j < size; j++) {
            out[j] = idOf(heap[size - 1 - j]);
        }
        return out;
    }

    /**
     * Candidates for top-p in (logit desc, id asc) order. Sorting the whole vocabulary per row per step is the
     * expensive part, so first try only the tokens whose weight is at least {@link #NUCLEUS_PREFILTER} of the best:
     * they are a prefix of the sorted order, so if they hold at least topP of the mass the nucleus lies inside them
     * and the answer is exactly the one a full sort gives.
     */
    private static int[] nucleusCandidates(float[] logits, int off, int n, double[] w, double total,
                                           double topP) {
        double big = 0;
        int count = 0;
        for (int i = 0; i < n; i++) {
            if (w[i] >= NUCLEUS_PREFILTER) {
                big += w[i];
                count++;
            }
        }
        if (count == n || big < topP * total) {
            return sortedDescending(logits, off, n, allIndices(n));
        }
        int[] ids = new int[count];
        int c = 0;
        for (int i = 0; i < n; i++) {
            if (w[i] >= NUCLEUS_PREFILTER) {
                ids[c++] = i;
            }
        }
        return sortedDescending(logits, off, n, ids);
    }

    // ---------------------------------------------------------------------------------- row seeds

    /**
     * The seed of one row's random stream: a 64-bit mix of (seed, promptId, sampleIndex) — FNV-1a over the id's
     * UTF-8 bytes, then SplitMix64 finalizers. Independent of batching, order, JVM and partition.
     */
    public static long rowSeed(long seed, String promptId, int sampleIndex) {
        long h = 0xcbf29ce484222325L;
        for (byte b : promptId.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        long x = mix64(seed ^ 0x5851F42D4C957F2DL);
        x = mix64(x ^ h);
        x = mix64(x + 0x9E3779B97F4A7C15L * (sampleIndex + 1L));
        return x;
    }

    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
