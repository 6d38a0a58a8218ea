package org.sparkrlhf.core.lake;

import static org.apache.spark.sql.functions.current_timestamp;
import static org.apache.spark.sql.functions.lit;

import io.delta.tables.DeltaTable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.SizeEstimator;
import org.sparkrlhf.core.UserError;

/**
 * The Delta tables under one lake root (a local folder or any Hadoop path).
 *
 * <p>Every read pins the table version it saw and every write records the version it made, in this
 * lake's {@link #reads()} and {@link #writes()}; a stage puts both in its report and its checkpoints,
 * so any result names the exact data that made it.
 *
 * <p>Writes are idempotent, so a stage re-run with the same run id adds nothing twice: data tables are
 * written with an insert-only MERGE on their key ({@link #insertNew}); run tables (rollouts, metrics,
 * checkpoints, quarantine) with Delta's idempotent appends, {@code txnAppId}/{@code txnVersion}
 * ({@link #appendOnce}), which Delta skips when that application id already committed that version.
 */
public final class Lake {
  private final SparkSession spark;
  private final String root;
  private final Map<String, Long> reads = new LinkedHashMap<>();
  private final Map<String, Long> writes = new LinkedHashMap<>();
  private final java.util.Set<String> ensured = java.util.concurrent.ConcurrentHashMap.newKeySet();

  public Lake(SparkSession spark, String root) {
    this.spark = spark;
    this.root = root.endsWith("/") ? root.substring(0, root.length() - 1) : root;
  }

  /** A view of the same lake with empty lineage, for the next stage. */
  public Lake fresh() {
    return new Lake(spark, root);
  }

  /** Table → the version every {@link #read} of it returns (Delta time travel); empty unless {@link #pinnedTo}. */
  private Map<String, Long> pins = Map.of();

  /**
   * A view of the same lake, empty lineage, whose reads of the tables in {@code versions} return those versions
   * (a checkpoint's recorded data, for a reproduction); other tables read as usual.
   */
  public Lake pinnedTo(Map<String, Long> versions) {
    Lake l = new Lake(spark, root);
    l.pins = Map.copyOf(versions);
    return l;
  }

  public SparkSession spark() {
    return spark;
  }

  public String root() {
    return root;
  }

  public String path(String table) {
    Tables.get(table);
    return root + "/" + table;
  }

  /** Delta versions read by this stage, table → version. */
  public Map<String, Long> reads() {
    return reads;
  }

  /** Delta versions written by this stage, table → version after its last write. */
  public Map<String, Long> writes() {
    return writes;
  }

  /**
   * Creates the table with its schema if it is not there yet. Checked once per table for this Lake (every read and
   * write calls it; asking Delta each time costs a Spark job).
   */
  public void ensure(String table) {
    if (ensured.contains(table)) return;
    Tables.Table t = Tables.get(table);
    String path = path(table);
    // Two stages creating the same table at once: the loser's commit conflicts, or it finds the folder the winner is
    // writing its first commit into (CREATE_RACE); either way its retry finds the table.
    retrying(table, true, () -> {
      if (!DeltaTable.isDeltaTable(spark, path)) {
        DeltaTable.createIfNotExists(spark)
            .location(path)
            .addColumns(t.schema())
            .comment(t.description())
            .execute();
      }
      return null;
    });
    ensured.add(table);
  }

  /**
   * Attempts of a write that conflicts with concurrent writers (Delta's optimistic concurrency: another stage
   * committed first) before it is an error. The writes are idempotent (insert-only MERGEs on the key, appends with a
   * transaction id), so trying again after a conflict can add nothing twice. Default 10.
   */
  public static final int DEFAULT_WRITE_ATTEMPTS = 10;

  private int writeAttempts = DEFAULT_WRITE_ATTEMPTS;
  private final java.util.concurrent.atomic.AtomicInteger conflicts = new java.util.concurrent.atomic.AtomicInteger();

