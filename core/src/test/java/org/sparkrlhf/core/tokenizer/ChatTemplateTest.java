package org.sparkrlhf.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.tokenizer.ChatTemplate.ChatError;
import org.sparkrlhf.core.tokenizer.ChatTemplate.Message;

/**
 * Chat templates rendered on the JVM: Llama 3's own (from its fetched {@code tokenizer_config.json}) and a committed
 * template in the Hub's style ({@code chat/alternating.jinja}), each against text written by hand from the
 * template's format and against Jinja2 itself set up as transformers sets it up ({@code chat/rendered-jinja2.json},
 * made by {@code tools/hf-reference/chat/render.py} from {@code chat/cases.json}); then how a conversation becomes
 * SFT examples and preference rows, and each kind of refusal.
 */
class ChatTemplateTest {
  private static final Path CHAT = Path.of("src", "test", "resources", "chat");
  private static final Path LLAMA3 = Path.of("..", "tools", "hf-reference", "downloads", "llama3-tokenizer");
  private static final Instant NOW = Instant.ofEpochSecond(1785400000L);  // 30 Jul 2026, 08:26 UTC, as in cases.json
  private static HfTokenizer llama3;

  static final List<Message> CONVERSATION = List.of(
      new Message("system", "You are terse. "),
      new Message("user", "What is 2+3?"),
      new Message("assistant", " 5 "),
      new Message("user", "And 2*3?\n"),
      new Message("assistant", "6"));

  @BeforeAll
  static void load() {
    Path file = LLAMA3.resolve("tokenizer.json");
    if (Files.exists(file)) llama3 = HfTokenizer.load(file);
  }

  @AfterAll
  static void close() {
    if (llama3 != null) llama3.close();
  }

  static HfTokenizer llama3() {
    if (llama3 == null) Llama3Files.folder();  // skipped (or failed under CI) without the files
    return llama3;
  }

  static ChatTemplate llama3Template() {
    return llama3().chatTemplate(NOW).orElseThrow();
  }

  static ChatTemplate alternating() throws IOException {
    return new ChatTemplate(Files.readString(CHAT.resolve("alternating.jinja")), "<s>", "</s>", NOW);
  }

  private static final String H = "<|start_header_id|>";
  private static final String E = "<|end_header_id|>\n\n";
  private static final String EOT = "<|eot_id|>";

  @Test
  void llama3RendersTheConversationAsItsFormatSays() {
    // Llama 3's format: bos, then per message <|start_header_id|>role<|end_header_id|>\n\n content.strip() <|eot_id|>;
    // this (first) version of its template appends the assistant header after every conversation.
    String expected = "<|begin_of_text|>" + H + "system" + E + "You are terse." + EOT + H + "user" + E + "What is 2+3?"
        + EOT + H + "assistant" + E + "5" + EOT + H + "user" + E + "And 2*3?" + EOT + H + "assistant" + E + "6" + EOT
        + H + "assistant" + E;
    assertEquals(expected, llama3Template().render(CONVERSATION, false));
  }

  @Test
  void llama3SftExamplesAreTheAssistantRepliesAfterTheirPrompts() {
    List<ChatTemplate.Turn> turns = llama3Template().sftTurns(CONVERSATION);
    String p1 = H + "system" + E + "You are terse." + EOT + H + "user" + E + "What is 2+3?" + EOT + H + "assistant" + E;
    assertEquals(List.of(
        new ChatTemplate.Turn(p1, "5" + EOT),
        new ChatTemplate.Turn(p1 + "5" + EOT + H + "user" + E + "And 2*3?" + EOT + H + "assistant" + E, "6" + EOT)),
        turns);
  }

  /**
   * The loss mask in tokens: each example scores exactly its reply's tokens (content and end of turn, which is a
   * stop token of the tokenizer, so no eos follows it), and its unscored tokens are the whole conversation before the
   * reply, bos included — the same ids
   * the whole conversation's rendering gives, so every assistant token is scored once, with the context it has in
   * the conversation, and no other token is.
   */
  @Test
  void llama3LossMaskCoversExactlyTheAssistantTurns() {
    HfTokenizer tok = llama3();
    List<ChatTemplate.Turn> turns = llama3Template().sftTurns(CONVERSATION);
    int[] whole = tok.encode(llama3Template().render(CONVERSATION, false));
    int eot = tok.encode(EOT)[0];
    int header = tok.encode(H)[0];
    List<Integer> scored = new ArrayList<>();
    for (ChatTemplate.Turn t : turns) {
      TokenSequence s = TokenSequence.encode(tok, t.prompt(), t.completion(), true);
      int[] context = Arrays.copyOf(s.ids(), s.scoredFrom());
      // the context is a prefix of the whole conversation's ids (bos from TokenSequence = the template's bos)
      assertArrayEquals(context, Arrays.copyOf(whole, context.length));
      int[] reply = Arrays.copyOfRange(s.ids(), s.scoredFrom(), s.length());
      assertEquals(eot, reply[reply.length - 1]);
      for (int i = 0; i < reply.length; i++) {
        assertEquals(whole[context.length + i], reply[i], "scored token " + i + " is the conversation's");
        scored.add(reply[i]);
      }
      // the token before the first scored one closes the assistant header: nothing of the header is scored
      assertEquals(tok.encode(E)[tok.encode(E).length - 1], context[context.length - 1]);
      assertTrue(Arrays.stream(reply).noneMatch(id -> id == header));
    }
    assertEquals(List.of(tok.encode("5")[0], eot, tok.encode("6")[0], eot), scored);
  }

