package org.sparkrlhf.grpo.rl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.model.SafeTensors;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.train.TrainerState;
import org.sparkrlhf.reward.Rewarder;
import org.sparkrlhf.reward.rules.RewardResult;

/**
 * The shared loop with an algorithm of its own, as PPO will add one: its advantages drive the update, its work after
 * each policy step reports figures, its state travels with the trainer state; and the three log-prob paths (the
 * sampler's, the reference scoring's, the update's) agree at the start.
 */
class RlTrainerTest {
  static final TextTokenizer TOK = new CharTokenizer();
  static final Rewarder ONES = (prompt, answer, c) -> {
    double r = c.text().isEmpty() ? 0 : (double) c.text().chars().filter(ch -> ch == '1').count() / c.text().length();
    return new RewardResult(r, Map.of());
  };

  @BeforeAll
  static void oneThread() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  /** Test config: the shared keys under a section of its own. */
  static final class TestConfig extends RlConfig {
    @Override
    public String section() {
      return "test";
    }
  }

  /**
   * REINFORCE with a running-mean baseline kept as algorithm state, and a stand-in "critic step" after each
   * minibatch that reports the minibatch size.
   */
  static final class ReinforceWithBaseline extends RlTrainer {
    double baseline;
    int criticSteps;
    final List<Integer> minibatchSizes = new ArrayList<>();

    ReinforceWithBaseline(RlConfig c, LlamaModel policy, LlamaModel ref, List<RlPrompt> prompts) {
      super(c, policy, ref, TOK, prompts, new InProcessRollouts(TOK, 64), ONES);
    }

    @Override
    protected double[][] advantages(Experience e) {
      double[] r = e.rewards();
      int[] len = e.lengths();
      double[][] out = new double[r.length][];
      for (int i = 0; i < r.length; i++) {
        out[i] = new double[len[i]];
        Arrays.fill(out[i], r[i] - baseline);
      }
      double mean = Arrays.stream(r).average().orElse(0);
      baseline = 0.9 * baseline + 0.1 * mean;
      return out;
    }

    @Override
    protected Map<String, Double> afterMinibatch(Experience e, int[] minibatch) {
      criticSteps++;
      minibatchSizes.add(minibatch.length);
      return Map.of("critic_minibatch", (double) minibatch.length);
    }

    @Override
    protected Map<String, SafeTensors.Tensor> algorithmState() {
      return Map.of("baseline", new SafeTensors.Tensor(new long[] {2}, new float[] {(float) baseline, criticSteps}));
    }

    @Override
    protected void restoreAlgorithmState(Map<String, SafeTensors.Tensor> state) {
      baseline = state.get("baseline").data()[0];
      criticSteps = (int) state.get("baseline").data()[1];
    }
  }

  static TestConfig config() {
    TestConfig c = new TestConfig();
    c.seed = 3;
    c.promptsPerIteration = 6;
    c.groupSize = 4;
    c.iterations = 3;
    c.maxNewTokens = 8;
    c.lr = 3e-3;
    c.klCoef = 0.01;
    c.minibatchSize = 10;
    c.temperature = 0.7;
    return c;
  }

  static List<RlPrompt> prompts() {
    List<RlPrompt> out = new ArrayList<>();
    for (int i = 0; i < 12; i++) out.add(new RlPrompt("q" + i, i + "+" + (i % 3) + "=?\n", null));
    return out;
  }

  static LlamaModel tinyModel(NDManager m) {
    return LlamaModel.init(LlamaConfig.tiny(TOK.vocabSize(), 32, 1, 2, 2, 64, 64, true), false, 13, m);
  }

  @Test
  void theAlgorithmsAdvantagesMinibatchWorkAndStateRunInTheSharedLoop() throws Exception {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      ReinforceWithBaseline t = new ReinforceWithBaseline(config(), policy, policy.copy(m), prompts());
      RlTrainer.Iteration first = t.step();
      // 24 samples in minibatches of 10: 10, 10, 4, each followed by the algorithm's step.
      assertEquals(List.of(10, 10, 4), t.minibatchSizes);
      assertEquals(8.0, first.metrics().get("critic_minibatch"), 1e-12, "averaged over the minibatches");
      // The first iteration's baseline is 0, so each rollout's advantage is its reward.
      for (RlTrainer.Rollout r : first.rollouts()) assertEquals(r.reward().total(), r.advantage(), 1e-6);

      // The algorithm's state is saved and restored with the trainer state.
      String dir = Files.createTempDirectory("rl-state").toString();
      t.state().write(dir, Map.of());
      TrainerState read = TrainerState.read(dir);
      assertEquals(1, read.iteration());
      assertEquals((float) t.baseline, read.algorithm().get("baseline").data()[0], 0f);
      ReinforceWithBaseline restored = new ReinforceWithBaseline(config(), policy.copy(m), policy.copy(m), prompts());
      restored.restore(read);
      assertEquals((float) t.baseline, (float) restored.baseline, 0f);
      assertEquals(3, restored.criticSteps);
      assertEquals(t.state().optimizer().keySet(), read.optimizer().keySet(), "no algorithm tensor among the optimizer's");
    }
  }

  @Test
  void anAlgorithmWithoutStateRefusesAStateThatHasSome() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      RlTrainer plain = new RlTrainer(config(), policy, policy.copy(m), TOK, prompts(), new InProcessRollouts(TOK, 64), ONES) {
        @Override
        protected double[][] advantages(Experience e) {
          return new double[e.size()][0];
        }
      };
      TrainerState withCritic = new TrainerState(1, plain.state().optimizer(),
          Map.of("critic", new SafeTensors.Tensor(new long[] {1}, new float[] {1})));
      assertThrows(IllegalArgumentException.class, () -> plain.restore(withCritic));
    }
  }

  @Test
  void samplingReferenceAndUpdateLogProbsAgreeAtTheStart() {
    // At iteration 1 the policy is the reference's copy: the sampler's log-probs (GenerationEngine, KV cache), the
    // reference's (SequenceLogProbs.score, no gradient) and the update's (SequenceLogProbs.compute, with gradient)
    // of the same tokens must agree, at the sampling temperature. kl_ref is their k1 between the first two;
    // approx_kl and clip_fraction, of a single minibatch before any step, between the first and the third.
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      TestConfig c = config();
      c.minibatchSize = 64;
      RlTrainer.Iteration it = new ReinforceWithBaseline(c, policy, policy.copy(m), prompts()).step();
      assertEquals(0.0, it.metrics().get("kl_ref"), 1e-5);
      assertEquals(0.0, it.metrics().get("approx_kl"), 1e-5);
      assertEquals(0.0, it.metrics().get("clip_fraction"), 0.0);
      assertEquals(0.0, it.metrics().get("kl_loss"), 1e-6);
    }
  }

  @Test
  void aMisshapedAdvantageIsRefused() {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel policy = tinyModel(m);
      RlTrainer wrong = new RlTrainer(config(), policy, policy.copy(m), TOK, prompts(), new InProcessRollouts(TOK, 64), ONES) {
        @Override
        protected double[][] advantages(Experience e) {
          double[][] a = new double[e.size()][];
          for (int i = 0; i < a.length; i++) a[i] = new double[e.lengths()[i] + 1];
          return a;
        }
      };
      IllegalStateException e = assertThrows(IllegalStateException.class, wrong::step);
      assertTrue(e.getMessage().contains("token advantages for a completion of"), e.getMessage());
    }
  }
}
