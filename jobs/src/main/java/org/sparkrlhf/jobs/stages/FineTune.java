package org.sparkrlhf.jobs.stages;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkrlhf.core.batch.TokenSequence;
import org.sparkrlhf.core.lake.Tables;
import org.sparkrlhf.core.model.LlamaModel;
import org.sparkrlhf.core.run.RunContext;
import org.sparkrlhf.core.tokenizer.TextTokenizer;
import org.sparkrlhf.core.train.ScheduledOptimizerSettings;
import org.sparkrlhf.sft.SftConfig;
import org.sparkrlhf.sft.SftTrainer;

/**
 * Supervised fine-tuning of a policy on (prompt, completion) rows a stage made itself (self-training's agreeing
 * solutions, Chain of Hindsight's feedback-prefixed rollouts): {@link SftTrainer} with the stage's optimizer keys,
 * loss on the completion only, one checkpoint at the end registered under the stage, naming the {@code sft_demos}
 * version the rows were written as.
 */
final class FineTune {
  private FineTune() {}

  /** The checkpoint written, the last logged training loss and the seconds spent in optimizer steps. */
  record Done(String checkpoint, double trainLoss, double trainSeconds, int examples) {}

  static Done run(RunContext ctx, ScheduledOptimizerSettings opt, int steps, int batchSize, long seed, int maxSeqLen,
      String policy, List<String[]> promptAndCompletion, Checkpoints checkpoints, long step, long demosVersion,
      Map<String, Object> more) {
    SftConfig s = opt.copyTo(new SftConfig());
    s.batchSize = batchSize;
    s.maxSteps = steps;
    s.seed = seed;
    s.evalEvery = 0;
    s.evalAccuracyProblems = 0;
    s.checkpointEvery = 0;
    s.logEvery = Math.max(1, steps / 4);
    try (NDManager manager = NDManager.newBaseManager()) {
      Models.Loaded start = Models.load(policy, manager);
      LlamaModel model = start.model();
      TextTokenizer tok = start.tokenizer();
      int maxLen = Math.min(maxSeqLen, model.config().maxPositionEmbeddings());
      List<TokenSequence> train = new ArrayList<>();
      for (String[] pc : promptAndCompletion) {
        TokenSequence e = SftTrainer.example(tok, pc[0], pc[1]);
        if (e.length() <= maxLen) train.add(e);
      }
      if (train.isEmpty()) {
        model.close();
        throw new org.sparkrlhf.core.UserError(ctx.stage() + ": every row to fine-tune on is longer than " + maxLen
            + " tokens");
      }
      Map<String, Object> provenance = new LinkedHashMap<>();
      provenance.put("run_id", ctx.runId());
      provenance.put("stage", ctx.stage());
      provenance.put("data_versions", Map.of(Tables.SFT_DEMOS, demosVersion));
      provenance.put("parent", policy);
      provenance.putAll(more);
      String[] saved = new String[1];
      SftTrainer.Result result = checkpoints.training(() -> new SftTrainer(s).train(model, train, List.of(), null,
          new SftTrainer.Hooks() {
            @Override
            public void onCheckpoint(int at, LlamaModel m) {
              saved[0] = checkpoints.save(step, m, tok, provenance);
            }
          }), () -> {});
      model.close();
      return new Done(saved[0], result.trainLoss(), result.trainSeconds(), train.size());
    }
  }
}
