package org.sparkrlhf.dpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.sparkrlhf.dpo.losses.DpoMetrics;
import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;

/** A short DPO run on constructed pairs moves the implicit rewards the right way, for every loss type. */
class DpoTrainerTest {
  @BeforeAll
  static void threads() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
  }

  static LlamaConfig tiny(CharTokenizer tok) {
    return new LlamaConfig(32, 64, 1, 2, 1, tok.vocabSize(), 64, 10000.0, 1e-5, true, tok.bosId(), tok.eosId(),
        tok.padId());
  }

  /** Σ log-probs of each sequence's scored tokens (the reference log-probs the executors would store). */
  static double[] sums(LlamaModel model, List<TokenSequence> seqs) {
    return SequenceLogProbs.score(model, seqs, 1.0, false, 16).stream()
        .mapToDouble(SequenceLogProbs.SequenceScore::sumLogProb).toArray();
  }

  /** chosen: the worked solution; rejected: the same with a wrong final answer. Reference = the start model. */
  static List<PreferenceExample> pairs(CharTokenizer tok, LlamaModel ref, int n) {
    List<String[]> raw = new ArrayList<>();
    for (Problem p : ArithmeticTask.generate(new TaskSpec(1, 2, 0, 9, "+", 5), "train", n)) {
      raw.add(new String[] {p.id(), p.prompt(), p.completion(), "#### " + (p.answer() + 1) + "\n"});
    }
    List<TokenSequence> seqs = new ArrayList<>();
    for (String[] r : raw) {
      seqs.add(TokenSequence.encode(tok, r[1], r[2], true));
      seqs.add(TokenSequence.encode(tok, r[1], r[3], true));
    }
    double[] lp = sums(ref, seqs);
    List<PreferenceExample> out = new ArrayList<>();
    for (int i = 0; i < raw.size(); i++) {
      String[] r = raw.get(i);
      out.add(PreferenceExample.of(tok, r[0], r[1], r[2], r[3], lp[2 * i], lp[2 * i + 1]));
    }
    return out;
  }

  static DpoMetrics evaluate(LlamaModel model, List<PreferenceExample> set, double beta) {
    List<TokenSequence> seqs = new ArrayList<>();
    for (PreferenceExample e : set) seqs.add(e.chosen());
    for (PreferenceExample e : set) seqs.add(e.rejected());
    double[] lp = sums(model, seqs);
    int n = set.size();
    try (NDManager m = NDManager.newBaseManager()) {
      float[] pc = new float[n], pr = new float[n], rc = new float[n], rr = new float[n];
      for (int i = 0; i < n; i++) {
        pc[i] = (float) lp[i];
        pr[i] = (float) lp[n + i];
        rc[i] = (float) set.get(i).refChosen();
        rr[i] = (float) set.get(i).refRejected();
      }
      return DpoMetrics.of(m.create(pc), m.create(pr), m.create(rc), m.create(rr), beta);
    }
  }

  @Test
  void shortRunsRaiseMarginsAndAccuracies() {
    CharTokenizer tok = new CharTokenizer();
    for (String lossType : List.of("sigmoid", "cdpo", "ipo")) {
      try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
        LlamaModel model = LlamaModel.init(tiny(tok), false, 7, m);
        List<PreferenceExample> set = pairs(tok, model, 24);
        DpoMetrics before = evaluate(model, set, 0.1);
        assertEquals(0.0, before.rewardsMargins(), 1e-4, "policy = reference at the start");
        DpoConfig c = new DpoConfig();
        c.lossType = lossType;
        c.labelSmoothing = lossType.equals("cdpo") ? 0.1 : 0.0;
        c.batchSize = 8;
        c.maxSteps = 12;
        c.lr = 3e-3;
        c.warmupSteps = 0;
        c.nllCoef = lossType.equals("sigmoid") ? 0.1 : 0.0;
        List<DpoTrainer.StepStats> steps = new ArrayList<>();
        DpoTrainer.Result r = new DpoTrainer(c).train(model, set, new DpoTrainer.Hooks() {
          @Override
          public void onStep(DpoTrainer.StepStats s) {
            steps.add(s);
          }
        });
        assertEquals(12, r.steps());
        assertEquals(24, r.pairs());
        assertEquals(0.0, steps.get(0).metrics().rewardsMargins(), 1e-4, "first step sees the reference");
        DpoMetrics after = evaluate(model, set, 0.1);
        assertTrue(after.rewardsMargins() > 0.05, lossType + ": margins " + after);
        assertTrue(after.rewardsAccuracies() > 0.8, lossType + ": accuracies " + after);
        model.close();
      }
    }
  }

  @Test
  void aResumedRunEndsWithTheUninterruptedRunsWeightsBitForBit() {
    CharTokenizer tok = new CharTokenizer();
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = LlamaModel.init(tiny(tok), false, 7, m);
      List<PreferenceExample> set = pairs(tok, model, 20); // 3 batches an epoch, the last short
      DpoConfig c = new DpoConfig();
      c.batchSize = 8;
      c.epochs = 4;
      c.lr = 3e-3;
      c.warmupSteps = 2;
      c.nllCoef = 0.1;
      c.checkpointEvery = 5; // mid-epoch
      LlamaModel[] atFive = new LlamaModel[1];
      org.sparkrlhf.core.train.TrainerState[] state = new org.sparkrlhf.core.train.TrainerState[1];
      new DpoTrainer(c).train(model, set, new DpoTrainer.Hooks() {
        @Override
        public void onCheckpoint(int step, LlamaModel at, java.util.function.Supplier<org.sparkrlhf.core.train.TrainerState> s) {
          if (step == 5) {
            atFive[0] = at.copy(m);
            state[0] = s.get();
          }
        }
      });
      LlamaModel resumed = atFive[0].copy(m);
      DpoTrainer.Result r = new DpoTrainer(c).resumeFrom(state[0]).train(resumed, set, new DpoTrainer.Hooks() {});
      assertEquals(12, r.steps());
      for (String k : model.parameters().keySet()) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(model.parameters().get(k).toFloatArray(),
            resumed.parameters().get(k).toFloatArray(), k);
      }
      // Restarted from the same weights without the state (a fresh optimizer and schedule, the first batches of the
      // order again), the 7 remaining steps end elsewhere.
      LlamaModel misplaced = atFive[0].copy(m);
      DpoConfig shorter = new DpoConfig();
      shorter.batchSize = 8;
      shorter.maxSteps = 7;
      shorter.lr = 3e-3;
      shorter.warmupSteps = 2;
      shorter.nllCoef = 0.1;
      new DpoTrainer(shorter).train(misplaced, set, new DpoTrainer.Hooks() {});
      assertTrue(!java.util.Arrays.equals(model.parameters().get(LlamaModel.EMBED).toFloatArray(),
          misplaced.parameters().get(LlamaModel.EMBED).toFloatArray()), "the batch order matters");
    }
  }

  @Test
  void lossAtTheStartIsLog2ForSigmoid() {
    CharTokenizer tok = new CharTokenizer();
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = LlamaModel.init(tiny(tok), false, 11, m);
      List<PreferenceExample> set = pairs(tok, model, 8);
      DpoConfig c = new DpoConfig();
      c.batchSize = 8;
      c.maxSteps = 1;
      List<DpoTrainer.StepStats> steps = new ArrayList<>();
      new DpoTrainer(c).train(model, set, new DpoTrainer.Hooks() {
        @Override
        public void onStep(DpoTrainer.StepStats s) {
          steps.add(s);
        }
      });
      assertEquals(Math.log(2), steps.get(0).loss(), 1e-4, "-log σ(0) when policy = reference");
      model.close();
    }
  }

  /**
   * Reference log-probs that are NaN (a corrupt reference table) make every loss NaN: each step is skipped and
   * counted, the weights stay bit-identical, and the third stops the run with one line naming it.
   */
  @Test
  void nonFiniteStepsAreSkippedThenStopTheRunWithOneLine() {
    CharTokenizer tok = new CharTokenizer();
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = LlamaModel.init(tiny(tok), false, 7, m);
      List<PreferenceExample> set = new ArrayList<>();
      for (PreferenceExample p : pairs(tok, model, 16)) {
        set.add(new PreferenceExample(p.id(), p.chosen(), p.rejected(), Double.NaN, p.refRejected()));
      }
      float[] before = model.parameters().get(LlamaModel.EMBED).toFloatArray();
      DpoConfig c = new DpoConfig();
      c.batchSize = 8;
      c.maxSteps = 20;
      c.maxSkippedSteps = 2;
      List<DpoTrainer.StepStats> steps = new ArrayList<>();
      org.sparkrlhf.core.NonFiniteError e = org.junit.jupiter.api.Assertions.assertThrows(
          org.sparkrlhf.core.NonFiniteError.class, () -> new DpoTrainer(c).train(model, set, new DpoTrainer.Hooks() {
            @Override
            public void onStep(DpoTrainer.StepStats s) {
              steps.add(s);
            }
          }));
      assertEquals("optimizer step 3: loss NaN, gradient norm NaN; 3 non-finite steps skipped, more than "
          + "max_skipped_steps 2; last good checkpoint: none (lower the learning rate or enable grad_clip)",
          e.getMessage());
      assertEquals(List.of(1, 2), steps.stream().map(DpoTrainer.StepStats::skippedSteps).toList());
      org.junit.jupiter.api.Assertions.assertArrayEquals(before, model.parameters().get(LlamaModel.EMBED).toFloatArray());
      model.close();
    }
  }
}
