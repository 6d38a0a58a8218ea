package org.sparkrlhf.grpo.algos;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AdvantagesTest {

    @BeforeAll
    static void oneThread() {
        Engine.getEngine("PyTorch");
        JniUtils.setNumThreads(1);
    }

    static final double EPS = 1e-6;

    @Test
    void grpoOneGroupByHand() {
        // [1,0,0,1]: mean 0.5; unbiased var = 4·0.25/3 = 1/3; std = sqrt(1/3) = 0.57735;
        // A = ±0.5 / (0.57735 + 1e-6) = ±0.866024.
        double a = 0.5 / (Math.sqrt(1.0 / 3) + EPS);
        assertArrayEquals(new double[] {a, -a, -a, a},
                Advantages.grpo(new double[] {1, 0, 0, 1}, new int[] {0, 0, 0, 0}, true, EPS), 1e-12);
        assertEquals(0.866024, a, 1e-6);
    }

    @Test
    void grpoInterleavedGroupsEqualScoresAndSingletons() {
        // Group 7: scores 3,1,2 (positions 0,2,4): mean 2, deviations 1,-1,0, var = 2/2 = 1, std 1.
        // Group 9: scores 5,5,5: std 0 -> 0 / (0 + eps) = 0.  Group 4: a single 0.7 -> mean 0, std 1.
        double[] scores = {3, 5, 1, 5, 2, 5, 0.7};
        int[] ids = {7, 9, 7, 9, 7, 9, 4};
        double s = 1 / (1 + EPS);
        assertArrayEquals(new double[] {s, 0, -s, 0, 0, 0, 0.7 * s},
                Advantages.grpo(scores, ids, true, EPS), 1e-12);
        // Dr. GRPO: mean only.
        assertArrayEquals(new double[] {1, 0, -1, 0, 0, 0, 0.7},
                Advantages.grpo(scores, ids, false, EPS), 1e-12);
    }

    @Test
    void rlooByHand() {
        // [1,0,0,1]: A_0 = 1 − (0+0+1)/3 = 2/3; A_1 = 0 − (1+0+1)/3 = −2/3.
        // [3,1,2]: 3 − 1.5 = 1.5; 1 − 2.5 = −1.5; 2 − 2 = 0.  A lone 0.7 keeps its score.
        assertArrayEquals(
                new double[] {2.0 / 3, -2.0 / 3, -2.0 / 3, 2.0 / 3, 1.5, -1.5, 0, 0.7},
                Advantages.rloo(new double[] {1, 0, 0, 1, 3, 1, 2, 0.7}, new int[] {0, 0, 0, 0, 1, 1, 1, 2}), 1e-12);
    }

    @Test
    void ndArrayVersionsAndRegistry() {
        try (NDManager m = NDManager.newBaseManager()) {
            float a = (float) (0.5 / (Math.sqrt(1.0 / 3) + EPS));
            // Two contiguous groups of 4: [1,0,0,1] and [0,0,0,1] (mean .25, var = (3·.0625 + .5625)/3 = .25, std .5).
            float[] got = Advantages.grpo(m.create(new float[] {1, 0, 0, 1, 0, 0, 0, 1}), 4, true, EPS).toFloatArray();
            float b = (float) (-0.25 / (0.5 + EPS));
            float c = (float) (0.75 / (0.5 + EPS));
            assertArrayEquals(new float[] {a, -a, -a, a, b, b, b, c}, got, 1e-6f);
            assertArrayEquals(new float[] {2f / 3, -2f / 3, -2f / 3, 2f / 3},
                    Advantages.rloo(m.create(new float[] {1, 0, 0, 1}), 4).toFloatArray(), 1e-6f);
            assertThrows(IllegalArgumentException.class, () -> Advantages.grpo(m.create(new float[] {1, 0, 0}), 2, true, EPS));
        }
    }

    @Test
    void registeredSequenceLevelEstimatorsPutOneAdvantageOnEveryToken() {
        // Completions of 2, 1 and 3 tokens; [1, 0] in group 0 and a lone 0.5 in group 1.
        AdvantageInput in = AdvantageInput.outcome(new double[] {1, 0, 0.5}, new int[] {0, 0, 1}, new int[] {2, 1, 3});
        // grpo: mean 0.5, unbiased std sqrt(0.5) -> ±0.5 / (0.7071068 + eps); a lone 0.5 -> 0.5 / (1 + eps).
        double a = 0.5 / (Math.sqrt(0.5) + EPS);
        double s = 0.5 / (1 + EPS);
        assertPerToken(new double[][] {{a, a}, {-a}, {s, s, s}},
                AdvantageEstimators.REGISTRY.byName("grpo").compute(in));
        // dr_grpo: mean only -> ±0.5; the lone one keeps 0.5.
        assertPerToken(new double[][] {{0.5, 0.5}, {-0.5}, {0.5, 0.5, 0.5}},
                AdvantageEstimators.REGISTRY.byName("dr_grpo").compute(in));
        // rloo: 1 - 0 = 1, 0 - 1 = -1; the lone one keeps its score.
        assertPerToken(new double[][] {{1, 1}, {-1}, {0.5, 0.5, 0.5}},
                AdvantageEstimators.REGISTRY.byName("rloo").compute(in));
        for (String name : java.util.List.of("grpo", "dr_grpo", "rloo")) {
            assertTrue(!AdvantageEstimators.REGISTRY.byName(name).needsStepRewards(), name);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AdvantageEstimators.REGISTRY.byName("ppo"));
        assertTrue(e.getMessage().contains("dr_grpo") && e.getMessage().contains("rloo")
                && e.getMessage().contains("grpo_process"), e.getMessage());
    }

    static void assertPerToken(double[][] expected, double[][] got) {
        assertEquals(expected.length, got.length);
        for (int i = 0; i < expected.length; i++) assertArrayEquals(expected[i], got[i], 1e-12, "completion " + i);
    }

    @Test
    void grpoProcessByHand() {
        // Group 0: completion A has step rewards [1, 0], B has [1, 1, 1]. All five step rewards together:
        // mean 0.8; unbiased var = (4 * 0.2^2 + 0.8^2) / 4 = 0.2; std = sqrt(0.2) = 0.4472136.
        // Normalised: a reward of 1 -> 0.2 / 0.4472136 = 0.4472136, a reward of 0 -> -0.8 / 0.4472136 = -1.7888544.
        // Suffix sums: A = [0.4472136 - 1.7888544, -1.7888544] = [-1.3416408, -1.7888544];
        //              B = [3, 2, 1] * 0.4472136 = [1.3416408, 0.8944272, 0.4472136].
        // Group 1: equal rewards [1] and [1, 1] -> std 0 -> zeros. Group 2: no steps at all -> empty.
        double[][] adv = Advantages.grpoProcess(
                new double[][] {{1, 0}, {1, 1}, {1, 1, 1}, {1}, {}},
                new int[] {0, 1, 0, 1, 2}, 0);
        assertArrayEquals(new double[] {-1.3416408, -1.7888544}, adv[0], 1e-6);
        assertArrayEquals(new double[] {0, 0}, adv[1], 0);
        assertArrayEquals(new double[] {1.3416408, 0.8944272, 0.4472136}, adv[2], 1e-6);
        assertArrayEquals(new double[] {0}, adv[3], 0);
        assertEquals(0, adv[4].length);
        // eps enters the denominator as in grpo: 0.2 / (0.4472136 + 0.1)
        assertEquals(0.2 / (Math.sqrt(0.2) + 0.1), Advantages.grpoProcess(
                new double[][] {{1, 0}, {1, 1, 1}}, new int[] {0, 0}, 0.1)[1][2], 1e-9);
    }

    @Test
    void grpoProcessSpreadsStepAdvantagesOverTheTokensOfEachStep() {
        // Group 0 as in grpoProcessByHand, with eps 1e-6: u = 1 / (sqrt(0.2) + eps); a reward of 1 normalises to
        // 0.2u, a 0 to -0.8u; A's steps get [-0.6u, -0.8u], B's [0.6u, 0.4u, 0.2u]. A has tokens on steps 0,0,1,2
        // (the last after its final newline: it takes the last step's); B on 0,1,1,2. Group 1 has no step rewards:
        // zeros on its token.
        AdvantageInput in = new AdvantageInput(new double[3], new int[] {0, 0, 1}, new int[] {4, 4, 1},
                new double[][] {{1, 0}, {1, 1, 1}, {}}, new int[][] {{0, 0, 1, 2}, {0, 1, 1, 2}, {0}});
        AdvantageEstimator process = AdvantageEstimators.REGISTRY.byName("grpo_process");
        assertTrue(process.needsStepRewards());
        double[][] adv = process.compute(in);
        double u = 1 / (Math.sqrt(0.2) + EPS);
        assertArrayEquals(new double[] {-0.6 * u, -0.6 * u, -0.8 * u, -0.8 * u}, adv[0], 1e-12);
        assertArrayEquals(new double[] {0.6 * u, 0.4 * u, 0.4 * u, 0.2 * u}, adv[1], 1e-12);
        assertArrayEquals(new double[] {0}, adv[2], 0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> process.compute(
                AdvantageInput.outcome(new double[] {1, 0}, new int[] {0, 0}, new int[] {1, 1})));
        assertTrue(e.getMessage().contains("step rewards"), e.getMessage());
    }
}
