#!/usr/bin/env bash
# The measured figures docs/scale.md extrapolates from, on this machine:
#   1. weight sync per MB: `bench rollouts` on a standalone cluster on loopback (a Master and two Workers of one core
#      each, executors in their own JVMs, so the broadcast is really fetched) for models of three sizes;
#   2. Spark against in-process generation on >= 100k tokens (local[2]) with completions up to the quickstart
#      GRPO's 160 new tokens, and the generation rate per core it implies.
# Every bench writes its report.json under $OUT/lake; the table at the end is read from those.
#
#   tools/experiments/scale-figures.sh [OUT]      (default /tmp/scale-figures; about 15 minutes on 2 cores)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-/tmp/scale-figures}
JARS="$ROOT/tools/spark-home/target/spark-home/jars"
[[ -d "$JARS" && -f "$ROOT/jobs/target/spark-rlhf.jar" ]] || { echo "build first: mvn -q -B package -DskipTests" >&2; exit 2; }
mkdir -p "$OUT/logs"
PORT=$((20000 + RANDOM % 20000))
OPENS=(--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.lang.invoke=ALL-UNNAMED)
export SPARK_LOCAL_IP=127.0.0.1 SPARK_HOME="$ROOT/tools/spark-home/target/spark-home" SPARK_SCALA_VERSION=2.13
PIDS=()
stop() { for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done; }
trap stop EXIT
java -Xmx512m "${OPENS[@]}" -cp "$JARS/*" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$PORT" \
  --webui-port $((PORT + 1)) > "$OUT/logs/master.log" 2>&1 &
PIDS+=($!)
for w in 0 1; do
  mkdir -p "$OUT/worker-$w"
  java -Xmx512m "${OPENS[@]}" -cp "$JARS/*" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 \
    --webui-port $((PORT + 2 + w)) --cores 1 --memory 5g --work-dir "$OUT/worker-$w" "spark://127.0.0.1:$PORT" \
    > "$OUT/logs/worker-$w.log" 2>&1 &
  PIDS+=($!)
done
sleep 15

# name hidden intermediate layers heads
SIZES=("h64 64 192 4 4" "h512 512 1536 8 8" "h1024 1024 3072 8 16")
for s in "${SIZES[@]}"; do
  read -r name h i l n <<< "$s"
  RLHF_SPARK_CONF="--conf spark.executor.memory=4g --conf spark.cores.max=2" \
  "$ROOT/bin/rlhf" bench rollouts --master "spark://127.0.0.1:$PORT" --lake "$OUT/lake" --run-id "sync-$name" \
    --set sft.model.hidden_size="$h" --set sft.model.intermediate_size="$i" --set sft.model.num_hidden_layers="$l" \
    --set sft.model.num_attention_heads="$n" --set sft.model.num_key_value_heads="$n" \
    --set bench.prompts=8 --set bench.num_samples=1 --set bench.new_tokens=8 --set bench.spark_new_tokens=8 \
    --set bench.batch_size=8 --set bench.repeats=1 --set bench.train_steps=1 > "$OUT/logs/sync-$name.log" 2>&1
  grep "weight_sync" "$OUT/logs/sync-$name.log"
done
stop
PIDS=()

# Spark vs in-process on >= 100k tokens: 1,280 prompts x 4 samples, up to 160 new tokens, batch 64, one torch thread
"$ROOT/bin/rlhf" bench rollouts --master "local[2]" --lake "$OUT/lake" --run-id spark-100k \
  --set bench.prompts=1280 --set bench.num_samples=4 --set bench.spark_new_tokens=160 --set bench.batch_size=64 \
  --set bench.new_tokens=16 --set bench.repeats=2 --set bench.train_steps=2 > "$OUT/logs/spark-100k.log" 2>&1
grep "bench rollouts" "$OUT/logs/spark-100k.log"

python3 - "$OUT/lake" <<'EOF'
import glob, json, os, sys
rows = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "runs", "*", "bench", "report.json"))):
    r = json.load(open(f))
    run = f.split(os.sep)[-3]
    mb = r["weight_blob_bytes"] / 1e6
    print(f"{run:12s} params {r['model']['parameters']:>12,}  blob {mb:8.1f} MB  weight sync {r['weight_sync_seconds']:6.2f} s "
          f"({r['weight_sync_seconds'] / mb:.4f} s/MB) executors {r['weight_sync_executors']}  "
          f"spark_vs_inprocess {r['spark_vs_inprocess']:.3f} on {r['spark_tokens']:,} tokens "
          f"({r['spark_tokens_per_s']:,.0f} vs {r['inprocess_tokens_per_s']:,.0f} tok/s, {r['task_slots']} slots)")
EOF
