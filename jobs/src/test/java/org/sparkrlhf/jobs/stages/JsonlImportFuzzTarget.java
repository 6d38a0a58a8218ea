package org.sparkrlhf.jobs.stages;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.sparkrlhf.core.lake.RecordValidator;

/**
 * Jazzer target: any bytes as a JSONL import file give one row per non-blank line, each either a record (id and
 * prompt) or a quarantine row with a reason, numbered by its line; nothing thrown, no line lost or doubled. The
 * lines are counted here independently of the parser: split at LF, a trailing CR and a leading byte-order mark
 * removed, a line counting when it is not valid UTF-8 or not blank.
 */
public final class JsonlImportFuzzTarget {
  private JsonlImportFuzzTarget() {}

  private static final RecordValidator VALIDATOR = new RecordValidator(2000);

  public static void fuzzerTestOneInput(byte[] file) {
    List<Row> rows = ImportStage.ParseJsonl.parse("fuzz.jsonl", file, VALIDATOR, null);
    List<Long> expected = expectedLines(file);
    List<Long> got = new ArrayList<>();
    for (Row r : rows) {
      got.add(r.getLong(1));
      String reason = r.getString(11);
      boolean record = r.getString(3) != null && r.getString(4) != null;
      if ((reason == null) == !record || (reason != null && reason.isBlank())) {
        throw new IllegalStateException("line " + r.getLong(1) + " is neither a record nor refused with a reason: " + r);
      }
    }
    if (!got.equals(expected)) {
      throw new IllegalStateException("rows for lines " + got + ", but the non-blank lines are " + expected);
    }
  }

  static List<Long> expectedLines(byte[] file) {
    List<Long> lines = new ArrayList<>();
    int start = file.length >= 3 && (file[0] & 0xFF) == 0xEF && (file[1] & 0xFF) == 0xBB && (file[2] & 0xFF) == 0xBF
        ? 3 : 0;
    long no = 0;
    while (start < file.length) {
      int end = start;
      while (end < file.length && file[end] != '\n') end++;
      no++;
      int stop = end > start && file[end - 1] == '\r' ? end - 1 : end;
      try {
        String line = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(file, start, stop - start)).toString();
        if (!line.isBlank()) lines.add(no);
      } catch (CharacterCodingException invalid) {
        lines.add(no);
      }
      start = end + 1;
    }
    return lines;
  }
}
