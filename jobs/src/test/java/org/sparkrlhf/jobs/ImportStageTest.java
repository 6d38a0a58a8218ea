package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/** Import: every kind of bad row lands in quarantine with file, line and reason; no valid row is lost. */
class ImportStageTest {
  static SparkSession spark;
  static String lakeRoot;
  static Path dir;

  @BeforeAll
  static void start() {
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("import-test");
    dir = TestSpark.tempDir("import-files");
  }

  private static String run(String runId, String... sets) {
    return Stages.run(spark, lakeRoot, runId, "import", StageConfigs.load(null, List.of(sets)));
  }

  @Test
  void preferencesWithEveryBadRowKind() throws Exception {
    Path f = dir.resolve("prefs.jsonl");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    String longText = "x".repeat(300);
    String[] lines = {
      "{\"id\": \"p1\", \"prompt\": \"2+2=?\\n\", \"chosen\": \"=4\\n#### 4\\n\", \"rejected\": \"#### 5\\n\"}", // 1 ok
      "{\"id\": \"p2\", \"prompt\": \"3+3=?\\n\", \"rejected\": \"#### 7\\n\"}", // 2 missing chosen
      "{\"id\": \"p3\", \"prompt\": null, \"chosen\": \"a\", \"rejected\": \"b\"}", // 3 null prompt
      "{\"id\": \"p4\", \"prompt\": 12, \"chosen\": \"a\", \"rejected\": \"b\"}", // 4 wrong type
      "{\"id\": \"p5\", \"prompt\": \"   \", \"chosen\": \"a\", \"rejected\": \"b\"}", // 5 empty text
      "{\"id\": \"p6\", \"prompt\": \"q\", \"chosen\": \"" + longText + "\", \"rejected\": \"b\"}", // 6 too long
      "{\"id\": \"p1\", \"prompt\": \"5+5=?\\n\", \"chosen\": \"#### 10\\n\", \"rejected\": \"#### 11\\n\"}", // 7 dup id
      "{\"id\": \"p8\", \"prompt\": \"q\", \"chosen\": ", // 8 unparseable
      "", // 9 blank: skipped, not a row
      "{\"id\": \"p10\", \"prompt\": \"6+1=?\\n\", \"chosen\": \"#### 7\\n\", \"rejected\": \"#### 8\\n\"}", // 10 ok
    };
    for (String l : lines) {
      out.write(l.getBytes(StandardCharsets.UTF_8));
      out.write('\n');
    }
    // line 11: invalid UTF-8 inside a string
    out.write("{\"id\": \"p11\", \"prompt\": \"bad ".getBytes(StandardCharsets.UTF_8));
    out.write(new byte[] {(byte) 0xC3, (byte) 0x28});
    out.write("\", \"chosen\": \"a\", \"rejected\": \"b\"}\n".getBytes(StandardCharsets.UTF_8));
    // line 12: ok, no id (content hash)
    out.write("{\"prompt\": \"1+1=?\\n\", \"chosen\": \"#### 2\\n\", \"rejected\": \"#### 3\\n\"}\n".getBytes(StandardCharsets.UTF_8));
    Files.write(f, out.toByteArray());

    String report = run("imp-1", "import.path=\"" + f + "\"", "import.max_chars=200", "import.dataset=prefs");
    Lake lake = new Lake(spark, lakeRoot);
    List<Row> good = lake.read(Tables.PREFERENCES).filter("dataset = 'prefs'").orderBy("id").collectAsList();
    assertEquals(3, good.size(), "every valid row is written");
    Map<Long, String> reasons = new HashMap<>();
    for (Row r : lake.read(Tables.QUARANTINE).filter("run_id = 'imp-1'").collectAsList()) {
      assertTrue(r.<String>getAs("source_file").endsWith("prefs.jsonl"));
      reasons.put(r.getAs("line"), r.getAs("reason"));
    }
    assertEquals(8, reasons.size(), reasons.toString());
    assertTrue(reasons.get(2L).contains("missing field 'chosen'"), reasons.get(2L));
    assertTrue(reasons.get(3L).contains("'prompt' is null"), reasons.get(3L));
    assertTrue(reasons.get(4L).contains("'prompt' is a number"), reasons.get(4L));
    assertTrue(reasons.get(5L).contains("'prompt' is empty"), reasons.get(5L));
    assertTrue(reasons.get(6L).contains("over the limit"), reasons.get(6L));
    assertTrue(reasons.get(7L).contains("duplicate id 'p1'"), reasons.get(7L));
    assertTrue(reasons.get(8L).contains("unparseable"), reasons.get(8L));
    assertTrue(reasons.get(11L).contains("invalid UTF-8"), reasons.get(11L));
    String json = Files.readString(Path.of(report));
    assertTrue(json.contains("\"quarantined\" : 8"), json);
    assertTrue(json.contains("\"written\" : 3"), json);

    // The same import again with the same run id adds nothing anywhere.
    run("imp-1", "import.path=\"" + f + "\"", "import.max_chars=200", "import.dataset=prefs");
    assertEquals(3, lake.read(Tables.PREFERENCES).filter("dataset = 'prefs'").count());
    assertEquals(8, lake.read(Tables.QUARANTINE).filter("run_id = 'imp-1'").count());
  }

