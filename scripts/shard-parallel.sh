#!/usr/bin/env bash
# Evaluate a dataset in N shards on one machine with GNU parallel, then merge the shards.
#
#   scripts/shard-parallel.sh N OUT_DIR -- EVAL_ARGS...
#   scripts/shard-parallel.sh 4 runs/ffpp -- --dataset ffpp --root /data/ffpp --split test -m genconvit-ed-atto
#
# Each shard is `dfscan eval EVAL_ARGS --shard I/N -o OUT_DIR/shard-I-of-N.csv` (a stable hash of each
# sample's path picks its shard, so re-running one shard redoes exactly its files). The merge writes
# OUT_DIR/report/{report.json,report.html} and prints the metric table; its numbers equal an
# unsharded run's. Set DFSCAN (default: dfscan on PATH) and JOBS (default: N). Without GNU parallel
# installed, xargs -P runs the shards instead.
set -euo pipefail

if [ $# -lt 3 ] || [ "$3" != "--" ]; then
  sed -n '2,11p' "$0" >&2
  exit 64
fi
shards=$1
out=$2
shift 3
dfscan=${DFSCAN:-dfscan}
jobs=${JOBS:-$shards}
# Each shard runs single-threaded inference unless told otherwise, so N shards share the cores.
threads=${THREADS:-1}
mkdir -p "$out"

# Exit code 2 means some files failed: they are in the shard's CSV with their status, and the merge
# counts and lists them, so the shard itself succeeded.
run_shard() {
  local index=$1 status=0
  "$dfscan" eval "${@:2}" --threads "$threads" --shard "$index/$shards" \
    -o "$out/shard-$index-of-$shards.csv" --bootstrap 0 --format json >"$out/shard-$index-of-$shards.json" ||
    status=$?
  [ "$status" -eq 0 ] || [ "$status" -eq 2 ]
}
export -f run_shard
export dfscan out shards threads

if command -v parallel >/dev/null 2>&1; then
  parallel -q --will-cite --jobs "$jobs" --halt soon,fail=1 run_shard {} "$@" ::: $(seq 0 $((shards - 1)))
else
  seq 0 $((shards - 1)) | xargs -P "$jobs" -I{} bash -c 'run_shard "$@"' _ {} "$@"
fi

files=()
for ((i = 0; i < shards; i++)); do
  f="$out/shard-$i-of-$shards.csv"
  [ -f "$f" ] || { echo "shard-parallel: $f is missing" >&2; exit 2; }
  files+=("$f")
done
exec "$dfscan" eval merge "${files[@]}" --report "$out/report"
