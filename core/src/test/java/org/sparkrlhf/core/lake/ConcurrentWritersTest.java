package org.sparkrlhf.core.lake;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;

/**
 * Four writers at once on the same tables, each on its own {@link Lake} as separate stages would be: insert-only
 * MERGEs into one dataset of {@code prompts} and transactional appends to {@code metrics}. Delta's optimistic
 * concurrency makes some of them lose a commit; they retry, and every row is there exactly once.
 */
class ConcurrentWritersTest {
  static SparkSession spark;
  static String root;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    root = TestSpark.newLake("concurrent-writers");
  }

  static List<Row> prompts(int writer, int round) {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      String id = "w" + writer + "-r" + round + "-" + i;
      rows.add(RowFactory.create("shared", "train", id, id + "=?\n", "1", "test", "w" + writer, null));
    }
    return rows;
  }

  static List<Row> metrics(int writer, int round) {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 3; i++) rows.add(RowFactory.create("run" + writer, "stage", (long) round, "m" + i, 1.0, null));
    return rows;
  }

  @Test
  void fourWritersOfEachKindAllFinishWithEveryRowOnce() throws Exception {
    int writers = 4;
    int rounds = 2;
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    List<Lake> lakes = new ArrayList<>();
    List<Future<?>> done = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      Lake lake = new Lake(spark, root);
      lakes.add(lake);
      int writer = w;
      done.add(pool.submit(() -> {
        for (int r = 0; r < rounds; r++) {
          lake.insertNew(Tables.PROMPTS, lake.frame(Tables.PROMPTS, prompts(writer, r)).drop("created_at"));
          lake.appendOnce(Tables.METRICS, lake.frame(Tables.METRICS, metrics(writer, r)).drop("created_at"),
              "run" + writer + "/stage/metrics", r);
          // a re-run of the same write adds nothing
          lake.appendOnce(Tables.METRICS, lake.frame(Tables.METRICS, metrics(writer, r)).drop("created_at"),
              "run" + writer + "/stage/metrics", r);
        }
        return null;
      }));
    }
    for (Future<?> f : done) f.get();
    pool.shutdown();
    Lake lake = new Lake(spark, root);
    assertEquals(writers * rounds * 5L, lake.read(Tables.PROMPTS).filter("dataset = 'shared'").count());
    assertEquals(writers * rounds * 5L, lake.read(Tables.PROMPTS).filter("dataset = 'shared'").select("id")
        .distinct().count(), "no row twice");
    assertEquals(writers * rounds * 3L, lake.read(Tables.METRICS).count());
    int retried = lakes.stream().mapToInt(Lake::conflictsRetried).sum();
    System.out.println("concurrent writers: " + retried + " conflicting commits retried");
    assertTrue(retried > 0, "the writers did conflict, so the retry was exercised");
  }
}
