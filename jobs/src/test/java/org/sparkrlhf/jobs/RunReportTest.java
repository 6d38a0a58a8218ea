package org.sparkrlhf.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.sparkrlhf.core.TestSpark;
import org.sparkrlhf.core.config.StageConfigs;
import org.sparkrlhf.core.lake.Lake;

/**
 * data → sft → eval → grpo, then the run's report.html opened in headless Chromium (Debian's {@code chromium}):
 * every chart image decodes and loads (the page counts its loaded images), the tables are there, and the screenshot
 * is a rendered page, not a blank one.
 */
class RunReportTest {
  static final List<String> SETTINGS = List.of(
      "data.train_size=64", "data.valid_size=8", "data.test_size=8", "data.test_ood_size=8",
      "data.step_label_problems=0",
      "sft.model.hidden_size=32", "sft.model.intermediate_size=64", "sft.model.num_hidden_layers=1",
      "sft.model.num_attention_heads=2", "sft.model.num_key_value_heads=1", "sft.batch_size=16",
      "sft.max_steps=10", "sft.eval_every=5", "sft.checkpoint_every=5", "sft.log_every=1",
      "sft.eval_accuracy_problems=0", "sft.threads=1", "eval.k=2",
      "grpo.prompts_per_iteration=4", "grpo.group_size=4", "grpo.iterations=3", "grpo.max_new_tokens=24",
      "grpo.minibatch_size=8", "grpo.checkpoint_every=3", "grpo.threads=1", "grpo.lr=1e-3", "grpo.eval_every=0");

  static String chromium() {
    for (String c : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser")) {
      if (new File(c).canExecute()) return c;
    }
    return null;
  }

  static String browse(String browser, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(browser, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--user-data-dir=" + TestSpark.tempDir("chromium-profile")));
    cmd.addAll(List.of(args));
    File out = File.createTempFile("chromium", ".out");
    Process p = new ProcessBuilder(cmd).redirectOutput(out).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    assertTrue(p.waitFor(2, TimeUnit.MINUTES), "chromium did not finish: " + cmd);
    return Files.readString(out.toPath(), StandardCharsets.UTF_8);
  }

  @Test
  void theRunReportRendersInABrowserWithEveryChart() throws Exception {
    String browser = chromium();
    Assumptions.assumeTrue(browser != null, "Debian's chromium is not installed (.ci/run installs it)");
    Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(1);
    String lakeRoot = TestSpark.newLake("run-report-test");
    var config = StageConfigs.load(null, SETTINGS);
    for (String stage : List.of("data", "sft", "eval-sft-test", "grpo")) {
      Stages.run(TestSpark.session(), lakeRoot, "r", stage, config);
    }
    String html = RunReport.write(new Lake(TestSpark.session(), lakeRoot), "r");
    assertEquals(Path.of(lakeRoot, "runs", "r", "report.html").toString(), html);
    String page = Files.readString(Path.of(html));
    assertTrue(!page.contains("http://") && !page.contains("https://"), "self-contained: nothing fetched");

    String dom = browse(browser, "--dump-dom", "file://" + html);
    Matcher charts = Pattern.compile("data-charts=\"(\\d+)\"").matcher(dom);
    Matcher loaded = Pattern.compile("data-loaded=\"(\\d+)\"").matcher(dom);
    assertTrue(charts.find(), dom.substring(0, Math.min(500, dom.length())));
    int n = Integer.parseInt(charts.group(1));
    for (String chart : List.of("sft: loss", "sft: valid_loss", "grpo: reward_mean", "grpo: kl_ref",
        "grpo: train_groups")) {
      assertTrue(dom.contains("alt=\"" + chart + "\""), "a chart of " + chart);
    }
    assertTrue(n >= 5, "charts: " + n);
    assertTrue(loaded.find(), "no chart image loaded");
    assertEquals(n, Integer.parseInt(loaded.group(1)), "every chart image loaded in the browser");
    assertTrue(dom.contains("eval-sft-test") && dom.contains("Lineage") && dom.contains("sft_demos@"), "tables");

    Path shot = TestSpark.tempDir("report-shot").resolve("report.png");
    browse(browser, "--screenshot=" + shot, "--window-size=1200,1600", "file://" + html);
    BufferedImage img = ImageIO.read(shot.toFile());
    assertEquals(1200, img.getWidth());
    java.util.Set<Integer> colours = new java.util.HashSet<>();
    for (int y = 0; y < img.getHeight(); y += 7) {
      for (int x = 0; x < img.getWidth(); x += 7) colours.add(img.getRGB(x, y));
    }
    assertTrue(colours.size() > 20, "a rendered page, not a blank one: " + colours.size() + " colours");
  }
}
