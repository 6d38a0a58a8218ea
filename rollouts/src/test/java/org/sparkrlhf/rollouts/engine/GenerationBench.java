package org.sparkrlhf.rollouts.engine;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Cached vs uncached generation speed on a random model (not a test: run by hand with
 * {@code mvn -o -q -pl rollouts test-compile exec:java} or from an IDE). Args: threads layers hidden batch newTokens.
 */
public final class GenerationBench {
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int layers = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int hidden = args.length > 2 ? Integer.parseInt(args[2]) : 128;
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 16;
        int newTokens = args.length > 4 ? Integer.parseInt(args[4]) : 64;
        ai.djl.engine.Engine.getEngine("PyTorch"); // loads the natives first
        JniUtils.setNumThreads(threads);
        CharTokenizer tok = new CharTokenizer();
        LlamaConfig cfg = LlamaConfig.tiny(22, hidden, layers, 4, 4, hidden * 3, 256, false);
        try (NDManager m = NDManager.newBaseManager("PyTorch"); LlamaModel model = LlamaModel.init(cfg, false, 1, m)) {
            List<PromptRef> req = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                req.add(new PromptRef("p" + i, "12+7*3-5+" + i + "=?\n", 0));
            }
            // eos never ends a row early: a huge stop-free length run with a model that rarely says eos is fine;
            // report tokens/s over what was generated
            SamplingParams p = SamplingParams.defaults().withMaxNewTokens(newTokens);
            for (boolean cached : new boolean[] {true, false, true, false}) {
                long t0 = System.nanoTime();
                List<Completion> out = GenerationEngine.generate(model, tok, req, p, batch, cached);
                double s = (System.nanoTime() - t0) / 1e9;
                long toks = out.stream().mapToLong(Completion::length).sum();
                int steps = out.stream().mapToInt(Completion::length).max().orElse(0);
                System.out.printf("%s threads=%d L=%d H=%d B=%d: %d tokens, %d steps in %.3f s = %.0f tok/s, %.2f ms/step%n",
                        cached ? "cached  " : "uncached", threads, layers, hidden, batch, toks, steps, s, toks / s,
                        1000 * s / steps);
            }
        }
    }
}
