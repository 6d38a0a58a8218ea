package org.sparkrlhf.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkrlhf.core.task.ArithmeticTask;
import org.sparkrlhf.core.task.Problem;
import org.sparkrlhf.core.task.TaskSpec;

class CharTokenizerTest {

    private final CharTokenizer tok = new CharTokenizer();

    @Test
    void vocabulary() {
        assertEquals(22, tok.vocabSize());
        assertEquals(0, tok.padId());
        assertEquals(1, tok.bosId());
        assertEquals(2, tok.eosId());
        assertArrayEquals(new int[] {4, 13, 14, 15, 16, 17, 18, 19, 20, 21}, tok.encode("09+-*=?# \n"));
        assertArrayEquals(new int[] {5, 6, 14, 11, 16, 7, 17, 18, 21}, tok.encode("12+7*3=?\n"));
    }

    @Test
    void roundTripOfGeneratedTask() {
        for (String split : ArithmeticTask.SPLITS) {
            for (Problem p : ArithmeticTask.generate(TaskSpec.defaults(), split, 500)) {
                String text = p.prompt() + p.completion();
                int[] ids = tok.encode(text);
                assertEquals(text.length(), ids.length);
                assertEquals(text, tok.decode(ids));
                assertEquals(-1, Arrays.stream(ids).filter(id -> id == CharTokenizer.UNK).findAny().orElse(-1));
            }
        }
    }

    @Test
    void unknownCharactersAndSpecialTokens() {
        assertArrayEquals(new int[] {5, 3, 3, 6}, tok.encode("1ab2"));
        assertArrayEquals(new int[] {3}, tok.encode("\uD83D\uDE00"), "a surrogate pair is one character");
        assertArrayEquals(new int[] {3, 3}, tok.encode("é\t"));
        assertArrayEquals(new int[0], tok.encode(""));
        assertEquals("1+2\n", tok.decode(new int[] {1, 5, 14, 6, 21, 2, 0, 0, 3}));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {22}));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {-1}));
    }

    @Test
    void djlLoadsTheTokenizerJsonAndAgrees(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, tok.toTokenizerJson(), StandardCharsets.UTF_8);
        List<String> texts = sampleTexts();
        // DJL truncates to 512 tokens unless told not to; the long sample text checks that too.
        Map<String, String> options = Map.of("addSpecialTokens", "false", "truncation", "false");
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(file, options)) {
            for (String text : texts) {
                long[] hfIds = hf.encode(text).getIds();
                int[] ids = tok.encode(text);
                assertArrayEquals(ids, Arrays.stream(hfIds).mapToInt(x -> (int) x).toArray(), abbreviate(text));
                assertEquals(tok.decode(ids), hf.decode(hfIds, true), abbreviate(text));
            }
            // Special tokens are skipped by both decoders.
            assertEquals("7\n", hf.decode(new long[] {1, 11, 21, 2, 0}, true));
        }
        // Asked for special tokens, the Hugging Face side prepends <bos> as Llama tokenizers do.
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "true"))) {
            assertArrayEquals(new long[] {1, 5, 14, 6}, hf.encode("1+2").getIds());
        }
    }

    @Test
    void fromJsonRecognizesTheBuiltInTokenizer() throws Exception {
        TextTokenizer loaded = HfTokenizer.fromJson(tok.toTokenizerJson());
        assertInstanceOf(CharTokenizer.class, loaded);
        assertEquals(tok, loaded);

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(tok);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            TextTokenizer copy = (TextTokenizer) in.readObject();
            assertArrayEquals(tok.encode("3*4=?\n"), copy.encode("3*4=?\n"));
        }
    }

    static String abbreviate(String text) {
        return text.length() <= 80 ? text : text.substring(0, 80) + "… (" + text.length() + " chars)";
    }

    /** Task text, text with characters outside the vocabulary, and one long text (no truncation). */
    static List<String> sampleTexts() {
        List<String> texts = new ArrayList<>();
        for (Problem p : ArithmeticTask.generate(TaskSpec.defaults(), ArithmeticTask.TEST, 200)) {
            texts.add(p.prompt() + p.completion());
        }
        for (Problem p : ArithmeticTask.generate(TaskSpec.defaults(), ArithmeticTask.TEST_OOD, 50)) {
            texts.add(p.prompt() + p.completion());
        }
        SplittableRandom rng = new SplittableRandom(3);
        String alphabet = "0123456789+-*=?# \n\n  abcXYZ\t.é€";
        for (int i = 0; i < 100; i++) {
            StringBuilder sb = new StringBuilder();
            int len = 1 + rng.nextInt(40);
            for (int k = 0; k < len; k++) {
                sb.append(alphabet.charAt(rng.nextInt(alphabet.length())));
            }
            texts.add(sb.toString());
        }
        texts.add("  leading and trailing spaces \n\n");
        texts.add("=1+2\n".repeat(1_000));
        return texts;
    }
}
