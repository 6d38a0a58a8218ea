package org.sparkrlhf.rollouts.engine;

import java.io.Serializable;
import java.util.List;

/**
 * How {@link GenerationEngine} picks tokens. Serializable so it can travel to executors with a job.
 *
 * <p>Order of operations on each row's next-token logits (as in Hugging Face / vLLM): divide by
 * {@code temperature}, keep the {@code topK} largest, keep the nucleus of mass {@code topP} of what remains,
 * renormalize, draw. Truncation does not change the recorded log-probs: see {@link Completion#logProbs()}.
 *
 * @param temperature  softmax temperature; {@code 0} = greedy (argmax, ties to the lowest id, no random draws,
 *                     topK/topP ignored). Default {@code 1.0}.
 * @param topK         keep only the k most likely tokens (ties broken towards the lower id); {@code 0} = off.
 *                     Default {@code 0}.
 * @param topP         nucleus sampling: keep the most likely tokens, in order, while the mass of the tokens
 *                     before them is below {@code topP} (so at least one token); {@code 1.0} = off.
 *                     Must be in (0, 1]. Default {@code 1.0}.
 * @param maxNewTokens most tokens generated per row, the end-of-sequence token included (finish reason
 *                     {@code "length"} when reached). Also capped by the model's context:
 *                     a row never grows past {@code max_position_embeddings}. Default {@code 256}.
 * @param stop         stop strings: a row finishes (reason {@code "stop"}) as soon as its decoded completion
 *                     contains one of them; the stop string stays in the text and its tokens in the completion.
 *                     Default none.
 * @param seed         base seed; row randomness is a function of (seed, prompt id, sample index) only.
 *                     Default {@code 0}.
 */
public record SamplingParams(double temperature, int topK, double topP, int maxNewTokens, List<String> stop,
                             long seed) implements Serializable {

    private static final long serialVersionUID = 1L;

    public static final double DEFAULT_TEMPERATURE = 1.0;
    public static final int DEFAULT_TOP_K = 0;
    public static final double DEFAULT_TOP_P = 1.0;
    public static final int DEFAULT_MAX_NEW_TOKENS = 256;
    public static final long DEFAULT_SEED = 0L;

    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be finite and >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1] (1 = off), got " + topP);
        }
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
        }
        stop = stop == null ? List.of() : List.copyOf(stop);
        for (String s : stop) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("stop strings must not be empty");
            }
        }
    }

    /** temperature 1, no top-k / top-p, 256 new tokens, no stop strings, seed 0. */
    public static SamplingParams defaults() {
        return new SamplingParams(DEFAULT_TEMPERATURE, DEFAULT_TOP_K, DEFAULT_TOP_P, DEFAULT_MAX_NEW_TOKENS,
                List.of(), DEFAULT_SEED);
    }

    /** Greedy decoding of at most {@code maxNewTokens} tokens. */
    public static SamplingParams greedy(int maxNewTokens) {
        return defaults().withTemperature(0).withMaxNewTokens(maxNewTokens);
    }

    /** True when decoding is argmax (temperature 0). */
    public boolean isGreedy() {
        return temperature == 0;
    }

    public SamplingParams withTemperature(double t) {
        return new SamplingParams(t, topK, topP, maxNewTokens, stop, seed);
    }

    public SamplingParams withTopK(int k) {
        return new SamplingParams(temperature, k, topP, maxNewTokens, stop, seed);
    }

    public SamplingParams withTopP(double p) {
        return new SamplingParams(temperature, topK, p, maxNewTokens, stop, seed);
    }

    public SamplingParams withMaxNewTokens(int n) {
        return new SamplingParams(temperature, topK, topP, n, stop, seed);
    }

    public SamplingParams withStop(List<String> s) {
        return new SamplingParams(temperature, topK, topP, maxNewTokens, s, seed);
    }

    public SamplingParams withSeed(long s) {
        return new SamplingParams(temperature, topK, topP, maxNewTokens, stop, s);
    }
}
