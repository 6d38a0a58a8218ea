package org.sparkrlhf.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * Hand-made malformed safetensors files: each is refused with an IllegalArgumentException saying what is wrong,
 * before anything sized by the header is allocated.
 */
class SafeTensorsHeaderTest {
  /** A file with header {@code json} (length written as {@code claimedLength}) and {@code dataBytes} of data. */
  static byte[] file(String json, long claimedLength, int dataBytes) {
    byte[] h = json.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(claimedLength).put(h);
    for (int i = 0; i < dataBytes / 4; i++) b.putFloat(i + 1);
    return b.array();
  }

  static byte[] file(String json, int dataBytes) {
    return file(json, json.getBytes(StandardCharsets.UTF_8).length, dataBytes);
  }

  static String tensor(String name, String dtype, String shape, String offsets) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
  }

  @Test
  void aWellFormedFileReads() {
    byte[] f = file("{" + tensor("a", "F32", "[2]", "[0,8]") + "," + tensor("b", "F32", "[1,2]", "[8,16]") + "}", 16);
    SafeTensors.Contents c = SafeTensors.read(f);
    assertArrayEquals(new float[] {1, 2}, c.tensors().get("a").data());
    assertArrayEquals(new float[] {3, 4}, c.tensors().get("b").data());
  }

  @ParameterizedTest(name = "header length {0}")
  @CsvSource({
      "9223372036854775807, header length",   // Long.MAX_VALUE: 8 + length overflows negative
      "9223372036854775800, header length",
      "-1, header length",
      "-9223372036854775808, header length",
      "1, header length",
      "100000, header length",                // beyond the file
      "4294967296, header length",            // 4 GiB: an int cast would read 0
  })
  void aHeaderLengthThatDoesNotFitTheFileIsRefused(long claimed, String says) {
    byte[] f = file("{" + tensor("a", "F32", "[2]", "[0,8]") + "}", claimed, 8);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(f));
    assertTrue(e.getMessage().contains(says), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> SafeTensors.tensorNames(f, 0, f.length));
  }

  @Test
  void aHeaderAboveTheLimitIsRefusedEvenWhenTheFileIsThatLong() {
    byte[] f = new byte[(int) SafeTensors.MAX_HEADER + 16];
    ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).putLong(SafeTensors.MAX_HEADER + 1);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(f));
    assertTrue(e.getMessage().contains("header length"), e.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      // out of range
      "end beyond the data          | [2]     | [0,12]                | 8  | are not a range within the 8 data bytes",
      "begin beyond the data        | [0]     | [100,100]             | 8  | are not a range within",
      "negative begin               | [2]     | [-8,0]                | 8  | are not a range within",
      "reversed range               | [2]     | [8,0]                 | 8  | are not a range within",
      "end near Long.MAX_VALUE      | [2]     | [0,9223372036854775807] | 8  | are not a range within",
      // shape against offsets
      "count too small for range    | [1]     | [0,8]                 | 8  | needs 4 bytes, its data_offsets give 8",
      "count too large for range    | [3]     | [0,8]                 | 8  | needs 12 bytes",
      "negative dimension           | [-2]    | [0,8]                 | 8  | negative dimension",
      "two negatives multiply right | [-2,-1] | [0,8]                 | 8  | negative dimension",
      "huge count                   | [4294967296,4294967296] | [0,8] | 8  | more than 2^31 values",
      "count overflowing to range   | [4611686018427387904,2] | [0,8] | 8  | more than 2^31 values",
      "fractional dimension         | [2.5]   | [0,8]                 | 8  | must hold integers",
      "text dimension               | [\"2\"] | [0,8]                 | 8  | must hold integers",
      "shape not an array           | 2       | [0,8]                 | 8  | has no shape",
      "one offset                   | [2]     | [0]                   | 8  | needs data_offsets",
      "offsets not numbers          | [2]     | [\"0\",\"8\"]         | 8  | must hold integers",
  })
  void aTensorWhoseRangeOrShapeDoesNotFitIsRefused(String what, String shape, String offsets, int data, String says) {
    byte[] f = file("{" + tensor("w", "F32", shape, offsets) + "}", data);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(f), what);
    assertTrue(e.getMessage().contains("tensor w") && e.getMessage().contains(says), what + ": " + e.getMessage());
  }

  @Test
  void overlappingTensorsAreRefused() {
    byte[] f = file("{" + tensor("a", "F32", "[2]", "[0,8]") + "," + tensor("b", "F32", "[2]", "[4,12]") + "}", 12);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(f));
    assertEquals("tensors a and b overlap: bytes 0..8 and 4..12", e.getMessage());
    byte[] same = file("{" + tensor("a", "F32", "[2]", "[0,8]") + "," + tensor("b", "F32", "[2]", "[0,8]") + "}", 8);
    assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(same));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "not JSON           | {\"a\":                                          | not JSON",
      "an array           | [1,2,3]                                           | not a JSON object",
      "a number           | 42                                                | not a JSON object",
      "entry not object   | {\"a\":7}                                         | is not an object",
      "no dtype           | {\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}    | has no dtype",
      "unknown dtype      | {\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}} | not supported",
      "repeated name      | {\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}} | not JSON",
  })
  void aHeaderThatIsNotATensorTableIsRefused(String what, String json, String says) {
    byte[] f = file(json, 8);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(f), what);
    assertTrue(e.getMessage().contains(says), what + ": " + e.getMessage());
  }

  @Test
  void aFileShorterThanItsLengthFieldIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(new byte[5]));
    assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(new byte[0]));
  }
}
