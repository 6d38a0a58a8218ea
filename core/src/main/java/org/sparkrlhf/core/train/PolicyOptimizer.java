package org.sparkrlhf.core.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.NonFiniteError;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.model.SafeTensors;

/**
 * AdamW over a model's parameters, as the driver runs it for every trainer (SFT, reward, DPO, GRPO):
 * decoupled weight decay on the matrices only (norm gains are left undecayed, as in nanoGPT/Llama), a
 * learning-rate schedule, and clipping by the global L2 norm of all gradients (not per element) before the
 * update.
 *
 * <p>The update is torch's {@code AdamW} (Loshchilov &amp; Hutter 2019), written out here so that its state
 * can be saved and restored for resume (DJL's optimizer keeps its moments private). For update number
 * {@code t = 1, 2, ...} with learning rate {@code lr = schedule.at(t)}:
 * <pre>
 * m = β1·m + (1 − β1)·g
 * v = β2·v + (1 − β2)·g²
 * w = w − lr·wd·w                                   (matrices only)
 * w = w − lr · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + eps)
 * </pre>
 * Moments are float32 NDArrays kept beside the weights (in a child of the model's manager, so they live as
 * long as the model). {@link #state()} / {@link #restore(Map)} copy them and the step count in and out as
 * safetensors tensors: {@code m.<param>}, {@code v.<param>} and {@code step} (shape [1]).
 *
 * <p>A step whose loss or gradient norm is NaN or infinite is skipped: its gradients are discarded and the
 * weights, moments and step count are left exactly as they were (one such step would otherwise turn every
 * weight NaN, and every later step and checkpoint with it). Up to {@code maxSkippedSteps} steps of a run are
 * skipped so; the next one ends it with a {@link NonFiniteError}.
 */
public final class PolicyOptimizer {
  /** Name of the step-count tensor in {@link #state()}. */
  public static final String STEP = "step";
  private static final String M = "m.";
  private static final String V = "v.";
  private static final double EPS = 1e-8;
  /** Non-finite steps skipped before a run is stopped, unless the settings say otherwise. */
  public static final int DEFAULT_MAX_SKIPPED_STEPS = 10;

  private final LrSchedule schedule;
  private final double weightDecay;
  private final double beta1;
  private final double beta2;
  private final double clipNorm;
  private final int maxSkippedSteps;
  private final Map<String, NDArray> m = new LinkedHashMap<>();
  private final Map<String, NDArray> v = new LinkedHashMap<>();
  private NDManager stateManager;
  /** Restored moments not yet materialized as NDArrays (they need the model's manager). */
  private Map<String, SafeTensors.Tensor> pending;
  private int step;
  /** Steps skipped for a non-finite loss or gradient norm since this optimizer was made. */
  private int skipped;

  /**
   * @param schedule learning rate per step
   * @param weightDecay decoupled decay for matrices (e.g. 0.1)
   * @param beta1 Adam beta1 (0.9)
   * @param beta2 Adam beta2 (0.95 for small models trained fast, 0.999 by default in torch)
   * @param clipNorm global gradient-norm limit; 0 or less disables clipping
   * @param maxSkippedSteps non-finite steps skipped before {@link #step} throws (0: the first one throws)
   */
  public PolicyOptimizer(LrSchedule schedule, double weightDecay, double beta1, double beta2, double clipNorm,
      int maxSkippedSteps) {
    this.schedule = schedule;
    this.weightDecay = weightDecay;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.clipNorm = clipNorm;
    this.maxSkippedSteps = maxSkippedSteps;
  }

  /** With {@link #DEFAULT_MAX_SKIPPED_STEPS}. */
  public PolicyOptimizer(LrSchedule schedule, double weightDecay, double beta1, double beta2, double clipNorm) {
    this(schedule, weightDecay, beta1, beta2, clipNorm, DEFAULT_MAX_SKIPPED_STEPS);
  }