  @Test
  void llama3PreferenceRowSplitsPromptAndReplies() {
    ChatTemplate t = llama3Template();
    ChatTemplate.Pair p = t.preference(
        List.of(new Message("user", "Capital of France?")),
        List.of(new Message("assistant", "Paris.")),
        List.of(new Message("assistant", "Lyon.")));
    assertEquals(new ChatTemplate.Pair(H + "user" + E + "Capital of France?" + EOT + H + "assistant" + E,
        "Paris." + EOT, "Lyon." + EOT), p);
  }

  /** A prompt to generate from ends in the assistant header, like an SFT turn's prompt; one ending in a reply is refused. */
  @Test
  void llama3PromptEndsWithTheGenerationPrompt() {
    ChatTemplate t = llama3Template();
    assertEquals(H + "user" + E + "7*8=?" + EOT + H + "assistant" + E,
        t.prompt(List.of(new Message("user", "7*8=?\n"))));
    assertEquals(t.sftTurns(List.of(new Message("user", "7*8=?"), new Message("assistant", "56"))).get(0).prompt(),
        t.prompt(List.of(new Message("user", "7*8=?"))));
    ChatTemplate.ChatError e = org.junit.jupiter.api.Assertions.assertThrows(ChatTemplate.ChatError.class,
        () -> t.prompt(List.of(new Message("user", "x"), new Message("assistant", "y"))));
    assertEquals("'prompt' ends with an assistant message; a prompt waits for the assistant's reply", e.getMessage());
  }

  @Test
  void llama3TemplateAgreesWithJinja2() throws IOException {
    llama3();
    matchesJinja2("llama3-");
  }

  @Test
  void committedTemplateAgreesWithJinja2AndItsFormat() throws IOException {
    matchesJinja2("alternating-");
    matchesJinja2("python-methods");
    List<ChatTemplate.Turn> turns = alternating().sftTurns(CONVERSATION);
    String sys = "[SYS] Today: 30 Jul 2026. You are terse. [/SYS]\n[INST] What is 2+3? [/INST] ";
    assertEquals(List.of(new ChatTemplate.Turn(sys, "5</s>\n"),
        new ChatTemplate.Turn(sys + "5</s>\n[INST] And 2*3? [/INST] ", "6</s>\n")), turns);
  }

  /** Every case of cases.json whose name starts with {@code prefix}, rendered here and by Jinja2. */
  private static void matchesJinja2(String prefix) throws IOException {
    ObjectMapper json = new ObjectMapper();
    JsonNode cases = json.readTree(Files.readString(CHAT.resolve("cases.json"))).path("cases");
    JsonNode expected = json.readTree(Files.readString(CHAT.resolve("rendered-jinja2.json")));
    int n = 0;
    for (JsonNode c : cases) {
      String name = c.path("name").asText();
      if (!name.startsWith(prefix) || name.endsWith("-empty")) continue;  // Jinja2 and Jinjava differ on [][0]
      Path file = CHAT.resolve(c.path("template_file").asText());
      String text = Files.readString(file, StandardCharsets.UTF_8);
      if (file.toString().endsWith(".json")) text = json.readTree(text).path("chat_template").asText();
      ChatTemplate t = new ChatTemplate(text, c.path("bos_token").asText(), c.path("eos_token").asText(),
          Instant.ofEpochSecond(c.path("now").asLong()));
      List<Message> msgs = new ArrayList<>();
      for (JsonNode m : c.path("messages")) msgs.add(new Message(m.path("role").asText(), m.path("content").asText()));
      boolean gen = c.path("add_generation_prompt").asBoolean();
      String want = expected.path(name).asText();
      if (want.startsWith("ERROR: ")) {
        ChatError e = assertThrows(ChatError.class, () -> t.render(msgs, gen), name);
        assertEquals("chat template raised: " + want.substring(7), e.getMessage(), name);
      } else {
        assertEquals(want, t.render(msgs, gen), name);
      }
      n++;
    }
    assertTrue(n > 0, "no case named " + prefix);
  }

  @Test
  void badConversationsAreRefusedWithOneLineReasons() throws IOException {
    ChatTemplate t = alternating();
    Message u = new Message("user", "hi");
    Message a = new Message("assistant", "hello");
    assertEquals("'messages' message 2 has unknown role 'tool_output' (expected system, user or assistant)",
        assertThrows(ChatError.class, () -> t.sftTurns(List.of(u, new Message("tool_output", "x")))).getMessage());
    assertEquals("'messages' message 2 (assistant) has empty content",
        assertThrows(ChatError.class, () -> t.sftTurns(List.of(u, new Message("assistant", " \n")))).getMessage());
    assertEquals("no assistant message in 'messages'",
        assertThrows(ChatError.class, () -> t.sftTurns(List.of(u))).getMessage());
    assertEquals("chat template raised: Conversation roles must alternate user/assistant/user/assistant/...",
        assertThrows(ChatError.class, () -> t.sftTurns(List.of(u, u, a))).getMessage());
    assertEquals("'chosen' message 1 has role 'user'; replies are assistant messages",
        assertThrows(ChatError.class, () -> t.preference(List.of(u), List.of(u), List.of(a))).getMessage());
    assertEquals("'messages' holds no messages",
        assertThrows(ChatError.class, () -> t.sftTurns(List.of())).getMessage());
    ChatTemplate broken = new ChatTemplate("{% for m in messages %}{{ m.content ~ }}{% endfor %}", "", "", NOW);
    String why = assertThrows(ChatError.class, () -> broken.sftTurns(List.of(u, a))).getMessage();
    assertTrue(why.startsWith("chat template error at line 1: ") && !why.contains("\n"), why);
  }
}