  @Test
  void sftAndStepLabelsFromJsonl() throws Exception {
    Path sft = dir.resolve("sft.jsonl");
    Files.writeString(sft,
        "{\"prompt\": \"1+2=?\\n\", \"completion\": \"=3\\n#### 3\\n\"}\n"
            + "{\"prompt\": \"1+2=?\\n\", \"completion\": 3}\n");
    run("imp-2", "import.path=\"" + sft + "\"", "import.dataset=sftimp");
    Lake lake = new Lake(spark, lakeRoot);
    assertEquals(1, lake.read(Tables.SFT_DEMOS).filter("dataset = 'sftimp'").count());
    assertEquals(1, lake.read(Tables.QUARANTINE).filter("run_id = 'imp-2'").count());

    Path steps = dir.resolve("steps.jsonl");
    Files.writeString(steps,
        "{\"prompt\": \"1+2*3=?\\n\", \"completions\": [\"=1+6\", \"=7\"], \"labels\": [true, true]}\n"
            + "{\"prompt\": \"1+2*3=?\\n\", \"completions\": [\"=3*3\"], \"labels\": [false, true]}\n"
            + "{\"prompt\": \"1+2*3=?\\n\", \"completions\": [\"=1+6\"], \"labels\": [\"yes\"]}\n");
    run("imp-3", "import.path=\"" + steps + "\"", "import.dataset=stepimp");
    List<Row> rows = lake.read(Tables.STEP_LABELS).filter("dataset = 'stepimp'").collectAsList();
    assertEquals(1, rows.size());
    assertEquals(List.of("=1+6", "=7"), rows.get(0).getList(rows.get(0).fieldIndex("steps")));
    List<Row> q = lake.read(Tables.QUARANTINE).filter("run_id = 'imp-3'").orderBy("line").collectAsList();
    assertEquals(2, q.size());
    assertTrue(q.get(0).<String>getAs("reason").contains("1 steps but 'labels' has 2"), q.get(0).toString());
    assertTrue(q.get(1).<String>getAs("reason").contains("expected booleans"), q.get(1).toString());
  }

  @Test
  void parquetRowsAndAContradictingColumn() throws Exception {
    StructType schema = new StructType().add("prompt", DataTypes.StringType).add("completion", DataTypes.StringType);
    Path good = dir.resolve("good.parquet");
    spark.createDataFrame(List.of(RowFactory.create("4*2=?\n", "=8\n#### 8\n"), RowFactory.create("4*3=?\n", "")), schema)
        .coalesce(1).write().parquet(good.toString());
    run("imp-4", "import.path=\"" + good + "\"", "import.dataset=pq", "import.format=parquet");
    Lake lake = new Lake(spark, lakeRoot);
    assertEquals(1, lake.read(Tables.SFT_DEMOS).filter("dataset = 'pq'").count());
    assertEquals(1, lake.read(Tables.QUARANTINE).filter("run_id = 'imp-4'").count());

    StructType badSchema = new StructType().add("prompt", DataTypes.IntegerType).add("completion", DataTypes.StringType);
    Path bad = dir.resolve("bad.parquet");
    spark.createDataFrame(List.of(RowFactory.create(7, "x")), badSchema).coalesce(1).write().parquet(bad.toString());
    UserError e = assertThrows(UserError.class,
        () -> run("imp-5", "import.path=\"" + bad + "\"", "import.format=parquet"));
    assertTrue(e.getMessage().contains("column 'prompt' is int"), e.getMessage());
  }

