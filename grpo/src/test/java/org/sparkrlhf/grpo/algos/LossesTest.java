package org.sparkrlhf.grpo.algos;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.algos.Kl;

class LossesTest {

    @BeforeAll
    static void oneThread() {
        Engine.getEngine("PyTorch");
        JniUtils.setNumThreads(1);
    }

    NDManager m;

    @BeforeEach
    void open() {
        m = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        m.close();
    }

    NDArray mat(int rows, float... v) {
        return m.create(v, new Shape(rows, v.length / rows));
    }

    static float ln(double x) {
        return (float) Math.log(x);
    }

    // Two sequences of 4 tokens, last token padding. old = -1 everywhere, logp = -1 + ln(ratio).
    // Row 0, A = +1, ratios 1.5, 1.0, 0.5 | pad.  Row 1, A = -2, ratios 0.5, 1.2, 1.5 | pad.
    // clipLow 0.2, clipHigh 0.28 -> clip range [0.8, 1.28].
    NDArray surrogateLogp() {
        return mat(2, -1 + ln(1.5), -1, -1 + ln(0.5), -1 + ln(3), -1 + ln(0.5), -1 + ln(1.2), -1 + ln(1.5), -1 + ln(3));
    }

    NDArray surrogateMask() {
        return mat(2, 1, 1, 1, 0, 1, 1, 1, 0);
    }

    // Row 0 (A=+1): loss = max(-A·r, -A·clip(r)):
    //   r=1.5: max(-1.5, -1.28) = -1.28  (clipped: positive advantage above 1+clipHigh)
    //   r=1.0: max(-1, -1)      = -1     (not clipped: equal)
    //   r=0.5: max(-0.5, -0.8)  = -0.5   (unclipped: a positive advantage is never clipped below)
    // Row 1 (A=-2):
    //   r=0.5: max(1.0, 1.6)    = 1.6    (clipped: negative advantage below 1-clipLow)
    //   r=1.2: max(2.4, 2.4)    = 2.4    (inside the range)
    //   r=1.5: max(3.0, 2.56)   = 3.0    (unclipped: a negative advantage is never clipped above)
    // token-mean = (-1.28 - 1 - 0.5 + 1.6 + 2.4 + 3.0) / 6 = 4.22 / 6; clip fraction = 2/6.
    static final double SURROGATE_TOKEN_MEAN = (-1.28 - 1 - 0.5 + 1.6 + 2.4 + 3.0) / 6;

