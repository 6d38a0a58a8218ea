#!/usr/bin/env bash
# RL on problems no demonstration showed: GRPO from a run's SFT checkpoint on prompts with more operators than any
# demonstration (the built-in task's prompts of a second dataset, whose solutions GRPO never reads), then the
# original dataset's test_ood (those operator counts, held out) and test, paired against the SFT checkpoint's own
# evaluations.
#
#   tools/experiments/curriculum.sh LAKE RUN_ID [OPS]   (OPS: operators per curriculum prompt, default 4)
#
# RUN_ID is a finished quickstart run in LAKE (its sft checkpoint and its eval-sft-test / eval-sft-test_ood
# completions are read). CURRICULUM_SET="--set k=v ..." adds settings to every stage (e.g. threads); GRPO runs at
# lr 1e-4 for 200 iterations, probing its dataset's four-operator valid split every 20.
# Writes the run "<RUN_ID>-cur<OPS>": dataset arith-ops<OPS> (data), grpo, eval-grpo-test_ood, eval-grpo-test.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAKE="${1:?usage: curriculum.sh LAKE RUN_ID [OPS]}"
BASE="${2:?usage: curriculum.sh LAKE RUN_ID [OPS]}"
OPS="${3:-4}"
RUN="$BASE-cur$OPS"
read -ra EXTRA <<< "${CURRICULUM_SET:-}"
SFT=$(ls -d "$LAKE/runs/$BASE/sft/checkpoints/"step-* | sort | tail -1)
rlhf() { "$ROOT/bin/rlhf" "$@" --lake "$LAKE" --run-id "$RUN" "${EXTRA[@]+"${EXTRA[@]}"}"; }
rlhf data --set data.dataset="arith-ops$OPS" --set data.seed=4321 --set data.min_ops="$OPS" --set data.max_ops="$OPS" \
  --set data.train_size=20000 --set data.valid_size=500 --set data.test_size=500 --set data.test_ood_size=100 \
  --set data.step_label_problems=0 --set data.teacher.pair_share=0
# A new skill from a few percent of successes wants a larger step than the quickstart's lr 3e-5, and more iterations.
rlhf grpo --set grpo.dataset="arith-ops$OPS" --set grpo.init_checkpoint="$SFT" --set grpo.lr=1e-4 \
  --set grpo.iterations=200 --set grpo.eval_every=20
for split in test_ood test; do
  rlhf "eval-grpo-$split" --set eval.baseline="$LAKE/runs/$BASE/eval-sft-$split/completions.jsonl"
done
