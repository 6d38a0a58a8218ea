package org.sparkrlhf.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A small, pure-Java reader/writer of the safetensors format
 * (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON {@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}}
 * (padded with spaces to a multiple of 8), then the raw little-endian tensor bytes; offsets are
 * relative to the start of the data section.
 *
 * <p>Reads F32, F16, BF16 (and F64), always returning float32 values: half-precision data is widened in
 * Java before any NDArray exists (a bf16 NDArray crashes the JVM with this PyTorch build). Writes F32.
 * Whole files live in one {@code byte[]}, so tensors files are limited to 2 GiB.
 *
 * <p>A file is untrusted input (a downloaded checkpoint, a broadcast blob): its header is checked whole before
 * any tensor is allocated, and a header length beyond the file or {@link #MAX_HEADER}, a negative, reversed,
 * out-of-range or overlapping data range, a negative dimension, or a shape whose element count does not fill its
 * range exactly is refused with an {@link IllegalArgumentException} naming the tensor, never an
 * allocation sized by the header.
 */
public final class SafeTensors {

    // Strict about repeated names: with the default, a second entry of a name would silently replace the first.
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    /** Largest header read (the safetensors library's own limit): a header holds names and shapes, never data. */
    static final long MAX_HEADER = 100_000_000;
    private static final String METADATA = "__metadata__";

    private SafeTensors() {
    }

    /** One tensor as float32 values in row-major order. */
    public record Tensor(long[] shape, float[] data) {
        public Tensor {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            if (n != data.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n
                        + " values, got " + data.length);
            }
        }

        /** Copies a float32 NDArray out of the engine. */
        public static Tensor of(NDArray array) {
            if (array.getDataType() != DataType.FLOAT32) {
                throw new IllegalArgumentException("only float32 arrays are written, got " + array.getDataType());
            }
            return new Tensor(array.getShape().getShape(), array.toFloatArray());
        }

        /** Creates a float32 NDArray in {@code manager}. */
        public NDArray toNDArray(NDManager manager) {
            return manager.create(data, new Shape(shape));
        }
    }

    /** A parsed file: tensors in file-offset order, and the string metadata (empty if none). */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {
    }

    // ------------------------------------------------------------------------------------- reading

    /** The JSON header of the safetensors file at {@code buf[start, start + length)} and where its data begins. */
    private record Header(JsonNode json, int dataStart) {
    }

    private static Header header(byte[] buf, int start, int length) {
        if (start < 0 || length < 8 || length > buf.length - start) {
            throw new IllegalArgumentException("safetensors file too short (" + length + " bytes)");
        }
        long headerLen = ByteBuffer.wrap(buf, start, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        // Compared as length - 8, not 8 + headerLen: a length near Long.MAX_VALUE would overflow past the check.
        if (headerLen < 2 || headerLen > length - 8 || headerLen > MAX_HEADER) {
            throw new IllegalArgumentException("bad safetensors header length " + headerLen + " in a file of "
                    + length + " bytes");
        }
        JsonNode json;
        try {
            json = JSON.readTree(new String(buf, start + 8, (int) headerLen, StandardCharsets.UTF_8).trim());
        } catch (IOException e) {
            String why = e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage()
                    : e.getMessage();
            throw new IllegalArgumentException("safetensors header is not JSON: " + why, e);
        }
        if (json == null || !json.isObject()) {
            throw new IllegalArgumentException("safetensors header is not a JSON object");
        }
        return new Header(json, start + 8 + (int) headerLen);
    }

    /**
     * The tensor names of the safetensors file at {@code buf[start, start + length)}, from its header alone
     * (no tensor is decoded), in header order.
     */
    public static java.util.Set<String> tensorNames(byte[] buf, int start, int length) {
        java.util.Set<String> names = new java.util.LinkedHashSet<>();
        header(buf, start, length).json().fieldNames().forEachRemaining(names::add);
        names.remove(METADATA);
        return Collections.unmodifiableSet(names);
    }

    public static Contents read(byte[] file) {
        Header parsed = header(file, 0, file.length);
        ByteBuffer buf = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int dataStart = parsed.dataStart();
        JsonNode header = parsed.json();
        Map<String, String> metadata = new LinkedHashMap<>();
        JsonNode md = header.get(METADATA);
        if (md != null && md.isObject()) {
            md.fields().forEachRemaining(e -> metadata.put(e.getKey(), e.getValue().asText()));
        }
        // Every entry is checked, then ordered by offset (the file's own order), before anything is allocated.
        java.util.List<Entry> entries = new java.util.ArrayList<>();
        long dataLength = file.length - (long) dataStart;
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getKey().equals(METADATA)) {
                entries.add(Entry.of(e.getKey(), e.getValue(), dataLength));
            }
        }
        entries.sort((a, b) -> Long.compare(a.begin, b.begin));
        for (int i = 1; i < entries.size(); i++) {
            Entry prev = entries.get(i - 1);
            Entry e = entries.get(i);
            if (e.begin < prev.end) {
                throw new IllegalArgumentException("tensors " + prev.name + " and " + e.name + " overlap: bytes "
                        + prev.begin + ".." + prev.end + " and " + e.begin + ".." + e.end);
            }
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Entry e : entries) {
            int n = e.elements;
            float[] out = new float[n];
            int pos = (int) (dataStart + e.begin);
            switch (e.dtype) {
                case "F32" -> buf.slice(pos, n * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
                case "F64" -> {
                    for (int i = 0; i < n; i++) {
                        out[i] = (float) buf.getDouble(pos + 8 * i);
                    }
                }
                case "F16" -> {
                    for (int i = 0; i < n; i++) {
                        out[i] = halfToFloat(buf.getShort(pos + 2 * i));
                    }
                }
                case "BF16" -> {
                    for (int i = 0; i < n; i++) {
                        out[i] = bf16ToFloat(buf.getShort(pos + 2 * i));
                    }
                }
                default -> throw new IllegalStateException();
            }
            tensors.put(e.name, new Tensor(e.shape, out));
        }
        return new Contents(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    /** One header entry, checked against the data section of {@code dataLength} bytes. */
    private record Entry(String name, String dtype, long[] shape, int elements, long begin, long end) {
        static Entry of(String name, JsonNode t, long dataLength) {
            if (!t.isObject()) {
                throw bad(name, "is not an object");
            }
            JsonNode dtypeNode = t.get("dtype");
            if (dtypeNode == null || !dtypeNode.isTextual()) {
                throw bad(name, "has no dtype");
            }
            String dtype = dtypeNode.asText();
            int width = dtypeWidth(dtype, name);
            JsonNode shapeNode = t.get("shape");
            if (shapeNode == null || !shapeNode.isArray()) {
                throw bad(name, "has no shape");
            }
            long[] shape = new long[shapeNode.size()];
            long n = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = integer(shapeNode.get(i), name, "shape");
                if (shape[i] < 0) {
                    throw bad(name, "has a negative dimension in shape " + shapeNode);
                }
                n = multiplyOrMax(n, shape[i]);
            }
            JsonNode off = t.get("data_offsets");
            if (off == null || !off.isArray() || off.size() != 2) {
                throw bad(name, "needs data_offsets [begin, end]");
            }
            long begin = integer(off.get(0), name, "data_offsets");
            long end = integer(off.get(1), name, "data_offsets");
            if (begin < 0 || end < begin || end > dataLength) {
                throw bad(name, "data_offsets " + begin + ".." + end + " are not a range within the "
                        + dataLength + " data bytes");
            }
            // A count that does not fill the range exactly is refused (the range bounds n, so this also bounds the
            // allocation by the file's size).
            if (n > Integer.MAX_VALUE || multiplyOrMax(n, width) != end - begin) {
                throw bad(name, "shape " + Arrays.toString(shape) + " of " + dtype + " needs "
                        + (n > Integer.MAX_VALUE ? "more than 2^31 values" : multiplyOrMax(n, width) + " bytes")
                        + ", its data_offsets give " + (end - begin));
            }
            return new Entry(name, dtype, shape, (int) n, begin, end);
        }

        private static long integer(JsonNode v, String name, String field) {
            if (v == null || !v.isIntegralNumber() || !v.canConvertToLong()) {
                throw bad(name, field + " must hold integers, got " + v);
            }
            return v.asLong();
        }

        /** a·b, or Long.MAX_VALUE when it overflows (the checks above then refuse it). */
        private static long multiplyOrMax(long a, long b) {
            try {
                return Math.multiplyExact(a, b);
            } catch (ArithmeticException overflow) {
                return Long.MAX_VALUE;
            }
        }

        private static IllegalArgumentException bad(String name, String what) {
            return new IllegalArgumentException("safetensors tensor " + name + " " + what);
        }
    }

    private static int dtypeWidth(String dtype, String name) {
        return switch (dtype) {
            case "F32" -> 4;
            case "F64" -> 8;
            case "F16", "BF16" -> 2;
            default -> throw new IllegalArgumentException("tensor " + name + ": dtype " + dtype
                    + " is not supported (F32, F16, BF16, F64)");
        };
    }

    /** bfloat16 bits (the top half of a float32) to float. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** IEEE 754 binary16 bits to float, including subnormals, infinities and NaN. */
    public static float halfToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) { // inf / nan
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            // zero or subnormal: mant * 2^-24, exact in float
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    // ------------------------------------------------------------------------------------- writing

    /**
     * Writes tensors as F32 in the map's iteration order, with {@code metadata} as
     * {@code __metadata__} (may be null or empty).
     */
    public static void write(OutputStream out, Map<String, Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode md = header.putObject(METADATA);
            metadata.forEach(md::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey().equals(METADATA)) {
                throw new IllegalArgumentException("reserved tensor name " + METADATA);
            }
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shape = t.putArray("shape");
            for (long d : e.getValue().shape()) {
                shape.add(d);
            }
            long len = 4L * e.getValue().data().length;
            t.putArray("data_offsets").add(offset).add(offset + len);
            offset += len;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        out.write(head.array());
        for (Tensor t : tensors.values()) {
            ByteBuffer b = ByteBuffer.allocate(4 * t.data().length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(t.data());
            out.write(b.array());
        }
    }

    public static byte[] write(Map<String, Tensor> tensors, Map<String, String> metadata) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try {
            write(bos, tensors, metadata);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bos.toByteArray();
    }
}
