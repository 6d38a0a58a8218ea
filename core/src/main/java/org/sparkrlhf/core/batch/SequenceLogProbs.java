package org.sparkrlhf.core.batch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.model.Scalars;

/**
 * Log-probabilities of the scored tokens of {@link PackedBatch packed} sequences under a causal decoder: the one
 * computation behind SFT's loss, DPO's policy and reference log-probs, GRPO's policy, reference and KL terms and the
 * executors' scoring.
 *
 * <p>The log-prob of token j+1 is {@code log_softmax(logits[j] / temperature)[token_{j+1}]}, the quantity a
 * generator sampling at that temperature records (1 for greedy decoding: its argmax does not depend on T).
 * Temperature must be &gt; 0; at exactly 1 the logits are used as they are. Without gradients the LM head runs
 * only from the batch's {@link PackedBatch#firstScoredColumn() first scored column} on, so scoring long prompts
 * costs no [B, T, V] logits for them. A gradient pass keeps the LM head on every column and the model is fed the
 * columns that predict something (every token but a row's last; the last too when the score head reads it). A
 * window there would change how many rows the weight gradients are summed over with the prompt lengths of each
 * batch, and with it their float32 rounding; keeping every column gives the gradients of a plain full-logits pass.
 *
 * <p>With a scalar head (reward, value, process-reward and verifier models) the same pass also gives the head's
 * output at every position; a sequence's score is the one at its last token, the way Hugging Face's sequence
 * classifiers read the last non-pad token.
 */
public final class SequenceLogProbs {
  private SequenceLogProbs() {}

  /**
   * One forward pass over a batch.
   *
   * @param tokenLogProbs [B, W-1] the scored tokens' log-probs at the columns that predict them, exactly 0 at every
   *     other column (prompt, padding): sums over a row are sums over its scored tokens
   * @param logits [B, W-1-firstColumn, V] the temperature-scaled logits of columns {@code firstColumn ..}; null
   *     when no column is scored
   * @param firstColumn the first column the logits cover (0 in a gradient pass)
   * @param scores [B, W] the scalar head at every position, or null when not asked for
   */
  public record Result(NDArray tokenLogProbs, NDArray logits, int firstColumn, NDArray scores) {
    /** Σ of each row's scored log-probs, [B] (differentiable when the pass was). */
    public NDArray sequenceSums() {
      return tokenLogProbs.sum(new int[] {1});
    }

    /** Entropy of the (tempered) next-token distribution at each column, [B, W-1], 0 before firstColumn; no graph. */
    public NDArray tokenEntropy() {
      NDArray ent = LlamaModel.entropy(logits.stopGradient());
      return padFront(ent, firstColumn);
    }
  }

  /** A sequence's log-probs, their sum (in double) and its scalar score (NaN without a score head). */
  public record SequenceScore(float[] tokenLogProbs, double sumLogProb, double score) {}

  /**
   * Log-probs (and scores) of one packed batch; arrays are created in {@code m}.
   *
   * @param withGradients true: the pass is recorded for backpropagation (call inside a {@code GradientCollector});
   *     false: autograd is off for the call, whatever the thread's mode
   * @throws IllegalArgumentException for a temperature &le; 0 (or NaN), a sequence longer than the model's context,
   *     a token id outside the vocabulary, or scores asked of a model without a score head
   */
  public static Result compute(LlamaModel model, PackedBatch batch, double temperature, boolean withScores,
      boolean withGradients, NDManager m) {
    requirePositive(temperature);
    check(model, batch, withScores);
    boolean before = enterGradMode(withGradients);
    try {
      int t = batch.width() - 1;
      int fed = fedColumns(batch, withScores);
      NDArray lossMask = batch.lossMask(m);
      if (fed == 0) {
        return new Result(lossMask.zerosLike(), null, t, null);
      }
      NDArray hidden = model.hidden(batch.tokenIds(m, fed), null, batch.attentionMask(m, fed), null);
      NDArray scores = withScores
          ? Linear.linear(hidden, model.scoreHeadWeight()).singletonOrThrow().squeeze(-1) : null;
      // Without gradients the LM head skips the columns before the first scored one. A gradient pass keeps every
      // column, so the weight gradients are summed over the same rows as a plain full-logits pass.
      int first = withGradients ? 0 : batch.firstScoredColumn();
      if (first >= t) {
        return new Result(lossMask.zerosLike(), null, t, scores);
      }
      NDArray h = first == 0 && fed == t ? hidden : hidden.get(new NDIndex(":, " + first + ":" + t + ", :"));
      NDArray logits = Linear.linear(h, model.lmHeadWeight()).singletonOrThrow();
      if (temperature != 1.0) {
        logits = Scalars.dividedBy(logits, temperature);
      }
      NDArray targets = batch.targets(m);
      if (first > 0) {
        targets = targets.get(new NDIndex(":, " + first + ":"));
      }
      NDArray lp = padFront(LlamaModel.tokenLogProbs(logits, targets), first).mul(lossMask);
      return new Result(lp, logits, first, scores);
    } finally {
      JniUtils.setGradMode(before);
    }
  }

