package org.sparkrlhf.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.sparkrlhf.core.batch.TokenSequence;

/**
 * Meta's Llama 3 tokenizer (byte-level BPE, 128,256 tokens) against ids computed by someone else: llama.cpp's
 * tokenizer test vectors (resources {@code llama3-vocab/}), made with {@code transformers} from the original model.
 *
 * <p>The tokenizer files are fetched, not committed, by {@code tools/hf-reference/fetch-llama3-tokenizer.sh}
 * (sha256-pinned). Without them the test is skipped on a developer's machine and fails under CI, so a CI that
 * forgot the fetch cannot pass by testing nothing.
 */
class Llama3TokenizerTest {

    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    private static HfTokenizer tok;

    @BeforeAll
    static void load() {
        Path file = Llama3Files.folder().resolve("tokenizer.json");
        tok = HfTokenizer.load(file);
    }

    @AfterAll
    static void close() {
        if (tok != null) {
            tok.close();
        }
    }

    record Case(String text, int[] ids) {
    }

    /** The vectors, parsed as llama.cpp's test-tokenizer-0 parses them. */
    static List<Case> vectors() throws IOException {
        String inp = resource("ggml-vocab-llama-bpe.gguf.inp");
        String[] outLines = resource("ggml-vocab-llama-bpe.gguf.out").split("\n", -1);
        List<String> texts = new ArrayList<>();
        int pos = 0;
        while (pos < inp.length()) {
            int next = inp.indexOf(SEPARATOR, pos);
            if (next < 0) {
                texts.add(inp.substring(pos));
                break;
            }
            texts.add(inp.substring(pos, next));
            pos = next + SEPARATOR.length();
        }
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            String line = outLines[i].strip();
            int[] ids = line.isEmpty() ? new int[0] : Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray();
            cases.add(new Case(texts.get(i), ids));
        }
        // the .out file ends with a newline, so one empty string follows its last line
        assertEquals(texts.size() + 1, outLines.length, "every text has its line of ids");
        return cases;
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = Llama3TokenizerTest.class.getResourceAsStream("/llama3-vocab/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void encodesEveryVectorExactlyAndDecodesItBack() throws IOException {
        List<Case> cases = vectors();
        assertEquals(46, cases.size(), "the vector files hold 46 texts");
        List<Executable> checks = new ArrayList<>();
        for (Case c : cases) {
            String label = "\"" + c.text().replace("\n", "\\n").replace("\t", "\\t") + "\"";
            checks.add(() -> assertArrayEquals(c.ids(), tok.encode(c.text()), "ids of " + label));
            checks.add(() -> assertEquals(c.text(), tok.decode(c.ids()), "text of the ids of " + label));
        }
        assertAll(checks);
    }

    @Test
    void specialTokensComeFromTokenizerConfig() {
        // tokenizer_config.json: bos <|begin_of_text|>, eos <|end_of_text|>, no pad token (so pad = eos)
        assertEquals(128000, tok.bosId());
        assertEquals(128001, tok.eosId());
        assertEquals(128001, tok.padId());
        assertEquals(128256, tok.vocabSize());
        // Llama 3's tokenizer.json adds no bos of its own; the model's input gets it from TokenSequence.
        assertArrayEquals(new int[] {9906, 1917}, tok.encode("Hello world"));
        assertArrayEquals(new int[] {128000, 9906, 1917}, TokenSequence.promptIds(tok, "Hello world"));
        assertEquals("Hello world", tok.decode(new int[] {128000, 9906, 1917, 128001}),
                "decode skips special tokens");
    }

    /**
     * A chat turn ends with {@code <|eot_id|>}, not eos: both stop a reply (as Llama 3 Instruct's
     * generation_config lists both), and a completion the chat template closed with it gets no eos after it.
     */
    @Test
    void chatTurnEndStopsAndNeedsNoEos() {
        assertArrayEquals(new int[] {128001, 128009}, tok.stopIds());
        assertArrayEquals(new int[] {128009}, tok.encode("<|eot_id|>"));
        TokenSequence turn = TokenSequence.encode(tok, "Hi", "#### 5<|eot_id|>", true);
        assertEquals(128009, turn.ids()[turn.length() - 1]);
        TokenSequence plain = TokenSequence.encode(tok, "Hi", "#### 5", true);
        assertEquals(128001, plain.ids()[plain.length() - 1]);
        assertEquals(turn.length(), plain.length(), "the end-of-turn token in place of eos");
        HfTokenizer fromJsonOnly = (HfTokenizer) HfTokenizer.fromJson(tok.toTokenizerJson());
        assertArrayEquals(new int[] {128001, 128009}, fromJsonOnly.stopIds(), "a checkpoint carries only tokenizer.json");
        fromJsonOnly.close();
    }
}
