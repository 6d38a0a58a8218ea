package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;

/** The data stage submitted to a real standalone Master + Worker on 127.0.0.1. */
class StandaloneClusterIT {
  @Test
  void dataStageOnAStandaloneCluster() throws Exception {
    String lakeRoot = TestSpark.newLake("cluster-it");
    Process worker;
    try (StandaloneCluster cluster = new StandaloneCluster(1, 1, "1500m")) {
      worker = cluster.workers().get(0);
      Launcher.Result r = Launcher.rlhf(
          Map.of("RLHF_SPARK_CONF", "--conf spark.executor.memory=1g --conf spark.cores.max=1"),
          "data", "--master", cluster.masterUrl(), "--lake", lakeRoot, "--run-id", "cluster-data",
          "--set", "data.train_size=200", "--set", "data.valid_size=20", "--set", "data.test_size=30",
          "--set", "data.test_ood_size=10", "--set", "data.step_label_problems=10");
      assertEquals(0, r.code(), r.stderr());
      com.fasterxml.jackson.databind.JsonNode apps =
          new com.fasterxml.jackson.databind.ObjectMapper().readTree(cluster.masterJson());
      assertEquals(1, apps.path("completedapps").size(), "the stage ran as an application of the cluster: " + apps);
      assertEquals("FINISHED", apps.path("completedapps").get(0).path("state").asText(), apps.toString());
    }
    assertFalse(worker.isAlive(), "every process the test started is stopped");
    Lake lake = new Lake(TestSpark.session(), lakeRoot);
    assertEquals(260, lake.read(Tables.PROMPTS).count());
    assertEquals(260, lake.read(Tables.SFT_DEMOS).filter("run_id = 'cluster-data'").count());
  }
}
