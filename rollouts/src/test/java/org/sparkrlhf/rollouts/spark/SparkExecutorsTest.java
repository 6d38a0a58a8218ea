package org.sparkrlhf.rollouts.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;

class SparkExecutorsTest {

    /** In a task: executor id, task CPUs, and the torch threads / grad mode inside and after an inference scope. */
    private static String probe() throws Exception {
        String inside;
        try (AutoCloseable scope = SparkExecutors.inferenceScope()) {
            inside = JniUtils.getNumThreads() + "," + JniUtils.isGradMode();
        }
        return SparkExecutors.executorId() + "|cpus=" + SparkExecutors.taskCpus() + "|inside=" + inside;
    }

    @Test
    void tasksSeeTheirExecutorAndGetOneTorchThreadPerTaskCpu() {
        SparkSession spark = TestSpark.session();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<String> seen = jsc.parallelize(List.of(1, 2, 3, 4), 4).map(i -> probe()).distinct().collect();
        // local mode: tasks run in the driver JVM (executor id "driver"); spark.task.cpus defaults to 1
        assertEquals(List.of("driver|cpus=1|inside=1,false"), seen);

        jsc.setLocalProperty(SparkExecutors.THREADS_CONF, "2");
        try {
            List<String> overridden = jsc.parallelize(List.of(1, 2), 2).map(i -> probe()).distinct().collect();
            assertEquals(List.of("driver|cpus=1|inside=2,false"), overridden);
        } finally {
            jsc.setLocalProperty(SparkExecutors.THREADS_CONF, null);
        }
        assertEquals("driver", SparkExecutors.executorId());
    }

    @Test
    void inferenceScopeRestoresTheThreadsSettings() throws Exception {
        JniUtils.setGradMode(true);
        int before = JniUtils.getNumThreads();
        try (AutoCloseable scope = SparkExecutors.inferenceScope()) {
            // outside a task: 1 thread (taskCpus() is 1), no autograd
            assertEquals(1, JniUtils.getNumThreads());
            assertEquals(false, JniUtils.isGradMode());
        }
        assertEquals(before, JniUtils.getNumThreads());
        assertEquals(true, JniUtils.isGradMode());
    }
}
