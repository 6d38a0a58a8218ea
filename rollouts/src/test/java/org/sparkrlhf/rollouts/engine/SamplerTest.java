package org.sparkrlhf.rollouts.engine;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sampling math on hand-made logits. */
class SamplerTest {

    /** Logits whose softmax is exactly {@code probs}. */
    static float[] logitsOf(double... probs) {
        float[] l = new float[probs.length];
        for (int i = 0; i < probs.length; i++) {
            l[i] = (float) Math.log(probs[i]);
        }
        return l;
    }

    static int[] counts(float[] logits, double t, int k, double p, int draws, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] c = new int[logits.length];
        for (int i = 0; i < draws; i++) {
            c[Sampler.sample(logits, 0, logits.length, t, k, p, r.nextDouble())]++;
        }
        return c;
    }

    @Test
    void argmaxTakesTheLowestIdOnTies() {
        assertEquals(1, Sampler.argmax(new float[] {0f, 3f, 1f, 3f}, 0, 4));
        assertEquals(0, Sampler.argmax(new float[] {9f, 9f, 5f, 5f, 1f}, 2, 3)); // offset: ids relative to off
        assertEquals(0, Sampler.argmax(new float[] {-2f, -2f}, 0, 2));
        assertEquals(1, Sampler.argmax(new float[] {Float.NaN, -1f, -3f}, 0, 3));
    }

    @Test
    void logProbIsTemperedLogSoftmax() {
        float[] l = {1f, 2f, 0.5f, -1f};
        for (double t : new double[] {1.0, 0.7, 2.0}) {
            double z = 0;
            for (float x : l) {
                z += Math.exp(x / t);
            }
            for (int i = 0; i < l.length; i++) {
                assertEquals(l[i] / t - Math.log(z), Sampler.logProb(l, 0, l.length, t, i), 1e-12);
            }
        }
        assertEquals(Sampler.logProb(l, 0, 4, 1.0, 2), Sampler.logProb(l, 0, 4, 0.0, 2), 0.0, "T=0 scores at T=1");
    }

    @Test
    void pickMatchesSampleAndLogProb() {
        float[] l = {0.3f, -1f, 2f, 1.5f, 0f, 0.2f};
        SamplingParams sp = SamplingParams.defaults().withTemperature(0.8).withTopK(4).withTopP(0.9);
        SplittableRandom a = new SplittableRandom(5);
        SplittableRandom b = new SplittableRandom(5);
        double[] scratch = new double[6];
        double[] lp = new double[1];
        for (int i = 0; i < 200; i++) {
            int tok = Sampler.pick(l, 0, 6, sp, a, scratch, lp);
            assertEquals(Sampler.sample(l, 0, 6, 0.8, 4, 0.9, b.nextDouble()), tok);
            assertEquals(Sampler.logProb(l, 0, 6, 0.8, tok), lp[0], 0.0);
        }
        int tok = Sampler.pick(l, 0, 6, SamplingParams.greedy(1), a, scratch, lp);
        assertEquals(2, tok);
        assertEquals(Sampler.logProb(l, 0, 6, 1.0, 2), lp[0], 0.0);
    }

    @Test
    void topKNeverLeavesTheTopK() {
        // the top 3 are ids 4 (2.5), 0 (2.0) and 6 (1.95); the rest are close behind
        float[] l = {2.0f, 1.9f, 1.8f, 1.7f, 2.5f, 1.6f, 1.95f, 1.85f};
        int[] c = counts(l, 1.5, 3, 1.0, 20000, 1);
        for (int i = 0; i < l.length; i++) {
            if (i == 4 || i == 0 || i == 6) {
                assertTrue(c[i] > 3000, "top-3 token " + i + " drawn " + c[i]);
            } else {
                assertEquals(0, c[i], "token " + i + " outside the top 3");
            }
        }
        // frequencies follow the renormalized tempered softmax of the three
        double[] d = Sampler.distribution(l, 0, l.length, 1.5, 3, 1.0);
        double z = Math.exp(2.0 / 1.5) + Math.exp(2.5 / 1.5) + Math.exp(1.95 / 1.5);
        assertEquals(Math.exp(2.5 / 1.5) / z, d[4], 1e-6);
        assertEquals(Math.exp(2.0 / 1.5) / z, d[0], 1e-6);
        for (int i : new int[] {0, 4, 6}) {
            assertEquals(d[i], c[i] / 20000.0, 0.015, "frequency of " + i);
        }
    }

    @Test
    void topKBreaksTiesTowardsLowerIds() {
        float[] l = {1f, 3f, 3f, 3f, 0f};
        int[] c = counts(l, 1.0, 2, 1.0, 4000, 2);
        assertEquals(0, c[3]);
        assertTrue(c[1] > 1500 && c[2] > 1500);
        assertArrayEquals(new int[] {1, 2}, Sampler.topKOrder(l, 0, 5, 2));
        assertArrayEquals(new int[] {1, 2, 3, 0, 4}, Sampler.topKOrder(l, 0, 5, 5));
    }

    @Test
    void topPKeepsExactlyTheNucleus() {
        // sorted: id2 0.5, id0 0.3, id4 0.1, id1 0.06, id3 0.04
        float[] l = logitsOf(0.3, 0.06, 0.5, 0.04, 0.1);
        // p=0.75: 0.5 (<0.75, keep) 0.8 after id0 -> id4 has 0.8 before it -> out
        double[] d = Sampler.distribution(l, 0, 5, 1.0, 0, 0.75);
        assertArrayEquals(new double[] {0.375, 0, 0.625, 0, 0}, d, 1e-6);
        int[] c = counts(l, 1.0, 0, 0.75, 20000, 3);
        assertEquals(0, c[1] + c[3] + c[4]);
        assertEquals(0.625, c[2] / 20000.0, 0.015);
        // p=0.85 lets id4 in (mass before it 0.8)
        d = Sampler.distribution(l, 0, 5, 1.0, 0, 0.85);
        assertArrayEquals(new double[] {0.3 / 0.9, 0, 0.5 / 0.9, 0, 0.1 / 0.9}, d, 1e-6);
        c = counts(l, 1.0, 0, 0.85, 20000, 4);
        assertEquals(0, c[1] + c[3]);
        assertTrue(c[4] > 1500);
        // a tiny p keeps only the best token: sampling becomes greedy
        c = counts(l, 1.0, 0, 0.01, 1000, 5);
        assertEquals(1000, c[2]);
    }

    @Test
    void topPAfterTopKRenormalizesOverTheSurvivors() {
        float[] l = logitsOf(0.3, 0.06, 0.5, 0.04, 0.1);
        // top-2 = {id2, id0} renormalized to 0.625 / 0.375; p=0.6: id0 has 0.625 before it -> only id2
        assertArrayEquals(new double[] {0, 0, 1, 0, 0}, Sampler.distribution(l, 0, 5, 1.0, 2, 0.6), 1e-9);
        // without top-k, p=0.6 keeps id2 and id0 (0.5 before id0 < 0.6)
        assertArrayEquals(new double[] {0.375, 0, 0.625, 0, 0}, Sampler.distribution(l, 0, 5, 1.0, 0, 0.6), 1e-6);
    }

    @Test
    void temperatureSharpensAndFlattens() {
        float[] l = logitsOf(0.6, 0.3, 0.1);
        double[] cold = Sampler.distribution(l, 0, 3, 0.5, 0, 1.0);
        double[] hot = Sampler.distribution(l, 0, 3, 2.0, 0, 1.0);
        // p^(1/T) renormalized
        assertEquals(0.36 / (0.36 + 0.09 + 0.01), cold[0], 1e-6);
        double s = Math.sqrt(0.6) + Math.sqrt(0.3) + Math.sqrt(0.1);
        assertEquals(Math.sqrt(0.1) / s, hot[2], 1e-6);
        int[] c = counts(l, 2.0, 0, 1.0, 20000, 6);
        for (int i = 0; i < 3; i++) {
            assertEquals(hot[i], c[i] / 20000.0, 0.015);
        }
    }

    @Test
    void nucleusPrefilterGivesTheSameAnswerAsAFullSort() {
        // a big vocabulary with a few likely tokens and a long tail: the prefilter path is taken
        int n = 5000;
        float[] l = new float[n];
        SplittableRandom r = new SplittableRandom(9);
        for (int i = 0; i < n; i++) {
            l[i] = (float) (r.nextGaussian() * 2 - 20);
        }
        l[17] = 5f;
        l[4000] = 4.5f;
        l[123] = 4f;
        double[] d = Sampler.distribution(l, 0, n, 1.0, 0, 0.9);
        for (int i = 0; i < 2000; i++) {
            double u = r.nextDouble();
            int tok = Sampler.sample(l, 0, n, 1.0, 0, 0.9, u);
            assertTrue(d[tok] > 0);
            assertTrue(tok == 17 || tok == 4000 || tok == 123);
        }
        // a flat vocabulary: the prefilter cannot cover the mass and the full sort is used
        float[] flat = new float[1000];
        for (int i = 0; i < flat.length; i++) {
            flat[i] = (float) r.nextGaussian() * 0.01f;
        }
        double[] df = Sampler.distribution(flat, 0, 1000, 1.0, 0, 0.5);
        int kept = 0;
        for (double x : df) {
            kept += x > 0 ? 1 : 0;
        }
        assertTrue(kept > 450 && kept < 550, "about half the flat vocabulary, kept " + kept);
        for (int i = 0; i < 500; i++) {
            assertTrue(df[Sampler.sample(flat, 0, 1000, 1.0, 0, 0.5, r.nextDouble())] > 0);
        }
    }

    @Test
    void sampleRejectsGreedyTemperatureAndParamsValidate() {
        assertThrows(IllegalArgumentException.class, () -> Sampler.sample(new float[] {1f}, 0, 1, 0, 0, 1, 0.5));
        assertThrows(IllegalArgumentException.class, () -> SamplingParams.defaults().withTopP(0));
        assertThrows(IllegalArgumentException.class, () -> SamplingParams.defaults().withTopP(1.5));
        assertThrows(IllegalArgumentException.class, () -> SamplingParams.defaults().withTopK(-1));
        assertThrows(IllegalArgumentException.class, () -> SamplingParams.defaults().withTemperature(-0.1));
        assertThrows(IllegalArgumentException.class, () -> SamplingParams.defaults().withStop(java.util.List.of("")));
        SamplingParams d = SamplingParams.defaults();
        assertEquals(1.0, d.temperature());
        assertEquals(0, d.topK());
        assertEquals(1.0, d.topP());
        assertEquals(256, d.maxNewTokens());
        assertTrue(d.stop().isEmpty());
        assertTrue(SamplingParams.greedy(3).isGreedy());
    }
}
