package org.sparkrlhf.reward.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
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
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

/**
 * Where the head is read, that training separates chosen from rejected, that a saved reward model reloads, and
 * that a resumed run ends with the uninterrupted run's weights.
 */
class RewardModelTrainerTest {
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

  /** Pairs whose chosen side works a step and answers right, whose rejected side answers wrong at once. */
  static List<RewardPair> pairs(int n, int from) {
    List<RewardPair> out = new ArrayList<>();
    for (int i = from; i < from + n; i++) {
      int a = i % 10;
      int b = (i / 10) % 10;
      String prompt = a + "+" + b + "=?\n";
      String chosen = "=" + (a + b) + "\n#### " + (a + b) + "\n";
      String rejected = "#### " + (a + b + 1) + "\n";
      out.add(new RewardPair("p" + i, TokenSequence.encode(TOK, prompt, chosen, true),
          TokenSequence.encode(TOK, prompt, rejected, true), 0));
    }
    return out;
  }

  static RewardConfig config() {
    RewardConfig c = new RewardConfig();
    c.lr = 3e-3;
    c.warmupSteps = 0;
    c.batchSize = 8;
    c.maxSteps = 25;
    c.evalBatchSize = 5;
    return c;
  }

  @Test
  void aNewHeadGoesOnTheUnchangedBackbone() {
    try (NDManager m = manager.newSubManager(); LlamaModel rm = policy.withScoreHead(11, m);
        LlamaModel drawn = LlamaModel.init(policy.config(), true, 11, m)) {
      assertEquals(policy.parameters().size() + 1, rm.parameters().size());
      policy.parameters().forEach((name, w) ->
          assertArrayEquals(w.toFloatArray(), rm.parameters().get(name).toFloatArray(), 0f, name));
      // drawn as a model initialised with a head is, for the same seed
      assertArrayEquals(drawn.scoreHeadWeight().toFloatArray(), rm.scoreHeadWeight().toFloatArray(), 0f);
    }
  }

  @Test
  void theHeadIsReadAtTheLastRealTokenNotThePaddedEnd() {
    try (NDManager m = manager.newSubManager(); LlamaModel rm = policy.withScoreHead(11, m)) {
      TokenSequence shortRow = TokenSequence.encode(TOK, "3+4=?\n", "#### 7\n", true);
      TokenSequence longRow = TokenSequence.encode(TOK, "12+7*3-5=?\n", "=12+21-5\n=33-5\n=28\n#### 28\n", true);
      float alone = SequenceLogProbs.lastTokenScores(rm, PackedBatch.pack(List.of(shortRow), TOK.padId()), false, m)
          .getFloat(0);
      // the same row read independently: the head over the unpadded sequence, at its last position
      long[] ids = new long[shortRow.length()];
      for (int i = 0; i < ids.length; i++) ids[i] = shortRow.ids()[i];
      float[] all = rm.scores(m.create(ids, new Shape(1, ids.length)), null, null, null).toFloatArray();
      assertEquals(all[ids.length - 1], alone, 1e-5);

      PackedBatch padded = PackedBatch.pack(List.of(longRow, shortRow), TOK.padId());
      assertTrue(padded.width() > shortRow.length() + 10, "the short row is padded on the right");
      float[] both = SequenceLogProbs.lastTokenScores(rm, padded, false, m).toFloatArray();
      assertEquals(alone, both[1], 1e-5, "a right-padded row scores as it does unpadded");
      // Reading the batch's last column would give another value: the check above can tell the two apart.
      float[] everyColumn = rm.scores(padded.tokenIds(m), null, padded.attentionMask(m), null).toFloatArray();
      float atPaddedEnd = everyColumn[padded.width() + padded.width() - 1];
      assertTrue(Math.abs(atPaddedEnd - alone) > 1e-3, "pad column " + atPaddedEnd + " vs last token " + alone);
      // the executors' scoring reads the same position
      assertEquals(alone, SequenceLogProbs.score(rm, List.of(longRow, shortRow), 1.0, true, 2).get(1).score(), 1e-5);
    }
  }

  static Map<String, float[]> weights(LlamaModel model) {
    Map<String, float[]> out = new java.util.TreeMap<>();
    model.parameters().forEach((k, v) -> out.put(k, v.toFloatArray()));
    return out;
  }

