package org.sparkrlhf.jobs.stages;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.model.HfCheckpoint;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.train.MatmulPeak;
import org.sparkrlhf.sft.SftConfig;

/** The bench's peer plumbing, without the peer's torch: what it is given, how it is run, what the report gets. */
class PeerBenchTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void theSpecCarriesTheVeryTokensAndSettingsTheProjectRuns() throws Exception {
    SftConfig opt = new SftConfig();
    opt.lr = 3e-3;
    opt.weightDecay = 0.1;
    List<TokenSequence> rows = BenchStage.trainRows(22, 1, 2, 6, 3, 7);
    JsonNode s = JSON.readTree(PeerBench.spec("/ckpt", 1, 1234, 0, List.of(new int[] {1, 5, 6}, new int[] {1, 7, 8}),
        16, 128, rows, 2, 20, opt));
    assertEquals("/ckpt", s.get("checkpoint").asText());
    assertEquals(1, s.get("threads").asInt());
    assertEquals(16, s.get("batch_size").asInt());
    assertEquals(128, s.get("new_tokens").asInt());
    assertEquals("[[1,5,6],[1,7,8]]", s.get("prompt_ids").toString());
    JsonNode t = s.get("train");
    assertEquals(2, t.get("batch_size").asInt());
    assertEquals(20, t.get("steps").asInt());
    assertEquals(3e-3, t.get("lr").asDouble());
    assertEquals(0.1, t.get("weight_decay").asDouble());
    assertEquals(1.0, t.get("grad_clip").asDouble());
    // four batches of two rows of six tokens: bos, then non-special ids; the first three tokens unscored
    assertEquals(8, t.get("rows").size());
    for (int i = 0; i < 8; i++) {
      JsonNode row = t.get("rows").get(i);
      assertEquals(6, row.size());
      assertEquals(1, row.get(0).asInt());
      for (int j = 1; j < 6; j++) assertTrue(row.get(j).asInt() >= 4 && row.get(j).asInt() < 22);
      assertArrayEquals(rows.get(i).ids(), JSON.convertValue(row, int[].class));
      assertEquals(3, t.get("scored_from").get(i).asInt());
    }
  }

  @Test
  void theReportGetsTheBestOfEachSideAndProjectOverPeer() throws Exception {
    List<JsonNode> runs = List.of(
        JSON.readTree("{\"threads\":1,\"torch\":\"2.15.0\",\"transformers\":\"5.23.0\",\"attn_implementation\":\"sdpa\","
            + "\"kernels\":{\"ATEN_CPU_CAPABILITY\":\"avx2\"},\"generation_tokens_per_s\":100.0,\"train_tokens_per_s\":50.0}"),
        JSON.readTree("{\"threads\":1,\"generation_tokens_per_s\":120.0,\"train_tokens_per_s\":40.0}"));
    MatmulPeak peak = new MatmulPeak(1e9, 1);
    Map<String, Object> f = PeerBench.fields(runs, 1, 240.0, 25.0, 1e6, 3e6, peak);
    assertEquals("transformers 5.23.0 LlamaForCausalLM on torch 2.15.0 (eager, attention sdpa)", f.get("peer"));
    assertEquals(2, f.get("peer_runs"));
    assertEquals(Map.of("ATEN_CPU_CAPABILITY", "avx2"), f.get("peer_kernels"));
    assertEquals(120.0, f.get("peer_generation_tokens_per_s"));
    assertEquals(50.0, f.get("peer_train_tokens_per_s"));
    // 1e6 FLOPs x 120 tokens/s over 1e9 FLOP/s; 3e6 x 50 over 1e9
    assertEquals(0.12, (double) f.get("peer_generation_mfu"), 1e-12);
    assertEquals(0.15, (double) f.get("peer_train_mfu"), 1e-12);
    assertEquals(2.0, f.get("generation_vs_peer"));
    assertEquals(0.5, f.get("train_vs_peer"));
    // a peer on other torch threads did other work: no ratio
    assertThrows(IllegalStateException.class, () -> PeerBench.fields(runs, 2, 240.0, 25.0, 1e6, 3e6, peak));
  }

  @Test
  void greedyRowsAreComparedTokenForToken() throws Exception {
    JsonNode run = JSON.readTree("{\"generated_ids\":[[4,5,6],[7,8,9],[1,2]]}");
    assertEquals(1, PeerBench.sameGreedyRows(List.of(new int[] {4, 5, 6}, new int[] {7, 8, 10}, new int[] {1, 2, 3}),
        run));
  }

  @Test
  void thePeerIsAProcessWhoseJsonIsRead(@TempDir Path dir) throws Exception {
    // a stand-in peer: checks it was handed the spec, then answers as peer_bench.py does
    Path script = dir.resolve("peer.sh");
    Files.writeString(script, "grep -q '\"new_tokens\":4' \"$1\" || exit 3\n"
        + "echo '{\"threads\":1,\"generation_tokens_per_s\":9.5,\"train_tokens_per_s\":2.5}' > \"$2\"\n");
    String spec = "{\"new_tokens\":4}";
    JsonNode r = PeerBench.run("/bin/sh", script.toString(), spec, dir, 0);
    assertEquals(9.5, r.get("generation_tokens_per_s").asDouble());
    assertEquals(spec, Files.readString(dir.resolve("peer-spec.json")));
    UserError e = assertThrows(UserError.class, () -> PeerBench.run("/bin/sh", script.toString(), "{}", dir, 1));
    assertTrue(e.getMessage().contains("exited with 3"), e.getMessage());
    assertThrows(UserError.class, () -> PeerBench.run("", script.toString(), spec, dir, 2));
  }

  @Test
  void theProjectsSftStepsAreTimedOnACopyAndTheExportIsTheBenchsModel(@TempDir Path dir) {
    Config config = StageConfigs.load(null, List.of("sft.batch_size=2"));
    CharTokenizer tok = new CharTokenizer();
    LlamaConfig cfg = new LlamaConfig(16, 32, 1, 2, 2, tok.vocabSize(), 32, 10000.0, 1e-5, true, tok.bosId(),
        tok.eosId(), tok.padId());
    try (NDManager m = NDManager.newBaseManager("PyTorch"); LlamaModel model = LlamaModel.init(cfg, false, 1, m)) {
      byte[] blob = HfCheckpoint.toBytes(model, tok.toTokenizerJson(), Map.of());
      List<TokenSequence> rows = BenchStage.trainRows(cfg.vocabSize(), tok.bosId(), 2, 8, 3, 1);
      double tps = BenchStage.sftTokensPerSecond(config, blob, rows, 2, m);
      assertTrue(tps > 0 && Double.isFinite(tps), "tokens/s " + tps);
      // the bench's own weights are untouched by the timed steps, and the folder the peer loads holds exactly them
      String exported = dir.resolve("model").toString();
      HfCheckpoint.save(model, tok.toTokenizerJson(), Map.of("source", "bench random init"), exported);
      try (HfCheckpoint back = HfCheckpoint.load(exported, m)) {
        for (Map.Entry<String, ai.djl.ndarray.NDArray> e : model.parameters().entrySet()) {
          assertArrayEquals(e.getValue().toFloatArray(), back.model().parameters().get(e.getKey()).toFloatArray(),
              e.getKey());
        }
        try (HfCheckpoint fromBlob = HfCheckpoint.fromBytes(blob, m)) {
          for (Map.Entry<String, ai.djl.ndarray.NDArray> e : fromBlob.model().parameters().entrySet()) {
            assertArrayEquals(e.getValue().toFloatArray(), model.parameters().get(e.getKey()).toFloatArray(), e.getKey());
          }
        }
      }
    }
  }
}
