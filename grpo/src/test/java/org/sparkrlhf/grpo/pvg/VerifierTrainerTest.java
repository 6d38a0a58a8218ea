package org.sparkrlhf.grpo.pvg;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.task.ArithmeticTask;
import org.sparkrlhf.core.task.Problem;
import org.sparkrlhf.core.task.TaskSpec;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.reward.model.HeadTraining;
import org.sparkrlhf.reward.model.RewardConfig;
import org.sparkrlhf.reward.model.RewardMetrics;

class VerifierTrainerTest {
  @BeforeAll
  static void oneThread() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  /** A true solution against the same with a wrong answer line (a marker the verifier can learn to see). */
  static List<VerifierMix.Pair> pairs(String split, int n) {
    List<VerifierMix.Pair> out = new ArrayList<>();
    for (Problem q : ArithmeticTask.generate(new TaskSpec(1, 2, 0, 9, "+-", 3), split, n)) {
      out.add(new VerifierMix.Pair(0, q.id(), q.prompt(), q.completion(), "#### " + (q.answer() + 1) + "\n"));
    }
    return out;
  }

  @Test
  void theLossFallsAndTheVerifierPrefersTheCorrectSolutions() {
    CharTokenizer tok = new CharTokenizer();
    RewardConfig c = new RewardConfig();
    c.lr = 3e-3;
    c.batchSize = 16;
    c.epochs = 4;
    c.seed = 9;
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel v = LlamaModel.init(LlamaConfig.tiny(tok.vocabSize(), 16, 1, 2, 1, 32, 64, true), true, 2, m);
      List<VerifierMix.Pair> train = pairs("train", 64);
      List<VerifierMix.Pair> held = pairs("valid", 32);
      VerifierTrainer t = new VerifierTrainer(c, tok, 0.1);
      RewardMetrics before = t.evaluate(v, train);
      HeadTraining.Result<RewardMetrics> r = t.train(v, train, held, new HeadTraining.Hooks<>() {});
      RewardMetrics after = t.evaluate(v, train);
      assertTrue(after.loss() < before.loss() - 0.1, before.loss() + " -> " + after.loss());
      assertTrue(r.evalAfter().accuracy() > 0.9, "held-out accuracy " + r.evalAfter().accuracy());
    }
  }
}