  @Test
  void aResumedRunEndsWithTheUninterruptedRunsWeightsBitForBit() {
    RewardConfig c = config();
    c.maxSteps = 20;
    c.checkpointEvery = 7;  // mid-epoch (6 batches of 8 an epoch)
    List<RewardPair> train = pairs(48, 0);
    List<RewardPair> eval = pairs(12, 50);
    try (NDManager m = manager.newSubManager()) {
      LlamaModel rm = policy.withScoreHead(11, m);
      LlamaModel[] atCheckpoint = new LlamaModel[1];
      org.sparkrlhf.core.train.TrainerState[] state = new org.sparkrlhf.core.train.TrainerState[1];
      List<Integer> checkpoints = new ArrayList<>();
      new RewardModelTrainer(c).train(rm, train, eval, new HeadTraining.Hooks<RewardMetrics>() {
        @Override
        public void onCheckpoint(int step, LlamaModel at,
            java.util.function.Supplier<org.sparkrlhf.core.train.TrainerState> s) {
          checkpoints.add(step);
          if (step == 14) {
            atCheckpoint[0] = at.copy(m);
            state[0] = s.get();
          }
        }
      });
      assertEquals(List.of(7, 14, 20), checkpoints);
      Map<String, float[]> uninterrupted = weights(rm);
      assertEquals(14, state[0].iteration());

      // From the step-14 weights and state: the same 6 steps on the same batches, the same weights at the end; the
      // held-out metrics before the first of them are not reported again.
      LlamaModel resumed = atCheckpoint[0].copy(m);
      List<Integer> evalSteps = new ArrayList<>();
      HeadTraining.Result<RewardMetrics> r = new RewardModelTrainer(c).train(resumed, train, eval,
          new HeadTraining.Hooks<RewardMetrics>() {
            @Override
            public void onEval(int step, RewardMetrics metrics) {
              evalSteps.add(step);
            }
          }, state[0]);
      assertEquals(List.of(20), evalSteps);
      assertEquals(15, r.first().step());
      Map<String, float[]> after = weights(resumed);
      assertEquals(uninterrupted.keySet(), after.keySet());
      for (String k : uninterrupted.keySet()) assertArrayEquals(uninterrupted.get(k), after.get(k), 0f, k);

      // What the state carries matters: fresh optimizer moments (and the schedule's step count reset) end elsewhere.
      LlamaModel fresh = atCheckpoint[0].copy(m);
      var blank = new org.sparkrlhf.core.train.TrainerState(14,
          org.sparkrlhf.core.train.PolicyOptimizer.of(c, c.maxSteps).state(), Map.of());
      new RewardModelTrainer(c).train(fresh, train, eval, new HeadTraining.Hooks<RewardMetrics>() {}, blank);
      assertTrue(!java.util.Arrays.equals(uninterrupted.get(LlamaModel.EMBED), weights(fresh).get(LlamaModel.EMBED)),
          "without the optimizer state the resumed run differs");
    }
  }

  @Test
  void trainingSeparatesChosenFromRejectedOnHeldOutPairs() {
    try (NDManager m = manager.newSubManager(); LlamaModel rm = policy.withScoreHead(11, m)) {
      List<RewardPair> train = pairs(48, 0);
      List<RewardPair> eval = pairs(12, 50);
      List<Integer> evalSteps = new ArrayList<>();
      HeadTraining.Result<RewardMetrics> r = new RewardModelTrainer(config()).train(rm, train, eval,
          new HeadTraining.Hooks<RewardMetrics>() {
            @Override
            public void onEval(int step, RewardMetrics metrics) {
              evalSteps.add(step);
            }
          });
      assertEquals(List.of(0, 25), evalSteps, "before the first and after the last step");
      assertEquals(25, r.steps());
      assertTrue(r.evalAfter().loss() < 0.5 * r.evalBefore().loss(), r.evalBefore() + " -> " + r.evalAfter());
      assertEquals(1.0, r.evalAfter().accuracy(), r.evalAfter().toString());
      assertTrue(r.last().metrics().loss() < r.first().metrics().loss(), r.first() + " -> " + r.last());
    }
  }

  @Test
  void aSavedRewardModelIsASequenceClassifierThatReloadsToTheSameScores(@TempDir Path dir) throws Exception {
    RewardConfig c = config();
    c.maxSteps = 3;
    List<RewardPair> eval = pairs(7, 70);
    String folder = dir.resolve("rm").toString();
    RewardMetrics before;
    try (NDManager m = manager.newSubManager(); LlamaModel rm = policy.withScoreHead(11, m)) {
      new RewardModelTrainer(c).train(rm, pairs(16, 0), List.of(), new HeadTraining.Hooks<RewardMetrics>() {});
      before = new RewardModelTrainer(c).evaluate(rm, eval);
      HfCheckpoint.save(rm, TOK.toTokenizerJson(), Map.of("stage", "reward"), folder);
    }
    JsonNode config = new ObjectMapper().readTree(Files.readString(dir.resolve("rm/config.json")));
    assertEquals("LlamaForSequenceClassification", config.get("architectures").get(0).asText());
    assertEquals(1, config.get("num_labels").asInt());
    assertEquals(TOK.padId(), config.get("pad_token_id").asInt());
    assertTrue(config.get("pad_token_id").asInt() != config.get("eos_token_id").asInt(), "pad is never eos");
    try (NDManager m = manager.newSubManager(); HfCheckpoint back = HfCheckpoint.load(folder, m)) {
      assertArrayEquals(new long[] {1, 32}, back.model().parameters().get(LlamaModel.SCORE).getShape().getShape());
      // a reward checkpoint as the start of another reward run keeps its trained head
      try (LlamaModel again = back.model().withScoreHead(99, m)) {
        RewardMetrics after = new RewardModelTrainer(c).evaluate(again, eval);
        assertEquals(before, after, "the same scores, bit for bit");
      }
    }
  }
}
