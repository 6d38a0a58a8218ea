package org.sparkrlhf.rollouts.spark;

import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparkrlhf.rollouts.spark.ScoringFixtures.ROWS;
import static org.sparkrlhf.rollouts.spark.ScoringFixtures.TOK;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Arrays;
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

class ScorerTest {

    private static SparkSession spark;
    private static NDManager manager;
    private static LlamaModel lm;      // no scalar head
    private static LlamaModel rm;      // with a scalar head
    private static ModelBroadcast lmB;
    private static ModelBroadcast rmB;

    @BeforeAll
    static void setUp() {
        spark = TestSpark.session();
        manager = Engine.getEngine("PyTorch").newBaseManager();
        lm = ScoringFixtures.tinyModel(false, 11, manager);
        rm = ScoringFixtures.tinyModel(true, 12, manager);
        lmB = ModelBroadcast.publish(spark, ScoringFixtures.uniqueKey("scorer-lm"), 1, lm, TOK.toTokenizerJson(),
                Map.of());
        rmB = ModelBroadcast.publish(spark, ScoringFixtures.uniqueKey("scorer-rm"), 1, rm, TOK.toTokenizerJson(),
                Map.of());
    }

    @AfterAll
    static void tearDown() {
        lmB.destroy();
        rmB.destroy();
        manager.close();
    }

    /** id → row of the scored frame. */
    private static Map<Integer, Row> byId(Dataset<Row> scored) {
        Map<Integer, Row> m = new HashMap<>();
        for (Row r : scored.collectAsList()) {
            m.put(r.getInt(r.fieldIndex("id")), r);
        }
        return m;
    }

    @Test
    void logprobsMatchDirectForwardWhateverTheBatchingAndPartitioning() {
        // batchSize 5 over 12 rows of very different lengths: every batch is right-padded, and the batch
        // boundaries differ between 1 and 3 partitions.
        Scorer scorer = new Scorer().setModel(lmB).setBatchSize(5);
        Map<Integer, Row> one = byId(scorer.transform(ScoringFixtures.frame(spark, 1)));
        Map<Integer, Row> three = byId(scorer.transform(ScoringFixtures.frame(spark, 3)));
        assertEquals(ROWS.length, one.size());
        assertEquals(ROWS.length, three.size());
        for (int i = 0; i < ROWS.length; i++) {
            float[] expected = ScoringFixtures.directLogprobs(lm, ROWS[i][0], ROWS[i][1], true, 1.0, manager);
            assertEquals(TOK.encode(ROWS[i][1]).length + 1, expected.length, "completion tokens + eos");
            for (Map<Integer, Row> result : List.of(one, three)) {
                Row r = result.get(i);
                float[] got = ScoringFixtures.floats(r.getList(r.fieldIndex("logprobs")));
                assertArrayEquals(expected, got, 1e-4f, "row " + i);
                double sum = 0;
                for (float f : expected) {
                    sum += f;
                }
                assertEquals(sum, r.getDouble(r.fieldIndex("sum_logprob")), 1e-3, "row " + i);
                for (float f : got) {
                    assertTrue(f < 0 && Float.isFinite(f), "a log-prob is negative and finite: " + f);
                }
            }
            float[] a = ScoringFixtures.floats(one.get(i).getList(one.get(i).fieldIndex("logprobs")));
            float[] b = ScoringFixtures.floats(three.get(i).getList(three.get(i).fieldIndex("logprobs")));
            assertArrayEquals(a, b, 1e-5f, "1 vs 3 partitions, row " + i);
        }
        assertFalse(Arrays.asList(scorer.transform(ScoringFixtures.frame(spark, 1)).columns()).contains("score"),
                "no score column without a scalar head");
    }