  /**
   * Each row's scalar-head score at its last real token ({@link PackedBatch#lastTokenColumns()}), [B] in {@code m}:
   * what a sequence classifier (a reward model) outputs, from a pass that runs no LM head, so training a reward model
   * costs no [B, W, V] logits.
   *
   * @param withGradients as in {@link #compute}
   * @throws IllegalArgumentException for a model without a score head, a sequence longer than the model's context
   *     or a token id outside the vocabulary
   */
  public static NDArray lastTokenScores(LlamaModel model, PackedBatch batch, boolean withGradients, NDManager m) {
    int[] last = batch.lastTokenColumns();
    int[][] columns = new int[last.length][];
    for (int r = 0; r < last.length; r++) {
      columns[r] = new int[] {last[r]};
    }
    return scoresAt(model, batch, columns, withGradients, m);
  }

  /**
   * The scalar head at the given columns of each row, flattened row by row into one [Σ |columns[r]|] array in
   * {@code m}: row 0's columns first, in their order, then row 1's. A process reward model reads it at each step's
   * last token ({@link StepSequence#stepEnds()}), a sequence classifier at the last real token
   * ({@link #lastTokenScores}). Runs no LM head.
   *
   * @param withGradients as in {@link #compute}
   * @throws IllegalArgumentException for a column outside its row, or as {@link #lastTokenScores}
   */
  public static NDArray scoresAt(LlamaModel model, PackedBatch batch, int[][] columns, boolean withGradients,
      NDManager m) {
    check(model, batch, true);
    if (columns.length != batch.rows()) {
      throw new IllegalArgumentException(columns.length + " column lists for a batch of " + batch.rows() + " rows");
    }
    int count = 0;
    for (int[] c : columns) {
      count += c.length;
    }
    long[] index = new long[count];
    int k = 0;
    int w = batch.width();
    for (int r = 0; r < columns.length; r++) {
      int len = batch.sequences().get(r).length();
      for (int c : columns[r]) {
        if (c < 0 || c >= len) {
          throw new IllegalArgumentException("row " + r + ": column " + c + " outside its " + len + " tokens");
        }
        index[k++] = (long) r * w + c;
      }
    }
    boolean before = enterGradMode(withGradients);
    try {
      NDArray hidden = model.hidden(batch.tokenIds(m), null, batch.attentionMask(m), null);
      // torch.take over the flattened [B, W] scores: differentiable, one gather for any number of columns per row
      return Linear.linear(hidden, model.scoreHeadWeight()).singletonOrThrow().take(m.create(index));
    } finally {
      JniUtils.setGradMode(before);
    }
  }

  /**
   * The scalar head at every column that predicts a scored token, [B, W-1] in {@code m} and 0 at every other column,
   * aligned with {@link Result#tokenLogProbs}: a value model's V of the state before each scored token (PPO's critic).
   * Runs no LM head.
   *
   * @param withGradients as in {@link #compute}
   */
  public static NDArray tokenScores(LlamaModel model, PackedBatch batch, boolean withGradients, NDManager m) {
    check(model, batch, true);
    boolean before = enterGradMode(withGradients);
    try {
      int t = batch.width() - 1;
      NDArray lossMask = batch.lossMask(m);
      if (t == 0) {
        return lossMask;
      }
      NDArray hidden = model.hidden(batch.tokenIds(m, t), null, batch.attentionMask(m, t), null);
      return Linear.linear(hidden, model.scoreHeadWeight()).singletonOrThrow().squeeze(-1).mul(lossMask);
    } finally {
      JniUtils.setGradMode(before);
    }
  }

