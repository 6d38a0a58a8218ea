package org.sparkrlhf.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HadoopFilesTest {

  @Test
  void writesIntoNewFoldersAndReadsBack(@TempDir Path dir) {
    String file = dir.resolve("a/b/report.json").toString();
    assertFalse(HadoopFiles.exists(file));
    HadoopFiles.writeText(file, "{\"é\": 1}\n");
    assertTrue(HadoopFiles.exists(file));
    assertEquals("{\"é\": 1}\n", HadoopFiles.readText(file));
    HadoopFiles.writeBytes(file, new byte[] {1, 2, 3}); // overwrites
    assertArrayEquals(new byte[] {1, 2, 3}, HadoopFiles.readBytes(file));
    assertTrue(HadoopFiles.isDirectory(dir.resolve("a/b").toString()));
    assertFalse(HadoopFiles.isDirectory(file));
  }

  @Test
  void acceptsHadoopUris(@TempDir Path dir) {
    String uri = dir.resolve("x.txt").toUri().toString(); // file:/...
    HadoopFiles.writeText(uri, "x");
    assertEquals("x", HadoopFiles.readText(dir.resolve("x.txt").toString()));
  }

  @Test
  void listsOnlyTheFilesOfAFolderSorted(@TempDir Path dir) {
    HadoopFiles.writeText(dir.resolve("b.jsonl").toString(), "");
    HadoopFiles.writeText(dir.resolve("a.jsonl").toString(), "");
    HadoopFiles.writeText(dir.resolve("sub/c.jsonl").toString(), "");
    List<String> files = HadoopFiles.listFiles(dir.toString());
    assertEquals(2, files.size(), files.toString());
    assertTrue(files.get(0).startsWith("file:") && files.get(0).endsWith("/a.jsonl"), files.toString());
    assertTrue(files.get(1).endsWith("/b.jsonl"), files.toString());
    assertEquals(files.get(0), HadoopFiles.qualified(dir.resolve("a.jsonl").toString()));
  }

  @Test
  void aMissingFileIsAnErrorNamingIt(@TempDir Path dir) {
    String file = dir.resolve("missing.json").toString();
    UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> HadoopFiles.readText(file));
    assertTrue(e.getMessage().startsWith("cannot read " + file), e.getMessage());
  }
}