    @Test
    void temperatureAndNoEosFollowTheConvention() {
        Scorer scorer = new Scorer().setModel(lmB).setTemperature(0.7).setAppendEos(false).setBatchSize(4);
        Map<Integer, Row> got = byId(scorer.transform(ScoringFixtures.frame(spark, 2)));
        for (int i = 0; i < ROWS.length; i++) {
            float[] expected = ScoringFixtures.directLogprobs(lm, ROWS[i][0], ROWS[i][1], false, 0.7, manager);
            assertEquals(TOK.encode(ROWS[i][1]).length, expected.length);
            Row r = got.get(i);
            assertArrayEquals(expected, ScoringFixtures.floats(r.getList(r.fieldIndex("logprobs"))), 1e-4f,
                    "row " + i);
        }
        // the empty completion without eos has nothing to score
        Row empty = got.get(4);
        assertEquals(0, empty.getList(empty.fieldIndex("logprobs")).size());
        assertEquals(0.0, empty.getDouble(empty.fieldIndex("sum_logprob")));
    }

    @Test
    void scoreColumnIsTheScalarHeadAtTheLastRealToken() {
        Scorer scorer = new Scorer().setModel(rmB).setBatchSize(4);
        Dataset<Row> out = scorer.transform(ScoringFixtures.frame(spark, 3));
        assertEquals(DataTypes.DoubleType, out.schema().apply("score").dataType());
        Map<Integer, Row> got = byId(out);
        double spread = 0;
        for (int i = 0; i < ROWS.length; i++) {
            double expected = ScoringFixtures.directScore(rm, ROWS[i][0], ROWS[i][1], true, manager);
            Row r = got.get(i);
            assertEquals(expected, r.getDouble(r.fieldIndex("score")), 1e-4, "row " + i);
            spread = Math.max(spread, Math.abs(expected - got.get(0).getDouble(r.fieldIndex("score"))));
            // the log-probs come from the same pass
            assertArrayEquals(ScoringFixtures.directLogprobs(rm, ROWS[i][0], ROWS[i][1], true, 1.0, manager),
                    ScoringFixtures.floats(r.getList(r.fieldIndex("logprobs"))), 1e-4f);
        }
        assertTrue(spread > 1e-6, "scores differ between rows, so a wrong position would be caught");
        // without eos the score is read at the last completion token instead
        Map<Integer, Row> noEos = byId(new Scorer().setModel(rmB).setAppendEos(false)
                .transform(ScoringFixtures.frame(spark, 1)));
        Row r0 = noEos.get(0);
        assertEquals(ScoringFixtures.directScore(rm, ROWS[0][0], ROWS[0][1], false, manager),
                r0.getDouble(r0.fieldIndex("score")), 1e-4);
    }

