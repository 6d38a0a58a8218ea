package org.sparkrlhf.jobs.stages;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.lake.RecordValidator;

/**
 * Jazzer target: any bytes as a Parquet import file, read as the import stage reads one (footer, schema check, every
 * row through the validator), give rows or a one-line {@link UserError}; nothing else thrown, no hang, no
 * out-of-memory from a size the file claims.
 */
public final class ParquetImportFuzzTarget {
  private ParquetImportFuzzTarget() {}

  private static final RecordValidator VALIDATOR = new RecordValidator(2000);
  private static SparkSession spark;
  private static Path dir;
  private static long n;

  /** Jazzer calls this once before the first input: Spark's start is not timed as an input. */
  public static void fuzzerInitialize() {
    spark = TestSpark.session();
    dir = TestSpark.tempDir("parquet-fuzz");
  }

  public static void fuzzerTestOneInput(byte[] bytes) throws IOException {
    Path file = dir.resolve("input-" + (n++) + ".parquet");  // a new name each time: no listing cached by Spark
    Files.write(file, bytes);
    try {
      ImportStage.readRows(spark, () -> ImportStage.parseParquet(spark, file.toString(), null, VALIDATOR).count());
    } catch (UserError e) {
      if (e.getMessage() == null || e.getMessage().isBlank() || e.getMessage().contains("\n")) {
        throw new IllegalStateException("not a one-line error: " + e.getMessage(), e);
      }
    } finally {
      Files.deleteIfExists(file);
    }
  }
}
