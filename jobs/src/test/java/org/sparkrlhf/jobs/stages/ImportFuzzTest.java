package org.sparkrlhf.jobs.stages;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.TestSpark;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.fuzz.Jazzer;

/**
 * Coverage-guided fuzzing (Jazzer) of the import stage's file parsing: 20 s per target in the suite,
 * {@code -Dfuzz.seconds=600} for a longer run by hand.
 */
class ImportFuzzTest {

  @Test
  void everyNonBlankJsonlLineGivesExactlyOneRowOrQuarantineReason() {
    Map<String, byte[]> seeds = new LinkedHashMap<>();
    seeds.put("sft.jsonl", utf8("{\"id\":\"a1\",\"prompt\":\"2+3=\",\"completion\":\"5\"}\n"
        + "{\"prompt\":\"7*8=\",\"completion\":\"56\"}\n\n{\"prompt\":\"\",\"completion\":\"1\"}\n"));
    seeds.put("preference-bom-crlf.jsonl", concat(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF},
        utf8("{\"id\":7,\"prompt\":\"9-4=\",\"chosen\":\"5\",\"rejected\":\"4\"}\r\n"
            + "{\"prompt\":\"1+1=\",\"chosen\":\"2\",\"rejected\":\"2\"}\r\n{not json")));
    seeds.put("step.jsonl", utf8("{\"prompt\":\"(2+3)*4=\",\"completions\":[\"2+3=5\",\"5*4=20\"],"
        + "\"labels\":[true,true]}\n{\"prompt\":\"p\",\"completions\":[\"x\"],\"labels\":[true,false]}\n"));
    seeds.put("prompt.jsonl", utf8("{\"prompt\":\"3*3=\",\"answer\":\"9\"}\n{\"prompt\":\"\\u00e9\\ud800\",\"answer\":9}\n"
        + "[1,2]\n{\"text\":\"no known field\"}\n"));
    long runs = Jazzer.fuzz(JsonlImportFuzzTarget.class, seeds, Jazzer.seconds(20), "1g");
    System.out.println("jsonl import: " + runs + " inputs fuzzed");
    assertTrue(runs > 1000, "Jazzer ran " + runs + " inputs");
  }

  @Test
  void parquetFilesGiveRowsOrAOneLineError() throws Exception {
    SparkSession spark = TestSpark.session();
    Path dir = TestSpark.tempDir("parquet-seeds");
    Map<String, byte[]> seeds = new LinkedHashMap<>();
    StructType sft = new StructType().add("id", DataTypes.StringType).add("prompt", DataTypes.StringType)
        .add("completion", DataTypes.StringType);
    seeds.put("sft.parquet", parquet(spark, dir.resolve("sft"), sft, List.of(RowFactory.create("a", "4*2=?\n", "=8\n#### 8\n"),
        RowFactory.create(null, "4*3=?\n", ""))));
    StructType pref = new StructType().add("id", DataTypes.LongType).add("prompt", DataTypes.StringType)
        .add("chosen", DataTypes.StringType).add("rejected", DataTypes.StringType);
    seeds.put("preference.parquet", parquet(spark, dir.resolve("pref"), pref,
        List.of(RowFactory.create(1L, "1+1=?\n", "#### 2\n", "#### 3\n"))));
    StructType prompt = new StructType().add("prompt", DataTypes.StringType).add("answer", DataTypes.IntegerType);
    seeds.put("prompt.parquet", parquet(spark, dir.resolve("prompt"), prompt,
        List.of(RowFactory.create("9-4=?\n", 5), RowFactory.create("9-5=?\n", null))));
    long runs = Jazzer.fuzz(ParquetImportFuzzTarget.class, seeds, Jazzer.seconds(30), "1g");
    System.out.println("parquet import: " + runs + " inputs fuzzed");
    // Each input starts a Spark read, so the count depends on how busy the machine is (132 quiet, 39 on a loaded one in
    // the same 30 s): the bound only asks that mutated inputs ran beyond the 3 seeds.
    assertTrue(runs > 10, "Jazzer ran " + runs + " inputs");
  }

  /** The single part file Spark writes for {@code rows}. */
  private static byte[] parquet(SparkSession spark, Path dir, StructType schema, List<Row> rows) throws Exception {
    spark.createDataFrame(rows, schema).coalesce(1).write().parquet(dir.toString());
    try (Stream<Path> files = Files.list(dir)) {
      return Files.readAllBytes(files.filter(f -> f.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow());
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