    @Test
    void tokenIdsColumnAndPerRowEosAndNulls() {
        StructType schema = new StructType()
                .add("id", DataTypes.IntegerType, false)
                .add("prompt", DataTypes.StringType, true)
                .add("ids", DataTypes.createArrayType(DataTypes.IntegerType), true)
                .add("finished", DataTypes.BooleanType, true);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            List<Integer> ids = new ArrayList<>();
            for (int t : TOK.encode(ROWS[i][1])) {
                ids.add(t);
            }
            rows.add(RowFactory.create(i, ROWS[i][0], ids, i % 2 == 0));
        }
        rows.add(RowFactory.create(99, null, List.of(5, 6), true));
        Dataset<Row> df = spark.createDataFrame(rows, schema);
        Map<Integer, Row> got = byId(new Scorer().setModel(lmB).setCompletionIdsCol("ids").setAppendEosCol("finished")
                .setLogprobsCol("lp").setSumLogprobCol("lp_sum").transform(df));
        for (int i = 0; i < 4; i++) {
            boolean eos = i % 2 == 0;
            Row r = got.get(i);
            assertArrayEquals(ScoringFixtures.directLogprobs(lm, ROWS[i][0], ROWS[i][1], eos, 1.0, manager),
                    ScoringFixtures.floats(r.getList(r.fieldIndex("lp"))), 1e-4f, "row " + i);
        }
        Row nullRow = got.get(99);
        assertNotNull(nullRow);
        assertTrue(nullRow.isNullAt(nullRow.fieldIndex("lp")) && nullRow.isNullAt(nullRow.fieldIndex("lp_sum")),
                "a null prompt gives null outputs");
    }

    @Test
    void transformSchemaRejectsMissingOrWrongColumnsClearly() {
        StructType noCompletion = new StructType().add("prompt", DataTypes.StringType);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Scorer().setModel(lmB).transformSchema(noCompletion));
        assertTrue(e.getMessage().contains("'completion'") && e.getMessage().contains("completionCol")
                && e.getMessage().contains("not found"), e.getMessage());

        StructType renamed = new StructType().add("question", DataTypes.StringType)
                .add("completion", DataTypes.StringType);
        e = assertThrows(IllegalArgumentException.class,
                () -> new Scorer().setModel(lmB).transformSchema(renamed));
        assertTrue(e.getMessage().contains("'prompt'") && e.getMessage().contains("question"), e.getMessage());
        // ... and works once told the column's name
        StructType out = new Scorer().setModel(lmB).setPromptCol("question").transformSchema(renamed);
        assertEquals(List.of("question", "completion", "logprobs", "sum_logprob"), Arrays.asList(out.fieldNames()));

        StructType wrongType = new StructType().add("prompt", DataTypes.IntegerType)
                .add("completion", DataTypes.StringType);
        e = assertThrows(IllegalArgumentException.class,
                () -> new Scorer().setModel(lmB).transformSchema(wrongType));
        assertTrue(e.getMessage().contains("int") && e.getMessage().contains("string"), e.getMessage());

        StructType clash = new StructType().add("prompt", DataTypes.StringType)
                .add("completion", DataTypes.StringType).add("logprobs", DataTypes.StringType);
        e = assertThrows(IllegalArgumentException.class, () -> new Scorer().setModel(lmB).transformSchema(clash));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());

        assertThrows(IllegalStateException.class, () -> new Scorer().transformSchema(clash), "no model set");
        // the scalar head decides the extra column, from the broadcast's metadata (no load on the driver)
        assertEquals(List.of("prompt", "completion", "logprobs", "sum_logprob", "score"), Arrays.asList(
                new Scorer().setModel(rmB).transformSchema(noCompletion.add("completion", DataTypes.StringType))
                        .fieldNames()));
    }

    @Test
    void paramsCopyAndValidation() {
        Scorer s = new Scorer().setModel(lmB).setBatchSize(3).setPromptCol("p");
        Scorer c = s.copy(new org.apache.spark.ml.param.ParamMap().put(s.temperature().w(0.5)));
        assertEquals(s.uid(), c.uid());
        assertEquals(3, c.getBatchSize());
        assertEquals("p", c.getPromptCol());
        assertEquals(0.5, c.getTemperature());
        assertEquals(lmB, c.getModel());
        assertEquals(1.0, s.getTemperature(), "copy leaves the original alone");
        assertThrows(IllegalArgumentException.class, () -> s.setBatchSize(0));
        assertThrows(IllegalArgumentException.class, () -> s.setTemperature(0));
        assertTrue(s.explainParams().contains("completionIdsCol"));
    }

    @Test
    void rightPaddingDoesNotChangeARow() {
        // the pure computation, without Spark: a short row scored alone and next to a long one
        TokenSequence shortRow = TokenSequence.encode(TOK, ROWS[1][0], ROWS[1][1], true);
        TokenSequence longRow = TokenSequence.encode(TOK, ROWS[0][0], ROWS[0][1], true);
        assertArrayEquals(ScoringFixtures.sequence(ROWS[1][0], ROWS[1][1], true), shortRow.ids());
        assertEquals(1 + TOK.encode(ROWS[1][0]).length, shortRow.scoredFrom());
        SequenceLogProbs.SequenceScore alone = SequenceLogProbs.score(rm, List.of(shortRow), 1.0, true, 2).get(0);
        List<SequenceLogProbs.SequenceScore> padded =
                SequenceLogProbs.score(rm, List.of(longRow, shortRow), 1.0, true, 2);
        assertArrayEquals(alone.tokenLogProbs(), padded.get(1).tokenLogProbs(), 1e-5f);
        assertEquals(alone.score(), padded.get(1).score(), 1e-5);
        assertEquals(alone.sumLogProb(), padded.get(1).sumLogProb(), 1e-4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SequenceLogProbs.score(lm,
                List.of(TokenSequence.of(new int[70], new int[] {5}, 2)), 1.0, false, 1));
        assertTrue(e.getMessage().contains("max_position_embeddings"), e.getMessage());
    }
}
