package org.sparkrlhf.jobs.stages;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.row_number;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.RecordValidator;
import org.sparkrlhf.core.lake.RecordValidator.Kind;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.tokenizer.ChatTemplate;
import org.sparkrlhf.core.tokenizer.HfTokenizer;
import org.sparkrlhf.jobs.Stage;

/**
 * {@code import}: JSONL or Parquet files in the usual formats into prompts, sft_demos, preferences or
 * step_labels. Files are read and validated on the executors, one task per file; every refused row —
 * unparseable, invalid UTF-8, missing/null/empty field, wrong type, too long, duplicate id — goes to
 * {@code quarantine} with its file, line and reason, and every valid row is written unless its key is already in
 * the table (the report counts both: {@code new} and {@code already_present}). JSONL may start with a UTF-8
 * byte-order mark and end its lines with CRLF; blank lines are skipped. A Parquet file whose columns contradict
 * the table's is refused whole with a one-line error naming the column.
 */
public final class ImportStage implements Stage {
  /** What the executors hand back per input row, valid or not. */
  static final StructType PARSED =
      new StructType(
          new StructField[] {
            DataTypes.createStructField("source_file", DataTypes.StringType, false),
            DataTypes.createStructField("line", DataTypes.LongType, false),
            DataTypes.createStructField("kind", DataTypes.StringType, true),
            DataTypes.createStructField("id", DataTypes.StringType, true),
            DataTypes.createStructField("prompt", DataTypes.StringType, true),
            DataTypes.createStructField("completion", DataTypes.StringType, true),
            DataTypes.createStructField("chosen", DataTypes.StringType, true),
            DataTypes.createStructField("rejected", DataTypes.StringType, true),
            DataTypes.createStructField("answer", DataTypes.StringType, true),
            DataTypes.createStructField("steps", DataTypes.createArrayType(DataTypes.StringType), true),
            DataTypes.createStructField("labels", DataTypes.createArrayType(DataTypes.BooleanType), true),
            DataTypes.createStructField("reason", DataTypes.StringType, true),
            DataTypes.createStructField("raw", DataTypes.StringType, true),
          });

  private static final int RAW_CHARS = 2000;

  @Override
  public String name() {
    return "import";
  }

  @Override
  public String description() {
    return "import JSONL/Parquet (prompt/completion, prompt/chosen/rejected, step labels, chat messages); bad rows to quarantine";
  }

  @Override
  public List<String> sections() {
    return List.of("import");
  }

  @Override
  public Map<String, String> shortcuts() {
    return Map.of("--path", "import.path", "--kind", "import.kind", "--dataset", "import.dataset");
  }

  @Override
  public void check(Config config) {
    ImportConfig c = StageConfigs.bind(config, "import", ImportConfig.class);
    if (c.path == null || c.path.isBlank()) {
      throw new UserError("import needs a file or folder: --path FILE (or --set import.path=FILE)");
    }
    if (!c.kind.equals("auto")) Kind.parse(c.kind);
    if (!List.of("auto", "jsonl", "parquet").contains(c.format)) {
      throw new UserError("import.format must be auto, jsonl or parquet, got '" + c.format + "'");
    }
    if (c.maxChars < 1) throw new UserError("import.max_chars must be positive");
  }

  /**
   * The chat template conversational rows are rendered with: that of the tokenizer {@code import.tokenizer} names
   * (a tokenizer.json, or a folder holding one, such as a checkpoint), its clock fixed at the import's start;
   * null without one.
   */
  static ChatTemplate chatTemplate(ImportConfig c) {
    if (c.tokenizer == null || c.tokenizer.isBlank()) return null;
    java.nio.file.Path p = java.nio.file.Path.of(c.tokenizer);
    java.nio.file.Path file = java.nio.file.Files.isDirectory(p) ? p.resolve("tokenizer.json") : p;
    if (!java.nio.file.Files.isRegularFile(file)) {
      throw new UserError("import.tokenizer: no tokenizer.json at " + file);
    }
    try (HfTokenizer tok = HfTokenizer.load(file)) {
      return tok.chatTemplate(java.time.Instant.now()).orElseThrow(() -> new UserError(
          "import.tokenizer: " + file + " has no chat_template (in " + HfTokenizer.TOKENIZER_CONFIG + " or "
              + HfTokenizer.CHAT_TEMPLATE_FILE + " beside it)"));
    } catch (IllegalArgumentException | UncheckedIOException e) {
      throw new UserError("import.tokenizer: " + file + ": " + e.getMessage());
    }
  }