    @Test
    void clippedSurrogateBothSidesByHand() {
        NDArray old = m.full(new Shape(2, 4), -1f);
        PolicyLoss.Result r = PolicyLoss.clippedSurrogate(surrogateLogp(), old, m.create(new float[] {1, -2}),
                surrogateMask(), 0.2, 0.28, Aggregation::tokenMean);
        assertEquals(SURROGATE_TOKEN_MEAN, r.loss().getFloat(), 1e-5);
        assertEquals(2.0 / 6, r.clipFraction(), 1e-6);
        // approx KL = mean(old - new) = -mean(ln r) over the 6 masked tokens.
        double kl = -(Math.log(1.5) + 0 + Math.log(0.5) + Math.log(0.5) + Math.log(1.2) + Math.log(1.5)) / 6;
        assertEquals(kl, r.approxKl(), 1e-6);

        // Per-token advantages [B, T] give the same; seq-mean-token-mean = mean(-2.78/3, 7.0/3).
        NDArray advTok = mat(2, 1, 1, 1, 1, -2, -2, -2, -2);
        PolicyLoss.Result s = PolicyLoss.clippedSurrogate(surrogateLogp(), old, advTok, surrogateMask(), 0.2, 0.28,
                Aggregation.REGISTRY.byName("seq-mean-token-mean"));
        assertEquals(((-1.28 - 1 - 0.5) / 3 + (1.6 + 2.4 + 3.0) / 3) / 2, s.loss().getFloat(), 1e-5);
        assertEquals(2.0 / 6, s.clipFraction(), 1e-6);

        // Symmetric PPO clip 0.2: row 0 r=1.5 -> -1.2; row 1 r=1.5 -> max(3.0, 2.4) = 3.0, still unclipped.
        PolicyLoss.Result p = PolicyLoss.clippedSurrogate(surrogateLogp(), old, m.create(new float[] {1, -2}),
                surrogateMask(), 0.2, 0.2, Aggregation::tokenMean);
        assertEquals((-1.2 - 1 - 0.5 + 1.6 + 2.4 + 3.0) / 6, p.loss().getFloat(), 1e-5);

        // The same by its registered name.
        PolicyLoss.Result named = PolicyLosses.REGISTRY.byName("ppo_clip").compute(surrogateLogp(), old,
                m.create(new float[] {1, -2}), surrogateMask(), 0.2, 0.28, Aggregation::tokenMean);
        assertEquals(SURROGATE_TOKEN_MEAN, named.loss().getFloat(), 1e-5);
        assertEquals(2.0 / 6, named.clipFraction(), 1e-6);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PolicyLosses.REGISTRY.byName("gspo"));
        assertTrue(e.getMessage().contains("ppo_clip"), e.getMessage());
    }

    @Test
    void surrogateGradientAtRatioOneIsMinusAdvantageOverCount() {
        // logp = old -> ratio 1 (inside the clip range): d loss / d logp_t = -A_b · ratio / count = -A_b / 4
        // on the 4 masked tokens, 0 on padding.
        NDArray logp = mat(2, -0.5f, -1f, -2f, -0.3f, -0.7f, -0.9f);
        NDArray old = logp.duplicate();
        NDArray mask = mat(2, 1, 1, 1, 1, 0, 0);
        logp.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            NDArray loss = PolicyLoss.clippedSurrogate(logp, old, m.create(new float[] {0.5f, 2f}), mask, 0.2, 0.28,
                    Aggregation::tokenMean).loss();
            gc.backward(loss);
        }
        assertArrayEquals(new float[] {-0.125f, -0.125f, -0.125f, -0.5f, 0f, 0f}, logp.getGradient().toFloatArray(), 1e-6f);
    }

    @Test
    void aggregationsOnRaggedMask() {
        NDArray loss = mat(3, 1, 2, 3, 10, 0, 0, 5, 5, 5);
        NDArray mask = mat(3, 1, 1, 1, 1, 0, 0, 0, 0, 0);
        // token-mean: (1 + 2 + 3 + 10) / 4 = 4.
        assertEquals(4f, Aggregation.tokenMean(loss, mask).getFloat(), 1e-6f);
        // seq-mean-token-mean: rows (1+2+3)/3 = 2 and 10/1 = 10; the empty third row is left out -> 6.
        assertEquals(6f, Aggregation.seqMeanTokenMean(loss, mask).getFloat(), 1e-6f);
        assertEquals(4f, Aggregation.REGISTRY.byName("token-mean").apply(loss, mask).getFloat(), 1e-6f);
        assertEquals(6f, Aggregation.REGISTRY.byName("seq-mean-token-mean").apply(loss, mask).getFloat(), 1e-6f);
        NDArray none = m.zeros(new Shape(3, 3));
        assertEquals(0f, Aggregation.tokenMean(loss, none).getFloat());
        assertEquals(0f, Aggregation.seqMeanTokenMean(loss, none).getFloat());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Aggregation.REGISTRY.byName("sum"));
        assertTrue(e.getMessage().contains("seq-mean-token-mean"), e.getMessage());
    }

    @Test
    void grpoTotalAddsKlInsideTheLoss() {
        // One sequence, 2 tokens, ratio 1, A = 1 -> surrogate = -1.
        // ref - logp = [0, 1] -> k3 = [0, e - 2] -> token-mean (e - 2)/2; klCoef 0.1.
        NDArray logp = mat(1, -1, -2);
        NDArray ref = mat(1, -1, -1);
        NDArray mask = mat(1, 1, 1);
        GrpoLoss.Result r = GrpoLoss.total(logp, logp.duplicate(), ref, m.create(new float[] {1}), mask, 0.2, 0.28, 0.1,
                Aggregation::tokenMean);
        double kl = (Math.E - 2) / 2;
        assertEquals(kl, r.klLoss().getFloat(), 1e-6);
        assertEquals(-1, r.policyLoss().getFloat(), 1e-6);
        assertEquals(-1 + 0.1 * kl, r.loss().getFloat(), 1e-6);
        assertEquals(0f, r.clipFraction());
        assertEquals(0f, r.approxKl(), 1e-7);
        // No KL term: reference may be absent.
        GrpoLoss.Result noKl = GrpoLoss.total(logp, logp.duplicate(), null, m.create(new float[] {1}), mask, 0.2, 0.28, 0,
                Aggregation::tokenMean);
        assertEquals(-1, noKl.loss().getFloat(), 1e-6);
        assertEquals(0f, noKl.klLoss().getFloat());
        assertThrows(IllegalArgumentException.class, () -> GrpoLoss.total(logp, logp, null, m.create(new float[] {1}),
                mask, 0.2, 0.28, 0.1, Aggregation::tokenMean));
        // With k2 as the KL term: ½ (logp − ref)² = [0, 0.5] -> token-mean 0.25.
        GrpoLoss.Result k2 = GrpoLoss.total(PolicyLosses.REGISTRY.byName("ppo_clip"), Kl.REGISTRY.byName("k2"), logp,
                logp.duplicate(), ref, m.create(new float[] {1}), mask, 0.2, 0.28, 0.1, Aggregation::tokenMean);
        assertEquals(0.25, k2.klLoss().getFloat(), 1e-6);
        assertEquals(-1 + 0.1 * 0.25, k2.loss().getFloat(), 1e-6);
    }
}
