package org.sparkrlhf.reward.rbr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;

/** Ranks, pairs, the order accuracy and the fit on completions whose ranking is worked out by hand. */
class RankedFeaturesTest {
  static SparkSession spark;
  static final List<String> FEATURES = List.of("correct_answer", "format");
  /** Correct and well formed, then correct, then well formed, then anything. */
  static final List<String> RANKING = List.of("correct_answer = 1 AND format = 1", "correct_answer = 1",
      "format = 1", "true");

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
  }

  static Dataset<Row> completions() {
    StructType schema = new StructType().add("prompt_id", DataTypes.StringType).add("correct_answer",
        DataTypes.DoubleType).add("format", DataTypes.DoubleType);
    return spark.createDataFrame(List.of(
        RowFactory.create("p", 1.0, 1.0),   // rank 0
        RowFactory.create("p", 1.0, 0.0),   // rank 1
        RowFactory.create("p", 0.0, 1.0),   // rank 2
        RowFactory.create("p", 0.0, 0.0),   // rank 3
        RowFactory.create("q", 1.0, 1.0),   // rank 0
        RowFactory.create("q", 1.0, 1.0),   // rank 0: a tie with the row above, no pair
        RowFactory.create("q", 0.0, 1.0)),  // rank 2
        schema);
  }

  @Test
  void ranksArePairedWithinAPromptBetterMinusWorseAndMirrored() {
    Dataset<Row> ranked = RankedFeatures.ranked(completions(), RANKING);
    assertEquals(List.of(0, 1, 2, 3, 0, 0, 2),
        ranked.select("rank").collectAsList().stream().map(r -> r.getInt(0)).toList());
    Dataset<Row> pairs = RankedFeatures.pairs(ranked, "prompt_id", FEATURES);
    // p: 4 ranks, 6 pairs, A−B = [0,1], A−C = [1,0], A−D = [1,1], B−C = [1,−1], B−D = [1,0], C−D = [0,1];
    // q: the two rank-0 rows each over the rank-2 one, [1,0] twice; each also mirrored
    assertEquals(16, pairs.count());
    List<String> forward = pairs.filter("label = 1").collectAsList().stream()
        .map(r -> Arrays.toString(((org.apache.spark.ml.linalg.Vector) r.get(0)).toArray())).sorted().toList();
    assertEquals(List.of("[0.0, 1.0]", "[0.0, 1.0]", "[1.0, -1.0]", "[1.0, 0.0]", "[1.0, 0.0]", "[1.0, 0.0]",
        "[1.0, 0.0]", "[1.0, 1.0]"), forward);
    assertEquals(8, pairs.filter("label = 0").count());
  }

  @Test
  void orderAccuracyByHandAndAFitThatMeetsTheRanking() {
    Dataset<Row> pairs = RankedFeatures.pairs(RankedFeatures.ranked(completions(), RANKING), "prompt_id", FEATURES);
    // Format alone: right on the two [0,1] and on [1,1]; [1,−1] the wrong way; the four [1,0] tied (not a win): 3/8.
    assertEquals(3.0 / 8, RankedFeatures.orderAccuracy(pairs, new double[] {0, 1}), 1e-12);
    // Correctness alone: right on [1,−1], the four [1,0] and [1,1]; the two [0,1] tied: 6/8.
    assertEquals(6.0 / 8, RankedFeatures.orderAccuracy(pairs, new double[] {1, 0}), 1e-12);
    double[] w = RankedFeatures.fit(pairs, 1e-3);
    assertTrue(w[0] > w[1] && w[1] > 0, Arrays.toString(w));
    assertEquals(1.0, RankedFeatures.orderAccuracy(pairs, w), 1e-12, Arrays.toString(w));
  }
}
