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

# name | environment | extra settings
SFT_VARIANTS=(
  "base||"
  "threads1||--set sft.threads=1"
  "aten-avx2|ATEN_CPU_CAPABILITY=avx2|"
  "mkl-avx2-cap|MKL_ENABLE_INSTRUCTIONS=AVX2|"
  "pinned|ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2|"
  "pinned-mkl-avx2-cap|ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2|"
)
first=""
for v in "${SFT_VARIANTS[@]}"; do
  IFS='|' read -r name envs sets <<< "$v"
  run="xm-sft$STEPS-$name"
  # shellcheck disable=SC2086
  env $envs "$ROOT/bin/rlhf" sft --lake "$LAKE" --run-id "$run" --set sft.dataset=arith --set sft.max_steps="$STEPS" \
    --set sft.checkpoint_every="$STEPS" --set sft.eval_every="$STEPS" --set sft.log_every="$STEPS" $sets >/dev/null 2>"$LAKE/$run.err" || { echo "$name FAILED (see $LAKE/$run.err)"; continue; }
  h=$(sha "$run" sft)
  [[ -z "$first" ]] && first="$h"
  printf 'sft  %-24s %s %s\n' "$name" "$h" "$([[ $h == "$first" ]] && echo same || echo DIFFERS)"
done

# GRPO from the base SFT: rollouts split over 1, 2 or 4 partitions, and the thread count.
SFT="$(ls -d "$LAKE/runs/xm-sft$STEPS-base/sft/checkpoints/"step-* | sort | tail -1)"
GRPO_VARIANTS=(
  "parts2||--set grpo.rollout_partitions=2"
  "parts1||--set grpo.rollout_partitions=1"
  "parts4||--set grpo.rollout_partitions=4"
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
