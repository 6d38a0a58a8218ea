package org.sparkrlhf.dpo.losses;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DpoLossTest {

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

    NDArray v(float... x) {
        return m.create(x);
    }

    // Two pairs, beta 0.1.
    // Pair 1: π_c=-10, π_r=-12, ref_c=-11, ref_r=-11 -> h = (−10+11) − (−12+11) = 1 − (−1) = 2, βh = 0.2.
    // Pair 2: π_c=-5,  π_r=-4,  ref_c=-5,  ref_r=-5  -> h = 0 − 1 = −1, βh = −0.1.
    PreferenceLogps batch() {
        return new PreferenceLogps(v(-10, -5), v(-12, -4), v(-11, -5), v(-11, -5), v(4, 5), v(2, 1));
    }

    static double softplus(double x) {
        return Math.log1p(Math.exp(x));
    }

    @Test
    void sigmoidByHand() {
        PreferenceLogps b = batch();
        // −logσ(x) = log(1 + e^−x): pair 1 log(1+e^−0.2) = 0.598139, pair 2 log(1+e^0.1) = 0.744397.
        float[] got = DpoLoss.sigmoid(b.policyChosen(), b.policyRejected(), b.refChosen(), b.refRejected(), 0.1, 0)
                .toFloatArray();
        assertArrayEquals(new float[] {(float) softplus(-0.2), (float) softplus(0.1)}, got, 1e-6f);
        assertEquals(0.598139, got[0], 1e-6);
        assertArrayEquals(got, DpoLosses.REGISTRY.byName("sigmoid").losses(b, 0.1, 0).toFloatArray(), 0f);
    }

    @Test
    void conservativeDpoByHand() {
        PreferenceLogps b = batch();
        // ε = 0.1: 0.9·log(1+e^−βh) + 0.1·log(1+e^βh).
        // Pair 1: 0.9·0.598139 + 0.1·0.798139 = 0.618139.  Pair 2: 0.9·log(1+e^0.1) + 0.1·log(1+e^−0.1).
        float[] expected = {(float) (0.9 * softplus(-0.2) + 0.1 * softplus(0.2)),
            (float) (0.9 * softplus(0.1) + 0.1 * softplus(-0.1))};
        assertEquals(0.618139, expected[0], 1e-6);
        assertArrayEquals(expected, DpoLosses.REGISTRY.byName("cdpo").losses(b, 0.1, 0.1).toFloatArray(), 1e-6f);
        assertArrayEquals(expected, DpoLosses.REGISTRY.byName("sigmoid").losses(b, 0.1, 0.1).toFloatArray(), 1e-6f);
        // the ε ranges of cdpo and sigmoid are the config's to check (DpoConfigTest)
    }

    @Test
    void sigmoidGradientAtZeroIsMinusHalfBeta() {
        // π = ref -> h = 0; d/dπ_c of −logσ(βh) = −β·σ(−βh) = −β/2; d/dπ_r = +β/2.
        NDArray pc = v(-3);
        NDArray pr = v(-4);
        pc.setRequiresGradient(true);
        pr.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            gc.backward(DpoLoss.sigmoid(pc, pr, v(-3), v(-4), 0.1, 0).mean());
        }
        assertEquals(-0.05f, pc.getGradient().getFloat(), 1e-7f);
        assertEquals(0.05f, pr.getGradient().getFloat(), 1e-7f);
    }

    @Test
    void ipoByHand() {
        PreferenceLogps b = batch();
        // 1/(2β) = 5.  Pair 1: |c| = 4, |r| = 2: h = 1/4 − (−1)/2 = 0.75 -> (0.75 − 5)² = 18.0625.
        // Pair 2: |c| = 5, |r| = 1: h = 0/5 − 1/1 = −1 -> (−1 − 5)² = 36.
        float[] expected = {18.0625f, 36f};
        assertArrayEquals(expected, DpoLoss.ipo(b.policyChosen(), b.policyRejected(), b.refChosen(), b.refRejected(),
                b.chosenLengths(), b.rejectedLengths(), 0.1).toFloatArray(), 1e-4f);
        assertArrayEquals(expected, DpoLosses.REGISTRY.byName("ipo").losses(b, 0.1, 0).toFloatArray(), 1e-4f);
        assertThrows(IllegalArgumentException.class, () -> DpoLosses.REGISTRY.byName("ipo")
                .losses(new PreferenceLogps(v(-1), v(-1), v(-1), v(-1)), 0.1, 0));
    }

    @Test
    void nllIsTokenMeanOverChosen() {
        // −(−10 − 5) / (4 + 5) = 15/9.
        assertEquals(15.0 / 9, DpoLoss.nll(v(-10, -5), v(4, 5)).getFloat(), 1e-6);
    }

    @Test
    void metricsByHand() {
        PreferenceLogps b = batch();
        DpoMetrics s = DpoMetrics.of(b, 0.1, DpoLosses.REGISTRY.byName("sigmoid"));
        // chosen rewards 0.1·(−10+11) = 0.1, 0.1·(−5+5) = 0 -> 0.05.
        assertEquals(0.05, s.rewardsChosen(), 1e-6);
        // rejected rewards 0.1·(−12+11) = −0.1, 0.1·(−4+5) = 0.1 -> 0.
        assertEquals(0.0, s.rewardsRejected(), 1e-6);
        // margins 0.2, −0.1 -> 0.05; accuracies: 0.1 > −0.1 yes, 0 > 0.1 no -> 0.5.
        assertEquals(0.05, s.rewardsMargins(), 1e-6);
        assertEquals(0.5, s.rewardsAccuracies(), 1e-6);
        assertEquals(-7.5, s.logpsChosen(), 1e-6);
        assertEquals(-8.0, s.logpsRejected(), 1e-6);
        assertEquals(java.util.List.of("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
                "logps/chosen", "logps/rejected"), java.util.List.copyOf(s.asMap().keySet()));

        // IPO reports on length-normalised log-probs, as TRL:
        // chosen 0.1·(1/4), 0.1·(0/5) -> 0.0125; rejected 0.1·(−1/2), 0.1·(1/1) -> 0.025;
        // accuracies: 0.025 > −0.05 yes, 0 > 0.1 no -> 0.5; logps/chosen mean(−10/4, −5/5) = −1.75;
        // logps/rejected mean(−12/2, −4/1) = −5.
        DpoMetrics i = DpoMetrics.of(b, 0.1, DpoLosses.REGISTRY.byName("ipo"));
        assertEquals(0.0125, i.rewardsChosen(), 1e-6);
        assertEquals(0.025, i.rewardsRejected(), 1e-6);
        assertEquals(-0.0125, i.rewardsMargins(), 1e-6);
        assertEquals(0.5, i.rewardsAccuracies(), 1e-6);
        assertEquals(-1.75, i.logpsChosen(), 1e-6);
        assertEquals(-5.0, i.logpsRejected(), 1e-6);

        // A tie is not an accurate pair.
        assertEquals(0.0, DpoMetrics.of(v(-1), v(-1), v(-1), v(-1), 0.1).rewardsAccuracies());
    }

    @Test
    void unknownLossListsKnownNames() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DpoLosses.REGISTRY.byName("kto"));
        assertTrue(e.getMessage().contains("cdpo") && e.getMessage().contains("ipo")
                && e.getMessage().contains("sigmoid"), e.getMessage());
    }
}
