package org.sparkrlhf.rollouts.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparkrlhf.rollouts.spark.ScoringFixtures.ROWS;
import static org.sparkrlhf.rollouts.spark.ScoringFixtures.TOK;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
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
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

class GeneratorTest {

    private static final int G = 3;
    private static SparkSession spark;
    private static NDManager manager;
    private static LlamaModel lm;
    private static ModelBroadcast lmB;

    @BeforeAll
    static void setUp() {
        spark = TestSpark.session();
        Engine.getEngine("PyTorch");
        JniUtils.setNumThreads(1);
        manager = Engine.getEngine("PyTorch").newBaseManager();
        lm = ScoringFixtures.tinyModel(false, 21, manager);
        lmB = ModelBroadcast.publish(spark, ScoringFixtures.uniqueKey("generator"), 7, lm, TOK.toTokenizerJson(),
                Map.of());
    }

    @AfterAll
    static void tearDown() {
        lmB.destroy();
        manager.close();
    }

    private static Dataset<Row> prompts(int partitions) {
        StructType schema = new StructType().add("prompt_id", DataTypes.StringType, false)
                .add("prompt", DataTypes.StringType, false).add("answer", DataTypes.StringType, true);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < ROWS.length; i++) {
            rows.add(RowFactory.create("p" + i, ROWS[i][0], "a" + i));
        }
        return spark.createDataFrame(rows, schema).repartition(partitions);
    }

    private static Generator generator() {
        return new Generator().setModel(lmB).setNumSamples(G).setTemperature(1.0).setMaxNewTokens(24)
                .setSeed(99).setBatchSize(5);
    }

    /** "p3#1" → row. */
    private static Map<String, Row> byKey(Dataset<Row> out) {
        Map<String, Row> m = new HashMap<>();
        for (Row r : out.collectAsList()) {
            String k = r.getString(r.fieldIndex("prompt_id")) + "#" + r.getInt(r.fieldIndex("sample_index"));
            assertTrue(m.put(k, r) == null, "exactly once: " + k);
        }
        return m;
    }

    private static int[] ints(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void sameSeedSameRowsWithOneAndThreePartitionsAndAsInProcess() {
        Dataset<Row> outOne = generator().transform(prompts(1));
        Map<String, Row> one = byKey(outOne);
        Map<String, Row> three = byKey(generator().transform(prompts(3)));
        assertEquals(ROWS.length * G, one.size());
        assertEquals(one.keySet(), three.keySet());

        List<PromptRef> refs = new ArrayList<>();
        for (int i = 0; i < ROWS.length; i++) {
            for (int s = 0; s < G; s++) {
                refs.add(new PromptRef("p" + i, ROWS[i][0], s));
            }
        }
        List<Completion> direct = GenerationEngine.generate(lm, TOK, refs,
                SamplingParams.defaults().withMaxNewTokens(24).withSeed(99), 16);
        int distinctTexts = (int) direct.stream().map(Completion::text).distinct().count();
        assertTrue(distinctTexts > ROWS.length, "samples within a group differ: " + distinctTexts);
        for (Completion c : direct) {
            String k = c.promptId() + "#" + c.sampleIndex();
            for (Map<String, Row> m : List.of(one, three)) {
                Row r = m.get(k);
                assertEquals(c.text(), r.getString(r.fieldIndex("completion")), k);
                assertArrayEquals(c.tokenIds(), ints(r.getList(r.fieldIndex("token_ids"))), k);
                float[] lp = ScoringFixtures.floats(r.getList(r.fieldIndex("token_logprobs")));
                assertArrayEquals(c.logProbs(), lp, 1e-4f, k);
                assertEquals(c.finishReason(), r.getString(r.fieldIndex("finish_reason")), k);
                assertEquals(7L, r.getLong(r.fieldIndex("policy_version")));
                assertEquals("driver", r.getString(r.fieldIndex("executor_id")), "local mode");
                assertEquals("a" + c.promptId().substring(1), r.getString(r.fieldIndex("answer")), "input kept");
            }
        }
        StructType s = outOne.schema();
        assertEquals(DataTypes.createArrayType(DataTypes.IntegerType, false), s.apply("token_ids").dataType());
        assertEquals(DataTypes.createArrayType(DataTypes.FloatType, false), s.apply("token_logprobs").dataType());
        assertEquals(DataTypes.LongType, s.apply("policy_version").dataType());
    }

    @Test
    void greedyStopAndLengthSettingsReachTheEngine() {
        Map<String, Row> got = byKey(generator().setTemperature(0).setNumSamples(2).setMaxNewTokens(5)
                .transform(prompts(2)));
        for (int i = 0; i < ROWS.length; i++) {
            Row a = got.get("p" + i + "#0");
            Row b = got.get("p" + i + "#1");
            assertEquals(a.getString(a.fieldIndex("completion")), b.getString(b.fieldIndex("completion")),
                    "greedy samples agree");
            assertTrue(a.getList(a.fieldIndex("token_ids")).size() <= 5);
        }
        Map<String, Row> stopped = byKey(generator().setStop("\n").setMaxNewTokens(40).transform(prompts(2)));
        for (Row r : stopped.values()) {
            String reason = r.getString(r.fieldIndex("finish_reason"));
            String text = r.getString(r.fieldIndex("completion"));
            if (reason.equals(Completion.STOP)) {
                assertTrue(text.endsWith("\n"), text);
            } else {
                assertTrue(!text.contains("\n"), reason + " row without the stop string: " + text);
            }
        }
    }

    @Test
    void distributedRolloutsHaveTheRolloutsTableShape() {
        Dataset<Row> rows = DistributedRollouts.generate(prompts(2), lmB,
                DistributedRollouts.Options.of("run-x", "rollouts", 3, 2, SamplingParams.defaults()
                        .withMaxNewTokens(12).withSeed(5)).withDataset("arith").withPartitions(3).keep("answer"));
        List<String> expected = new ArrayList<>();
        for (StructField f : Tables.ROLLOUTS_TABLE.schema().fields()) {
            if (!f.name().equals("created_at")) {
                expected.add(f.name());
            }
        }
        expected.add("answer");
        assertEquals(expected, Arrays.asList(rows.columns()));
        List<Row> all = rows.collectAsList();
        assertEquals(ROWS.length * 2, all.size());
        for (Row r : all) {
            assertEquals("run-x", r.getString(0));
            assertEquals(3, r.getInt(2));
            assertEquals("arith", r.getString(3));
            assertTrue(r.isNullAt(r.fieldIndex("reward")));
        }
    }

    @Test
    void badInputsAreClearErrors() {
        Dataset<Row> p = prompts(1);
        assertThrows(IllegalStateException.class, () -> new Generator().transform(p));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> generator().setPromptIdCol("nope").transform(p));
        assertTrue(e.getMessage().contains("nope"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> generator().setNumSamples(0));
    }
}
