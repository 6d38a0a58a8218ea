package org.sparkrlhf.core.lake;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;

class LakeTest {
  static SparkSession spark;
  static Lake lake;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lake = new Lake(spark, TestSpark.newLake("lake-test"));
  }

  /** A row of the prompts table, in its column order (created_at left to the write). */
  private static Row promptRow(String dataset, String id, String prompt, String answer) {
    return RowFactory.create(dataset, "train", id, prompt, answer, "test", "r1", null);
  }

  private static Dataset<Row> prompts(String... ids) {
    List<Row> rows = new java.util.ArrayList<>();
    for (String id : ids) {
      rows.add(promptRow("ds", id, id + "=?\n", "1"));
    }
    return lake.frame(Tables.PROMPTS, rows).drop("created_at");
  }

  @Test
  void insertNewIsIdempotentOnTheKey() {
    assertEquals(2, lake.insertNewCounted(Tables.PROMPTS, prompts("1+1", "2+2")).rows());
    long v1 = lake.version(Tables.PROMPTS);
    assertEquals(0, lake.insertNewCounted(Tables.PROMPTS, prompts("1+1", "2+2")).rows(), "both keys were there");
    assertEquals(2, lake.read(Tables.PROMPTS).filter("dataset = 'ds'").count());
    assertEquals(1, lake.insertNewCounted(Tables.PROMPTS, prompts("2+2", "3+3")).rows(), "only 3+3 is new");
    assertEquals(3, lake.read(Tables.PROMPTS).filter("dataset = 'ds'").count());
    assertTrue(lake.version(Tables.PROMPTS) >= v1);
    assertEquals(lake.version(Tables.PROMPTS), lake.reads().get(Tables.PROMPTS));
    assertEquals(lake.version(Tables.PROMPTS), lake.writes().get(Tables.PROMPTS));
  }

  @Test
  void appendOnceSkipsACommittedTransaction() {
    List<Row> rows = List.of(RowFactory.create("run-a", "sft", 1L, "loss", 2.5, null));
    Dataset<Row> df = lake.frame(Tables.METRICS, rows);
    lake.appendOnce(Tables.METRICS, df, "run-a/sft/metrics", 0);
    long v = lake.version(Tables.METRICS);
    lake.appendOnce(Tables.METRICS, df, "run-a/sft/metrics", 0);
    assertEquals(v, lake.version(Tables.METRICS), "a repeated (appId, version) makes no commit");
    assertEquals(1, lake.read(Tables.METRICS).filter("run_id = 'run-a'").count());
    lake.appendOnce(Tables.METRICS, df, "run-a/sft/metrics", 1);
    assertEquals(2, lake.read(Tables.METRICS).filter("run_id = 'run-a'").count());
  }

  @Test
  void oneFileForEachSliceOfDriverRows() {
    assertEquals(1, Lake.slicesFor(0, 0));
    assertEquals(1, Lake.slicesFor(Lake.BYTES_PER_FILE, 10));
    assertEquals(2, Lake.slicesFor(Lake.BYTES_PER_FILE + 1, 10));
    assertEquals(3, Lake.slicesFor(10 * Lake.BYTES_PER_FILE, 3), "never more slices than rows");
  }

  @Test
  void aLargeDriverListIsWrittenFromSmallTasksIntoOneFileAndLosesNoRow() throws Exception {
    List<Row> rows = new java.util.ArrayList<>();
    String pad = "7+".repeat(100);
    for (int i = 0; i < 8000; i++) {
      rows.add(promptRow("big", "big-" + i, pad + i + "=?\n", Integer.toString(i)));
    }
    long serialized = serializedBytes(rows);
    assertTrue(serialized > 2 * 1024 * 1024, "the case must be larger than one task should carry: " + serialized);

    Dataset<Row> df = lake.frame(Tables.PROMPTS, rows);
    // What a task carries of the data is its partition: a slice number, not rows.
    for (org.apache.spark.Partition p : df.rdd().partitions()) {
      long bytes = serializedBytes(p);
      assertTrue(bytes < 64 * 1024, "a task would carry " + bytes + " bytes of rows");
    }
    assertEquals(1, df.rdd().getNumPartitions(), "one file for a few MB");

    lake.insertNew(Tables.PROMPTS, df.drop("created_at"));
    List<Row> back = lake.read(Tables.PROMPTS).filter("dataset = 'big'").select("id").collectAsList();
    assertEquals(rows.size(), back.size());
    java.util.Set<String> ids = new java.util.HashSet<>();
    for (Row r : back) ids.add(r.getString(0));
    for (Row r : rows) assertTrue(ids.contains(r.getString(2)), "lost " + r.getString(2));
  }

  private static long serializedBytes(Object value) throws java.io.IOException {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
      out.writeObject(value);
    }
    return bytes.size();
  }

  @Test
  void conformNamesTheOffendingColumn() {
    Dataset<Row> extra = prompts("9+9").withColumn("bogus", org.apache.spark.sql.functions.lit(1));
    UserError e = assertThrows(UserError.class, () -> lake.insertNew(Tables.PROMPTS, extra));
    assertTrue(e.getMessage().contains("'bogus'"), e.getMessage());

    Dataset<Row> wrongType = prompts("9+9").withColumn("answer", org.apache.spark.sql.functions.array());
    UserError e2 = assertThrows(UserError.class, () -> lake.insertNew(Tables.PROMPTS, wrongType));
    assertTrue(e2.getMessage().contains("'answer'"), e2.getMessage());

    Dataset<Row> missing = prompts("9+9").drop("prompt");
    UserError e3 = assertThrows(UserError.class, () -> lake.insertNew(Tables.PROMPTS, missing));
    assertTrue(e3.getMessage().contains("'prompt'"), e3.getMessage());
  }

  @Test
  void deltaItselfEnforcesTheSchemaOnARawWrite() {
    lake.ensure(Tables.SFT_DEMOS);
    long before = lake.version(Tables.SFT_DEMOS);
    StructType odd = new StructType().add("prompt", DataTypes.IntegerType).add("zzz", DataTypes.StringType);
    Dataset<Row> df = spark.createDataFrame(List.of(RowFactory.create(1, "x")), odd);
    Exception e =
        assertThrows(Exception.class, () -> df.write().format("delta").mode("append").save(lake.path(Tables.SFT_DEMOS)));
    assertTrue(e instanceof AnalysisException || e.getCause() instanceof AnalysisException, e.toString());
    assertEquals(before, lake.version(Tables.SFT_DEMOS), "a refused append makes no version");
    // A null in a NOT NULL column is refused too.
    Dataset<Row> nullPrompt =
        lake.frame(Tables.SFT_DEMOS, List.of(RowFactory.create("ds", "train", "a", "p", "c", "s", "r", null)))
            .withColumn("prompt", org.apache.spark.sql.functions.lit(null).cast("string"));
    assertThrows(Exception.class, () -> nullPrompt.write().format("delta").mode("append").save(lake.path(Tables.SFT_DEMOS)));
    assertEquals(before, lake.version(Tables.SFT_DEMOS));
  }

  @Test
  void tablesAreDocumented() {
    String md = Tables.markdown();
    for (String t : Tables.ALL.keySet()) {
      assertTrue(md.contains("## `" + t + "`"));
    }
  }
}
