package org.sparkrlhf.jobs.stages;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.sparkrlhf.core.lake.Lake;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.rollouts.engine.Completion;
import org.sparkrlhf.rollouts.engine.GenerationEngine;
import org.sparkrlhf.rollouts.engine.PromptRef;
import org.sparkrlhf.rollouts.engine.SamplingParams;

/**
 * A small driver-side producer of {@code rollouts} rows: samples {@code samples} completions per prompt with the
 * {@link GenerationEngine} and writes them (reward left null: the pairs stage grades them). A stand-in for the
 * distributed {@code rollouts} stage, so {@code pairs} can run on its own; any producer of the table works the same.
 */
public final class DriverRollouts {
  private DriverRollouts() {}

  /** One prompt to sample from. */
  public record Prompt(String dataset, String id, String text) {}

  /**
   * Samples and writes; idempotent on the rollouts key (insert-only), returns the number of rows generated.
   *
   * @param stage value of the {@code stage} column (the producer's name)
   */
  public static int write(Lake lake, String runId, String stage, int iteration, List<Prompt> prompts, int samples,
      LlamaModel model, TextTokenizer tok, SamplingParams params, int batchSize, long policyVersion) {
    List<PromptRef> refs = new ArrayList<>();
    List<Prompt> of = new ArrayList<>();
    for (Prompt p : prompts) {
      for (int s = 0; s < samples; s++) {
        refs.add(new PromptRef(p.id(), p.text(), s));
        of.add(p);
      }
    }
    List<Completion> done = GenerationEngine.generate(model, tok, refs, params, batchSize);
    List<Row> rows = new ArrayList<>(done.size());
    for (int i = 0; i < done.size(); i++) {
      Completion c = done.get(i);
      Prompt p = of.get(i);
      List<Integer> ids = new ArrayList<>();
      for (int t : c.tokenIds()) ids.add(t);
      List<Float> lps = new ArrayList<>();
      for (float f : c.logProbs()) lps.add(f);
      rows.add(RowFactory.create(runId, stage, iteration, p.dataset(), p.id(), c.sampleIndex(), p.text(), c.text(),
          ids, lps, c.finishReason(), policyVersion, null, null, "driver", null));
    }
    lake.insertNew(Tables.ROLLOUTS, lake.frame(Tables.ROLLOUTS, rows));
    return rows.size();
  }
}
