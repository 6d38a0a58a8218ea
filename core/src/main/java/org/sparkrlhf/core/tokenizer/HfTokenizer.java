package org.sparkrlhf.core.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A real model's tokenizer: any Hugging Face {@code tokenizer.json}, run by DJL's
 * {@link HuggingFaceTokenizer} (the Rust tokenizers library through JNI).
 *
 * <p>The instance holds the JSON text and loads the native tokenizer lazily, so it can be
 * serialized to Spark executors and rebuilt there.
 *
 * <p>Special-token ids, when not given: from a {@code tokenizer_config.json} when there is one
 * (its {@code bos_token}, {@code eos_token} and {@code pad_token}; a key it lacks means the model
 * has no such token, as in {@code transformers}), otherwise the first of the usual names that
 * exists in {@code tokenizer.json} (e.g. {@code <s>}, {@code </s>}, {@code <|endoftext|>},
 * {@code <pad>}). A tokenizer without a pad token pads with eos, as is common for decoder-only
 * models. Whether a model's text starts with bos is not this class's business: {@link #encode}
 * never adds special tokens (some tokenizer.json files add bos in their post-processor, Llama 3's
 * does not), and {@link org.sparkrlhf.core.batch.TokenSequence}, which builds every model input,
 * prepends {@link #bosId()} whenever there is one.
 */
public final class HfTokenizer implements TextTokenizer, AutoCloseable {

    private static final long serialVersionUID = 1L;

    /** The file beside {@code tokenizer.json} that names the special tokens (transformers' layout). */
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";

    /** Where transformers 4.43 and later save the chat template instead of inside {@link #TOKENIZER_CONFIG}. */
    public static final String CHAT_TEMPLATE_FILE = "chat_template.jinja";

    private static final List<String> BOS_NAMES =
            List.of("<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "[CLS]");
    private static final List<String> EOS_NAMES =
            List.of("</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>", "<|eot_id|>", "[SEP]");
    /**
     * The tokens chat templates close a turn with (Llama 3, ChatML, Gemma, Phi-3): a reply ends there, so they stop
     * generation beside eos, as Llama 3 Instruct's generation_config lists both {@code <|end_of_text|>} and
     * {@code <|eot_id|>}.
     */
    private static final List<String> TURN_END_NAMES =
            List.of("<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>");
    private static final List<String> PAD_NAMES =
            List.of("<pad>", "<|pad|>", "[PAD]", "<|finetune_right_pad_id|>");

    private final String json;
    private final String name;
    private final int vocabSize;
    private final int padId;
    private final int bosId;
    private final int eosId;
    private final int[] stopIds;
    private final String chatTemplate;
    private final String bosText;
    private final String eosText;
    private transient volatile HuggingFaceTokenizer delegate;

    private HfTokenizer(String json, String configJson, String templateFile, String name, Integer padId,
                        Integer bosId, Integer eosId) {
        JsonNode root = parse(json);
        JsonNode config = configJson == null ? null : parse(configJson);
        this.chatTemplate = templateFile != null ? templateFile : chatTemplate(config);
        this.bosText = config == null ? null : tokenText(config.path("bos_token"));
        this.eosText = config == null ? null : tokenText(config.path("eos_token"));
        Map<String, Integer> ids = tokenIds(root);
        checkSingleTemplates(root.path("post_processor"));
        this.json = json;
        this.name = name;
        this.vocabSize = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        this.bosId = bosId != null ? bosId : special(ids, config, "bos_token", BOS_NAMES);
        this.eosId = eosId != null ? eosId : special(ids, config, "eos_token", EOS_NAMES);
        int pad = padId != null ? padId : special(ids, config, "pad_token", PAD_NAMES);
        this.padId = pad >= 0 ? pad : this.eosId;
        this.stopIds = java.util.stream.IntStream.concat(java.util.stream.IntStream.of(this.eosId),
                TURN_END_NAMES.stream().filter(ids::containsKey).mapToInt(ids::get))
                .filter(i -> i >= 0).distinct().toArray();
        // Fail at construction, not in the middle of a job, if the file is not a tokenizer. The native library
        // reports a file it cannot read as a bare RuntimeException; it is the file that is wrong, so say so.
        try {
            delegate();
        } catch (UncheckedIOException | IllegalArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a loadable tokenizer.json: " + e.getMessage(), e);
        }
    }

    /**
     * Loads {@code tokenizer.json}, taking pad/bos/eos ids from the {@code tokenizer_config.json}
     * beside it when there is one, else looking them up in the tokenizer.
     */
    public static HfTokenizer load(Path tokenizerJson) {
        return load(tokenizerJson, null, null, null);
    }

    /** {@link #load(Path)}; a non-null id overrides the one from the files. */
    public static HfTokenizer load(Path tokenizerJson, Integer padId, Integer bosId, Integer eosId) {
        Path config = tokenizerJson.resolveSibling(TOKENIZER_CONFIG);
        Path template = tokenizerJson.resolveSibling(CHAT_TEMPLATE_FILE);
        try {
            String text = Files.readString(tokenizerJson, StandardCharsets.UTF_8);
            String configText = Files.exists(config) ? Files.readString(config, StandardCharsets.UTF_8) : null;
            String templateText = Files.exists(template) ? Files.readString(template, StandardCharsets.UTF_8) : null;
            return new HfTokenizer(text, configText, templateText, "hf:" + tokenizerJson, padId, bosId, eosId);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + tokenizerJson + " or " + config, e);
        }
    }

    /** A tokenizer from {@code tokenizer.json} text; a non-null id overrides the looked-up one. */
    public static HfTokenizer ofJson(String json, Integer padId, Integer bosId, Integer eosId) {
        return new HfTokenizer(json, null, null, "hf", padId, bosId, eosId);
    }

    /**
     * The tokenizer a checkpoint's {@code tokenizer.json} describes: the pure-Java
     * {@link CharTokenizer} when it is the built-in one (same vocabulary, id for id), so the hot
     * loops skip JNI; otherwise an {@link HfTokenizer}.
     */
    public static TextTokenizer fromJson(String json) {
        return CharTokenizer.isBuiltIn(parse(json)) ? new CharTokenizer() : ofJson(json, null, null, null);
    }

    /**
     * The tokenizer's own chat template ({@value #CHAT_TEMPLATE_FILE} beside it, else {@code chat_template} of
     * {@value #TOKENIZER_CONFIG}; of a list of named templates, the one named {@code default}), with its bos and
     * eos text; empty when it has none.
     */
    public java.util.Optional<ChatTemplate> chatTemplate(java.time.Instant now) {
        return chatTemplate == null || chatTemplate.isBlank() ? java.util.Optional.empty()
                : java.util.Optional.of(new ChatTemplate(chatTemplate, bosText, eosText, now));
    }

    private static String chatTemplate(JsonNode config) {
        if (config == null) return null;
        JsonNode t = config.path("chat_template");
        if (t.isTextual()) return t.asText();
        for (JsonNode named : t) {
            if ("default".equals(named.path("name").asText())) return named.path("template").asText(null);
        }
        return null;
    }

    private static String tokenText(JsonNode v) {
        return v.isTextual() ? v.asText() : v.path("content").isTextual() ? v.path("content").asText() : null;
    }

    @Override
    public int[] encode(String text) {
        long[] ids;
        try {
            ids = delegate().encode(text, false, false).getIds();
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            // A file that loads can still be unable to encode (a WordLevel model whose unk token is not in its
            // vocabulary fails on the first unknown word): the file is at fault, not the caller.
            throw new IllegalArgumentException("tokenizer " + name + " cannot encode a text: " + e.getMessage(), e);
        }
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            wide[i] = ids[i];
        }
        return delegate().decode(wide, true);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int padId() {
        return padId;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public int[] stopIds() {
        return stopIds.clone();
    }

    @Override
    public String toTokenizerJson() {
        return json;
    }

    @Override
    public String name() {
        return name;
    }

    /** Frees the native tokenizer; a later call loads it again. */
    @Override
    public synchronized void close() {
        if (delegate != null) {
            delegate.close();
            delegate = null;
        }
    }

    private HuggingFaceTokenizer delegate() {
        HuggingFaceTokenizer d = delegate;
        if (d == null) {
            synchronized (this) {
                d = delegate;
                if (d == null) {
                    d = load(json);
                    delegate = d;
                }
            }
        }
        return d;
    }

    private static HuggingFaceTokenizer load(String json) {
        // Special tokens are the caller's business (see TextTokenizer.encode), and a hidden
        // truncation to the model's max length would silently cut long rollouts.
        Map<String, String> options = Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");
        try {
            return HuggingFaceTokenizer.newInstance(
                    new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), options);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load tokenizer.json", e);
        }
    }

    private static JsonNode parse(String json) {
        try {
            return new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("not valid tokenizer.json: " + e.getMessage(), e);
        }
    }

    /**
     * Refuses a post-processor template for one sequence that names sequence B. The native library accepts such a
     * file and then indexes a second sequence that is not there on every encode, which aborts the JVM (a Rust panic
     * across JNI) instead of raising an error; found by {@code CoverageGuidedFuzzTest}. Sequence processors are
     * walked into, since each of theirs runs.
     */
    private static void checkSingleTemplates(JsonNode processor) {
        for (JsonNode inner : processor.path("processors")) {
            checkSingleTemplates(inner);
        }
        for (JsonNode piece : processor.path("single")) {
            JsonNode seq = piece.path("Sequence");
            if (!seq.isMissingNode() && !"A".equals(seq.path("id").asText("A"))) {
                throw new IllegalArgumentException("not valid tokenizer.json: post_processor's template for one "
                        + "sequence uses sequence " + seq.path("id").asText() + "; one sequence has only A");
            }
        }
    }

    /**
     * Ids above this are refused: 64 times the largest vocabularies in use, and a corrupt id would otherwise size
     * the vocabulary (and a model's embedding table) or overflow it.
     */
    static final int MAX_TOKEN_ID = 1 << 24;

    /** Token text → id over the model vocabulary and the added tokens; an id out of range is refused. */
    private static Map<String, Integer> tokenIds(JsonNode root) {
        Map<String, Integer> ids = rawTokenIds(root);
        for (Map.Entry<String, Integer> e : ids.entrySet()) {
            if (e.getValue() < 0 || e.getValue() > MAX_TOKEN_ID) {
                throw new IllegalArgumentException("not valid tokenizer.json: token " + e.getKey() + " has id "
                        + e.getValue() + ", outside 0.." + MAX_TOKEN_ID);
            }
        }
        return ids;
    }

    private static Map<String, Integer> rawTokenIds(JsonNode root) {
        Map<String, Integer> ids = new HashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            for (Map.Entry<String, JsonNode> e : vocab.properties()) {
                ids.put(e.getKey(), e.getValue().asInt());
            }
        } else if (vocab.isArray()) {
            // Unigram: a list of [piece, score] pairs, the id being the position.
            for (int i = 0; i < vocab.size(); i++) {
                ids.put(vocab.get(i).path(0).asText(), i);
            }
        }
        for (JsonNode added : root.path("added_tokens")) {
            ids.put(added.path("content").asText(), added.path("id").asInt());
        }
        return ids;
    }

    /**
     * The id of a special token: the one {@code tokenizer_config.json} names under {@code key} (a
     * string, or an added-token object with {@code content}), -1 when it names none; without a
     * config, the first of {@code names} that the vocabulary has.
     */
    private static int special(Map<String, Integer> ids, JsonNode config, String key, List<String> names) {
        if (config == null) {
            return firstPresent(ids, names);
        }
        JsonNode v = config.path(key);
        String content = v.isTextual() ? v.asText() : v.path("content").isTextual() ? v.path("content").asText() : null;
        if (content == null) {
            return -1;
        }
        Integer id = ids.get(content);
        if (id == null) {
            throw new IllegalArgumentException(TOKENIZER_CONFIG + " names " + key + " " + content
                    + ", which tokenizer.json does not have");
        }
        return id;
    }

    private static int firstPresent(Map<String, Integer> ids, List<String> names) {
        for (String n : names) {
            Integer id = ids.get(n);
            if (id != null) {
                return id;
            }
        }
        return -1;
    }

    @Override
    public String toString() {
        return name;
    }
}