  @Override
  public void run(RunContext ctx, Config config) {
    readRows(ctx.spark(), () -> {
      importFiles(ctx, config);
      return null;
    });
  }

  private void importFiles(RunContext ctx, Config config) {
    check(config);
    ImportConfig c = StageConfigs.bind(config, "import", ImportConfig.class);
    ctx.put("config", c);
    List<String> files = listFiles(c.path);
    List<String> jsonl = new ArrayList<>();
    List<String> parquet = new ArrayList<>();
    for (String f : files) {
      boolean isParquet = c.format.equals("parquet") || (c.format.equals("auto") && f.endsWith(".parquet"));
      (isParquet ? parquet : jsonl).add(f);
    }
    Kind forced = c.kind.equals("auto") ? null : Kind.parse(c.kind);
    ChatTemplate chat = chatTemplate(c);
    List<Dataset<Row>> parts = new ArrayList<>();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(ctx.spark().sparkContext());
    if (!jsonl.isEmpty()) {
      JavaRDD<Row> rows =
          jsc.parallelize(jsonl, jsonl.size()).flatMap(new ParseJsonl(new RecordValidator(c.maxChars, chat), forced));
      parts.add(ctx.spark().createDataFrame(rows, PARSED));
    }
    for (String f : parquet) {
      parts.add(parseParquet(ctx.spark(), f, forced, new RecordValidator(c.maxChars, chat)));
    }
    Dataset<Row> parsed = parts.get(0);
    for (int i = 1; i < parts.size(); i++) parsed = parsed.unionByName(parts.get(i));
    parsed = parsed.cache();
    long read = parsed.count();
    if (read == 0) {
      throw new UserError("nothing could be read from " + c.path + " (no rows in " + files.size() + " file(s))");
    }

    // A repeated id keeps its first occurrence (by file, line); the others are quarantined.
    Dataset<Row> ranked =
        parsed.withColumn(
            "dup_rank",
            org.apache.spark.sql.functions.when(col("reason").isNull(),
                row_number().over(Window.partitionBy("kind", "id").orderBy("source_file", "line"))));
    Dataset<Row> withDup =
        ranked.withColumn(
            "reason",
            org.apache.spark.sql.functions.when(col("dup_rank").gt(1), concat(lit("duplicate id '"), col("id"), lit("'")))
                .otherwise(col("reason")))
            .drop("dup_rank")
            .cache();

    Lake lake = ctx.lake();
    Map<String, Long> written = new LinkedHashMap<>();
    long valid = 0;
    for (Kind k : Kind.values()) {
      Dataset<Row> rows = withDup.filter(col("reason").isNull().and(col("kind").equalTo(k.label)));
      long n = rows.count();
      if (n == 0) continue;
      valid += n;
      written.put(k.table, lake.insertNewCounted(k.table, toTable(rows, k, c, ctx.runId())).rows());
    }
    Dataset<Row> bad = withDup.filter(col("reason").isNotNull());
    long quarantined = bad.count();
    if (quarantined > 0) {
      Dataset<Row> q =
          bad.select(
              lit(ctx.runId()).as("run_id"),
              lit(name()).as("stage"),
              org.apache.spark.sql.functions.expr(
                  "CASE kind WHEN 'sft' THEN 'sft_demos' WHEN 'preference' THEN 'preferences' "
                      + "WHEN 'step' THEN 'step_labels' WHEN 'prompt' THEN 'prompts' END").as("target_table"),
              col("source_file"), col("line"), col("reason"), col("raw"));
      lake.appendOnce(Tables.QUARANTINE, q, ctx.runId() + "/import/quarantine", 0);
    }
    long writtenTotal = written.values().stream().mapToLong(Long::longValue).sum();
    long present = valid - writtenTotal;
    ctx.put("files", files).put("read", read).put("valid", valid).put("new", writtenTotal)
        .put("already_present", present).put("written", writtenTotal).put("written_by_table", written)
        .put("quarantined", quarantined);
    List<Row> reasons =
        bad.groupBy(org.apache.spark.sql.functions.regexp_replace(col("reason"), "'[^']*'$", "'…'").as("r"))
            .count().orderBy(col("count").desc()).limit(10).collectAsList();
    Map<String, Long> byReason = new LinkedHashMap<>();
    for (Row r : reasons) byReason.put(r.getString(0), r.getLong(1));
    ctx.put("quarantine_reasons", byReason);
    ctx.summary(String.format("read %d rows: %d new, %d already present, %d quarantined", read, writtenTotal, present,
        quarantined));
    System.out.printf("import: read %d  new %d  already present %d  quarantined %d%n", read, writtenTotal, present,
        quarantined);
    for (Map.Entry<String, Long> e : byReason.entrySet()) {
      System.out.printf("import:   %6d  %s%n", e.getValue(), e.getKey());
    }
    parsed.unpersist();
    withDup.unpersist();
  }