  /**
   * Two Parquet files the import's fuzzing found: a corrupt data page (Spark's vectorized decoder spun on it for over
   * ten minutes; the import reads Parquet with parquet-mr's record reader, which refuses it) and a file that is not
   * Parquet at all. Each is a one-line error naming the file, within a minute.
   */
  @Test
  void corruptParquetFilesAreAOneLineError() throws Exception {
    Path page = dir.resolve("corrupt-rle-page.parquet");
    try (var in = ImportStageTest.class.getResourceAsStream("/import/corrupt-rle-page.parquet")) {
      Files.copy(in, page);
    }
    Path notParquet = dir.resolve("not.parquet");
    Files.writeString(notParquet, "PAR1 this is not a Parquet file PAR1");
    for (Path f : List.of(page, notParquet)) {
      UserError e = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofMinutes(1),
          () -> assertThrows(UserError.class, () -> run("imp-corrupt", "import.path=\"" + f + "\"")));
      assertTrue(e.getMessage().startsWith("cannot import: ") && e.getMessage().contains(f.getFileName().toString())
          && !e.getMessage().contains("\n"), e.getMessage());
    }
    assertEquals("true", spark.conf().get("spark.sql.parquet.enableVectorizedReader"), "the session's setting is restored");
  }

  @Test
  void nothingReadableIsAnError() throws Exception {
    Path empty = dir.resolve("empty.jsonl");
    Files.writeString(empty, "\n\n");
    UserError e = assertThrows(UserError.class, () -> run("imp-6", "import.path=\"" + empty + "\""));
    assertTrue(e.getMessage().contains("nothing could be read"), e.getMessage());
    assertThrows(UserError.class, () -> run("imp-7", "import.path=\"/no/such/file.jsonl\""));
  }

  private static com.fasterxml.jackson.databind.JsonNode report(String path) throws Exception {
    return new com.fasterxml.jackson.databind.ObjectMapper().readTree(Files.readString(Path.of(path)));
  }

  private static String demo(int i) {
    return "{\"id\": \"d" + i + "\", \"prompt\": \"" + i + "+1=?\\n\", \"completion\": \"#### " + (i + 1) + "\\n\"}";
  }

  /** A byte-order mark (as some editors save UTF-8) is not part of the first row: nothing is quarantined. */
  @Test
  void aLeadingByteOrderMarkIsNotPartOfTheFirstRow() throws Exception {
    Path f = dir.resolve("bom.jsonl");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF});
    out.write((demo(1) + "\n" + demo(2) + "\n" + demo(3) + "\n").getBytes(StandardCharsets.UTF_8));
    Files.write(f, out.toByteArray());
    var r = report(run("imp-bom", "import.path=\"" + f + "\"", "import.dataset=bom"));
    Lake lake = new Lake(spark, lakeRoot);
    assertEquals(0, lake.read(Tables.QUARANTINE).filter("run_id = 'imp-bom'").count(),
        lake.read(Tables.QUARANTINE).filter("run_id = 'imp-bom'").collectAsList().toString());
    List<Row> rows = lake.read(Tables.SFT_DEMOS).filter("dataset = 'bom'").orderBy("id").collectAsList();
    assertEquals(List.of("d1", "d2", "d3"), rows.stream().map(x -> x.<String>getAs("id")).toList());
    assertEquals("1+1=?\n", rows.get(0).getAs("prompt"), "the first prompt carries no mark");
    assertEquals(3, r.get("new").asLong());
    assertEquals(0, r.get("quarantined").asLong());
  }

  /** CRLF line ends, blank and whitespace-only lines, and a last line without a newline: every row, no stray CR. */
  @Test
  void crlfBlankLinesAndAnUnterminatedLastLine() throws Exception {
    Path f = dir.resolve("crlf.jsonl");
    Files.write(f, (demo(11) + "\r\n\r\n  \t\r\n" + demo(12) + "\r\n\n" + demo(13)).getBytes(StandardCharsets.UTF_8));
    var r = report(run("imp-crlf", "import.path=\"" + f + "\"", "import.dataset=crlf"));
    Lake lake = new Lake(spark, lakeRoot);
    assertEquals(0, lake.read(Tables.QUARANTINE).filter("run_id = 'imp-crlf'").count());
    List<Row> rows = lake.read(Tables.SFT_DEMOS).filter("dataset = 'crlf'").orderBy("id").collectAsList();
    assertEquals(3, rows.size());
    for (Row x : rows) {
      assertTrue(!x.<String>getAs("completion").contains("\r") && !x.<String>getAs("prompt").contains("\r"), x.toString());
    }
    assertEquals(List.of(":1", ":4", ":6"),
        rows.stream().map(x -> x.<String>getAs("source").replaceAll(".*(:\\d+)$", "$1")).toList(),
        "line numbers count the blank lines");
    assertEquals(3, r.get("read").asLong());
    assertEquals(3, r.get("new").asLong());
  }

  /**
   * The same file under another run id: the insert-only MERGE adds nothing, and the report says so (new 0, every
   * valid row already present) instead of counting the rows passed in as written.
   */
  @Test
  void aReimportUnderAnotherRunCountsNewAndAlreadyPresent() throws Exception {
    Path f = dir.resolve("again.jsonl");
    StringBuilder b = new StringBuilder();
    for (int i = 100; i < 150; i++) b.append(demo(i)).append('\n');
    b.append("{\"prompt\": 5}\n").append("not json\n");
    Files.writeString(f, b.toString());
    var first = report(run("imp-again-1", "import.path=\"" + f + "\"", "import.dataset=again"));
    assertEquals(List.of(50L, 0L, 2L, 50L), List.of(first.get("new").asLong(), first.get("already_present").asLong(),
        first.get("quarantined").asLong(), first.get("written").asLong()));
    var second = report(run("imp-again-2", "import.path=\"" + f + "\"", "import.dataset=again"));
    assertEquals(List.of(0L, 50L, 2L, 0L), List.of(second.get("new").asLong(), second.get("already_present").asLong(),
        second.get("quarantined").asLong(), second.get("written").asLong()), second.toString());
    assertEquals("read 52 rows: 0 new, 50 already present, 2 quarantined", second.get("summary").asText());
    assertEquals(50, new Lake(spark, lakeRoot).read(Tables.SFT_DEMOS).filter("dataset = 'again'").count());
  }
}
