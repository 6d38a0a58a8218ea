#!/usr/bin/env bash
# Where RL's room ends: for each error rate of the quickstart's flawed teacher, data → sft → eval → grpo → eval
# and rollouts → pairs → dpo → eval, each in its own lake, with the quickstart's settings otherwise.
#
#   tools/experiments/teacher-sweep.sh OUT_DIR [RATE ...]     (default rates: 0.5 0.7 0.9 1.0)
#
# SWEEP_SET="--set k=v ..." adds settings to every run (e.g. threads when two sweeps share a machine).
# Each rate's run folder holds the stages' report.json files; tools/experiments/teacher-sweep-table.py OUT_DIR
# prints the table (SFT, GRPO and DPO on test, the paired differences, and the share of the gap recovered).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:?usage: teacher-sweep.sh OUT_DIR [RATE ...]}"
shift
RATES=("$@")
[[ ${#RATES[@]} -gt 0 ]] || RATES=(0.5 0.7 0.9 1.0)
STAGES='[data, sft, eval-sft-test, grpo, eval-grpo-test, rollouts, pairs, dpo, eval-dpo-test]'
read -ra EXTRA <<< "${SWEEP_SET:-}"
mkdir -p "$OUT"
for rate in "${RATES[@]}"; do
  tag="rate-${rate}"
  "$ROOT/bin/rlhf" quickstart --conf "$ROOT/conf/quickstart-dpo.conf" --lake "$OUT/$tag" --run-id "$tag" \
    --set "quickstart.stages=$STAGES" --set "data.teacher.error_rate=$rate" "${EXTRA[@]+"${EXTRA[@]}"}" \
    > "$OUT/$tag.log" 2>&1
done
