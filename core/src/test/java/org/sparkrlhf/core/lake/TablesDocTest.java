package org.sparkrlhf.core.lake;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * docs/tables.md is generated from Tables; it must match the schemas the code enforces. The file is written only
 * when asked for ({@code -Drlhf.writeDocs=true}): a missing or stale file fails, never quietly regenerates.
 */
class TablesDocTest {
  private static final String HOW = "run mvn -pl core test -Dtest=TablesDocTest -Drlhf.writeDocs=true";

  @Test
  void docsMatchTheSchemas() throws Exception {
    Path doc = Path.of("..", "docs", "tables.md");
    if (Boolean.getBoolean("rlhf.writeDocs")) {
      Files.createDirectories(doc.getParent());
      Files.writeString(doc, Tables.markdown());
    }
    assertTrue(Files.exists(doc), "docs/tables.md is missing: " + HOW);
    assertEquals(Tables.markdown(), Files.readString(doc), "docs/tables.md is stale: " + HOW);
  }
}
