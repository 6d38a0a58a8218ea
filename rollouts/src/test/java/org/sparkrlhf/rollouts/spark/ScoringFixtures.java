package org.sparkrlhf.rollouts.spark;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkrlhf.core.model.LlamaConfig;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.CharTokenizer;

import java.util.ArrayList;
import java.util.List;

/** Tiny models, rows of the built-in task's format, and an independent reference computation. */
final class ScoringFixtures {

    static final CharTokenizer TOK = new CharTokenizer();

    /** Prompts and completions of quite different lengths (an empty completion included). */
    static final String[][] ROWS = {
            {"12+7*3-5=?\n", "=12+21-5\n=33-5\n=28\n#### 28\n"},
            {"3+4=?\n", "=7\n#### 7\n"},
            {"9*9=?\n", "=81\n#### 81\n"},
            {"1-2=?\n", "=-1\n#### -1\n"},
            {"5=?\n", ""},
            {"2*3*4=?\n", "=6*4\n=24\n#### 24\n"},
            {"10+20+30=?\n", "=30+30\n=60\n#### 60\n"},
            {"7=?\n", "#### 7\n"},
            {"8-3*2=?\n", "=8-6\n=2\n#### 2\n"},
            {"4*4-1=?\n", "=16-1\n=15\n#### 15\n"},
            {"0+0=?\n", "=0\n#### 0\n"},
            {"6*7=?\n", "=42\n#### 42\n"},
    };

    static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.IntegerType, false)
            .add("prompt", DataTypes.StringType, true)
            .add("completion", DataTypes.StringType, true);

    private ScoringFixtures() {
    }

    static LlamaModel tinyModel(boolean scoreHead, long seed, NDManager manager) {
        // GQA (4 query heads over 2 kv heads) and untied embeddings, so the whole model path is exercised.
        return LlamaModel.init(LlamaConfig.tiny(TOK.vocabSize(), 32, 2, 4, 2, 64, 64, false), scoreHead, seed,
                manager);
    }

    static Dataset<Row> frame(SparkSession spark, int partitions) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < ROWS.length; i++) {
            rows.add(RowFactory.create(i, ROWS[i][0], ROWS[i][1]));
        }
        return spark.createDataFrame(rows, SCHEMA).repartition(partitions);
    }

    /** [bos] + prompt + completion (+ eos), written out independently of TokenSequence. */
    static int[] sequence(String prompt, String completion, boolean eos) {
        int[] p = TOK.encode(prompt);
        int[] c = TOK.encode(completion);
        int[] s = new int[1 + p.length + c.length + (eos ? 1 : 0)];
        s[0] = CharTokenizer.BOS;
        System.arraycopy(p, 0, s, 1, p.length);
        System.arraycopy(c, 0, s, 1 + p.length, c.length);
        if (eos) {
            s[s.length - 1] = CharTokenizer.EOS;
        }
        return s;
    }

    /**
     * Reference log-probs: one unpadded forward pass of the row alone, then log_softmax(logits / T) computed in
     * Java (double) at position t-1 for every completion token t (and the eos).
     */
    static float[] directLogprobs(LlamaModel model, String prompt, String completion, boolean eos,
                                  double temperature, NDManager manager) {
        int[] seq = sequence(prompt, completion, eos);
        int start = 1 + TOK.encode(prompt).length;
        int v = model.config().vocabSize();
        float[] logits;
        try (NDManager sub = manager.newSubManager()) {
            NDArray ids = sub.create(toLong(seq), new Shape(1, seq.length));
            logits = model.logits(ids, null, null, null).toFloatArray();
        }
        float[] out = new float[seq.length - start];
        for (int t = start; t < seq.length; t++) {
            int base = (t - 1) * v;
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < v; k++) {
                max = Math.max(max, logits[base + k] / temperature);
            }
            double z = 0;
            for (int k = 0; k < v; k++) {
                z += Math.exp(logits[base + k] / temperature - max);
            }
            out[t - start] = (float) (logits[base + seq[t]] / temperature - max - Math.log(z));
        }
        return out;
    }

    /** Reference score: model.scores of the row alone at its last position. */
    static double directScore(LlamaModel model, String prompt, String completion, boolean eos, NDManager manager) {
        int[] seq = sequence(prompt, completion, eos);
        try (NDManager sub = manager.newSubManager()) {
            NDArray ids = sub.create(toLong(seq), new Shape(1, seq.length));
            float[] s = model.scores(ids, null, null, null).toFloatArray();
            return s[seq.length - 1];
        }
    }

    static long[] toLong(int[] a) {
        long[] l = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            l[i] = a[i];
        }
        return l;
    }

    static float[] floats(List<Float> list) {
        float[] f = new float[list.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = list.get(i);
        }
        return f;
    }

    /** A model key no other test uses, so the JVM-wide cache's counters start at zero. */
    static String uniqueKey(String prefix) {
        return prefix + "-" + System.nanoTime();
    }
}
