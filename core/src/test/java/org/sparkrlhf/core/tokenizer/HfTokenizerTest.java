package org.sparkrlhf.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfTokenizerTest {

    /**
     * A small but real BPE tokenizer.json in the Llama style: {@code <s>}, {@code </s>} and
     * {@code <unk>} as special added tokens, merges that build "ab" and "abc", a Fuse decoder.
     */
    private static final String BPE_JSON = """
            {
              "version": "1.0",
              "truncation": null,
              "padding": null,
              "added_tokens": [
                {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
              ],
              "normalizer": null,
              "pre_tokenizer": null,
              "post_processor": null,
              "decoder": {"type": "Fuse"},
              "model": {
                "type": "BPE",
                "dropout": null,
                "unk_token": "<unk>",
                "continuing_subword_prefix": null,
                "end_of_word_suffix": null,
                "fuse_unk": false,
                "byte_fallback": false,
                "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4, "c": 5, "ab": 6, "abc": 7},
                "merges": ["a b", "ab c"]
              }
            }
            """;

    @Test
    void loadsARealTokenizerJsonAndFindsSpecialTokens(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, BPE_JSON, StandardCharsets.UTF_8);
        try (HfTokenizer tok = HfTokenizer.load(file)) {
            assertEquals(1, tok.bosId());
            assertEquals(2, tok.eosId());
            assertEquals(2, tok.padId(), "no pad token: pad with eos");
            assertEquals(8, tok.vocabSize());
            assertArrayEquals(new int[] {7, 6, 3}, tok.encode("abcaba"));
            assertArrayEquals(new int[] {3, 0, 4}, tok.encode("azb"));
            assertEquals("abcab", tok.decode(new int[] {1, 7, 6, 2}));
            assertEquals(BPE_JSON, tok.toTokenizerJson());
            assertEquals("hf:" + file, tok.name());
        }
    }

    @Test
    void tokenizerConfigBesideTheFileNamesTheSpecialTokens(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, BPE_JSON, StandardCharsets.UTF_8);
        Path config = dir.resolve(HfTokenizer.TOKENIZER_CONFIG);
        // a string or an added-token object; a key the config lacks means no such token (here no bos,
        // although the vocabulary has <s>), and pad falls back to eos
        Files.writeString(config, "{\"eos_token\": {\"content\": \"<s>\"}, \"unk_token\": \"<unk>\"}");
        try (HfTokenizer tok = HfTokenizer.load(file)) {
            assertEquals(-1, tok.bosId());
            assertEquals(1, tok.eosId());
            assertEquals(1, tok.padId());
        }
        Files.writeString(config, "{\"bos_token\": \"</s>\", \"pad_token\": \"<unk>\"}");
        try (HfTokenizer tok = HfTokenizer.load(file)) {
            assertEquals(2, tok.bosId());
            assertEquals(-1, tok.eosId());
            assertEquals(0, tok.padId());
        }
        Files.writeString(config, "{\"bos_token\": \"<|begin_of_text|>\"}");
        assertThrows(IllegalArgumentException.class, () -> HfTokenizer.load(file), "a token the vocabulary lacks");
    }

    @Test
    void explicitIdsOverrideAndFromJsonPicksHf() throws Exception {
        try (HfTokenizer tok = HfTokenizer.ofJson(BPE_JSON, 0, null, 1)) {
            assertEquals(0, tok.padId());
            assertEquals(1, tok.bosId());
            assertEquals(1, tok.eosId());
        }
        TextTokenizer fromJson = HfTokenizer.fromJson(BPE_JSON);
        assertInstanceOf(HfTokenizer.class, fromJson);
        assertArrayEquals(new int[] {6, 4}, fromJson.encode("abb"));
        ((HfTokenizer) fromJson).close();
    }

    @Test
    void survivesJavaSerializationLikeASparkBroadcast() throws Exception {
        HfTokenizer tok = HfTokenizer.ofJson(BPE_JSON, null, null, null);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(tok);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()));
                HfTokenizer copy = (HfTokenizer) in.readObject()) {
            assertArrayEquals(tok.encode("abcab"), copy.encode("abcab"));
            assertEquals(tok.eosId(), copy.eosId());
        }
        tok.close();
    }

    @Test
    void runsTheBuiltInJsonThroughDjlIdenticallyToJava() {
        CharTokenizer chars = new CharTokenizer();
        try (HfTokenizer viaDjl = HfTokenizer.ofJson(chars.toTokenizerJson(), null, null, null)) {
            assertEquals(chars.vocabSize(), viaDjl.vocabSize());
            assertEquals(chars.padId(), viaDjl.padId());
            assertEquals(chars.bosId(), viaDjl.bosId());
            assertEquals(chars.eosId(), viaDjl.eosId());
            for (String text : CharTokenizerTest.sampleTexts()) {
                int[] ids = chars.encode(text);
                assertArrayEquals(ids, viaDjl.encode(text), CharTokenizerTest.abbreviate(text));
                assertEquals(chars.decode(ids), viaDjl.decode(ids), CharTokenizerTest.abbreviate(text));
            }
        }
    }

    @Test
    void rejectsWhatIsNotATokenizer() {
        assertThrows(IllegalArgumentException.class, () -> HfTokenizer.fromJson("not json {"));
    }
    /**
     * A template for one sequence that names sequence B loads in the native library and then aborts the JVM on the
     * first encode (a Rust panic across JNI: what the fuzzer found). It must be refused with a reason at load, at the
     * top level and inside a Sequence of processors; without the check this test's JVM dies.
     */
    @Test
    void refusesAOneSequenceTemplateThatNamesSequenceB() {
        String single = "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", "
                + "\"type_id\": 0}}, {\"Sequence\": {\"id\": \"%s\", \"type_id\": 0}}], \"pair\": [{\"Sequence\": "
                + "{\"id\": \"A\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}], "
                + "\"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1], \"tokens\": [\"<s>\"]}}}";
        String nested = "{\"type\": \"Sequence\", \"processors\": [{\"type\": \"ByteLevel\", \"add_prefix_space\": "
                + "false, \"trim_offsets\": false, \"use_regex\": false}, " + single + "]}";
        for (String processor : new String[] {single, nested}) {
            String good = BPE_JSON.replace("\"post_processor\": null", "\"post_processor\": " + processor.formatted("A"));
            try (HfTokenizer ok = HfTokenizer.ofJson(good, null, null, null);
                 HfTokenizer plain = HfTokenizer.ofJson(BPE_JSON, null, null, null)) {
                assertArrayEquals(plain.encode("abc ab"), ok.encode("abc ab"), "a template naming A loads and encodes");
            }
            String bad = BPE_JSON.replace("\"post_processor\": null", "\"post_processor\": " + processor.formatted("B"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> HfTokenizer.ofJson(bad, null, null, null).encode("abc"));
            assertEquals("not valid tokenizer.json: post_processor's template for one sequence uses sequence B; "
                    + "one sequence has only A", e.getMessage());
        }
    }
}
