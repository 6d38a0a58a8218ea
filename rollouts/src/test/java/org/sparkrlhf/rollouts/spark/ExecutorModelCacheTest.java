package org.sparkrlhf.rollouts.spark;

import org.sparkrlhf.core.batch.SequenceLogProbs;
import org.sparkrlhf.core.batch.TokenSequence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparkrlhf.rollouts.spark.ScoringFixtures.TOK;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaModel;

class ExecutorModelCacheTest {

    private static SparkSession spark;
    private static NDManager manager;
    private static byte[] blobV1;
    private static byte[] blobV2;

    @BeforeAll
    static void setUp() {
        spark = TestSpark.session();
        manager = Engine.getEngine("PyTorch").newBaseManager();
        try (LlamaModel a = ScoringFixtures.tinyModel(false, 1, manager);
             LlamaModel b = ScoringFixtures.tinyModel(false, 2, manager)) {
            blobV1 = HfCheckpoint.toBytes(a, TOK.toTokenizerJson(), Map.of("step", 1));
            blobV2 = HfCheckpoint.toBytes(b, TOK.toTokenizerJson(), Map.of("step", 2));
        }
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    private static Map<Integer, Double> sums(Dataset<Row> scored) {
        Map<Integer, Double> m = new HashMap<>();
        for (Row r : scored.collectAsList()) {
            m.put(r.getInt(r.fieldIndex("id")), r.getDouble(r.fieldIndex("sum_logprob")));
        }
        return m;
    }

    @Test
    void scoringLoadsOncePerVersionAndFreesTheOldVersion() {
        String key = ScoringFixtures.uniqueKey("policy");
        ModelBroadcast v1 = ModelBroadcast.publish(spark, key, 1, blobV1);
        Scorer scorer = new Scorer().setModel(v1).setBatchSize(2);

        // Two jobs over 3 partitions (tasks on both local "executor" threads, several asking at once).
        Map<Integer, Double> first = sums(scorer.transform(ScoringFixtures.frame(spark, 3)));
        Map<Integer, Double> again = sums(scorer.transform(ScoringFixtures.frame(spark, 3)));
        assertEquals(first, again);
        assertEquals(1, ExecutorModelCache.loadCount(key, 1), "one load for 6 tasks of one version");
        assertEquals(0, ExecutorModelCache.closeCount(key, 1));
        assertEquals(List.of(1L), ExecutorModelCache.residentVersions(key), "kept while idle for the next job");
        assertEquals(0, ExecutorModelCache.activeUsers(key, 1), "every task released it");

        ModelBroadcast v2 = ModelBroadcast.replace(spark, v1, blobV2);
        assertEquals(2, v2.version());
        Map<Integer, Double> second = sums(scorer.setModel(v2).transform(ScoringFixtures.frame(spark, 3)));
        assertEquals(1, ExecutorModelCache.loadCount(key, 2), "exactly one more load");
        assertEquals(1, ExecutorModelCache.loadCount(key, 1));
        assertEquals(1, ExecutorModelCache.closeCount(key, 1), "version 1 freed once unused");
        assertEquals(0, ExecutorModelCache.closeCount(key, 2));
        assertEquals(List.of(2L), ExecutorModelCache.residentVersions(key));
        assertNotEquals(first.get(0), second.get(0), "version 2's weights were used");
        v2.destroy();
    }

    @Test
    void concurrentAcquiresShareOneLoadAndAnOldVersionInUseSurvivesUntilReleased() throws Exception {
        String key = ScoringFixtures.uniqueKey("ref");
        ModelBroadcast v1 = ModelBroadcast.publish(spark, key, 1, blobV1);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<ExecutorModelCache.LoadedModel>> fs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            fs.add(pool.submit(() -> {
                go.await();
                return ExecutorModelCache.acquire(v1);
            }));
        }
        go.countDown();
        List<ExecutorModelCache.LoadedModel> held = new ArrayList<>();
        for (Future<ExecutorModelCache.LoadedModel> f : fs) {
            held.add(f.get());
        }
        pool.shutdown();
        assertEquals(1, ExecutorModelCache.loadCount(key, 1), "four simultaneous acquires, one load");
        for (ExecutorModelCache.LoadedModel m : held) {
            assertSame(held.get(0).model(), m.model());
        }
        assertEquals(4, ExecutorModelCache.activeUsers(key, 1));
        assertEquals(Map.of("step", 1), held.get(0).provenance());

        // A newer version arrives while version 1 is still in use: 1 stays usable until its last user leaves.
        ModelBroadcast v2 = ModelBroadcast.publish(spark, key, 2, blobV2);
        ExecutorModelCache.LoadedModel newer = ExecutorModelCache.acquire(v2);
        assertEquals(List.of(1L, 2L), ExecutorModelCache.residentVersions(key));
        for (int i = 0; i < 3; i++) {
            held.get(i).release();
        }
        held.get(0).release(); // a second release of one handle is a no-op
        assertEquals(0, ExecutorModelCache.closeCount(key, 1), "one user left");
        LlamaModel stillThere = held.get(3).model();
        try (AutoCloseable g = LlamaModel.noGrad()) {
            SequenceLogProbs.score(stillThere, List.of(TokenSequence.encode(TOK, "1+1=?\n", "=2\n", true)), 1.0,
                    false, 1);
        }
        held.get(3).release();
        assertEquals(1, ExecutorModelCache.closeCount(key, 1), "freed when the last user released it");
        assertEquals(List.of(2L), ExecutorModelCache.residentVersions(key));

        // A straggler asking for the old version again gets it (a fresh load) and it is freed on release.
        try (ExecutorModelCache.LoadedModel old = ExecutorModelCache.acquire(v1)) {
            assertEquals(1, old.version());
        }
        assertEquals(2, ExecutorModelCache.loadCount(key, 1));
        assertEquals(2, ExecutorModelCache.closeCount(key, 1));
        assertEquals(1, ExecutorModelCache.loadCount(key, 2), "the current version was not disturbed");
        newer.release();
        assertEquals(List.of(2L), ExecutorModelCache.residentVersions(key), "the current version stays while idle");
        assertTrue(ExecutorModelCache.evictIdle() >= 1);
        assertEquals(List.of(), ExecutorModelCache.residentVersions(key));
        assertEquals(1, ExecutorModelCache.closeCount(key, 2));
        v1.destroy();
        v2.destroy();
    }

    @Test
    void publishChecksTheBlobOnTheDriver() {
        assertThrows(IllegalArgumentException.class,
                () -> ModelBroadcast.publish(spark, "bad", 1, new byte[] {1, 2, 3}));
        byte[] noTokenizer;
        try (LlamaModel m = ScoringFixtures.tinyModel(true, 3, manager)) {
            noTokenizer = HfCheckpoint.toBytes(m, null, Map.of());
            ModelBroadcast b = ModelBroadcast.publish(spark, "rm", 1, HfCheckpoint.toBytes(m, TOK.toTokenizerJson(),
                    Map.of()));
            assertTrue(b.hasScoreHead());
            assertEquals(m.config(), b.config());
            b.destroy();
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ModelBroadcast.publish(spark, "rm", 1, noTokenizer));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
    }
}
