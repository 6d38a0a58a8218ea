package org.sparkrlhf.core.io;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Whole-file reads and writes on any Hadoop file system (a plain local path by default, or {@code hdfs://},
 * {@code s3a://}, ... on a cluster): what stages, checkpoints and configs need, so the lake and every file
 * beside it go through the same API.
 *
 * <p>Failures are {@link UncheckedIOException}s naming the file; {@link #exists} answers false when the file
 * system cannot be asked. The methods without a {@link Configuration} use Hadoop's default one (core-site.xml
 * on the classpath); Hadoop caches the file system per scheme and authority, so a call costs no new connection.
 */
public final class HadoopFiles {

  /** Writes a file's contents to an open stream. */
  @FunctionalInterface
  public interface Writer {
    void writeTo(OutputStream out) throws IOException;
  }

  private HadoopFiles() {}

  public static byte[] readBytes(String file) {
    return readBytes(file, new Configuration());
  }

  public static byte[] readBytes(String file, Configuration conf) {
    Path p = new Path(file);
    try (FSDataInputStream in = p.getFileSystem(conf).open(p)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /** The file as UTF-8 text. */
  public static String readText(String file) {
    return new String(readBytes(file), StandardCharsets.UTF_8);
  }

  /** Writes (or overwrites) {@code file}, creating its parent folders. */
  public static void writeBytes(String file, byte[] data) {
    write(file, new Configuration(), out -> out.write(data));
  }

  /** Writes (or overwrites) {@code file} as UTF-8, creating its parent folders. */
  public static void writeText(String file, String text) {
    writeBytes(file, text.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Writes (or overwrites) {@code file} through {@code writer}, creating its parent folders; for contents
   * produced as a stream (no whole copy in memory).
   */
  public static void write(String file, Configuration conf, Writer writer) {
    Path p = new Path(file);
    try {
      FileSystem fs = p.getFileSystem(conf);
      if (p.getParent() != null) {
        fs.mkdirs(p.getParent());
      }
      try (OutputStream out = fs.create(p, true)) {
        writer.writeTo(out);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  /** Deletes {@code path}, a file or a folder with everything in it; nothing when it does not exist. */
  public static void deleteRecursively(String path) {
    Path p = new Path(path);
    try {
      p.getFileSystem(new Configuration()).delete(p, true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + path + ": " + e.getMessage(), e);
    }
  }

  /** True when {@code path} (a file or folder) exists; false also when its file system cannot be reached. */
  public static boolean exists(String path) {
    return exists(path, new Configuration());
  }

  public static boolean exists(String path, Configuration conf) {
    Path p = new Path(path);
    try {
      return p.getFileSystem(conf).exists(p);
    } catch (IOException e) {
      return false;
    }
  }

  /** True when {@code path} is an existing folder. */
  public static boolean isDirectory(String path) {
    Path p = new Path(path);
    try {
      return p.getFileSystem(new Configuration()).getFileStatus(p).isDirectory();
    } catch (IOException e) {
      return false;
    }
  }

  /** {@code path} with its file system's scheme and authority, as Hadoop lists it (e.g. {@code file:/tmp/a}). */
  public static String qualified(String path) {
    Path p = new Path(path);
    try {
      return p.getFileSystem(new Configuration()).getFileStatus(p).getPath().toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
    }
  }

  /** The files directly in folder {@code dir} (no subfolders), qualified, sorted by path. */
  public static List<String> listFiles(String dir) {
    Path p = new Path(dir);
    try {
      FileStatus[] list = p.getFileSystem(new Configuration()).listStatus(p);
      Arrays.sort(list);
      List<String> out = new ArrayList<>();
      for (FileStatus s : list) {
        if (s.isFile()) {
          out.add(s.getPath().toString());
        }
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The names of the folders directly in {@code dir}, sorted; empty when {@code dir} does not exist. */
  public static List<String> listFolders(String dir) {
    Path p = new Path(dir);
    try {
      org.apache.hadoop.fs.FileSystem fs = p.getFileSystem(new Configuration());
      if (!fs.exists(p)) return List.of();
      FileStatus[] list = fs.listStatus(p);
      Arrays.sort(list);
      List<String> out = new ArrayList<>();
      for (FileStatus s : list) {
        if (s.isDirectory()) out.add(s.getPath().getName());
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }
}
