#!/usr/bin/env bash
# Wall time of decoding N uniform frames with dfscan's video reader against a full decode by the
# ffmpeg CLI, both limited to 2 decoder threads, on the same file.
#   scripts/bench-decode.sh [FILE] [N]
#   DFSCAN=build/apps/dfscan/dfscan RUNS=10 scripts/bench-decode.sh
# The dfscan figure is the whole process (start-up, probe that demuxes every packet, then the
# frame reader); the record's own "decode.ms" isolates the reader.
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=${1:-../shared/data/videos/stock_720p_aac.mp4}
FRAMES=${2:-16}
RUNS=${RUNS:-10}
DFSCAN=${DFSCAN:-build/apps/dfscan/dfscan}
[ -x "$DFSCAN" ] || { echo "no dfscan binary at $DFSCAN (set DFSCAN=...)" >&2; exit 1; }
[ -r "$FILE" ] || { echo "cannot read $FILE" >&2; exit 1; }

now() { date +%s.%N; }
# median of the arguments
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

measure() {  # measure CMD... -> prints the median wall seconds over RUNS
  local times=() t0 t1
  "$@" >/dev/null 2>&1  # warm the page cache
  for _ in $(seq "$RUNS"); do
    t0=$(now); "$@" >/dev/null 2>&1; t1=$(now)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  median "${times[@]}"
}

echo "file: $FILE  frames: $FRAMES  runs: $RUNS  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) x $(nproc)"
ffmpeg_s=$(measure ffmpeg -nostdin -v error -threads 2 -i "$FILE" -f null -)
dfscan_s=$(measure "$DFSCAN" probe --decode-frames "$FRAMES" --threads 2 --format jsonl "$FILE")
record=$("$DFSCAN" probe --decode-frames "$FRAMES" --threads 2 --format jsonl "$FILE" | head -1)
echo "ffmpeg -threads 2 -i FILE -f null -        median ${ffmpeg_s}s"
echo "dfscan probe --decode-frames $FRAMES --threads 2  median ${dfscan_s}s"
echo "reader only: $(echo "$record" | grep -o '"decode":{[^}]*}')"
awk -v a="$dfscan_s" -v b="$ffmpeg_s" 'BEGIN { printf "dfscan/ffmpeg wall ratio: %.2f (%s)\n", a / b, a < b ? "faster" : "SLOWER" }'
