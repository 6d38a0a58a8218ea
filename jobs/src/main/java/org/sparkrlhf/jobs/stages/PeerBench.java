package org.sparkrlhf.jobs.stages;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.sparkrlhf.core.UserError;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.train.MatmulPeak;
import org.sparkrlhf.sft.SftConfig;

/**
 * The bench's peer (tools/bench/peer_bench.py): what it is given, how it is run, and how its figures join the
 * bench's report. The peer gets the bench's model as a Hugging Face checkpoint folder and a spec with the very token
 * ids the project runs (prompts, training rows), the batch sizes, new tokens, torch threads and optimizer settings.
 */
final class PeerBench {
  private static final ObjectMapper JSON = new ObjectMapper();

  private PeerBench() {}

  /** The spec the peer reads: everything that shapes the work, so both sides run the same. */
  static String spec(String checkpoint, int threads, long seed, int padId, List<int[]> promptIds, int batchSize,
                     int newTokens, List<TokenSequence> trainRows, int trainBatchSize, int trainSteps, SftConfig opt) {
    ObjectNode s = JSON.createObjectNode();
    s.put("checkpoint", checkpoint).put("threads", threads).put("seed", seed).put("pad_id", padId)
        .put("batch_size", batchSize).put("new_tokens", newTokens);
    ArrayNode prompts = s.putArray("prompt_ids");
    for (int[] p : promptIds) {
      ArrayNode row = prompts.addArray();
      for (int id : p) row.add(id);
    }
    ObjectNode t = s.putObject("train");
    t.put("batch_size", trainBatchSize).put("steps", trainSteps).put("lr", opt.lr).put("beta1", opt.beta1)
        .put("beta2", opt.beta2).put("weight_decay", opt.weightDecay).put("grad_clip", opt.gradClip);
    ArrayNode rows = t.putArray("rows");
    ArrayNode scored = t.putArray("scored_from");
    for (TokenSequence r : trainRows) {
      ArrayNode row = rows.addArray();
      for (int id : r.ids()) row.add(id);
      scored.add(r.scoredFrom());
    }
    return s.toString();
  }

  /**
   * Runs the peer once on {@code spec} (written to {@code dir}); its JSON result. Its output goes to ours. The
   * settings naming the python and script are checked by {@link BenchStage}; one that cannot be started is a
   * {@link UserError} here.
   */
  static JsonNode run(String python, String script, String spec, Path dir, int attempt) {
    try {
      Path specFile = dir.resolve("peer-spec.json");
      Files.writeString(specFile, spec);
      Path out = dir.resolve("peer-result-" + attempt + ".json");
      Process p = new ProcessBuilder(python, script, specFile.toString(), out.toString()).inheritIO().start();
      if (!p.waitFor(30, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new IllegalStateException("the peer ran for 30 minutes: stopped");
      }
      if (p.exitValue() != 0) {
        throw new UserError("the peer (" + python + " " + script + ") exited with " + p.exitValue()
            + "; its messages are above");
      }
      return JSON.readTree(Files.readString(out));
    } catch (IOException e) {
      throw new UserError("cannot run the peer " + python + " " + script + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * The report's {@code peer_*} fields and ratios from the peer's runs (the best of each figure, as the project's
   * side keeps its best) beside the project's best figures of the same bench run. MFU of both sides with the same
   * FLOPs per token and the same matmul peak. Refuses a peer that ran with other torch threads than asked, since
   * its ratio would compare unequal work.
   */
  static Map<String, Object> fields(List<JsonNode> peerRuns, int threads, double projectGeneration,
                                    double projectTrain, double generationFlopsPerToken, double trainFlopsPerToken,
                                    MatmulPeak peak) {
    if (peerRuns.isEmpty()) throw new IllegalArgumentException("no peer runs");
    double gen = 0;
    double train = 0;
    for (JsonNode r : peerRuns) {
      if (r.path("threads").asInt() != threads) {
        throw new IllegalStateException("the peer ran with " + r.path("threads").asInt() + " torch threads, not "
            + threads);
      }
      gen = Math.max(gen, r.path("generation_tokens_per_s").asDouble());
      train = Math.max(train, r.path("train_tokens_per_s").asDouble());
    }
    JsonNode first = peerRuns.get(0);
    Map<String, Object> f = new LinkedHashMap<>();
    f.put("peer", "transformers " + first.path("transformers").asText() + " LlamaForCausalLM on torch "
        + first.path("torch").asText() + " (eager, attention " + first.path("attn_implementation").asText() + ")");
    f.put("peer_runs", peerRuns.size());
    f.put("peer_kernels", first.has("kernels") ? JSON.convertValue(first.get("kernels"), Map.class) : Map.of());
    f.put("peer_threads", threads);
    f.put("peer_generation_tokens_per_s", gen);
    f.put("peer_train_tokens_per_s", train);
    f.put("peer_generation_mfu", peak.mfu(generationFlopsPerToken, gen));
    f.put("peer_train_mfu", peak.mfu(trainFlopsPerToken, train));
    f.put("generation_vs_peer", projectGeneration / gen);
    f.put("train_vs_peer", projectTrain / train);
    return f;
  }

  /** Rows of {@code projectIds} that the peer generated token for token (greedy on the same weights). */
  static int sameGreedyRows(List<int[]> projectIds, JsonNode peerRun) {
    JsonNode rows = peerRun.path("generated_ids");
    int same = 0;
    for (int i = 0; i < Math.min(projectIds.size(), rows.size()); i++) {
      int[] want = projectIds.get(i);
      JsonNode got = rows.get(i);
      boolean eq = got.size() == want.length;
      for (int j = 0; eq && j < want.length; j++) eq = got.get(j).asInt() == want[j];
      if (eq) same++;
    }
    return same;
  }
}