  /** The optimizer a trainer's settings describe, over {@code schedule}. */
  public static PolicyOptimizer of(OptimizerSettings s, LrSchedule schedule) {
    return new PolicyOptimizer(schedule, s.weightDecay, s.beta1, s.beta2, s.gradClip, s.maxSkippedSteps);
  }

  /** The optimizer a stage's settings describe, its schedule spanning {@code totalSteps} updates. */
  public static PolicyOptimizer of(ScheduledOptimizerSettings s, int totalSteps) {
    return of(s, new LrSchedule(s.lr, s.warmupSteps, totalSteps, s.minLrRatio));
  }

  /** Matrices decay; 1-D gains (RMSNorm weights) do not. */
  static boolean decays(String name, NDArray weight) {
    return weight.getShape().dimension() >= 2;
  }

  /** Number of updates taken so far. */
  public int steps() {
    return step;
  }

  /** Steps skipped so far because their loss or gradient norm was not finite. */
  public int skippedSteps() {
    return skipped;
  }

  /** Learning rate the next update will use. */
  public double nextLearningRate() {
    return schedule.at(step + 1);
  }

  /** {@link #step(LlamaModel, double)} guarded by the gradient norm alone. */
  public double step(LlamaModel model) {
    return step(model, 0);
  }

  /**
   * Clips and applies the gradients currently attached to the model's parameters, then clears them.
   * Returns the global gradient norm before clipping. When {@code loss} or that norm is not finite the
   * gradients are cleared without an update (see the class comment), and past {@code maxSkippedSteps} such
   * steps a {@link NonFiniteError} names this one.
   */
  public double step(LlamaModel model, double loss) {
    Map<String, NDArray> params = model.parameters();
    List<NDArray> grads = new ArrayList<>(params.size());
    double sq = 0;
    for (NDArray w : params.values()) {
      grads.add(w.getGradient());
    }
    // One reduction per tensor, summed in Java: a handful of scalars, not a copy of the gradients.
    for (NDArray g : grads) {
      try (NDArray g2 = g.square(); NDArray s = g2.sum()) {
        sq += s.getFloat();
      }
    }
    double norm = Math.sqrt(sq);
    if (!Double.isFinite(norm)) {
      // Squares of finite gradients above ~1.8e19 overflow the float32 sums; tell that apart from a NaN or an
      // infinity in the gradients, which is what makes a step worthless.
      norm = scaledNorm(grads);
    }
    if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
      discard(grads, model);
      skipped++;
      if (skipped > maxSkippedSteps) {
        throw new NonFiniteError(String.format("optimizer step %d: loss %s, gradient norm %s; %d non-finite steps"
                + " skipped, more than max_skipped_steps %d", step + skipped, loss, norm, skipped, maxSkippedSteps),
            "lower the learning rate or enable grad_clip");
      }
      return norm;
    }
    float scale = clipNorm > 0 && norm > clipNorm ? (float) (clipNorm / (norm + 1e-6)) : 1f;
    ensureState(model);
    step++;
    double lr = schedule.at(step);
    double bc1 = 1 - Math.pow(beta1, step);
    double bc2 = 1 - Math.pow(beta2, step);
    try (AutoCloseable noGrad = LlamaModel.noGrad()) {
      int i = 0;
      for (Map.Entry<String, NDArray> e : params.entrySet()) {
        String name = e.getKey();
        NDArray w = e.getValue();
        NDArray g = grads.get(i++);
        try (NDManager tmp = stateManager.newSubManager()) {
          NDArray gs = g;
          if (scale != 1f) {
            gs = g.mul(scale);
            gs.attach(tmp);
          }
          NDArray mt = m.get(name);
          NDArray vt = v.get(name);
          // Every temporary goes to tmp: an op's result belongs to its first operand's manager, which
          // for a gradient is the model's, so an unattached temporary would live as long as the model.
          NDArray g1 = gs.mul((float) (1 - beta1));
          g1.attach(tmp);
          mt.muli((float) beta1).addi(g1);
          NDArray g2 = gs.square();
          g2.attach(tmp);
          g2.muli((float) (1 - beta2));
          vt.muli((float) beta2).addi(g2);
          if (weightDecay != 0 && decays(name, w)) {
            w.muli((float) (1 - lr * weightDecay));
          }
          NDArray vhat = vt.div((float) bc2);
          vhat.attach(tmp);
          NDArray denom = vhat.sqrt().addi((float) EPS);
          NDArray upd = mt.mul((float) (lr / bc1)).divi(denom);
          upd.attach(tmp);
          w.subi(upd);
        }
      }
    } catch (Exception ex) {
      throw ex instanceof RuntimeException re ? re : new IllegalStateException(ex);
    }
    discard(grads, model);
    return norm;
  }

  private static void discard(List<NDArray> grads, LlamaModel model) {
    for (NDArray g : grads) {
      g.close();
    }
    model.zeroGradients();
  }

  /**
   * The global norm with each tensor scaled by its largest magnitude first, in double: finite for any finite
   * gradients; NaN or infinite only when a gradient element is.
   */
  private static double scaledNorm(List<NDArray> grads) {
    double sq = 0;
    for (NDArray g : grads) {
      try (NDArray abs = g.abs(); NDArray max = abs.max()) {
        float a = max.getFloat();
        if (!Float.isFinite(a)) {
          return a;
        }
        if (a == 0) {
          continue;
        }
        try (NDArray scaled = g.div(a); NDArray s2 = scaled.square(); NDArray s = s2.sum()) {
          sq += (double) a * a * s.getFloat();
        }
      }
    }
    return Math.sqrt(sq);
  }

  private void ensureState(LlamaModel model) {
    if (stateManager == null) {
      stateManager = model.manager().newSubManager();
    }
    for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
      String name = e.getKey();
      if (m.containsKey(name)) {
        continue;
      }
      SafeTensors.Tensor pm = pending == null ? null : pending.get(M + name);
      SafeTensors.Tensor pv = pending == null ? null : pending.get(V + name);
      m.put(name, pm != null ? pm.toNDArray(stateManager) : stateManager.zeros(e.getValue().getShape()));
      v.put(name, pv != null ? pv.toNDArray(stateManager) : stateManager.zeros(e.getValue().getShape()));
    }
    pending = null;
  }

  /**
   * A copy of the optimizer state: the step count ({@code step}) and the first and second moments of every
   * parameter ({@code m.<name>}, {@code v.<name>}; absent before the first step). With the weights and the
   * schedule (a function of the step), this is everything the next update depends on.
   */
  public Map<String, SafeTensors.Tensor> state() {
    Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
    out.put(STEP, new SafeTensors.Tensor(new long[] {1}, new float[] {step}));
    if (pending != null) {
      pending.forEach((k, t) -> {
        if (!k.equals(STEP)) out.put(k, t);
      });
      return out;
    }
    m.forEach((k, a) -> out.put(M + k, SafeTensors.Tensor.of(a)));
    v.forEach((k, a) -> out.put(V + k, SafeTensors.Tensor.of(a)));
    return out;
  }

  /**
   * Replaces the state with one from {@link #state()} (possibly of another optimizer instance, e.g. after a
   * restart). The moments become NDArrays at the next {@link #step}.
   */
  public void restore(Map<String, SafeTensors.Tensor> state) {
    SafeTensors.Tensor s = state.get(STEP);
    if (s == null) {
      throw new IllegalArgumentException("optimizer state has no '" + STEP + "' tensor");
    }
    for (String k : state.keySet()) {
      if (!k.equals(STEP) && !k.startsWith(M) && !k.startsWith(V)) {
        throw new IllegalArgumentException("unexpected optimizer state tensor " + k);
      }
    }
    m.values().forEach(NDArray::close);
    v.values().forEach(NDArray::close);
    m.clear();
    v.clear();
    step = Math.round(s.data()[0]);
    pending = new LinkedHashMap<>(state);
  }
}