  /** Sets the thread's grad mode for a pass and returns the mode to restore; a gradient pass needs a collector. */
  private static boolean enterGradMode(boolean withGradients) {
    if (withGradients && !JniUtils.isGradMode()) {
      throw new IllegalStateException("gradients asked for outside a GradientCollector");
    }
    boolean before = JniUtils.isGradMode();
    if (!withGradients) {
      JniUtils.setGradMode(false);
    }
    return before;
  }

  /**
   * Scores sequences without gradients, {@code batchSize} per forward pass, into Java arrays (the executors'
   * scoring and reference log-probs). Intermediates live in a sub-manager of the model's per batch.
   */
  public static List<SequenceScore> score(LlamaModel model, List<TokenSequence> sequences, double temperature,
      boolean withScores, int batchSize) {
    requirePositive(temperature);
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    }
    List<SequenceScore> out = new ArrayList<>(sequences.size());
    for (int from = 0; from < sequences.size(); from += batchSize) {
      PackedBatch batch = PackedBatch.pack(sequences.subList(from, Math.min(sequences.size(), from + batchSize)),
          model.config().padTokenId());
      float[][] lp;
      float[] scores = null;
      try (NDManager sub = model.manager().newSubManager()) {
        Result r = compute(model, batch, temperature, withScores, false, sub);
        lp = batch.perSequence(r.tokenLogProbs().toFloatArray());
        if (withScores) {
          scores = r.scores().toFloatArray();
        }
      }
      int[] last = batch.lastTokenColumns();
      for (int i = 0; i < batch.rows(); i++) {
        double sum = 0;
        for (float f : lp[i]) {
          sum += f;
        }
        double score = withScores ? scores[i * batch.width() + last[i]] : Double.NaN;
        out.add(new SequenceScore(lp[i], sum, score));
      }
    }
    return out;
  }

  /** The one temperature rule: a positive number, nothing read into 0 or a negative value. */
  public static void requirePositive(double temperature) {
    if (!(temperature > 0) || Double.isInfinite(temperature)) {
      throw new IllegalArgumentException("temperature must be > 0 (and finite), got " + temperature);
    }
  }

  private static void check(LlamaModel model, PackedBatch batch, boolean withScores) {
    if (withScores && !model.hasScoreHead()) {
      throw new IllegalArgumentException("the model has no score head");
    }
    int maxPos = model.config().maxPositionEmbeddings();
    if (fedColumns(batch, withScores) > maxPos) {
      throw new IllegalArgumentException("a sequence of " + batch.width() + " tokens feeds "
          + fedColumns(batch, withScores) + " positions, more than the model's max_position_embeddings " + maxPos);
    }
    int vocab = model.config().vocabSize();
    for (int r = 0; r < batch.rows(); r++) {
      for (int id : batch.sequences().get(r).ids()) {
        if (id < 0 || id >= vocab) {
          throw new IllegalArgumentException("row " + r + ": token id " + id + " outside the vocabulary [0, "
              + vocab + ")");
        }
      }
    }
  }

  /** The columns a pass feeds: the last one predicts nothing, so it goes in only when the score head reads it. */
  private static int fedColumns(PackedBatch batch, boolean withScores) {
    return withScores ? batch.width() : batch.width() - 1;
  }

  /** {@code x} [B, K, ...] behind {@code columns} zero columns: [B, columns + K, ...]. */
  private static NDArray padFront(NDArray x, int columns) {
    if (columns == 0) {
      return x;
    }
    Shape s = x.getShape();
    long[] dims = s.getShape().clone();
    dims[1] = columns;
    return x.getManager().zeros(new Shape(dims), x.getDataType()).concat(x, 1);
  }
}
