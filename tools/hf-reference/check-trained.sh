#!/usr/bin/env bash
# check-trained.sh LAKE CHECKPOINT [RUN]: checks with Hugging Face transformers alone that a checkpoint the project
# trained generates and scores as the project does. On each split of $SPLITS (default "test valid") of the lake's
# prompts it runs, under run id RUN-<split> (RUN default hf-check-<time>):
#   bin/rlhf eval      greedy completions of every prompt      -> LAKE/runs/RUN-<split>/eval/completions.jsonl
#   bin/rlhf rollouts  2 samples per prompt at temperature 1   -> rows of the LAKE/rollouts table (token ids, log-probs)
# then tools/hf-reference/check_trained.py in the pinned venv (tools/python/venv.sh; the first use downloads
# torch and transformers, about 5.6 GB), which loads CHECKPOINT with LlamaForCausalLM.from_pretrained and its own
# tokenizer.json and prints the prompts compared, the greedy mismatches and the largest |delta log-prob| per
# sequence and per token. Exits non-zero on any mismatch.
#
#   tools/hf-reference/check-trained.sh /tmp/lake /tmp/lake/runs/demo/sft/checkpoints/step-000300
#
# LAKE is a local folder (the check reads the eval's file and the rollouts table's Parquet files directly).
# Environment: RLHF (the rlhf launcher, default bin/rlhf of this tree), SPLITS, MASTER (Spark master of the stages,
# default local[1]), DATASET (default arith), MAX_NEW_TOKENS (default 160, the eval's default), SAMPLES (default 2),
# SEQ_TOLERANCE (default 1e-4). Each stage's output goes to LAKE/runs/RUN-<split>/check-trained-*.log.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
lake="${1:?usage: check-trained.sh LAKE CHECKPOINT [RUN]}"
ckpt="${2:?usage: check-trained.sh LAKE CHECKPOINT [RUN]}"
run="${3:-hf-check-$(date +%Y%m%d-%H%M%S)}"
RLHF="${RLHF:-$ROOT/bin/rlhf}"
SPLITS="${SPLITS:-test valid}"
MASTER="${MASTER:-local[1]}"
DATASET="${DATASET:-arith}"
MAX_NEW_TOKENS="${MAX_NEW_TOKENS:-160}"
SAMPLES="${SAMPLES:-2}"
[[ -f "$ckpt/config.json" && -f "$ckpt/tokenizer.json" ]] || { echo "check-trained: $ckpt has no config.json and tokenizer.json" >&2; exit 2; }
[[ -d "$lake" ]] || { echo "check-trained: no lake folder $lake" >&2; exit 2; }
ckpt="$(cd "$ckpt" && pwd)"
lake="$(cd "$lake" && pwd)"

venv="$("$ROOT/tools/python/venv.sh" "$ROOT/tools/hf-reference/requirements.txt")"

stage() {  # stage NAME RUN LOG ARGS...: one project stage, its output in LOG, shown only when it fails
  local name="$1" r="$2" log="$3"; shift 3
  mkdir -p "$lake/runs/$r"
  echo "check-trained: $name on $r ..." >&2
  if ! "$RLHF" "$name" --master "$MASTER" --lake "$lake" --run-id "$r" --checkpoint "$ckpt" "$@" >"$log" 2>&1; then
    tail -20 "$log" >&2
    echo "check-trained: $name failed (log: $log)" >&2
    exit 2
  fi
  grep -E "^$name: " "$log" >&2 || true
}

args=()
for split in $SPLITS; do
  r="$run-$split"
  stage eval "$r" "$lake/runs/$r/check-trained-eval.log" --split "$split" --set "eval.dataset=$DATASET" \
    --set eval.k=0 --set "eval.max_new_tokens=$MAX_NEW_TOKENS" --set eval.threads=1
  stage rollouts "$r" "$lake/runs/$r/check-trained-rollouts.log" --split "$split" --set "rollouts.dataset=$DATASET" \
    --set "rollouts.num_samples=$SAMPLES" --set rollouts.temperature=1.0 --set "rollouts.max_new_tokens=$MAX_NEW_TOKENS" \
    --set rollouts.threads=1
  args+=(--completions "$lake/runs/$r/eval/completions.jsonl" --rollouts-run "$r")
done

"$venv/bin/python" "$ROOT/tools/hf-reference/check_trained.py" --checkpoint "$ckpt" --rollouts-table "$lake/rollouts" \
  --max-new-tokens "$MAX_NEW_TOKENS" --temperature 1.0 --seq-tolerance "${SEQ_TOLERANCE:-1e-4}" "${args[@]}"
