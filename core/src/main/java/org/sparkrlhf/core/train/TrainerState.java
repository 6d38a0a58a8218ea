package org.sparkrlhf.core.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.sparkrlhf.core.io.HadoopFiles;
import org.sparkrlhf.core.model.SafeTensors;

/**
 * A trainer's state besides the policy weights, saved beside a checkpoint's weights: the finished iterations (or steps), the
 * policy optimizer's state (AdamW moments and step count) and the algorithm's own tensors (a critic's optimizer, for
 * one; none for GRPO). Everything random in the loop is a function of (seed, iteration), so this and the weights are
 * the whole state at an iteration boundary.
 *
 * @param algorithm the algorithm's tensors by name (stored with the prefix {@value #ALGORITHM_PREFIX})
 */
public record TrainerState(int iteration, Map<String, SafeTensors.Tensor> optimizer,
    Map<String, SafeTensors.Tensor> algorithm) {
  /** File names of the state beside a checkpoint's weights. */
  public static final String TENSORS = "trainer_state.safetensors";
  public static final String JSON_FILE = "trainer_state.json";
  static final String ALGORITHM_PREFIX = "algorithm.";
  private static final ObjectMapper JSON = new ObjectMapper();

  public TrainerState {
    // Insertion order is the file's tensor order: kept, so a state written again is the same bytes.
    optimizer = Collections.unmodifiableMap(new LinkedHashMap<>(optimizer));
    algorithm = Collections.unmodifiableMap(new LinkedHashMap<>(algorithm));
  }

  /**
   * Writes {@link #TENSORS} (optimizer and algorithm tensors) and {@link #JSON_FILE} (iteration, optimizer steps and
   * {@code extra}, e.g. the reference's path and the seed) into {@code dir} (any Hadoop path).
   */
  public void write(String dir, Map<String, Object> extra) {
    Map<String, String> md = new LinkedHashMap<>();
    md.put("iteration", Integer.toString(iteration));
    Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>(optimizer);
    algorithm.forEach((k, v) -> tensors.put(ALGORITHM_PREFIX + k, v));
    HadoopFiles.writeBytes(dir + "/" + TENSORS, SafeTensors.write(tensors, md));
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("iteration", iteration);
    json.put("optimizer_steps", Math.round(optimizer.get(PolicyOptimizer.STEP).data()[0]));
    json.putAll(extra);
    try {
      HadoopFiles.writeBytes(dir + "/" + JSON_FILE, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads what {@link #write} wrote. */
  public static TrainerState read(String dir) {
    SafeTensors.Contents c = SafeTensors.read(HadoopFiles.readBytes(dir + "/" + TENSORS));
    Map<String, SafeTensors.Tensor> optimizer = new LinkedHashMap<>();
    Map<String, SafeTensors.Tensor> algorithm = new LinkedHashMap<>();
    c.tensors().forEach((k, v) -> {
      if (k.startsWith(ALGORITHM_PREFIX)) {
        algorithm.put(k.substring(ALGORITHM_PREFIX.length()), v);
      } else {
        optimizer.put(k, v);
      }
    });
    return new TrainerState(readJson(dir).get("iteration").asInt(), optimizer, algorithm);
  }

  /** The {@link #JSON_FILE} of a checkpoint folder. */
  public static JsonNode readJson(String dir) {
    try {
      return JSON.readTree(HadoopFiles.readBytes(dir + "/" + JSON_FILE));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** True when {@code dir} holds a trainer state. */
  public static boolean exists(String dir) {
    return HadoopFiles.exists(dir + "/" + JSON_FILE) && HadoopFiles.exists(dir + "/" + TENSORS);
  }
}
