package org.sparkrlhf.sft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.task.ArithmeticTask;
import org.sparkrlhf.core.task.Problem;
import org.sparkrlhf.core.task.TaskSpec;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

class SftTrainerTest {
  static SftConfig tiny() {
    SftConfig c = new SftConfig();
    c.model.hiddenSize = 32;
    c.model.intermediateSize = 64;
    c.model.numHiddenLayers = 2;
    c.model.numAttentionHeads = 2;
    c.model.numKeyValueHeads = 1;
    c.model.maxPositionEmbeddings = 64;
    c.batchSize = 16;
    c.maxSteps = 120;
    c.lr = 3e-3;
    c.warmupSteps = 10;
    c.evalEvery = 60;
    c.logEvery = 20;
    return c;
  }

  static List<TokenSequence> examples(CharTokenizer tok, String split, int n) {
    List<TokenSequence> out = new ArrayList<>();
    for (Problem p : ArithmeticTask.generate(new TaskSpec(1, 2, 0, 9, "+", 5), split, n)) {
      out.add(SftTrainer.example(tok, p.prompt(), p.completion()));
    }
    return out;
  }

  @Test
  void lossFallsOnATinySetAndTheRunIsReproducible() {
    CharTokenizer tok = new CharTokenizer();
    List<TokenSequence> train = examples(tok, "train", 64);
    List<TokenSequence> valid = examples(tok, "valid", 16);
    SftConfig c = tiny();
    List<Double> losses = new ArrayList<>();
    float[] firstWeights;
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = LlamaModel.init(c.model.toConfig(tok), false, 3, m);
      double before = new SftTrainer(c).validLoss(model, train);
      SftTrainer.Result r = new SftTrainer(c).train(model, train, valid, null, new SftTrainer.Hooks() {
        @Override
        public void onStep(SftTrainer.StepStats s) {
          losses.add(s.loss());
        }
      });
      double after = new SftTrainer(c).validLoss(model, train);
      assertTrue(after < 0.5 * before, "training loss on the set fell: " + before + " -> " + after);
      assertTrue(losses.get(losses.size() - 1) < losses.get(0), losses.toString());
      assertEquals(2, r.curve().size(), "evaluated at step 60 and at the end");
      assertTrue(r.tokensPerSecond() > 0);
      firstWeights = model.parameters().get(LlamaModel.EMBED).toFloatArray();
    }
    // Same seed, same data: the same weights, bit for bit.
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = LlamaModel.init(c.model.toConfig(tok), false, 3, m);
      new SftTrainer(c).train(model, train, valid, null, new SftTrainer.Hooks() {});
      assertArrayEquals(firstWeights, model.parameters().get(LlamaModel.EMBED).toFloatArray());
    }
  }

  /** Every weight of a model, by name, as float arrays. */
  private static java.util.Map<String, float[]> weights(LlamaModel model) {
    java.util.Map<String, float[]> out = new java.util.TreeMap<>();
    model.parameters().forEach((k, v) -> out.put(k, v.toFloatArray()));
    return out;
  }

  @Test
  void aResumedRunEndsWithTheUninterruptedRunsWeightsBitForBit() {
    CharTokenizer tok = new CharTokenizer();
    List<TokenSequence> train = examples(tok, "train", 72); // 5 batches an epoch, the last short
    SftConfig c = tiny();
    c.maxSteps = 40;
    c.evalEvery = 0;
    c.checkpointEvery = 15; // mid-epoch, and past the warm-up
    java.util.Map<String, float[]> uninterrupted;
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = LlamaModel.init(c.model.toConfig(tok), false, 3, m);
      LlamaModel[] atCheckpoint = new LlamaModel[1];
      org.sparkrlhf.core.train.TrainerState[] state = new org.sparkrlhf.core.train.TrainerState[1];
      new SftTrainer(c).train(model, train, List.of(), null, new SftTrainer.Hooks() {
        @Override
        public void onCheckpoint(int step, LlamaModel at, java.util.function.Supplier<org.sparkrlhf.core.train.TrainerState> s) {
          if (step == 15) {
            atCheckpoint[0] = at.copy(m);
            state[0] = s.get();
          }
        }
      });
      uninterrupted = weights(model);
      assertEquals(15, state[0].iteration());

      // From the step-15 weights and state: the same 25 steps on the same batches, the same weights at the end.
      LlamaModel resumed = atCheckpoint[0].copy(m);
      new SftTrainer(c).resumeFrom(state[0]).train(resumed, train, List.of(), null, new SftTrainer.Hooks() {});
      java.util.Map<String, float[]> after = weights(resumed);
      assertEquals(uninterrupted.keySet(), after.keySet());
      for (String k : uninterrupted.keySet()) assertArrayEquals(uninterrupted.get(k), after.get(k), k);

      // What the state carries matters: the same weights resumed with fresh optimizer moments (and the schedule's
      // step count reset) end elsewhere.
      LlamaModel fresh = atCheckpoint[0].copy(m);
      var blank = new org.sparkrlhf.core.train.TrainerState(15,
          org.sparkrlhf.core.train.PolicyOptimizer.of(c, c.maxSteps).state(), java.util.Map.of());
      new SftTrainer(c).resumeFrom(blank).train(fresh, train, List.of(), null, new SftTrainer.Hooks() {});
      assertTrue(!java.util.Arrays.equals(uninterrupted.get(LlamaModel.EMBED), weights(fresh).get(LlamaModel.EMBED)),
          "without the optimizer state the resumed run differs");
    }
  }

  @Test
  void batchesAreLengthBucketedAndSeeded() {
    CharTokenizer tok = new CharTokenizer();
    List<TokenSequence> ex = new ArrayList<>();
    for (Problem p : ArithmeticTask.generate(TaskSpec.defaults(), "train", 2048)) {
      ex.add(SftTrainer.example(tok, p.prompt(), p.completion()));
    }
    List<int[]> a = SftBatches.epoch(ex, 32, 1, 0);
    List<int[]> b = SftBatches.epoch(ex, 32, 1, 0);
    assertEquals(a.size(), b.size());
    for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i));
    // Within a batch lengths are close: far less spread than across the whole set.
    int spreadSum = 0;
    for (int[] batch : a) {
      int lo = Integer.MAX_VALUE, hi = 0;
      for (int i : batch) {
        lo = Math.min(lo, ex.get(i).length());
        hi = Math.max(hi, ex.get(i).length());
      }
      spreadSum += hi - lo;
    }
    int min = ex.stream().mapToInt(TokenSequence::length).min().orElse(0);
    int max = ex.stream().mapToInt(TokenSequence::length).max().orElse(0);
    assertTrue(spreadSum / (double) a.size() < 0.25 * (max - min), "mean spread " + spreadSum / (double) a.size());
    assertTrue(!java.util.Arrays.equals(a.get(0), SftBatches.epoch(ex, 32, 1, 1).get(0)), "a new order each epoch");
  }

  /**
   * lr 1e5 without clipping diverges within a few steps; the non-finite steps are skipped and counted, and once
   * there are more than max_skipped_steps the run stops with one line naming the step, leaving finite weights.
   */
  @Test
  void aDivergingRunSkipsItsNonFiniteStepsThenStopsWithOneLine() {
    CharTokenizer tok = new CharTokenizer();
    List<TokenSequence> train = examples(tok, "train", 64);
    SftConfig c = tiny();
    c.lr = 1e5;
    c.gradClip = 0;
    c.maxSkippedSteps = 3;
    c.maxSteps = 60;
    c.logEvery = 1;
    c.evalEvery = 0;
    List<SftTrainer.StepStats> steps = new ArrayList<>();
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      LlamaModel model = LlamaModel.init(c.model.toConfig(tok), false, 3, m);
      org.sparkrlhf.core.NonFiniteError e = org.junit.jupiter.api.Assertions.assertThrows(
          org.sparkrlhf.core.NonFiniteError.class, () -> new SftTrainer(c).train(model, train, List.of(), null,
              new SftTrainer.Hooks() {
                @Override
                public void onStep(SftTrainer.StepStats s) {
                  steps.add(s);
                }
              }));
      int failed = steps.size() + 1;
      assertTrue(failed < c.maxSteps, "stopped before the end: " + steps.size() + " steps logged");
      assertTrue(e.getMessage().matches("optimizer step " + failed + ": loss \\S+, gradient norm \\S+; 4 non-finite"
          + " steps skipped, more than max_skipped_steps 3; last good checkpoint: none \\(.*\\)"), e.getMessage());
      assertTrue(!e.getMessage().contains("\n"));
      long nonFinite = steps.stream().filter(s -> !Double.isFinite(s.loss()) || !Double.isFinite(s.gradNorm())).count();
      assertEquals(3, nonFinite, "the three skipped steps were logged as they were");
      assertEquals(3, steps.get(steps.size() - 1).skippedSteps());
      assertEquals(0, steps.get(0).skippedSteps());
      for (var w : model.parameters().values()) {
        for (float v : w.toFloatArray()) assertTrue(Float.isFinite(v), "a skipped step left a non-finite weight");
      }
    }
  }
}
