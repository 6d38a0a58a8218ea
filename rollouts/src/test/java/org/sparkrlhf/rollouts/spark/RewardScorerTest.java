package org.sparkrlhf.rollouts.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparkrlhf.rollouts.spark.ScoringFixtures.ROWS;
import static org.sparkrlhf.rollouts.spark.ScoringFixtures.TOK;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.model.LlamaModel;

/** The executors' rewards are the driver's scores of the same rows; bad inputs are refused clearly. */
class RewardScorerTest {
    private static SparkSession spark;
    private static NDManager manager;
    private static LlamaModel rm;
    private static ModelBroadcast rmB;
    private static ModelBroadcast lmB;

    @BeforeAll
    static void setUp() {
        spark = TestSpark.session();
        manager = Engine.getEngine("PyTorch").newBaseManager();
        rm = ScoringFixtures.tinyModel(true, 31, manager);
        rmB = ModelBroadcast.publish(spark, ScoringFixtures.uniqueKey("reward-rm"), 1, rm, TOK.toTokenizerJson(),
                Map.of());
        try (LlamaModel lm = ScoringFixtures.tinyModel(false, 32, manager)) {
            lmB = ModelBroadcast.publish(spark, ScoringFixtures.uniqueKey("reward-lm"), 1, lm, TOK.toTokenizerJson(),
                    Map.of());
        }
    }

    @AfterAll
    static void tearDown() {
        rmB.destroy();
        lmB.destroy();
        manager.close();
    }

    @Test
    void executorRewardsEqualTheDriversScores() {
        // three partitions, batches of 5: rows of different lengths are padded next to each other
        Dataset<Row> out = new RewardScorer().setModel(rmB).setBatchSize(5).transform(ScoringFixtures.frame(spark, 3));
        assertEquals(DataTypes.DoubleType, out.schema().apply("reward").dataType());
        Map<Integer, Double> got = new HashMap<>();
        for (Row r : out.collectAsList()) got.put(r.getInt(0), r.getDouble(r.fieldIndex("reward")));
        assertEquals(ROWS.length, got.size());
        double spread = 0;
        for (int i = 0; i < ROWS.length; i++) {
            // the driver: the row alone, unpadded, the head at its last token ([bos]+prompt+completion+[eos])
            double driver = ScoringFixtures.directScore(rm, ROWS[i][0], ROWS[i][1], true, manager);
            assertEquals(driver, got.get(i), 1e-4, "row " + i);
            spread = Math.max(spread, Math.abs(driver - got.get(0)));
        }
        assertTrue(spread > 1e-4, "rows score differently, so a row matched to another's score would be caught");
        // the same number the Scorer's score column gives
        for (Row r : new Scorer().setModel(rmB).setBatchSize(4).transform(ScoringFixtures.frame(spark, 2))
                .collectAsList()) {
            assertEquals(r.getDouble(r.fieldIndex("score")), got.get(r.getInt(0)), 1e-5);
        }
    }

    @Test
    void nullInputsGiveANullRewardAndBadSchemasAreRefused() {
        StructType schema = new StructType().add("q", DataTypes.StringType).add("a", DataTypes.StringType);
        List<Row> rows = new ArrayList<>(List.of(RowFactory.create("3+4=?\n", "#### 7\n"),
                RowFactory.create(null, "#### 7\n"), RowFactory.create("3+4=?\n", null)));
        List<Row> out = new RewardScorer().setModel(rmB).setPromptCol("q").setCompletionCol("a").setRewardCol("r")
                .transform(spark.createDataFrame(rows, schema)).collectAsList();
        assertEquals(ScoringFixtures.directScore(rm, "3+4=?\n", "#### 7\n", true, manager), out.get(0).getDouble(2),
                1e-4);
        assertTrue(out.get(1).isNullAt(2) && out.get(2).isNullAt(2));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new RewardScorer().setModel(lmB).transformSchema(ScoringFixtures.SCHEMA));
        assertTrue(e.getMessage().contains("no score head"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new RewardScorer().setModel(rmB).transformSchema(schema));
        assertTrue(e.getMessage().startsWith("RewardScorer: input column 'prompt'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new RewardScorer().setModel(rmB).setRewardCol("id").transformSchema(ScoringFixtures.SCHEMA));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> new RewardScorer().transformSchema(schema), "no model set");
    }
}
