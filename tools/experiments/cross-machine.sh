#!/usr/bin/env bash
# What differs between machines: the same SFT and GRPO runs (same config, seed and data) under the settings that
# vary from one machine to another, each compared bit for bit with the first. libtorch picks its CPU kernels at run
# time: ATen's vectorised kernels by the CPU's instruction sets (ATEN_CPU_CAPABILITY pins them), and MKL's GEMM by
# its own dispatch (MKL_CBWR pins a code path; MKL_ENABLE_INSTRUCTIONS caps it, standing in for an older CPU). The
# thread count splits reductions, and Spark's default parallelism (the core count) splits the rollouts.
#
#   tools/experiments/cross-machine.sh LAKE [SFT_STEPS] [GRPO_ITERATIONS]
#
# Prints one line per variant: its name, the SHA-256 of its model.safetensors, and "same" or "DIFFERS" against the
# first variant of its group (bitwise equality is the question).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAKE="${1:?usage: cross-machine.sh LAKE [SFT_STEPS] [GRPO_ITERATIONS]}"
STEPS="${2:-60}"
ITERS="${3:-2}"
DATA=(--set data.train_size=4000 --set data.valid_size=100 --set data.test_size=100 --set data.test_ood_size=20
  --set data.step_label_problems=0)
[[ -d "$LAKE/prompts" ]] || "$ROOT/bin/rlhf" data --lake "$LAKE" --run-id xm-data "${DATA[@]}" >/dev/null

sha() { sha256sum "$(ls -d "$LAKE/runs/$1/$2/checkpoints/"step-* | sort | tail -1)/model.safetensors" | cut -c1-16; }

tokens_per_s() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["tokens_per_s"]))' "$LAKE/runs/$1/sft/report.json" 2>/dev/null || echo "?"; }

# sft_group PREFIX "SETTINGS" VARIANT...: each VARIANT is "name|environment|extra settings"; every run is compared with
# the group's first, and its training tokens/s printed beside (the runs alternate, so the figures share the machine).
sft_group() {
  local prefix="$1" common="$2" first="" v name envs sets run h
  shift 2
  for v in "$@"; do
    IFS='|' read -r name envs sets <<< "$v"
    run="xm-$prefix$STEPS-$name"
    # shellcheck disable=SC2086
    env $envs "$ROOT/bin/rlhf" sft --lake "$LAKE" --run-id "$run" --set sft.dataset=arith --set sft.max_steps="$STEPS" \
      --set sft.checkpoint_every="$STEPS" --set sft.eval_every="$STEPS" --set sft.log_every="$STEPS" $common $sets \
      >/dev/null 2>"$LAKE/$run.err" || { echo "$name FAILED (see $LAKE/$run.err)"; continue; }
    h=$(sha "$run" sft)
    [[ -z "$first" ]] && first="$h"
    printf '%-9s %-24s %s %-7s %s tokens/s\n' "$prefix" "$name" "$h" "$([[ $h == "$first" ]] && echo same || echo DIFFERS)" \
      "$(tokens_per_s "$run")"
  done
}

# The quickstart's model (hidden 64).
sft_group sft "" \
  "free|RLHF_PIN_KERNELS=0|" \
  "free-threads1|RLHF_PIN_KERNELS=0|--set sft.threads=1" \
  "free-aten-avx2|RLHF_PIN_KERNELS=0 ATEN_CPU_CAPABILITY=avx2|" \
  "free-mkl-avx2-cap|RLHF_PIN_KERNELS=0 MKL_ENABLE_INSTRUCTIONS=AVX2|" \
  "pinned||" \
  "pinned-mkl-avx2-cap|MKL_ENABLE_INSTRUCTIONS=AVX2|"

# A wider model (hidden 512, 4 layers): large enough for torch to split its reductions over threads.
WIDE="--set sft.model.hidden_size=512 --set sft.model.intermediate_size=1536 --set sft.model.num_attention_heads=8 --set sft.model.num_key_value_heads=8"
sft_group sft-wide "$WIDE" \
  "free|RLHF_PIN_KERNELS=0|" \
  "free-threads1|RLHF_PIN_KERNELS=0|--set sft.threads=1" \
  "pinned||" \
  "pinned-threads1||--set sft.threads=1" \
  "free-again|RLHF_PIN_KERNELS=0|" \
  "pinned-again||"

# GRPO from the base SFT: rollouts split over 1, 2 or 4 partitions, and the thread count.
SFT="$(ls -d "$LAKE/runs/xm-sft$STEPS-pinned/sft/checkpoints/"step-* | sort | tail -1)"
GRPO_VARIANTS=(
  "parts2||--set grpo.rollout_partitions=2"
  "parts1||--set grpo.rollout_partitions=1"
  "parts4||--set grpo.rollout_partitions=4"
  "parts2-threads1||--set grpo.rollout_partitions=2 --set grpo.threads=1"
)
first=""
for v in "${GRPO_VARIANTS[@]}"; do
  IFS='|' read -r name envs sets <<< "$v"
  run="xm-grpo$ITERS-$name"
  # shellcheck disable=SC2086
  env $envs "$ROOT/bin/rlhf" grpo --lake "$LAKE" --run-id "$run" --set grpo.init_checkpoint="$SFT" \
    --set grpo.iterations="$ITERS" --set grpo.checkpoint_every="$ITERS" --set grpo.eval_every=0 $sets \
    >/dev/null 2>"$LAKE/$run.err" || { echo "$name FAILED (see $LAKE/$run.err)"; continue; }
  h=$(sha "$run" grpo)
  [[ -z "$first" ]] && first="$h"
  printf 'grpo %-24s %s %s\n' "$name" "$h" "$([[ $h == "$first" ]] && echo same || echo DIFFERS)"
done