  /** Sets the attempts a conflicting write gets (1 = no retry); returns this lake. */
  public Lake writeAttempts(int attempts) {
    if (attempts < 1) throw new IllegalArgumentException("write attempts must be >= 1, got " + attempts);
    this.writeAttempts = attempts;
    return this;
  }

  /** How many write attempts of this lake object lost to a concurrent writer and were tried again. */
  public int conflictsRetried() {
    return conflicts.get();
  }

  /** Runs {@code write}, again after a concurrent-modification conflict, with a doubling, jittered backoff. */
  private <T> T retrying(String table, java.util.function.Supplier<T> write) {
    return retrying(table, false, write);
  }

  private <T> T retrying(String table, boolean creating, java.util.function.Supplier<T> write) {
    long wait = 50;
    for (int attempt = 1; ; attempt++) {
      try {
        return write.get();
      } catch (Exception e) {  // Delta's analysis errors are checked exceptions thrown undeclared
        Throwable conflict = conflictOf(e, creating);
        if (conflict == null) throw Lake.<RuntimeException>rethrown(e);
        if (attempt >= writeAttempts) {
          throw new UserError("write to " + table + " still conflicts with concurrent writers after " + attempt
              + " attempts: " + firstLine(conflict), e);
        }
        conflicts.incrementAndGet();
        try {
          Thread.sleep(wait + java.util.concurrent.ThreadLocalRandom.current().nextLong(wait));
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw Lake.<RuntimeException>rethrown(e);
        }
        wait = Math.min(2 * wait, 2000);
      }
    }
  }

  /** {@code e} as it was thrown, checked or not (the compiler is told it is a {@code T}). */
  @SuppressWarnings("unchecked")
  private static <T extends Throwable> T rethrown(Throwable e) throws T {
    throw (T) e;
  }

  /** A concurrent-modification conflict of Delta anywhere in the cause chain. */
  static boolean isConflict(Throwable e) {
    return conflictOf(e, false) != null;
  }

  /**
   * Delta's conditions when another writer is creating the table in the same moment: its folder holds files but no
   * commit yet, so creating it is refused, or "if not exists" found the folder and skipped creating, then found no
   * table there.
   */
  private static final java.util.Set<String> CREATE_RACE =
      java.util.Set.of("DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION", "DELTA_TABLE_NOT_FOUND");

