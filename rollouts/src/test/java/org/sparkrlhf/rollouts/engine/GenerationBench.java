package org.sparkrlhf.rollouts.engine;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;
import org.sparkrlhf.core.tokenizer.TextTokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Cached vs uncached generation speed on a random model; not a test. Run by hand after
 * {@code mvn -o -q -pl rollouts test-compile dependency:build-classpath -Dmdep.outputFile=cp.txt}:
 * {@code java -Dai.djl.offline=true -cp rollouts/target/test-classes:rollouts/target/classes:$(cat cp.txt)
 * org.sparkrlhf.rollouts.engine.GenerationBench threads layers hidden batch newTokens}.
 * The tokenizer's eos is hidden so every row runs the full {@code newTokens} steps.
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
        TextTokenizer tok = new NoEos(new CharTokenizer());
        LlamaConfig cfg = LlamaConfig.tiny(22, hidden, layers, 4, 4, hidden * 3, 256, false);
        try (NDManager m = NDManager.newBaseManager("PyTorch"); LlamaModel model = LlamaModel.init(cfg, false, 1, m)) {
            List<PromptRef> req = new ArrayList<>();
            for (int i = 0; i < batch; i++) {
                req.add(new PromptRef("p" + i, "12+7*3-5+" + i + "=?\n", 0));
            }
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

    /** A tokenizer without an end-of-sequence id, so rows only stop on length. */
    record NoEos(TextTokenizer t) implements TextTokenizer {
        public int[] encode(String text) { return t.encode(text); }
        public String decode(int[] ids) { return t.decode(ids); }
        public int vocabSize() { return t.vocabSize(); }
        public int padId() { return t.padId(); }
        public int bosId() { return t.bosId(); }
        public int eosId() { return -1; }
        public String toTokenizerJson() { return t.toTokenizerJson(); }
        public String name() { return t.name() + "-no-eos"; }
    }
}
