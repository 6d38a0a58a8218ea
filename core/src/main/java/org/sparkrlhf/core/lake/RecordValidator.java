package org.sparkrlhf.core.lake;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.sparkrlhf.core.tokenizer.ChatTemplate;

/**
 * Checks one imported record against the shape of its kind and either returns the clean record or
 * the reason it is refused. Pure and Spark-free: the import stage runs it on the executors, one task
 * per file, and the tests run it directly.
 *
 * <p>Kinds and their fields (the usual names in public preference and SFT data sets):
 * <ul>
 *   <li>{@code sft}: {@code prompt}, {@code completion} → sft_demos
 *   <li>{@code preference}: {@code prompt}, {@code chosen}, {@code rejected} → preferences
 *   <li>{@code step}: {@code prompt}, {@code completions[]}, {@code labels[]} → step_labels
 *   <li>{@code prompt}: {@code prompt}, {@code answer} (optional) → prompts
 * </ul>
 * An optional {@code id} (string or integer) names the row; without one the id is a hash of the
 * content, so re-importing the same file is idempotent and a repeated row counts as a duplicate.
 */
public final class RecordValidator implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON = new ObjectMapper();

  public enum Kind {
    SFT("sft", Tables.SFT_DEMOS),
    PREFERENCE("preference", Tables.PREFERENCES),
    STEP("step", Tables.STEP_LABELS),
    PROMPT("prompt", Tables.PROMPTS);

    public final String label;
    public final String table;

    Kind(String label, String table) {
      this.label = label;
      this.table = table;
    }

    public static Kind parse(String s) {
      for (Kind k : values()) {
        if (k.label.equals(s)) return k;
      }
      throw new org.sparkrlhf.core.UserError("unknown import kind '" + s + "' (sft, preference, step, prompt, auto)");
    }

    /** The kind whose distinguishing fields the record has, or null. */
    public static Kind detect(JsonNode n) {
      if (n == null || !n.isObject()) return null;
      if (n.has("chosen") || n.has("rejected")) return PREFERENCE;
      if (n.has("messages")) return SFT;
      if (n.has("completions") || n.has("labels")) return STEP;
      if (n.has("completion")) return SFT;
      if (n.has("prompt")) return PROMPT;
      return null;
    }
  }

  /** A validated record, or a refusal ({@link #reason} not null). */
  public record Result(
      String id, String prompt, String completion, String chosen, String rejected, String answer,
      List<String> steps, List<Boolean> labels, String reason) {
    static Result refuse(String reason) {
      return new Result(null, null, null, null, null, null, null, null, reason);
    }

    public boolean ok() {
      return reason == null;
    }
  }

  private final int maxChars;
  private final ChatTemplate chat;

  public RecordValidator(int maxChars) {
    this(maxChars, null);
  }

  /**
   * @param chat the chat template conversational rows are rendered with (TRL's {@code {messages}} and
   *     {@code {prompt, chosen, rejected}} as message lists), or null: such rows are then refused
   */
  public RecordValidator(int maxChars, ChatTemplate chat) {
    this.maxChars = maxChars;
    this.chat = chat;
  }

  /**
   * {@link #validate} for any row, conversational ones included: a conversation ({@code messages}) gives one SFT row
   * per assistant reply (id {@code <id>-turn<k>}), so each row's loss is on that reply only; a preference row whose
   * {@code prompt} is a list of messages is rendered into prompt, chosen and rejected text, and a prompt row's list of
   * messages into a prompt ending in the generation prompt (its {@code answer} kept). A refused conversation is one
   * refusal.
   */
  public List<Result> validateRows(JsonNode n, Kind kind) {
    if (n == null || !n.isObject()) return List.of(Result.refuse("not a JSON object"));
    boolean sftChat = kind == Kind.SFT && n.has("messages") && !n.has("completion");
    boolean prefChat = kind == Kind.PREFERENCE && n.path("prompt").isArray();
    boolean promptChat = kind == Kind.PROMPT && n.path("prompt").isArray();
    if (!sftChat && !prefChat && !promptChat) return List.of(validate(n, kind));
    if (chat == null) {
      return List.of(Result.refuse("a conversational row needs import.tokenizer: a tokenizer whose chat_template "
          + "renders it"));
    }
    try {
      String given = id(n);
      if (sftChat) {
        List<ChatTemplate.Message> msgs = messages(n, "messages");
        String base = id(given, "chat", n.get("messages").toString());
        List<Result> out = new ArrayList<>();
        int k = 0;
        for (ChatTemplate.Turn t : chat.sftTurns(msgs)) {
          k++;
          out.add(new Result(base + "-turn" + k, checkText("prompt", t.prompt()),
              checkText("completion", t.completion()), null, null, null, null, null, null));
        }
        return out;
      }
      if (promptChat) {
        // A conversation waiting for the assistant's reply, with the reference answer the rewards check against.
        String prompt = checkText("prompt", chat.prompt(messages(n, "prompt")));
        String answer = n.has("answer") && !n.get("answer").isNull() ? scalar(n, "answer") : null;
        return List.of(new Result(id(given, "chatprompt", n.get("prompt").toString()), prompt, null, null, null,
            answer, null, null, null));
      }
      ChatTemplate.Pair p = chat.preference(messages(n, "prompt"), messages(n, "chosen"), messages(n, "rejected"));
      String id = id(given, "chatpref", n.get("prompt").toString(), n.path("chosen").toString(),
          n.path("rejected").toString());
      return List.of(new Result(id, checkText("prompt", p.prompt()), null, checkText("chosen", p.chosen()),
          checkText("rejected", p.rejected()), null, null, null, null));
    } catch (IllegalArgumentException e) {
      return List.of(Result.refuse(e.getMessage()));
    } catch (RuntimeException e) {
      // The template engine's own failure on this row: the row is refused with it, the import goes on.
      return List.of(Result.refuse("chat template failed: " + String.valueOf(e.getMessage()).lines().findFirst()
          .orElse(e.getClass().getSimpleName())));
    }
  }

  /** A list of {@code {role, content}} objects with string fields. */
  private static List<ChatTemplate.Message> messages(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null) throw new IllegalArgumentException("missing field '" + field + "'");
    if (!v.isArray()) {
      throw new IllegalArgumentException("field '" + field + "' is " + typeName(v) + ", expected a list of messages");
    }
    List<ChatTemplate.Message> out = new ArrayList<>();
    for (JsonNode m : v) {
      String where = "'" + field + "' message " + (out.size() + 1);
      if (!m.isObject()) throw new IllegalArgumentException(where + " is " + typeName(m) + ", expected an object");
      JsonNode role = m.get("role");
      JsonNode content = m.get("content");
      if (role == null || !role.isTextual()) throw new IllegalArgumentException(where + " has no string 'role'");
      if (content == null || content.isNull()) throw new IllegalArgumentException(where + " has no content");
      if (!content.isTextual()) {
        throw new IllegalArgumentException(where + " content is " + typeName(content) + ", expected string");
      }
      out.add(new ChatTemplate.Message(role.asText(), content.asText()));
    }
    return out;
  }

  /** Decodes one line's bytes as strict UTF-8; null when the bytes are not valid UTF-8. */
  public static String decodeUtf8(byte[] bytes, int from, int to) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes, from, to - from))
          .toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  /** Parses a line of JSONL; the refusal names the problem. */
  public static JsonNode parse(String line) throws IllegalArgumentException {
    try {
      JsonNode n = JSON.readTree(line);
      if (n == null || !n.isObject()) {
        throw new IllegalArgumentException("not a JSON object");
      }
      return n;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      String msg = e.getOriginalMessage();
      throw new IllegalArgumentException("unparseable JSON: " + (msg == null ? "syntax error" : msg.lines().findFirst().orElse("")));
    }
  }

  /** Validates a parsed record as the given kind. */
  public Result validate(JsonNode n, Kind kind) {
    if (n == null || !n.isObject()) {
      return Result.refuse("not a JSON object");
    }
    try {
      String prompt = text(n, "prompt", true);
      String id = id(n);
      switch (kind) {
        case SFT -> {
          String completion = text(n, "completion", true);
          return new Result(id(id, "sft", prompt, completion), prompt, completion, null, null, null, null, null, null);
        }
        case PREFERENCE -> {
          String chosen = text(n, "chosen", true);
          String rejected = text(n, "rejected", true);
          if (chosen.equals(rejected)) {
            return Result.refuse("chosen and rejected are the same text");
          }
          return new Result(id(id, "pref", prompt, chosen, rejected), prompt, null, chosen, rejected, null, null, null, null);
        }
        case STEP -> {
          List<String> steps = textList(n, "completions");
          List<Boolean> labels = boolList(n, "labels");
          if (steps.size() != labels.size()) {
            return Result.refuse("'completions' has " + steps.size() + " steps but 'labels' has " + labels.size());
          }
          return new Result(id(id, "step", prompt, String.join("\u0000", steps), labels.toString()), prompt, null, null, null, null, steps, labels, null);
        }
        case PROMPT -> {
          String answer = n.has("answer") && !n.get("answer").isNull() ? scalar(n, "answer") : null;
          return new Result(id(id, "prompt", prompt), prompt, null, null, null, answer, null, null, null);
        }
        default -> throw new IllegalStateException();
      }
    } catch (IllegalArgumentException e) {
      return Result.refuse(e.getMessage());
    }
  }

  private String text(JsonNode n, String field, boolean required) {
    JsonNode v = n.get(field);
    if (v == null) {
      throw new IllegalArgumentException("missing field '" + field + "'");
    }
    if (v.isNull()) {
      throw new IllegalArgumentException("field '" + field + "' is null");
    }
    if (!v.isTextual()) {
      throw new IllegalArgumentException("field '" + field + "' is " + typeName(v) + ", expected string");
    }
    return checkText(field, v.asText());
  }

  private String checkText(String field, String s) {
    if (s.isBlank()) {
      throw new IllegalArgumentException("field '" + field + "' is empty");
    }
    if (s.length() > maxChars) {
      throw new IllegalArgumentException("field '" + field + "' has " + s.length() + " characters, over the limit of " + maxChars);
    }
    return s;
  }

  private static String scalar(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v.isTextual() || v.isNumber()) {
      return v.asText();
    }
    throw new IllegalArgumentException("field '" + field + "' is " + typeName(v) + ", expected string or number");
  }

  private List<String> textList(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null) throw new IllegalArgumentException("missing field '" + field + "'");
    if (v.isNull()) throw new IllegalArgumentException("field '" + field + "' is null");
    if (!v.isArray()) throw new IllegalArgumentException("field '" + field + "' is " + typeName(v) + ", expected array of strings");
    if (v.isEmpty()) throw new IllegalArgumentException("field '" + field + "' is empty");
    List<String> out = new ArrayList<>();
    for (JsonNode e : v) {
      if (!e.isTextual()) throw new IllegalArgumentException("field '" + field + "' holds " + typeName(e) + ", expected strings");
      out.add(checkText(field + "[" + out.size() + "]", e.asText()));
    }
    return out;
  }

  private static List<Boolean> boolList(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null) throw new IllegalArgumentException("missing field '" + field + "'");
    if (v.isNull()) throw new IllegalArgumentException("field '" + field + "' is null");
    if (!v.isArray()) throw new IllegalArgumentException("field '" + field + "' is " + typeName(v) + ", expected array of booleans");
    List<Boolean> out = new ArrayList<>();
    for (JsonNode e : v) {
      if (!e.isBoolean()) throw new IllegalArgumentException("field '" + field + "' holds " + typeName(e) + ", expected booleans");
      out.add(e.asBoolean());
    }
    return out;
  }

  private static String id(JsonNode n) {
    JsonNode v = n.get("id");
    if (v == null || v.isNull()) return null;
    if (v.isTextual() && !v.asText().isBlank()) return v.asText();
    if (v.isIntegralNumber()) return v.asText();
    throw new IllegalArgumentException("field 'id' is " + typeName(v) + ", expected a non-empty string or an integer");
  }

  /** The given id, or a content hash so that the same row always gets the same id. */
  private static String id(String given, String kind, String... parts) {
    if (given != null) return given;
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(kind.getBytes(StandardCharsets.UTF_8));
      for (String p : parts) {
        md.update((byte) 0);
        md.update(p.getBytes(StandardCharsets.UTF_8));
      }
      return kind + "-" + HexFormat.of().formatHex(md.digest(), 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String typeName(JsonNode v) {
    if (v.isNull()) return "null";
    if (v.isTextual()) return "a string";
    if (v.isBoolean()) return "a boolean";
    if (v.isNumber()) return "a number";
    if (v.isArray()) return "an array";
    if (v.isObject()) return "an object";
    return v.getNodeType().toString().toLowerCase();
  }
}
