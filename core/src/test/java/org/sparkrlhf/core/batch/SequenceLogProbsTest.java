package org.sparkrlhf.core.batch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.model.SafeTensors;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

class SequenceLogProbsTest {
  static final CharTokenizer TOK = new CharTokenizer();
  static NDManager manager;
  static LlamaModel model;
  static LlamaModel withHead;

  @BeforeAll
  static void setUp() {
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    manager = NDManager.newBaseManager();
    LlamaConfig c = LlamaConfig.tiny(TOK.vocabSize(), 32, 2, 4, 2, 64, 64, true);
    model = LlamaModel.init(c, false, 21, manager);
    withHead = LlamaModel.init(c, true, 22, manager);
  }

  @AfterAll
  static void tearDown() {
    manager.close();
  }

  static List<TokenSequence> rows() {
    return List.of(TokenSequence.encode(TOK, "12+7*3-5=?\n", "=12+21-5\n=33-5\n", true),
        TokenSequence.encode(TOK, "3*4=?\n", "=12\n", true),
        TokenSequence.encode(TOK, "9=?\n", TOK.encode("#### 9"), false));
  }

  /**
   * A decoder whose layers add nothing (o_proj and down_proj are zero), so the logits at a position are
   * E · RMSNorm(E[token]) with the tied embedding E: a log_softmax that can be written out by hand.
   */
  @Test
  void matchesAHandComputedLogSoftmax() {
    LlamaConfig c = LlamaConfig.tiny(TOK.vocabSize(), 8, 1, 2, 2, 16, 16, true);
    Map<String, SafeTensors.Tensor> t = new LinkedHashMap<>(LlamaModel.init(c, false, 5, manager).toTensors());
    for (String name : List.copyOf(t.keySet())) {
      if (name.endsWith("o_proj.weight") || name.endsWith("down_proj.weight")) {
        t.put(name, new SafeTensors.Tensor(t.get(name).shape(), new float[t.get(name).data().length]));
      }
    }
    float[] e = t.get(LlamaModel.EMBED).data();
    int v = c.vocabSize();
    int h = c.hiddenSize();
    try (LlamaModel flat = LlamaModel.fromTensors(c, t, manager)) {
      TokenSequence s = TokenSequence.of(new int[] {1, 5, 6}, new int[] {7, 8}, 2); // scored: 7, 8, eos
      for (double temp : new double[] {1.0, 0.5}) {
        float[] got = SequenceLogProbs.score(flat, List.of(s), temp, false, 1).get(0).tokenLogProbs();
        assertEquals(3, got.length);
        for (int k = 0; k < 3; k++) {
          int pos = s.scoredFrom() - 1 + k;
          int prev = s.ids()[pos];
          double ms = 0;
          for (int j = 0; j < h; j++) ms += (double) e[prev * h + j] * e[prev * h + j];
          double rms = Math.sqrt(ms / h + c.rmsNormEps());
          double[] logits = new double[v];
          double max = Double.NEGATIVE_INFINITY;
          for (int w = 0; w < v; w++) {
            for (int j = 0; j < h; j++) logits[w] += e[w * h + j] * (e[prev * h + j] / rms);
            logits[w] /= temp;
            max = Math.max(max, logits[w]);
          }
          double z = 0;
          for (double l : logits) z += Math.exp(l - max);
          double want = logits[s.ids()[pos + 1]] - max - Math.log(z);
          assertEquals(want, got[k], 1e-5, "T=" + temp + " token " + k);
        }
      }
    }
  }

  @Test
  void aRowScoresTheSameAloneAndNextToLongerRows() {
    List<TokenSequence> rows = rows();
    List<SequenceLogProbs.SequenceScore> together = SequenceLogProbs.score(model, rows, 0.8, false, 3);
    for (int i = 0; i < rows.size(); i++) {
      SequenceLogProbs.SequenceScore alone = SequenceLogProbs.score(model, rows.subList(i, i + 1), 0.8, false, 1)
          .get(0);
      assertArrayEquals(alone.tokenLogProbs(), together.get(i).tokenLogProbs(), 1e-6f, "row " + i);
      assertEquals(rows.get(i).scoredTokens(), alone.tokenLogProbs().length);
    }
  }

