package org.sparkrlhf.jobs;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** The Spark session every stage runs in: Delta's extension and catalog, sane local defaults. */
public final class SparkSessions {
  private SparkSessions() {}

  public static SparkSession getOrCreate(String appName, String masterIfUnset) {
    SparkConf conf = new SparkConf();
    SparkSession.Builder b =
        SparkSession.builder()
            .appName(appName)
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog");
    String master = conf.get("spark.master", null);
    if (master == null) {
      master = masterIfUnset == null ? "local[*]" : masterIfUnset;
      b.master(master);
    }
    if (master.startsWith("local")) {
      // Small tables on a few cores: Delta's default 50 snapshot partitions and Spark's 200 shuffle
      // partitions cost seconds per operation and buy nothing here.
      if (!conf.contains("spark.sql.shuffle.partitions")) b.config("spark.sql.shuffle.partitions", "4");
      if (!conf.contains("spark.databricks.delta.snapshotPartitions")) {
        b.config("spark.databricks.delta.snapshotPartitions", "2");
      }
      if (!conf.contains("spark.ui.enabled")) b.config("spark.ui.enabled", "false");
    }
    return b.getOrCreate();
  }
}