  private static Dataset<Row> toTable(Dataset<Row> valid, Kind k, ImportConfig c, String runId) {
    Dataset<Row> base =
        valid.withColumn("dataset", lit(c.dataset)).withColumn("split", lit(c.split))
            .withColumn("source", concat(col("source_file"), lit(":"), col("line").cast("string")))
            .withColumn("run_id", lit(runId));
    return switch (k) {
      case SFT -> base.select("dataset", "split", "id", "prompt", "completion", "source", "run_id");
      case PREFERENCE -> base.select("dataset", "split", "id", "prompt", "chosen", "rejected", "source", "run_id");
      case STEP -> base.withColumn("kind", lit("imported"))
          .select(col("dataset"), col("split"), col("id"), col("prompt"), col("steps"), col("labels"),
              col("kind"), col("source"), col("run_id"));
      case PROMPT -> base.select("dataset", "split", "id", "prompt", "answer", "source", "run_id");
    };
  }

  static List<String> listFiles(String location) {
    if (!HadoopFiles.exists(location)) {
      throw new UserError("no such file or folder: " + location);
    }
    try {
      if (!HadoopFiles.isDirectory(location)) {
        return List.of(HadoopFiles.qualified(location));
      }
      List<String> out = new ArrayList<>();
      for (String f : HadoopFiles.listFiles(location)) {
        String n = new Path(f).getName();
        if (!n.startsWith(".") && !n.startsWith("_")
            && (n.endsWith(".jsonl") || n.endsWith(".json") || n.endsWith(".parquet"))) {
          out.add(f);
        }
      }
      if (out.isEmpty()) {
        throw new UserError("no .jsonl, .json or .parquet files in " + location);
      }
      return out;
    } catch (UncheckedIOException e) {
      throw new UserError("cannot list " + location + ": " + e.getCause().getMessage());
    }
  }

