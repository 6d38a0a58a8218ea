package org.sparkrlhf.rollouts.spark;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;

/**
 * Facts about the executor a task runs on, and the per-thread engine settings an inference task needs.
 *
 * <p><b>Torch intra-op threads.</b> Measured on this engine (PyTorch 2.7.1 through DJL, OpenMP build): the
 * intra-op thread count is <em>per OS thread</em>. {@code JniUtils.setNumThreads(n)} changes the calling thread
 * and the default that threads which have not yet run a parallel op will pick up; threads that already ran one
 * keep their own setting. Spark reuses task threads from a pool, so the only reliable place to set it is on the
 * task thread itself, around the work — which {@link #inferenceScope()} does.
 *
 * <p>The count is {@value #THREADS_CONF} when set (as a job-level local property or in the Spark conf), else
 * the task's CPUs ({@code spark.task.cpus}, or the resource profile's task CPUs), i.e. 1 by default: an
 * executor with C cores runs C/taskCpus tasks at once, and giving each task exactly its CPUs keeps the cores
 * busy without oversubscription. Measured here (4-layer d=128 decoder, batches of 16 x 64 tokens, on this 2-core
 * machine while other jobs kept it loaded, load average about 5): one task alone ran 180-287 seq/s with 1 thread
 * but 11-22 seq/s with 2 — OpenMP's barriers collapse when another process holds a core — while two concurrent
 * tasks ran 96-177 seq/s with 1 thread each and 165-184 with 2 each (noise-dominated). So more threads than the
 * CPUs Spark granted is a bad default. For a job that runs one big
 * task per executor, set {@code spark.task.cpus} (or {@value #THREADS_CONF}) to the executor's cores.
 */
public final class SparkExecutors {

    /** Spark conf / local property: torch intra-op threads per task (overrides the task's CPUs). */
    public static final String THREADS_CONF = "spark.rlhf.torch.threadsPerTask";

    private SparkExecutors() {
    }

    /**
     * The executor id of the current task ({@code SparkEnv.get().executorId()}): "driver" in local mode and on
     * the driver, the executor's id on a cluster, "none" outside any Spark application. Rows record it so a bad
     * rollout can be traced to the JVM that produced it.
     */
    public static String executorId() {
        SparkEnv env = SparkEnv.get();
        return env == null ? "none" : env.executorId();
    }

    /** CPUs granted to the current task ({@code spark.task.cpus} or its resource profile); 1 outside a task. */
    public static int taskCpus() {
        TaskContext tc = TaskContext.get();
        return tc == null ? 1 : Math.max(1, tc.cpus());
    }

    /** Torch intra-op threads for the current task: {@value #THREADS_CONF} if set, else {@link #taskCpus()}. */
    public static int torchThreadsForTask() {
        TaskContext tc = TaskContext.get();
        String v = tc == null ? null : tc.getLocalProperty(THREADS_CONF);
        if (v == null && SparkEnv.get() != null) {
            v = SparkEnv.get().conf().get(THREADS_CONF, null);
        }
        if (v != null) {
            try {
                int n = Integer.parseInt(v.trim());
                if (n > 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // fall through: a typo in a tuning knob should not fail the job
            }
        }
        return taskCpus();
    }

    /**
     * Sets this thread up for inference — torch intra-op threads {@link #torchThreadsForTask()} and autograd off —
     * and restores both on close. Restoring matters in local mode, where "executor" tasks share the JVM (and the
     * engine's thread default) with a driver that trains with several threads.
     */
    public static AutoCloseable inferenceScope() {
        Engine.getEngine("PyTorch"); // load the native library before the first JNI call on this thread
        int before = JniUtils.getNumThreads();
        int wanted = torchThreadsForTask();
        boolean grad = JniUtils.isGradMode();
        if (before != wanted) {
            JniUtils.setNumThreads(wanted);
        }
        JniUtils.setGradMode(false);
        return () -> {
            JniUtils.setGradMode(grad);
            if (before != wanted) {
                JniUtils.setNumThreads(before);
            }
        };
    }
}
