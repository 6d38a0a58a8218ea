package org.sparkrlhf.core.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.beans.FeatureDescriptor;
import java.io.Serializable;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * A tokenizer's own {@code chat_template} (the Jinja template in {@code tokenizer_config.json}, or the
 * {@code chat_template.jinja} beside it), rendered on the JVM by Jinjava with what Hugging Face's templates rely on
 * and Jinjava lacks: {@code raise_exception(msg)}, {@code strftime_now(fmt)}, and Python's string methods
 * ({@code .startswith}, {@code .split}, {@code .upper}, …) and dict methods ({@code .items()}, {@code .get(k, d)}).
 * The variables are transformers' own: {@code messages}, {@code add_generation_prompt}, {@code bos_token},
 * {@code eos_token}.
 *
 * <p>How a conversation becomes trainable text ({@link #sftTurns}, {@link #preference}) follows transformers'
 * prefix rendering: the text before an assistant reply is the conversation up to it rendered with
 * {@code add_generation_prompt=true}; the reply is what the rendering up to and including it adds after that. Every
 * such prefix must be a prefix of the whole conversation's rendering, or the conversation is refused. A template
 * that appends the generation prompt whatever {@code add_generation_prompt} says (Llama 3's first template) has it
 * cut from a rendering that asks for no reply: its generation prompt is what it renders for no messages.
 *
 * <p>Serializable (the template text, the special tokens' text and the clock), so the import ships it to the
 * executors; the engine is rebuilt there.
 */
public final class ChatTemplate implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Roles a conversation may hold: transformers' chat roles for plain text turns. */
  public static final List<String> ROLES = List.of("system", "user", "assistant");

  /** One turn. */
  public record Message(String role, String content) implements Serializable {}

  /** A conversation or a template that cannot become training text; the message is one line, for quarantine. */
  public static final class ChatError extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public ChatError(String message) {
      super(message);
    }
  }

  /** One assistant reply as an SFT example: everything before it (rendered, no bos) and the reply's own text. */
  public record Turn(String prompt, String completion) {}

  /** A preference row rendered: the prompt with the generation prompt, and the two replies after it. */
  public record Pair(String prompt, String chosen, String rejected) {}

  private final String template;
  private final String bosToken;
  private final String eosToken;
  private final long nowEpochSecond;
  private transient Jinjava engine;
  private transient String generationPromptAlways;

  /**
   * @param template the Jinja source
   * @param bosToken the text of the bos token, or null (the template sees "")
   * @param eosToken the text of the eos token, or null
   * @param now what {@code strftime_now} tells the template (fixed, so one import renders one date everywhere)
   */
  public ChatTemplate(String template, String bosToken, String eosToken, Instant now) {
    if (template == null || template.isBlank()) {
      throw new IllegalArgumentException("empty chat template");
    }
    this.template = template;
    this.bosToken = bosToken == null ? "" : bosToken;
    this.eosToken = eosToken == null ? "" : eosToken;
    this.nowEpochSecond = now.getEpochSecond();
  }

  public String template() {
    return template;
  }

  /** Renders the conversation as transformers' {@code apply_chat_template(messages, tokenize=False, ...)} does. */
  public String render(List<Message> messages, boolean addGenerationPrompt) {
    List<Map<String, Object>> msgs = new ArrayList<>();
    for (Message m : messages) {
      Map<String, Object> o = new LinkedHashMap<>();
      o.put("role", m.role());
      o.put("content", m.content());
      msgs.add(o);
    }
    Map<String, Object> vars = new HashMap<>();
    vars.put("messages", msgs);
    vars.put("add_generation_prompt", addGenerationPrompt);
    vars.put("bos_token", bosToken);
    vars.put("eos_token", eosToken);
    NOW.set(nowEpochSecond);
    RenderResult r;
    try {
      r = engine().renderForResult(source(), vars);
    } catch (RuntimeException e) {
      throw new ChatError("chat template failed: " + oneLine(e.getMessage()));
    } finally {
      NOW.remove();
    }
    for (TemplateError e : r.getErrors()) {
      if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
        throw new ChatError(errorText(e));
      }
    }
    return r.getOutput();
  }

  /**
   * One SFT example per assistant reply (loss on that reply only, transformers' assistant mask): its prompt is the
   * conversation before it rendered with the generation prompt, its completion the reply as the template renders it
   * (with the turn's end token). With a causal decoder the reply's token log-probs are the same as in the whole
   * conversation, so the examples' losses are the loss of the whole conversation masked to the assistant turns.
   */
  public List<Turn> sftTurns(List<Message> messages) {
    check(messages, "messages");
    String full = closed(messages);
    List<Turn> out = new ArrayList<>();
    for (int k = 0; k < messages.size(); k++) {
      if (!messages.get(k).role().equals("assistant")) continue;
      if (k == 0) throw new ChatError("message 1 is an assistant reply with no prompt before it");
      String before = render(messages.subList(0, k), true);
      String through = closed(messages.subList(0, k + 1));
      if (!full.startsWith(before) || !through.startsWith(before) || !full.startsWith(through)) {
        throw new ChatError("the chat template does not render the conversation up to message " + (k + 1)
            + " as a prefix of the whole, so its reply cannot be told apart");
      }
      if (through.length() == before.length()) {
        throw new ChatError("the chat template renders message " + (k + 1) + " (assistant) as nothing");
      }
      out.add(new Turn(withoutBos(before), through.substring(before.length())));
    }
    if (out.isEmpty()) throw new ChatError("no assistant message in 'messages'");
    return out;
  }

  /**
   * A conversation to be answered, as a prompt for generation: rendered with the generation prompt (no bos, which
   * every prompt gets as an id), so a sampled reply continues it exactly as an SFT turn's completion does.
   */
  public String prompt(List<Message> messages) {
    check(messages, "prompt");
    if (messages.get(messages.size() - 1).role().equals("assistant")) {
      throw new ChatError("'prompt' ends with an assistant message; a prompt waits for the assistant's reply");
    }
    return withoutBos(render(messages, true));
  }

  /**
   * TRL's conversational preference row: {@code prompt} a list of messages, {@code chosen} and {@code rejected} the
   * assistant message(s) after it. The prompt is rendered with the generation prompt; each reply is the rest of the
   * rendering of prompt + reply.
   */
  public Pair preference(List<Message> prompt, List<Message> chosen, List<Message> rejected) {
    check(prompt, "prompt");
    check(chosen, "chosen");
    check(rejected, "rejected");
    if (prompt.get(prompt.size() - 1).role().equals("assistant")) {
      throw new ChatError("'prompt' ends with an assistant message; the reply belongs in chosen and rejected");
    }
    assistantOnly(chosen, "chosen");
    assistantOnly(rejected, "rejected");
    String p = render(prompt, true);
    String c = reply(prompt, chosen, p, "chosen");
    String r = reply(prompt, rejected, p, "rejected");
    if (c.equals(r)) throw new ChatError("chosen and rejected render to the same text");
    return new Pair(withoutBos(p), c, r);
  }

  private String reply(List<Message> prompt, List<Message> reply, String renderedPrompt, String field) {
    List<Message> all = new ArrayList<>(prompt);
    all.addAll(reply);
    String whole = closed(all);
    if (!whole.startsWith(renderedPrompt) || whole.length() == renderedPrompt.length()) {
      throw new ChatError("the chat template does not render prompt + " + field
          + " as the prompt followed by the reply, so the reply cannot be told apart");
    }
    return whole.substring(renderedPrompt.length());
  }

  private static void assistantOnly(List<Message> reply, String field) {
    for (int i = 0; i < reply.size(); i++) {
      if (!reply.get(i).role().equals("assistant")) {
        throw new ChatError("'" + field + "' message " + (i + 1) + " has role '" + reply.get(i).role()
            + "'; replies are assistant messages");
      }
    }
  }

  /** Roles known, contents not blank, at least one message: a one-line reason otherwise. */
  public static void check(List<Message> messages, String field) {
    if (messages.isEmpty()) throw new ChatError("'" + field + "' holds no messages");
    for (int i = 0; i < messages.size(); i++) {
      Message m = messages.get(i);
      if (!ROLES.contains(m.role())) {
        throw new ChatError("'" + field + "' message " + (i + 1) + " has unknown role '" + m.role()
            + "' (expected system, user or assistant)");
      }
      if (m.content() == null || m.content().isBlank()) {
        throw new ChatError("'" + field + "' message " + (i + 1) + " (" + m.role() + ") has empty content");
      }
    }
  }

  /**
   * The rendering of a conversation that asks for no reply: with {@code add_generation_prompt=false}, and without
   * the generation prompt a template appends regardless of that flag.
   */
  private String closed(List<Message> messages) {
    String r = render(messages, false);
    String always = generationPromptAlways();
    if (!always.isEmpty() && r.endsWith(always) && r.equals(render(messages, true))) {
      return r.substring(0, r.length() - always.length());
    }
    return r;
  }

  /**
   * What the template renders for no messages when that is the same with and without the generation prompt — the
   * generation prompt of a template that ignores the flag; "" for a template that honours it or cannot render
   * nothing.
   */
  private String generationPromptAlways() {
    if (generationPromptAlways == null) {
      String g;
      try {
        String with = render(List.of(), true);
        String without = render(List.of(), false);
        g = with.equals(without) ? withoutBos(with) : "";
      } catch (ChatError e) {
        g = "";
      }
      generationPromptAlways = g;
    }
    return generationPromptAlways;
  }

  /**
   * The rendered text without a leading bos: {@link org.sparkrlhf.core.batch.TokenSequence} puts the bos id in
   * front of every prompt, as transformers' templates put {@code bos_token} in front of the text.
   */
  private String withoutBos(String s) {
    return !bosToken.isEmpty() && s.startsWith(bosToken) ? s.substring(bosToken.length()) : s;
  }

  private transient String source;

  /**
   * The template as Jinjava is given it: Jinja's whitespace control on expressions ({@code {{-} and {@code -}}},
   * which the Hub's multi-line templates use on nearly every line) applied here, and one final newline dropped, because Jinjava honours it only
   * on block tags and would keep the newlines and indentation around every expression.
   */
  private String source() {
    if (source == null) {
      String t = template.replaceAll("\\s*\\{\\{-", "{{").replaceAll("-\\}\\}\\s*", "}}");
      // Jinja2 (keep_trailing_newline=False) drops one newline at the template's end; Jinjava keeps it.
      source = t.endsWith("\n") ? t.substring(0, t.length() - 1) : t;
    }
    return source;
  }

  private Jinjava engine() {
    if (engine == null) {
      JinjavaConfig defaults = JinjavaConfig.newBuilder().build();
      CompositeELResolver resolver = new CompositeELResolver();
      resolver.add(new PythonMethods());
      resolver.add(defaults.getElResolver());
      // transformers compiles chat templates with trim_blocks and lstrip_blocks: a block tag takes the newline after
      // it and the indentation before it with it, so multi-line templates render as on the Hub.
      Jinjava j = new Jinjava(JinjavaConfig.newBuilder().withElResolver(resolver).withTrimBlocks(true)
          .withLstripBlocks(true).build());
      j.getGlobalContext().registerFunction(
          new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", Object.class));
      j.getGlobalContext().registerFunction(
          new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
      engine = j;
    }
    return engine;
  }

  private static final ThreadLocal<Long> NOW = new ThreadLocal<>();

  /** Thrown by the template's {@code raise_exception}: the template refuses the conversation. */
  static final class Raised extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Raised(String message) {
      super(message);
    }
  }

  /** transformers' {@code raise_exception(message)}: the template refuses its input. */
  public static String raiseException(Object message) {
    throw new Raised(String.valueOf(message));
  }

  /** transformers' {@code strftime_now(format)}: the (fixed) time in UTC, in Python's strftime format. */
  public static String strftimeNow(String format) {
    Long s = NOW.get();
    ZonedDateTime t = Instant.ofEpochSecond(s == null ? 0 : s).atZone(ZoneOffset.UTC);
    return strftime(t, format);
  }

  /** Python's {@code strftime} for the directives chat templates use; an unknown one is an error. */
  static String strftime(ZonedDateTime t, String format) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < format.length(); i++) {
      char c = format.charAt(i);
      if (c != '%' || i + 1 == format.length()) {
        b.append(c);
        continue;
      }
      char d = format.charAt(++i);
      switch (d) {
        case 'd' -> b.append(String.format("%02d", t.getDayOfMonth()));
        case '-' -> {
          char e = i + 1 < format.length() ? format.charAt(++i) : ' ';
          switch (e) {
            case 'd' -> b.append(t.getDayOfMonth());
            case 'm' -> b.append(t.getMonthValue());
            case 'H' -> b.append(t.getHour());
            default -> throw new IllegalArgumentException("strftime directive %-" + e + " is not supported");
          }
        }
        case 'm' -> b.append(String.format("%02d", t.getMonthValue()));
        case 'Y' -> b.append(t.getYear());
        case 'y' -> b.append(String.format("%02d", t.getYear() % 100));
        case 'b' -> b.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
        case 'B' -> b.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
        case 'a' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
        case 'A' -> b.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
        case 'H' -> b.append(String.format("%02d", t.getHour()));
        case 'I' -> b.append(String.format("%02d", (t.getHour() + 11) % 12 + 1));
        case 'M' -> b.append(String.format("%02d", t.getMinute()));
        case 'S' -> b.append(String.format("%02d", t.getSecond()));
        case 'p' -> b.append(t.getHour() < 12 ? "AM" : "PM");
        case 'j' -> b.append(String.format("%03d", t.getDayOfYear()));
        case '%' -> b.append('%');
        default -> throw new IllegalArgumentException("strftime directive %" + d + " is not supported");
      }
    }
    return b.toString();
  }

  private static String errorText(TemplateError e) {
    for (Throwable t = e.getException(); t != null; t = t.getCause()) {
      if (t instanceof Raised) return "chat template raised: " + oneLine(t.getMessage());
    }
    String msg = oneLine(e.getMessage());
    // Jinjava wraps a function's exception in its message; the template's own words are what the user needs.
    int at = msg.indexOf(Raised.class.getName() + ": ");
    if (at >= 0) return "chat template raised: " + msg.substring(at + Raised.class.getName().length() + 2);
    return "chat template error at line " + e.getLineno() + ": " + msg;
  }

  private static String oneLine(String s) {
    if (s == null) return "";
    int nl = s.indexOf('\n');
    return (nl < 0 ? s : s.substring(0, nl)).strip();
  }

  /**
   * Python's str and dict methods that chat templates call and Java's String and Map lack (Java's own
   * {@code strip()} and {@code replace()} already behave as Python's for these uses). Consulted before Jinjava's
   * resolver; anything else falls through to it.
   */
  static final class PythonMethods extends ELResolver {
    private static final Set<String> STRING_METHODS = Set.of("startswith", "endswith", "upper", "lower", "title",
        "capitalize", "lstrip", "rstrip", "strip", "split", "rsplit", "join", "find", "count", "isspace", "isdigit");
    private static final Set<String> MAP_METHODS = Set.of("items", "keys", "values", "get");

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
      if (base == null || method == null) return null;
      String name = method.toString();
      Object[] p = params == null ? new Object[0] : params;
      Object out;
      if (base instanceof CharSequence cs && STRING_METHODS.contains(name)) {
        out = string(cs.toString(), name, p);
      } else if (base instanceof Map<?, ?> m && MAP_METHODS.contains(name) && !(name.equals("get") && p.length < 2)) {
        out = map(m, name, p);
      } else {
        return null;
      }
      context.setPropertyResolved(true);
      return out;
    }

    private static Object string(String s, String name, Object[] p) {
      return switch (name) {
        case "startswith" -> anyOf(p[0], s::startsWith);
        case "endswith" -> anyOf(p[0], s::endsWith);
        case "upper" -> s.toUpperCase(Locale.ROOT);
        case "lower" -> s.toLowerCase(Locale.ROOT);
        case "title" -> title(s);
        case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT)
            + s.substring(1).toLowerCase(Locale.ROOT);
        case "strip" -> rstrip(lstrip(s, arg(p)), arg(p));
        case "lstrip" -> lstrip(s, arg(p));
        case "rstrip" -> rstrip(s, arg(p));
        case "split" -> split(s, arg(p), p.length > 1 ? ((Number) p[1]).intValue() : -1);
        case "rsplit" -> rsplit(s, arg(p), p.length > 1 ? ((Number) p[1]).intValue() : -1);
        case "join" -> join(s, p[0]);
        case "find" -> (long) s.indexOf(String.valueOf(p[0]));
        case "count" -> count(s, String.valueOf(p[0]));
        case "isspace" -> !s.isEmpty() && s.isBlank();
        case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
        default -> throw new IllegalStateException(name);
      };
    }

    private static Object map(Map<?, ?> m, String name, Object[] p) {
      return switch (name) {
        case "items" -> {
          List<List<Object>> out = new ArrayList<>();
          for (Map.Entry<?, ?> e : m.entrySet()) out.add(Arrays.asList(e.getKey(), e.getValue()));
          yield out;
        }
        case "keys" -> new ArrayList<>(m.keySet());
        case "values" -> new ArrayList<>(m.values());
        case "get" -> m.containsKey(p[0]) ? m.get(p[0]) : p[1];
        default -> throw new IllegalStateException(name);
      };
    }

    private static String arg(Object[] p) {
      return p.length == 0 || p[0] == null ? null : String.valueOf(p[0]);
    }

    private static boolean anyOf(Object prefixes, java.util.function.Predicate<String> test) {
      if (prefixes instanceof Collection<?> c) {
        for (Object o : c) if (test.test(String.valueOf(o))) return true;
        return false;
      }
      return test.test(String.valueOf(prefixes));
    }

    private static boolean stripped(char c, String chars) {
      return chars == null ? Character.isWhitespace(c) : chars.indexOf(c) >= 0;
    }

    static String lstrip(String s, String chars) {
      int i = 0;
      while (i < s.length() && stripped(s.charAt(i), chars)) i++;
      return s.substring(i);
    }

    static String rstrip(String s, String chars) {
      int i = s.length();
      while (i > 0 && stripped(s.charAt(i - 1), chars)) i--;
      return s.substring(0, i);
    }

    private static String title(String s) {
      StringBuilder b = new StringBuilder(s.length());
      boolean prevCased = false;
      for (char c : s.toCharArray()) {
        b.append(prevCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
        prevCased = Character.isLetter(c);
      }
      return b.toString();
    }

    /** Python's split: on runs of whitespace without a separator (no empty parts), else on the separator. */
    private static List<String> split(String s, String sep, int maxSplit) {
      List<String> out = new ArrayList<>();
      if (sep == null) {
        String rest = lstrip(s, null);
        while (!rest.isEmpty()) {
          if (maxSplit >= 0 && out.size() == maxSplit) {
            out.add(rest);
            return out;
          }
          int i = 0;
          while (i < rest.length() && !Character.isWhitespace(rest.charAt(i))) i++;
          out.add(rest.substring(0, i));
          rest = lstrip(rest.substring(i), null);
        }
        return out;
      }
      if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
      int from = 0;
      while (maxSplit < 0 || out.size() < maxSplit) {
        int at = s.indexOf(sep, from);
        if (at < 0) break;
        out.add(s.substring(from, at));
        from = at + sep.length();
      }
      out.add(s.substring(from));
      return out;
    }

    private static List<String> rsplit(String s, String sep, int maxSplit) {
      if (sep == null || maxSplit < 0) return split(s, sep, maxSplit);
      List<String> out = new ArrayList<>();
      int to = s.length();
      while (out.size() < maxSplit) {
        int at = s.lastIndexOf(sep, to - sep.length());
        if (at < 0) break;
        out.add(0, s.substring(at + sep.length(), to));
        to = at;
      }
      out.add(0, s.substring(0, to));
      return out;
    }

    private static String join(String sep, Object items) {
      List<String> parts = new ArrayList<>();
      if (items instanceof Iterable<?> it) for (Object o : it) parts.add(String.valueOf(o));
      else parts.add(String.valueOf(items));
      return String.join(sep, parts);
    }

    private static long count(String s, String sub) {
      if (sub.isEmpty()) return s.length() + 1L;
      long n = 0;
      for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
      return n;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
      return null;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
      return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
      return null;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
      return null;
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
      return false;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}
  }
}
