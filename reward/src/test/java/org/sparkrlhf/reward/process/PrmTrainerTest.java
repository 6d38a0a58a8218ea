package org.sparkrlhf.reward.process;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkrlhf.core.batch.PackedBatch;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.StepSequence;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.reward.model.HeadTraining;
import org.sparkrlhf.reward.model.RewardConfig;

/** Where a PRM is read, that it learns which step is wrong, and that its checkpoint reloads to the same scores. */
class PrmTrainerTest {
  static final CharTokenizer TOK = new CharTokenizer();
  static NDManager manager;
  static LlamaModel policy;

  @BeforeAll
  static void setUp() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    manager = NDManager.newBaseManager();
    LlamaConfig c = new LlamaConfig(32, 64, 1, 4, 2, TOK.vocabSize(), 64, 10000.0, 1e-5, false, TOK.bosId(),
        TOK.eosId(), TOK.padId());
    policy = LlamaModel.init(c, false, 3, manager);
  }

  @AfterAll
  static void tearDown() {
    manager.close();
  }

  /** Solutions whose first step is right; half go on with a second step that is wrong (a negative sum). */
  static List<StepExample> examples(int n, int from) {
    List<StepExample> out = new ArrayList<>();
    for (int i = from; i < from + n; i++) {
      int a = i % 10;
      int b = (i / 10) % 10;
      String prompt = a + "+" + b + "=?\n";
      boolean wrong = i % 2 == 1;
      List<String> steps = wrong ? List.of("=" + (a + b), "=-" + (a + b)) : List.of("=" + (a + b));
      float[] labels = wrong ? new float[] {1f, 0f} : new float[] {1f};
      out.add(new StepExample("s" + i, StepSequence.encode(TOK, prompt, steps), labels));
    }
    return out;
  }

  static RewardConfig config() {
    RewardConfig c = new RewardConfig();
    c.kind = "prm";
    c.lr = 3e-3;
    c.warmupSteps = 0;
    c.batchSize = 8;
    c.maxSteps = 30;
    c.evalBatchSize = 5;
    return c;
  }

  @Test
  void stepScoresAreTheHeadAtEachStepsNewlineWhereverTheRowSitsInABatch() {
    try (NDManager m = manager.newSubManager(); LlamaModel prm = policy.withScoreHead(11, m)) {
      StepSequence s = StepSequence.encode(TOK, "12+7*3-5=?\n", StepSequence.steps("=12+21-5\n=33-5\n=28\n#### 28"));
      assertEquals(3, s.steps(), "the answer line has no newline after it, so it is not a step");
      int[] ids = s.sequence().ids();
      for (int end : s.stepEnds()) assertEquals(TOK.encode("\n")[0], ids[end], "a step ends on its newline");
      assertEquals(ids.length - 1, s.stepEnds()[2], "nothing after the last step");
      // the head over the unpadded row, at every position: the reference
      long[] row = new long[ids.length];
      for (int i = 0; i < ids.length; i++) row[i] = ids[i];
      float[] every = prm.scores(m.create(row, new Shape(1, row.length)), null, null, null).toFloatArray();
      float[] expected = {every[s.stepEnds()[0]], every[s.stepEnds()[1]], every[s.stepEnds()[2]]};
      StepSequence longer = StepSequence.encode(TOK, "12+7*3-5+1=?\n",
          List.of("=12+21-5+1", "=33-5+1", "=28+1", "=29"));
      PackedBatch batch = PackedBatch.pack(List.of(longer.sequence(), s.sequence()), TOK.padId());
      float[] got = SequenceLogProbs.scoresAt(prm, batch, new int[][] {longer.stepEnds(), s.stepEnds()}, false, m)
          .toFloatArray();
      assertEquals(7, got.length, "row 0's four steps, then row 1's three");
      assertArrayEquals(expected, new float[] {got[4], got[5], got[6]}, 1e-5f);
      // a non-step position reads another value, so the check can tell a misplaced read
      assertTrue(Math.abs(every[s.stepEnds()[0] - 1] - expected[0]) > 1e-4);
    }
  }

  @Test
  void trainingFindsTheWrongStepOnHeldOutSolutions() {
    try (NDManager m = manager.newSubManager(); LlamaModel prm = policy.withScoreHead(11, m)) {
      List<Integer> evalSteps = new ArrayList<>();
      HeadTraining.Result<PrmMetrics> r = new PrmTrainer(config()).train(prm, examples(48, 0), examples(12, 60),
          new HeadTraining.Hooks<PrmMetrics>() {
            @Override
            public void onEval(int step, PrmMetrics metrics) {
              evalSteps.add(step);
            }
          });
      assertEquals(List.of(0, 30), evalSteps);
      assertEquals(18, r.evalAfter().steps(), "12 solutions, 6 of them with two steps");
      assertTrue(r.evalAfter().loss() < 0.5 * r.evalBefore().loss(), r.evalBefore() + " -> " + r.evalAfter());
      assertEquals(1.0, r.evalAfter().accuracyWrongSteps(), r.evalAfter().toString());
      assertEquals(1.0, r.evalAfter().solutionAccuracy(), r.evalAfter().toString());
    }
  }

  @Test
  void aSavedPrmReloadsToTheSameStepScores(@TempDir Path dir) {
    RewardConfig c = config();
    c.maxSteps = 3;
    List<StepExample> eval = examples(7, 70);
    String folder = dir.resolve("prm").toString();
    float[] before;
    try (NDManager m = manager.newSubManager(); LlamaModel prm = policy.withScoreHead(11, m)) {
      new PrmTrainer(c).train(prm, examples(16, 0), List.of(), new HeadTraining.Hooks<PrmMetrics>() {});
      before = PrmTrainer.stepLogits(prm, eval, 3);
      HfCheckpoint.save(prm, TOK.toTokenizerJson(), Map.of("stage", "reward"), folder);
    }
    try (NDManager m = manager.newSubManager(); HfCheckpoint back = HfCheckpoint.load(folder, m)) {
      assertArrayEquals(before, PrmTrainer.stepLogits(back.model(), eval, 3), 0f, "bit for bit");
    }
  }
}