  private static Throwable conflictOf(Throwable e, boolean creating) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof io.delta.exceptions.DeltaConcurrentModificationException
          || t instanceof org.apache.spark.sql.delta.DeltaConcurrentModificationException) {
        return t;
      }
      if (creating && t instanceof org.apache.spark.SparkThrowable st && CREATE_RACE.contains(st.getCondition())) {
        return t;
      }
    }
    return null;
  }

  private static String firstLine(Throwable t) {
    String m = t == null || t.getMessage() == null ? String.valueOf(t) : t.getMessage();
    return m.lines().findFirst().orElse(m);
  }

  public void ensureAll() {
    for (String t : Tables.ALL.keySet()) {
      ensure(t);
    }
  }

  /** The table's current version (creating the table if needed). */
  public long version(String table) {
    ensure(table);
    Row last = DeltaTable.forPath(spark, path(table)).history(1).select("version").head();
    return last.getLong(0);
  }

  /** Reads the table at its current (or pinned) version and records that version as read. */
  public Dataset<Row> read(String table) {
    Long pin = pins.get(table);
    if (pin != null) return readVersion(table, pin);
    long v = version(table);
    reads.put(table, v);
    return spark.read().format("delta").option("versionAsOf", v).load(path(table));
  }

  /** Reads a pinned version, e.g. the one a checkpoint names, and records it. */
  public Dataset<Row> readVersion(String table, long version) {
    reads.put(table, version);
    return spark.read().format("delta").option("versionAsOf", version).load(path(table));
  }

  /**
   * Checks {@code df} against the table's schema and puts its columns in the table's order. An
   * unknown column, a wrong type, or a missing required column is a {@link UserError} naming the
   * column; missing nullable columns become nulls, a missing {@code created_at} becomes now.
   */
  public Dataset<Row> conform(String table, Dataset<Row> df) {
    StructType target = Tables.get(table).schema();
    StructType have = df.schema();
    for (StructField f : have.fields()) {
      if (!List.of(target.fieldNames()).contains(f.name())) {
        throw new UserError(
            "column '" + f.name() + "' is not in table " + table + " (columns: "
                + String.join(", ", target.fieldNames()) + ")");
      }
    }
    List<Column> cols = new ArrayList<>();
    for (StructField f : target.fields()) {
      if (List.of(have.fieldNames()).contains(f.name())) {
        DataType got = have.apply(f.name()).dataType();
        if (!compatible(got, f.dataType())) {
          throw new UserError(
              "column '" + f.name() + "' of table " + table + " is " + f.dataType().simpleString()
                  + ", got " + got.simpleString());
        }
        cols.add(df.col(f.name()).cast(f.dataType()).as(f.name()));
      } else if (f.name().equals("created_at")) {
        cols.add(current_timestamp().as(f.name()));
      } else if (f.nullable()) {
        cols.add(lit(null).cast(f.dataType()).as(f.name()));
      } else {
        throw new UserError("table " + table + " needs column '" + f.name() + "', which is missing");
      }
    }
    return df.select(cols.toArray(new Column[0]));
  }

  /** Same type, or one that widens safely (int → long, float → double), or an array of such. */
  private static boolean compatible(DataType got, DataType want) {
    if (got.sameType(want)) {
      return true;
    }
    String g = got.typeName();
    String w = want.typeName();
    if (w.equals("long") && g.equals("integer")) return true;
    if (w.equals("double") && (g.equals("float") || g.equals("integer") || g.equals("long"))) return true;
    if (w.equals("float") && g.equals("double")) return true;
    if (got instanceof org.apache.spark.sql.types.ArrayType ga
        && want instanceof org.apache.spark.sql.types.ArrayType wa) {
      return compatible(ga.elementType(), wa.elementType());
    }
    if (got instanceof org.apache.spark.sql.types.MapType gm
        && want instanceof org.apache.spark.sql.types.MapType wm) {
      return compatible(gm.keyType(), wm.keyType()) && compatible(gm.valueType(), wm.valueType());
    }
    return g.equals("null");
  }

  /**
   * Inserts the rows whose key is not in the table yet (insert-only MERGE): re-running a data stage
   * or re-importing a file adds nothing twice. Returns the table version after the write.
   */
  public long insertNew(String table, Dataset<Row> df) {
    return insertNewCounted(table, df).version();
  }

  /** What an insert-only MERGE did: the table version after it and how many rows it added. */
  public record Inserted(long version, long rows) {}

  /**
   * {@link #insertNew}, also saying how many of the rows were new (the others' keys were already there), from the
   * MERGE's own count: a caller that reported the rows it passed in would count a re-import as written again.
   */
  public Inserted insertNewCounted(String table, Dataset<Row> df) {
    ensure(table);
    Dataset<Row> rows = conform(table, df);
    return retrying(table, () -> merge(table, rows));
  }

  private Inserted merge(String table, Dataset<Row> rows) {
    List<String> key = Tables.get(table).key();
    String cond = key.stream().map(k -> "t.`" + k + "` = s.`" + k + "`").collect(Collectors.joining(" AND "));
    long inserted;
    try {
      Row metrics = DeltaTable.forPath(spark, path(table))
          .as("t")
          .merge(rows.as("s"), cond)
          .whenNotMatched()
          .insertAll()
          .execute()
          .first();
      inserted = ((Number) metrics.getAs("num_inserted_rows")).longValue();
    } catch (Exception e) {
      throw translate(table, e);
    }
    long v = version(table);
    writes.put(table, v);
    return new Inserted(v, inserted);
  }

  /**
   * Appends once per (appId, txnVersion): Delta skips the write when that application id has already
   * committed that version, so a re-run of the same run/stage/iteration adds nothing. Use an appId that
   * names the run, stage and table, and a txnVersion that grows within it (an iteration or flush count).
   */
  public long appendOnce(String table, Dataset<Row> df, String appId, long txnVersion) {
    ensure(table);
    Dataset<Row> rows = conform(table, df);
    return retrying(table, () -> append(table, rows, appId, txnVersion));
  }

  private long append(String table, Dataset<Row> rows, String appId, long txnVersion) {
    try {
      rows.write()
          .format("delta")
          .mode("append")
          .option("txnAppId", appId)
          .option("txnVersion", txnVersion)
          .save(path(table));
    } catch (Exception e) {
      throw translate(table, e);
    }
    long v = version(table);
    writes.put(table, v);
    return v;
  }

  /**
   * Rows of a Java list (built on the driver) as a frame with the table's schema. A small list becomes a local
   * relation. A larger one travels as a broadcast: the tasks that scan a local relation carry its rows, so tens of
   * thousands of prompts or a flush of rollouts made tasks of several MB (Spark warns above 1 MiB), and cutting the
   * list into more tasks would cut the table into as many small files. A broadcast goes through the block manager,
   * once per executor, and the tasks only name which slice of it they write (one per {@link #BYTES_PER_FILE}).
   */
  public Dataset<Row> frame(String table, List<Row> rows) {
    return frame(rows, Tables.get(table).schema());
  }

  /** {@link #frame(String, List)} for rows of any schema, e.g. the input of an executor-side job. */
  public Dataset<Row> frame(List<Row> rows, StructType schema) {
    long bytes = SizeEstimator.estimate(rows);
    if (bytes <= LOCAL_BYTES) return spark.createDataFrame(rows, schema);
    int slices = slicesFor(bytes, rows.size());
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<ArrayList<Row>> shipped = jsc.broadcast(new ArrayList<>(rows));
    List<Integer> ids = IntStream.range(0, slices).boxed().toList();
    return spark.createDataFrame(jsc.parallelize(ids, slices).flatMap(new SliceOf(shipped, slices)), schema);
  }

  /** Driver-built rows up to this in-memory size stay a local relation (its tasks stay well under Spark's 1 MiB). */
  static final long LOCAL_BYTES = 256L * 1024;

  /** In-memory size of driver-built rows per written file. */
  static final long BYTES_PER_FILE = 128L * 1024 * 1024;

  /** Files (and tasks) for {@code rows} rows taking {@code bytes} in memory: one per {@link #BYTES_PER_FILE}. */
  static int slicesFor(long bytes, int rows) {
    long slices = (bytes + BYTES_PER_FILE - 1) / BYTES_PER_FILE;
    return (int) Math.max(1, Math.min(slices, Math.max(rows, 1)));
  }

  /** Slice {@code i} of {@code slices} contiguous slices of a broadcast row list. */
  private record SliceOf(Broadcast<ArrayList<Row>> rows, int slices) implements FlatMapFunction<Integer, Row> {
    @Override
    public Iterator<Row> call(Integer i) {
      List<Row> all = rows.value();
      int from = (int) ((long) all.size() * i / slices);
      int to = (int) ((long) all.size() * (i + 1) / slices);
      return all.subList(from, to).iterator();
    }
  }

  /** Delta's schema and constraint errors are user-facing: say which table, keep Delta's message line. */
  private static RuntimeException translate(String table, Exception e) {
    Throwable t = e;
    while (t != null) {
      if (t instanceof AnalysisException || t.getClass().getName().contains("DeltaInvariantViolation")) {
        String msg = t.getMessage() == null ? t.toString() : t.getMessage().lines().findFirst().orElse("");
        return new UserError("write to " + table + " refused: " + msg, e);
      }
      t = t.getCause();
    }
    return e instanceof RuntimeException re ? re : new RuntimeException(e);
  }
}