  /** The UTF-8 byte-order mark some editors put at the start of a text file. */
  private static final byte[] BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};

  /**
   * Executor side: one JSONL file → one parsed row per non-blank line. Lines end with LF or CRLF, the last one
   * with or without; a leading byte-order mark is not part of the first row (JSON forbids it there, so a file
   * saved by such an editor would otherwise lose its first row to quarantine).
   */
  static final class ParseJsonl implements FlatMapFunction<String, Row>, Serializable {
    private static final long serialVersionUID = 1L;
    private final RecordValidator validator;
    private final Kind forced;

    ParseJsonl(RecordValidator validator, Kind forced) {
      this.validator = validator;
      this.forced = forced;
    }

    @Override
    public Iterator<Row> call(String file) throws IOException {
      return parse(file, HadoopFiles.readBytes(file), validator, forced).iterator();
    }

    /** The rows of one JSONL file's bytes: one per non-blank line, parsed or refused with its reason. */
    static List<Row> parse(String file, byte[] bytes, RecordValidator validator, Kind forced) {
      List<Row> out = new ArrayList<>();
      Kind fileKind = forced;
      int start = bytes.length >= BOM.length && Arrays.equals(bytes, 0, BOM.length, BOM, 0, BOM.length)
          ? BOM.length : 0;
      long lineNo = 0;
      while (start < bytes.length) {
        int end = start;
        while (end < bytes.length && bytes[end] != '\n') end++;
        lineNo++;
        int stop = end > start && bytes[end - 1] == '\r' ? end - 1 : end;
        int lineStart = start;
        String line = RecordValidator.decodeUtf8(bytes, lineStart, stop);
        start = end + 1;
        if (line == null) {
          String lenient = new String(bytes, lineStart, stop - lineStart, java.nio.charset.StandardCharsets.UTF_8);
          out.add(refused(file, lineNo, fileKind, "invalid UTF-8", lenient));
          continue;
        }
        if (line.isBlank()) continue;
        JsonNode node;
        try {
          node = RecordValidator.parse(line);
        } catch (IllegalArgumentException e) {
          out.add(refused(file, lineNo, fileKind, e.getMessage(), line));
          continue;
        }
        if (fileKind == null) fileKind = Kind.detect(node);
        if (fileKind == null) {
          out.add(refused(file, lineNo, null, "no known fields (expected prompt with completion, chosen/rejected, completions/labels or answer, or messages)", line));
          continue;
        }
        out.addAll(toRows(file, lineNo, fileKind, validator.validateRows(node, fileKind), line));
      }
      return out;
    }
  }

  static Row refused(String file, long line, Kind kind, String reason, String raw) {
    return RowFactory.create(file, line, kind == null ? null : kind.label, null, null, null, null, null, null, null, null,
        reason, truncate(raw));
  }

  /** One input row's output rows: a conversation gives one per assistant reply, all with the input's line. */
  static List<Row> toRows(String file, long line, Kind kind, List<RecordValidator.Result> results, String raw) {
    List<Row> out = new ArrayList<>(results.size());
    for (RecordValidator.Result r : results) out.add(toRow(file, line, kind, r, raw));
    return out;
  }

  static Row toRow(String file, long line, Kind kind, RecordValidator.Result r, String raw) {
    if (!r.ok()) return refused(file, line, kind, r.reason(), raw);
    return RowFactory.create(file, line, kind.label, r.id(), r.prompt(), r.completion(), r.chosen(), r.rejected(),
        r.answer(), r.steps() == null ? null : r.steps().toArray(new String[0]),
        r.labels() == null ? null : r.labels().toArray(new Boolean[0]), null, truncate(raw));
  }

  private static String truncate(String s) {
    if (s == null) return null;
    return s.length() <= RAW_CHARS ? s : s.substring(0, RAW_CHARS) + "…";
  }

  /**
   * Runs an action that reads the import's files (the whole import), with Parquet read by parquet-mr's record
   * reader. A file Spark cannot read (a Parquet footer or page that is not
   * Parquet, a schema it cannot infer) is a one-line error naming the file and what was wrong, not Spark's stack
   * trace: its message's first line and the first line of its deepest cause. Anything else is not a user's file.
   */
  static <T> T readRows(SparkSession spark, java.util.function.Supplier<T> action) {
    String vectorized = spark.conf().get(VECTORIZED, "true");
    // Spark's vectorized Parquet decoder spins without end on some corrupt pages (a fuzzed 845-byte file kept it
    // busy for over 10 minutes); parquet-mr's own record reader refuses them with an exception.
    spark.conf().set(VECTORIZED, "false");
    try {
      return action.get();
    } catch (Exception e) {  // Spark's SparkException is checked but undeclared
      UserError user = unreadable(e);
      if (user != null) throw user;
      if (e instanceof RuntimeException re) throw re;
      throw new IllegalStateException(e);
    } finally {
      spark.conf().set(VECTORIZED, vectorized);
    }
  }

  private static final String VECTORIZED = "spark.sql.parquet.enableVectorizedReader";

  /** Spark's conditions for a file that is not what it claims to be. */
  private static final List<String> UNREADABLE = List.of("FAILED_READ_FILE", "UNABLE_TO_INFER_SCHEMA",
      "CANNOT_READ_FILE_FOOTER", "PARQUET_", "MALFORMED_RECORD_IN_PARSING");

  private static UserError unreadable(Exception e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof org.apache.spark.SparkThrowable st && st.getCondition() != null
          && UNREADABLE.stream().anyMatch(st.getCondition()::startsWith)) {
        Throwable root = t;
        while (root.getCause() != null) root = root.getCause();
        String what = firstLine(t.getMessage());
        String why = root == t ? "" : " (" + root.getClass().getSimpleName() + ": " + firstLine(root.getMessage()) + ")";
        return new UserError("cannot import: " + what + why);
      }
    }
    return null;
  }

  private static String firstLine(String s) {
    if (s == null) return "";
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /**
   * A Parquet file: its columns must not contradict the table's (a one-line error naming the column);
   * then each row is validated like a JSONL line, its row number standing for the line.
   */
  static Dataset<Row> parseParquet(SparkSession spark, String file, Kind forced, RecordValidator validator) {
    Dataset<Row> df = spark.read().parquet(file);
    StructType schema = df.schema();
    List<String> names = Arrays.asList(schema.fieldNames());
    Kind kind = forced;
    if (kind == null) {
      if (names.contains("chosen") || names.contains("rejected")) kind = Kind.PREFERENCE;
      else if (names.contains("completions") || names.contains("labels")) kind = Kind.STEP;
      else if (names.contains("completion") || names.contains("messages")) kind = Kind.SFT;
      else if (names.contains("prompt")) kind = Kind.PROMPT;
      else throw new UserError(file + ": no known columns (prompt, completion, chosen, rejected, completions, labels, answer)");
    }
    Map<String, String> expected = new LinkedHashMap<>();
    expected.put("id", "string");
    expected.put("prompt", "string");
    switch (kind) {
      case SFT -> expected.put("completion", "string");
      case PREFERENCE -> { expected.put("chosen", "string"); expected.put("rejected", "string"); }
      case STEP -> { expected.put("completions", "array<string>"); expected.put("labels", "array<boolean>"); }
      case PROMPT -> expected.put("answer", "string");
    }
    for (Map.Entry<String, String> e : expected.entrySet()) {
      if (!names.contains(e.getKey())) continue; // a missing column quarantines each row with its reason
      if (schema.apply(e.getKey()).dataType() instanceof org.apache.spark.sql.types.ArrayType
          && List.of("prompt", "chosen", "rejected").contains(e.getKey())) {
        continue;  // TRL's conversational preference format: lists of messages, validated per row
      }
      String got = schema.apply(e.getKey()).dataType().simpleString();
      boolean ok = got.equals(e.getValue())
          || (e.getKey().equals("id") && List.of("int", "bigint").contains(got))
          || (e.getKey().equals("answer") && List.of("int", "bigint", "double").contains(got));
      if (!ok) {
        throw new UserError(file + ": column '" + e.getKey() + "' is " + got + " but the "
            + kind.table + " table needs " + e.getValue());
      }
    }
    final Kind k = kind;
    JavaRDD<Row> rows =
        df.toJSON().javaRDD().zipWithIndex().flatMap(t -> {
          String json = t._1();
          long line = t._2() + 1;
          JsonNode node = RecordValidator.parse(json);
          return toRows(file, line, k, validator.validateRows(node, k), json).iterator();
        });
    return spark.createDataFrame(rows, PARSED);
  }
}