  /** The same sequences left-padded (as the generator lays out prompts) give the same per-token log-probs. */
  @Test
  void leftPaddedLayoutGivesTheSameLogProbs() {
    List<TokenSequence> rows = rows();
    List<SequenceLogProbs.SequenceScore> packed = SequenceLogProbs.score(model, rows, 1.0, false, 3);
    int w = rows.stream().mapToInt(TokenSequence::length).max().orElseThrow();
    int b = rows.size();
    long[] ids = new long[b * w];
    long[] mask = new long[b * w];
    for (int r = 0; r < b; r++) {
      int[] s = rows.get(r).ids();
      for (int j = 0; j < s.length; j++) {
        ids[r * w + w - s.length + j] = s[j];
        mask[r * w + w - s.length + j] = 1;
      }
    }
    try (NDManager m = manager.newSubManager(); AutoCloseable ng = LlamaModel.noGrad()) {
      NDArray logp = LlamaModel.tokenLogProbs(
          model.logits(m.create(ids, new Shape(b, w)), null, m.create(mask, new Shape(b, w)), null)
              .get(new NDIndex(":, 0:" + (w - 1) + ", :")),
          m.create(ids, new Shape(b, w)).get(new NDIndex(":, 1:")));
      float[] flat = logp.toFloatArray();
      for (int r = 0; r < b; r++) {
        TokenSequence s = rows.get(r);
        int off = w - s.length();
        float[] want = new float[s.scoredTokens()];
        for (int k = 0; k < want.length; k++) want[k] = flat[r * (w - 1) + off + s.scoredFrom() - 1 + k];
        assertArrayEquals(want, packed.get(r).tokenLogProbs(), 1e-5f, "row " + r);
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void maskedPositionsContributeNothing() {
    List<TokenSequence> rows = rows();
    PackedBatch p = PackedBatch.pack(rows, 0);
    float[] mask = p.lossMaskValues();
    try (NDManager m = manager.newSubManager()) {
      SequenceLogProbs.Result r = SequenceLogProbs.compute(model, p, 1.0, false, false, m);
      float[] lp = r.tokenLogProbs().toFloatArray();
      float[] sums = r.sequenceSums().toFloatArray();
      for (int i = 0; i < lp.length; i++) {
        if (mask[i] == 0) assertEquals(0f, lp[i], 0f, "position " + i);
        else assertTrue(lp[i] < 0, "position " + i);
      }
      // what sits in the padding and in the prompt's log-probs does not reach a row's sum
      float[] padded = SequenceLogProbs.compute(model, PackedBatch.pack(rows, 9), 1.0, false, false, m)
          .sequenceSums().toFloatArray();
      assertArrayEquals(sums, padded, 0f);
      List<SequenceLogProbs.SequenceScore> s = SequenceLogProbs.score(model, rows, 1.0, false, 3);
      for (int i = 0; i < rows.size(); i++) assertEquals(s.get(i).sumLogProb(), sums[i], 1e-4);
    }
  }

  @Test
  void gradientPassGivesTheNoGradientNumbersAndAGraph() {
    PackedBatch p = PackedBatch.pack(rows(), 0);
    model.attachGradient();
    try (NDManager m = manager.newSubManager()) {
      float[] plain = SequenceLogProbs.compute(model, p, 0.7, false, false, m).tokenLogProbs().toFloatArray();
      assertThrows(IllegalStateException.class, () -> SequenceLogProbs.compute(model, p, 0.7, false, true, m));
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        SequenceLogProbs.Result r = SequenceLogProbs.compute(model, p, 0.7, false, true, m);
        assertArrayEquals(plain, r.tokenLogProbs().toFloatArray(), 1e-6f);
        gc.backward(r.sequenceSums().sum().neg());
      }
      NDArray g = model.parameters().get(LlamaModel.EMBED).getGradient();
      assertTrue(g.abs().sum().getFloat() > 0, "the embedding got a gradient");
    } finally {
      for (NDArray w : model.parameters().values()) w.setRequiresGradient(false);
    }
  }

  @Test
  void scoreIsTheHeadAtTheLastToken() {
    List<TokenSequence> rows = rows();
    List<SequenceLogProbs.SequenceScore> s = SequenceLogProbs.score(withHead, rows, 1.0, true, 3);
    try (NDManager m = manager.newSubManager(); AutoCloseable ng = LlamaModel.noGrad()) {
      for (int i = 0; i < rows.size(); i++) {
        int[] ids = rows.get(i).ids();
        long[] l = new long[ids.length];
        for (int j = 0; j < ids.length; j++) l[j] = ids[j];
        float[] alone = withHead.scores(m.create(l, new Shape(1, l.length)), null, null, null).toFloatArray();
        assertEquals(alone[alone.length - 1], s.get(i).score(), 1e-5, "row " + i);
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
    assertTrue(Double.isNaN(SequenceLogProbs.score(withHead, rows, 1.0, false, 3).get(0).score()));
    assertThrows(IllegalArgumentException.class, () -> SequenceLogProbs.score(model, rows, 1.0, true, 3));
  }

  @Test
  void oneTemperatureRule() {
    List<TokenSequence> rows = rows();
    for (double bad : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> SequenceLogProbs.score(model, rows, bad, false, 3));
      assertTrue(e.getMessage().contains("temperature must be > 0"), e.getMessage());
    }
    float[] t1 = SequenceLogProbs.score(model, rows, 1.0, false, 3).get(0).tokenLogProbs();
    float[] t2 = SequenceLogProbs.score(model, rows, 2.0, false, 3).get(0).tokenLogProbs();
    assertTrue(!java.util.Arrays.equals(t1, t2), "a temperature changes the distribution");
  }

  @Test
  void idsOutsideTheVocabularyAndOverlongRowsAreRefused() {
    // -1 is what a missing bos would have put in front
    TokenSequence minusOne = TokenSequence.of(new int[] {-1, 5}, new int[] {6}, 2);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SequenceLogProbs.score(model, List.of(minusOne), 1.0, false, 1));
    assertTrue(e.getMessage().contains("token id -1"), e.getMessage());
    TokenSequence tooLong = TokenSequence.of(new int[70], new int[] {5}, 2);
    e = assertThrows(IllegalArgumentException.class,
        () -> SequenceLogProbs.score(model, List.of(tooLong), 1.0, false, 1));
    assertTrue(e.getMessage().contains("max_position_embeddings"), e.getMessage());
    // 65 tokens feed 64 positions (the last token is only a target), unless a score head reads the last one
    TokenSequence fits = TokenSequence.of(new int[63], new int[] {5}, 2);
    assertEquals(2, SequenceLogProbs.score(model, List.of(fits), 1.0, false, 1).get(0).tokenLogProbs().length);
    assertThrows(IllegalArgumentException.class, () -> SequenceLogProbs.score(withHead, List.of(fits), 1.0, true, 1));
  }

  @Test
  void rowsWithNothingScoredGiveEmptyResults() {
    List<TokenSequence> rows = new ArrayList<>();
    rows.add(TokenSequence.of(TokenSequence.promptIds(TOK, "1=?\n"), new int[0], -1));
    rows.add(TokenSequence.of(TokenSequence.promptIds(TOK, "2=?\n"), new int[0], -1));
    List<SequenceLogProbs.SequenceScore> s = SequenceLogProbs.score(model, rows, 1.0, false, 2);
    assertEquals(0, s.get(0).tokenLogProbs().length);
    assertEquals(0.0, s.get(1).sumLogProb());
    List<TokenSequence> mixed = List.of(rows.get(0), rows().get(1));
    assertEquals(0, SequenceLogProbs.score(model, mixed, 1.0, false, 2).get(0).tokenLogProbs().length);
  }
}
