package org.sparkrlhf.rollouts.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparkrlhf.rollouts.spark.ScoringFixtures.ROWS;
import static org.sparkrlhf.rollouts.spark.ScoringFixtures.TOK;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.model.LlamaModel;

/** The executors' step scores are σ of the head at each step line's newline, read from the row alone on the driver. */
class StepRewardScorerTest {
  private static SparkSession spark;
  private static NDManager manager;
  private static LlamaModel prm;
  private static ModelBroadcast prmB;

  @BeforeAll
  static void setUp() {
    spark = TestSpark.session();
    manager = Engine.getEngine("PyTorch").newBaseManager();
    prm = ScoringFixtures.tinyModel(true, 41, manager);
    prmB = ModelBroadcast.publish(spark, ScoringFixtures.uniqueKey("step-prm"), 1, prm, TOK.toTokenizerJson(), Map.of());
  }

  @AfterAll
  static void tearDown() {
    prmB.destroy();
    manager.close();
  }

  /** Written out independently: bos, the prompt's characters, then the completion's; a step ends at each newline but the answer line's. */
  static double[] direct(String prompt, String completion) {
    int[] seq = ScoringFixtures.sequence(prompt, completion, false);
    List<Integer> ends = new ArrayList<>();
    int answerLine = completion.stripTrailing().lastIndexOf('\n');
    for (int i = 0; i <= answerLine; i++) if (completion.charAt(i) == '\n') ends.add(1 + prompt.length() + i);
    try (NDManager sub = manager.newSubManager()) {
      NDArray ids = sub.create(ScoringFixtures.toLong(seq), new Shape(1, seq.length));
      float[] s = prm.scores(ids, null, null, null).toFloatArray();
      double[] p = new double[ends.size()];
      for (int k = 0; k < p.length; k++) p[k] = 1 / (1 + Math.exp(-s[ends.get(k)]));
      return p;
    }
  }

  @Test
  void executorStepScoresEqualTheDriversReading() {
    Map<Integer, List<Double>> got = new HashMap<>();
    for (Row r : new StepRewardScorer().setModel(prmB).setBatchSize(5).transform(ScoringFixtures.frame(spark, 3))
        .collectAsList()) {
      got.put(r.getInt(0), r.getList(r.fieldIndex("step_scores")));
    }
    int steps = 0;
    for (int i = 0; i < ROWS.length; i++) {
      double[] want = direct(ROWS[i][0], ROWS[i][1]);
      List<Double> have = got.get(i);
      assertEquals(want.length, have.size(), "row " + i + " steps");
      for (int k = 0; k < want.length; k++) assertEquals(want[k], have.get(k), 1e-5, "row " + i + " step " + k);
      steps += want.length;
    }
    assertTrue(steps >= 10, "the fixture rows have steps to compare: " + steps);
    assertEquals(List.of(), got.get(7), "'#### 7' has no step");
    assertEquals(List.of(), got.get(4), "an empty completion has no step");
  }
}
