#!/usr/bin/env bash
# dfscan against the equivalent Python pipeline and the FFmpeg decode floor, on one video.
#
#   scripts/bench-scan.sh [--repeat N] [--threads N] [--build DIR] [--model NAME] [--all-defaults] [FILE]
#
# All three run on the CPU with the same thread count (default 2), interleaved, N times each
# (default 5), after one untimed warm-up of each; the table shows the median and the fastest
# wall time (process start and model loading included) and the ratios of the medians:
#   dfscan   `dfscan scan --device cpu --threads N -m genconvit-ed-atto -f jsonl FILE`: the
#            shipped default video model (the one the Python side rebuilds) and its frame count;
#            --all-defaults adds a row without -m, i.e. every shipped default (an audio model,
#            when one ships, also scores the clip's sound track, which the Python side does not);
#   python   scripts/bench-scan-python.py under Debian's /usr/bin/python3: OpenCV decoding,
#            dlib HOG faces (the default model's detector), GenConViT-ED on torchvision ConvNeXt
#            blocks with the shipped weights, torch.set_num_threads(N);
#   floor    `ffmpeg -threads N -i FILE -f null -`: decoding every frame, nothing else.
# FILE defaults to the 720p clip in the shared data folder. Needs a Release build of dfscan
# (DIR defaults to build/), ffmpeg, g++ and libdlib-dev (for the Python side's dlib shim).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPEAT=5
THREADS=2
BUILD="$ROOT/build"
MODEL="genconvit-ed-atto"
ALL_DEFAULTS=0
FILE=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeat) REPEAT="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --build) BUILD="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --all-defaults) ALL_DEFAULTS=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "bench-scan: unknown option $1" >&2; exit 64 ;;
    *) FILE="$1"; shift ;;
  esac
done

if [[ -z "$FILE" ]]; then
  SHARED="${DFSCAN_SHARED_DIR:-$ROOT/../shared}"
  for f in "$SHARED"/data/videos/*.mp4; do
    if [[ "$(ffprobe -v error -select_streams v:0 -show_entries stream=height -of csv=p=0 "$f")" == 720 ]]; then
      FILE="$f"
      break
    fi
  done
  [[ -n "$FILE" ]] || { echo "bench-scan: no 720p clip under $SHARED/data/videos; give FILE" >&2; exit 64; }
fi
[[ -f "$FILE" ]] || { echo "bench-scan: no such file: $FILE" >&2; exit 64; }
BIN="$BUILD/apps/dfscan/dfscan"
[[ -x "$BIN" ]] || { echo "bench-scan: build dfscan first ($BIN missing)" >&2; exit 64; }
if [[ -f "$BUILD/CMakeCache.txt" ]]; then
  TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")"
  case "$TYPE" in
    Release|RelWithDebInfo) ;;
    *) echo "bench-scan: $BUILD is a '$TYPE' build; benchmark an optimised (Release) build" >&2; exit 64 ;;
  esac
fi
PY=/usr/bin/python3

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dfscan-bench-scan.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# The shim is compiled once, outside the timings (as pip would build dlib's binding once).
"$PY" "$ROOT/scripts/bench-scan-python.py" --build-shim "$WORK/dlib_hog_shim.so"

run_dfscan() { "$BIN" scan --device cpu --threads "$THREADS" -m "$MODEL" -f jsonl "$FILE" >"$WORK/dfscan.jsonl" 2>"$WORK/dfscan.log"; }
run_defaults() { "$BIN" scan --device cpu --threads "$THREADS" -f jsonl "$FILE" >"$WORK/defaults.jsonl" 2>"$WORK/dfscan.log"; }
run_python() { "$PY" "$ROOT/scripts/bench-scan-python.py" --shim "$WORK/dlib_hog_shim.so" --threads "$THREADS" "$FILE" >"$WORK/python.json"; }
run_floor() { ffmpeg -nostdin -v error -threads "$THREADS" -i "$FILE" -f null -; }

# Seconds of wall time of one run; a failing run stops the benchmark.
wall() {
  local start=$EPOCHREALTIME rc=0
  "$@" || rc=$?
  local end=$EPOCHREALTIME
  # dfscan exits 1 when it calls the file fake: still a complete run.
  if [[ $rc -ne 0 && !( "$1" == run_dfscan || "$1" == run_defaults ) ]] || (( rc > 1 )); then
    echo "bench-scan: $1 failed (exit $rc)" >&2
    [[ -f "$WORK/dfscan.log" ]] && cat "$WORK/dfscan.log" >&2
    exit 2
  fi
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fastest() { sort -g | head -1; }

echo "file:    $FILE"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs:    $REPEAT each, interleaved, after one warm-up; --threads $THREADS"

ROWS="dfscan python floor"
(( ALL_DEFAULTS )) && ROWS="dfscan defaults python floor"
run_dfscan || [[ $? -eq 1 ]]
(( ALL_DEFAULTS )) && { run_defaults || [[ $? -eq 1 ]]; }
run_python
run_floor
for k in $ROWS; do : >"$WORK/t_$k"; done
for ((i = 0; i < REPEAT; i++)); do
  wall run_dfscan >>"$WORK/t_dfscan"
  (( ALL_DEFAULTS )) && wall run_defaults >>"$WORK/t_defaults"
  wall run_python >>"$WORK/t_python"
  wall run_floor >>"$WORK/t_floor"
done

D=$(median <"$WORK/t_dfscan"); P=$(median <"$WORK/t_python"); F=$(median <"$WORK/t_floor")
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '%-8s %10s %10s  %s\n' "" "median s" "fastest s" "all runs (s)"
for k in $ROWS; do
  printf '%-8s %10s %10s  %s\n' "$k" "$(median <"$WORK/t_$k")" "$(fastest <"$WORK/t_$k")" "$(tr '\n' ' ' <"$WORK/t_$k")"
done
echo
awk -v d="$D" -v p="$P" -v f="$F" 'BEGIN {
  printf "dfscan / floor  = %.2f   (target <= 2.5)\n", d / f
  printf "dfscan / python = %.2f   (target <= 0.5)\n", d / p
}'
echo
# The two pipelines should agree on the score (same frames, faces, crops and weights).
"$PY" - "$WORK/dfscan.jsonl" "$WORK/python.json" <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1]).readline())
p = json.loads(open(sys.argv[2]).read())
faces = sum(len(t["frames"]) for t in d["tracks"])
print("scores:  dfscan %s (%s, %d face crops in %d track(s)); python %s (%d face crops)" % (
    d["score"], d["status"], faces, len(d["tracks"]), p["score"], p["faces"]))
print("dfscan stages (ms, last run):", json.dumps(d["timings_ms"]))
print("python stages (s, last run): ", json.dumps(p["timings_s"]))
EOF
