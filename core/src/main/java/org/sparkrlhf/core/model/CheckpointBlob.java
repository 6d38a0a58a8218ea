package org.sparkrlhf.core.model;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The one-array form of a checkpoint folder ({@link HfCheckpoint#toBytes}), e.g. the payload of a Spark broadcast:
 * magic {@code SRLHFCK1}, then for each of {@link #FILES} in order a UTF name, an int64 length (-1 = the file is
 * absent) and the file's bytes.
 *
 * <p>{@link #parse} reads only the table of contents and keeps offsets into the caller's array, so a reader that
 * needs one file (the config, the safetensors header) does not copy the weights; {@link #file} copies one file out.
 */
public final class CheckpointBlob {

    /** The sections of a blob, in the order they are written. */
    public static final List<String> FILES = List.of(HfCheckpoint.CONFIG, HfCheckpoint.WEIGHTS,
            HfCheckpoint.TOKENIZER, HfCheckpoint.PROVENANCE);

    private static final byte[] MAGIC = "SRLHFCK1".getBytes(StandardCharsets.US_ASCII);

    /** Where one present file's bytes stand in the blob. */
    public record Section(int offset, int length) {
    }

    private final byte[] blob;
    private final Map<String, Section> sections;

    private CheckpointBlob(byte[] blob, Map<String, Section> sections) {
        this.blob = blob;
        this.sections = sections;
    }

    /**
     * Writes {@code files} (name to bytes, null = absent) as a blob; every name of {@link #FILES} must be a key.
     */
    public static byte[] write(Map<String, byte[]> files) {
        try {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bos);
            out.write(MAGIC);
            for (String name : FILES) {
                if (!files.containsKey(name)) {
                    throw new IllegalArgumentException("checkpoint blob needs an entry for " + name);
                }
                byte[] data = files.get(name);
                out.writeUTF(name);
                out.writeLong(data == null ? -1 : data.length);
                if (data != null) {
                    out.write(data);
                }
            }
            out.flush();
            return bos.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Reads the table of contents of {@code blob} without copying any file.
     *
     * @throws IllegalArgumentException when the magic is wrong or the blob ends inside a section
     */
    public static CheckpointBlob parse(byte[] blob) {
        Objects.requireNonNull(blob, "checkpoint blob");
        Map<String, Section> sections = new LinkedHashMap<>();
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(blob))) {
            if (!Arrays.equals(in.readNBytes(MAGIC.length), MAGIC)) {
                throw new IllegalArgumentException("not a checkpoint blob (HfCheckpoint.toBytes)");
            }
            int offset = MAGIC.length;
            for (int i = 0; i < FILES.size(); i++) {
                String name = in.readUTF();
                long len = in.readLong();
                offset += 2 + name.getBytes(StandardCharsets.UTF_8).length + 8;
                if (len < 0) {
                    continue;
                }
                if (len > blob.length - offset) {
                    throw new IllegalArgumentException("truncated checkpoint blob: " + name + " needs " + len
                            + " bytes, " + (blob.length - offset) + " left");
                }
                sections.put(name, new Section(offset, (int) len));
                in.skipNBytes(len);
                offset += (int) len;
            }
        } catch (EOFException e) {
            throw new IllegalArgumentException("truncated checkpoint blob: it ends inside its table of contents"
                    + " (" + blob.length + " bytes)", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("unreadable checkpoint blob: " + e.getMessage(), e);
        }
        return new CheckpointBlob(blob, Collections.unmodifiableMap(sections));
    }

    /** The present files and where they stand, in blob order. */
    public Map<String, Section> sections() {
        return sections;
    }

    /** True when the blob holds {@code name}. */
    public boolean has(String name) {
        return sections.containsKey(name);
    }

    /** A copy of file {@code name}, or null when the blob does not hold it. */
    public byte[] file(String name) {
        Section s = sections.get(name);
        return s == null ? null : Arrays.copyOfRange(blob, s.offset(), s.offset() + s.length());
    }

    /** File {@code name} as UTF-8 text, or null when the blob does not hold it. */
    public String text(String name) {
        Section s = sections.get(name);
        return s == null ? null : new String(blob, s.offset(), s.length(), StandardCharsets.UTF_8);
    }

    /** The names of the tensors in the blob's safetensors file, read from its header alone (no weights decoded). */
    public java.util.Set<String> tensorNames() {
        Section s = sections.get(HfCheckpoint.WEIGHTS);
        if (s == null) {
            throw new IllegalArgumentException("checkpoint blob lacks " + HfCheckpoint.WEIGHTS);
        }
        return SafeTensors.tensorNames(blob, s.offset(), s.length());
    }
}
