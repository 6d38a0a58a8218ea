#!/usr/bin/env bash
# peer.sh [bin/rlhf options]...: `bin/rlhf bench rollouts` with its peer on. Makes (once) the venv of
# tools/hf-reference/requirements.txt (official torch and transformers, about 5.8 GB) and has the bench run
# tools/bench/peer_bench.py with it: the same model, prompts, batch sizes, torch threads and new tokens in
# transformers, alternately with the project, reported as peer_* figures and generation_vs_peer / train_vs_peer.
#
#   tools/bench/peer.sh --set bench.batch_size=64 --set bench.prompts=64
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$("$ROOT/tools/python/venv.sh" "$ROOT/tools/hf-reference/requirements.txt")"
exec "$ROOT/bin/rlhf" bench rollouts --set bench.peer=true --set "bench.peer_python=$venv/bin/python" \
  --set "bench.peer_script=$ROOT/tools/bench/peer_bench.py" "$@"
