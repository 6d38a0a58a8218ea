package org.sparkrlhf.core.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import java.util.List;

/**
 * The built-in tokenizer of the arithmetic task: one token per character, so every digit is
 * its own token (with multi-digit tokens the model would have to learn arithmetic over an
 * arbitrary chunking of numbers, which is much harder).
 *
 * <p>Vocabulary (ids are part of every checkpoint, so never reorder):
 * <pre>
 *  0 &lt;pad&gt;   1 &lt;bos&gt;   2 &lt;eos&gt;   3 &lt;unk&gt;
 *  4..13 '0'..'9'   14 '+'   15 '-'   16 '*'   17 '='   18 '?'   19 '#'   20 ' '   21 '\n'
 * </pre>
 * Any other character (one Unicode code point) encodes to {@code <unk>}. Encoding and decoding
 * are plain array lookups in Java: they run in the rollout and training hot loops.
 *
 * <p>{@link #toTokenizerJson()} writes the same tokenizer as a Hugging Face {@code tokenizer.json}
 * (a WordLevel model behind a split-every-character pre-tokenizer and a Fuse decoder), so
 * checkpoints load in the Hugging Face ecosystem and in DJL and give the same ids.
 */
public final class CharTokenizer implements TextTokenizer {

    private static final long serialVersionUID = 1L;

    public static final int PAD = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    public static final int UNK = 3;

    /** Special tokens, then one token per character of the task's alphabet. */
    public static final List<String> VOCAB = List.of(
            "<pad>", "<bos>", "<eos>", "<unk>",
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
            "+", "-", "*", "=", "?", "#", " ", "\n");

    private static final int SPECIAL_COUNT = 4;
    private static final String NAME = "char-arith-v1";
    private static final int[] ID_OF_CHAR = new int[128];

    static {
        Arrays.fill(ID_OF_CHAR, UNK);
        for (int id = SPECIAL_COUNT; id < VOCAB.size(); id++) {
            ID_OF_CHAR[VOCAB.get(id).charAt(0)] = id;
        }
    }

    @Override
    public int[] encode(String text) {
        int[] ids = new int[text.length()];
        int n = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            // A surrogate pair is one character to the Hugging Face side: one <unk>, not two.
            if (Character.isHighSurrogate(c) && i + 1 < text.length()
                    && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            }
            ids[n++] = c < ID_OF_CHAR.length ? ID_OF_CHAR[c] : UNK;
        }
        return n == ids.length ? ids : Arrays.copyOf(ids, n);
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder(ids.length);
        for (int id : ids) {
            if (id < 0 || id >= VOCAB.size()) {
                throw new IllegalArgumentException("token id " + id + " outside vocabulary of " + VOCAB.size());
            }
            if (id >= SPECIAL_COUNT) {
                sb.append(VOCAB.get(id).charAt(0));
            }
        }
        return sb.toString();
    }

    @Override
    public int vocabSize() {
        return VOCAB.size();
    }

    @Override
    public int padId() {
        return PAD;
    }

    @Override
    public int bosId() {
        return BOS;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    @Override
    public String name() {
        return NAME;
    }

    /**
     * The Hugging Face {@code tokenizer.json}. The pre-tokenizer isolates every character with
     * the pattern {@code [\s\S]} rather than {@code .}, because {@code .} does not match a newline
     * in the tokenizers library's regex engine and newlines are part of the format. The post
     * processor adds {@code <bos>} when a Hugging Face caller asks for special tokens, the way
     * Llama tokenizers do; with special tokens off the ids equal {@link #encode}.
     */
    @Override
    public String toTokenizerJson() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < SPECIAL_COUNT; id++) {
            added.addObject()
                    .put("id", id)
                    .put("content", VOCAB.get(id))
                    .put("single_word", false)
                    .put("lstrip", false)
                    .put("rstrip", false)
                    .put("normalized", false)
                    .put("special", true);
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Split");
        pre.putObject("pattern").put("Regex", "[\\s\\S]");
        pre.put("behavior", "Isolated");
        pre.put("invert", false);

        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", VOCAB.get(BOS)).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", VOCAB.get(BOS)).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject(VOCAB.get(BOS));
        bos.put("id", VOCAB.get(BOS));
        bos.putArray("ids").add(BOS);
        bos.putArray("tokens").add(VOCAB.get(BOS));

        root.putObject("decoder").put("type", "Fuse");
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < VOCAB.size(); id++) {
            vocab.put(VOCAB.get(id), id);
        }
        model.put("unk_token", VOCAB.get(UNK));
        try {
            return mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot happen: writing an in-memory JSON tree", e);
        }
    }

    /** True when a {@code tokenizer.json}'s model is exactly this tokenizer's vocabulary. */
    static boolean isBuiltIn(JsonNode tokenizerJson) {
        JsonNode model = tokenizerJson.path("model");
        JsonNode vocab = model.path("vocab");
        if (!"WordLevel".equals(model.path("type").asText()) || !vocab.isObject() || vocab.size() != VOCAB.size()) {
            return false;
        }
        for (int id = 0; id < VOCAB.size(); id++) {
            JsonNode entry = vocab.get(VOCAB.get(id));
            if (entry == null || !entry.isInt() || entry.intValue() != id) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CharTokenizer;
    }

    @Override
    public int hashCode() {
        return NAME.hashCode();
    }

    @Override
    public String toString() {
        return NAME;
    }
}
