package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/**
 * TRL's conversational rows through the real {@code import} stage into Delta, rendered with Llama 3's own chat
 * template: a multi-turn conversation becomes one sft_demos row per assistant reply, a preference row its prompt,
 * chosen and rejected text, and every bad conversation lands in quarantine with its reason.
 */
class ChatImportTest {
  static SparkSession spark;
  static String lakeRoot;
  static Path dir;
  static final Path LLAMA3 = Path.of("..", "tools", "hf-reference", "downloads", "llama3-tokenizer");
  static final String H = "<|start_header_id|>";
  static final String E = "<|end_header_id|>\n\n";
  static final String EOT = "<|eot_id|>";

  @BeforeAll
  static void start() {
    org.sparkrlhf.core.tokenizer.Llama3Files.folder();  // skipped (or failed under CI) without the files
    spark = TestSpark.session();
    lakeRoot = TestSpark.newLake("chat-import-test");
    dir = TestSpark.tempDir("chat-import-files");
  }

  private static String run(String runId, String... sets) {
    return Stages.run(spark, lakeRoot, runId, "import", StageConfigs.load(null, List.of(sets)));
  }

  private static Map<Long, String> quarantine(String runId) {
    Map<Long, String> reasons = new TreeMap<>();
    for (Row r : new Lake(spark, lakeRoot).read(Tables.QUARANTINE).filter("run_id = '" + runId + "'").collectAsList()) {
      reasons.put(r.getAs("line"), r.getAs("reason"));
    }
    return reasons;
  }

  @Test
  void conversationsAndPreferencesWithLlama3Template() throws Exception {
    Path sft = dir.resolve("chat.jsonl");
    Files.writeString(sft, String.join("\n",
        "{\"id\": \"c1\", \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"2+3?\"}, {\"role\": \"assistant\", \"content\": \"5\"}, {\"role\": \"user\", \"content\": \"2*3?\"}, {\"role\": \"assistant\", \"content\": \"6\"}]}",
        "{\"id\": \"c2\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"robot\", \"content\": \"beep\"}]}",
        "{\"id\": \"c3\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"  \"}]}",
        "{\"id\": \"c4\", \"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"hi\"}]}",
        "{\"id\": \"c5\", \"messages\": [{\"role\": \"user\", \"content\": [\"parts\"]}, {\"role\": \"assistant\", \"content\": \"x\"}]}",
        ""));
    run("chat-sft", "import.path=\"" + sft + "\"", "import.dataset=chat", "import.tokenizer=\"" + LLAMA3 + "\"");
    Lake lake = new Lake(spark, lakeRoot);
    List<Row> demos = lake.read(Tables.SFT_DEMOS).filter("dataset = 'chat'").orderBy("id").collectAsList();
    String p1 = H + "system" + E + "Be brief." + EOT + H + "user" + E + "2+3?" + EOT + H + "assistant" + E;
    assertEquals(2, demos.size());
    assertEquals(List.of("c1-turn1", p1, "5" + EOT, "chat.jsonl:1"), List.of(demos.get(0).<String>getAs("id"),
        demos.get(0).<String>getAs("prompt"), demos.get(0).<String>getAs("completion"),
        Path.of(demos.get(0).<String>getAs("source")).getFileName().toString()));
    assertEquals(List.of("c1-turn2", p1 + "5" + EOT + H + "user" + E + "2*3?" + EOT + H + "assistant" + E, "6" + EOT),
        List.of(demos.get(1).<String>getAs("id"), demos.get(1).<String>getAs("prompt"),
            demos.get(1).<String>getAs("completion")));
    assertEquals(Map.of(
        2L, "'messages' message 2 has unknown role 'robot' (expected system, user or assistant)",
        3L, "'messages' message 2 (assistant) has empty content",
        4L, "no assistant message in 'messages'",
        5L, "'messages' message 1 content is an array, expected string"), quarantine("chat-sft"));

    Path prefs = dir.resolve("chat-prefs.jsonl");
    Files.writeString(prefs, String.join("\n",
        "{\"id\": \"q1\", \"prompt\": [{\"role\": \"user\", \"content\": \"Capital of France?\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"Paris.\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"Lyon.\"}]}",
        "{\"id\": \"q2\", \"prompt\": [{\"role\": \"user\", \"content\": \"x\"}], \"chosen\": [{\"role\": \"user\", \"content\": \"y\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"z\"}]}",
        ""));
    run("chat-pref", "import.path=\"" + prefs + "\"", "import.dataset=chat", "import.tokenizer=\"" + LLAMA3 + "\"");
    List<Row> pairs = lake.read(Tables.PREFERENCES).filter("dataset = 'chat'").collectAsList();
    assertEquals(1, pairs.size());
    assertEquals(List.of(H + "user" + E + "Capital of France?" + EOT + H + "assistant" + E, "Paris." + EOT, "Lyon." + EOT),
        List.of(pairs.get(0).<String>getAs("prompt"), pairs.get(0).<String>getAs("chosen"),
            pairs.get(0).<String>getAs("rejected")));
    assertEquals(Map.of(2L, "'chosen' message 1 has role 'user'; replies are assistant messages"),
        quarantine("chat-pref"));
  }

  /** A template's raise_exception quarantines the row with the template's words; no tokenizer: its own reason. */
  @Test
  void templateErrorsAndMissingTokenizerAreQuarantined() throws Exception {
    Path tok = dir.resolve("alternating-tokenizer");
    Files.createDirectories(tok);
    Files.copy(LLAMA3.resolve("tokenizer.json"), tok.resolve("tokenizer.json"));
    Files.writeString(tok.resolve("tokenizer_config.json"),
        "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": \"<|end_of_text|>\"}");
    Files.copy(Path.of("..", "core", "src", "test", "resources", "chat", "alternating.jinja"),
        tok.resolve("chat_template.jinja"));
    Path f = dir.resolve("alternating.jsonl");
    Files.writeString(f, String.join("\n",
        "{\"id\": \"a1\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}",
        "{\"id\": \"a2\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"user\", \"content\": \"again\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}",
        ""));
    run("chat-raise", "import.path=\"" + f + "\"", "import.dataset=alt", "import.tokenizer=\"" + tok + "\"");
    List<Row> demos = new Lake(spark, lakeRoot).read(Tables.SFT_DEMOS).filter("dataset = 'alt'").collectAsList();
    assertEquals(1, demos.size());
    assertEquals("hello<|end_of_text|>\n", demos.get(0).getAs("completion"));  // its " " ends the prompt
    assertEquals(Map.of(2L, "chat template raised: Conversation roles must alternate user/assistant/user/assistant/..."),
        quarantine("chat-raise"));

    run("chat-notok", "import.path=\"" + f + "\"", "import.dataset=alt2");
    Map<Long, String> q = quarantine("chat-notok");
    assertEquals(2, q.size());
    assertTrue(q.values().stream().allMatch(r -> r.startsWith("a conversational row needs import.tokenizer")), q.toString());
  }
}
