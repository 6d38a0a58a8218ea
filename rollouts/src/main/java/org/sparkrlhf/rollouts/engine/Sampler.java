package org.sparkrlhf.rollouts.engine;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

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
        double invT = 1.0 / temperature;
        float max = logits[off + argmax(logits, off, n)];
        boolean useK = topK > 0 && topK < n;
        boolean useP = topP < 1.0;
        if (!useK && !useP) {
            double total = 0;
            for (int i = 0; i < n; i++) {
                total += weight(logits[off + i], max, invT);
            }
            double target = u * total;
            double cum = 0;
            int last = -1;
            for (int i = 0; i < n; i++) {
                double w = weight(logits[off + i], max, invT);
                if (w > 0) {
                    cum += w;
                    last = i;
                    if (cum > target) {
                        return i;
                    }
                }
            }
            return last >= 0 ? last : argmax(logits, off, n);
        }
        int[] order = useK ? topKOrder(logits, off, n, topK) : nucleusCandidates(logits, off, n, max, invT, topP);
        int kept = order.length;
        double[] w = new double[order.length];
        double total = 0;
        for (int j = 0; j < order.length; j++) {
            w[j] = weight(logits[off + order[j]], max, invT);
            total += w[j];
        }
        if (!useK) {
            // top-p alone renormalizes over the whole vocabulary, not just the prefiltered candidates
            total = 0;
            for (int i = 0; i < n; i++) {
                total += weight(logits[off + i], max, invT);
            }
        }
        if (useP) {
            double limit = topP * total;
            double before = 0;
            kept = 0;
            while (kept < order.length && (kept == 0 || before < limit)) {
                before += w[kept];
                kept++;
            }
        }
        double mass = 0;
        for (int j = 0; j < kept; j++) {
            mass += w[j];
        }
        double target = u * mass;
        double cum = 0;
        for (int j = 0; j < kept; j++) {
            cum += w[j];
            if (cum > target) {
                return order[j];
            }
        }
        return order[kept - 1];
    }

    /**
     * The distribution {@link #sample} draws from, over all n tokens (zeros outside top-k / the nucleus); for tests
     * and inspection.
     */
    public static double[] distribution(float[] logits, int off, int n, double temperature, int topK, double topP) {
        double invT = 1.0 / temperature;
        float max = logits[off + argmax(logits, off, n)];
        boolean useK = topK > 0 && topK < n;
        int[] order = useK ? topKOrder(logits, off, n, topK) : sortedDescending(logits, off, n, allIndices(n));
        double[] w = new double[order.length];
        double total = 0;
        for (int j = 0; j < order.length; j++) {
            w[j] = weight(logits[off + order[j]], max, invT);
            total += w[j];
        }
        int kept = order.length;
        if (topP < 1.0) {
            double limit = topP * total;
            double before = 0;
            kept = 0;
            while (kept < order.length && (kept == 0 || before < limit)) {
                before += w[kept];
                kept++;
            }
        }
        double mass = 0;
        for (int j = 0; j < kept; j++) {
            mass += w[j];
        }
        double[] p = new double[n];
        for (int j = 0; j < kept; j++) {
            p[order[j]] = w[j] / mass;
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
    private static int[] nucleusCandidates(float[] logits, int off, int n, float max, double invT, double topP) {
        double total = 0;
        double big = 0;
        int count = 0;
        for (int i = 0; i < n; i++) {
            double w = weight(logits[off + i], max, invT);
            total += w;
            if (w >= NUCLEUS_PREFILTER) {
                big += w;
                count++;
            }
        }
        if (count == n || big < topP * total) {
            return sortedDescending(logits, off, n, allIndices(n));
        }
        int[] ids = new int[count];
        int c = 0;
        for (int i = 0; i < n; i++) {
            if (weight(logits[off + i], max, invT) >= NUCLEUS_PREFILTER) {
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
