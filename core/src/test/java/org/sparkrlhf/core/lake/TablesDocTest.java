package org.sparkrlhf.core.lake;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** docs/tables.md is generated from Tables; it must match the schemas the code enforces. */
class TablesDocTest {
  @Test
  void docsMatchTheSchemas() throws Exception {
    Path doc = Path.of("..", "docs", "tables.md");
    if (Boolean.getBoolean("rlhf.writeDocs") || !Files.exists(doc)) {
      Files.createDirectories(doc.getParent());
      Files.writeString(doc, Tables.markdown());
    }
    assertEquals(Tables.markdown(), Files.readString(doc),
        "docs/tables.md is stale: run mvn -pl core test -Dtest=TablesDocTest -Drlhf.writeDocs=true");
  }
}
