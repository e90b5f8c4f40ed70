#!/usr/bin/env bash
# Memory stays flat over a long scan: one dfscan process scans N copies (hard links) of a shared
# clip with -f jsonl while its resident set (VmRSS) is sampled every 0.5 s. Each sample belongs
# to the file being worked on, by the number of records written so far. The peak RSS over the
# first 100 files and over the last 100 must be within 10 % of each other.
#
#   scripts/scan-memory-1000.sh [--files N] [--frames N] [--clip FILE|--all-clips] [--build DIR]
#                               [--keep DIR]
#
# Defaults: 1000 files; the shortest shared clip; the default models; --frames as the model
# says (pass a lower --frames for a quicker run); build/ as the build folder. Slow (minutes on
# 2 cores): a script, not a CI test. Exit 0 when flat, 1 when not, 2 when the scan failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${DFSCAN_SHARED_DIR:-$ROOT/../shared}"
FILES=1000
FRAMES=""
CLIP=""
ALL_CLIPS=0
BUILD="$ROOT/build"
KEEP=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --files) FILES="$2"; shift 2 ;;
    --frames) FRAMES="$2"; shift 2 ;;
    --clip) CLIP="$2"; shift 2 ;;
    --all-clips) ALL_CLIPS=1; shift ;;
    --build) BUILD="$2"; shift 2 ;;
    --keep) KEEP="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "scan-memory: unknown argument $1" >&2; exit 64 ;;
  esac
done
(( FILES >= 200 )) || { echo "scan-memory: need at least 200 files (first and last 100)" >&2; exit 64; }
BIN="$BUILD/apps/dfscan/dfscan"
[[ -x "$BIN" ]] || { echo "scan-memory: build dfscan first ($BIN missing)" >&2; exit 64; }

CLIPS=()
if [[ -n "$CLIP" ]]; then
  CLIPS=("$CLIP")
elif (( ALL_CLIPS )); then
  CLIPS=("$SHARED"/data/videos/*.mp4)
else
  shortest=""; best=""
  for f in "$SHARED"/data/videos/*.mp4; do
    d="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")"
    if [[ -z "$best" ]] || awk -v a="$d" -v b="$best" 'BEGIN { exit !(a < b) }'; then best="$d"; shortest="$f"; fi
  done
  CLIPS=("$shortest")
fi
[[ -f "${CLIPS[0]}" ]] || { echo "scan-memory: no clip found under $SHARED/data/videos" >&2; exit 64; }

WORK="${KEEP:-$(mktemp -d "${TMPDIR:-/tmp}/dfscan-scan-memory.XXXXXX")}"
mkdir -p "$WORK/files"
[[ -n "$KEEP" ]] || trap 'rm -rf "$WORK"' EXIT
for ((i = 0; i < FILES; i++)); do
  src="${CLIPS[i % ${#CLIPS[@]}]}"
  dst="$(printf '%s/files/clip_%05d.mp4' "$WORK" "$i")"
  [[ -e "$dst" ]] || ln "$src" "$dst" 2>/dev/null || cp "$src" "$dst"
done

ARGS=(scan -f jsonl --device cpu --threads 2 --no-progress)
[[ -n "$FRAMES" ]] && ARGS+=(--frames "$FRAMES")
echo "clips: ${CLIPS[*]}"
echo "files: $FILES; dfscan ${ARGS[*]} $WORK/files"
OUT="$WORK/out.jsonl"
SAMPLES="$WORK/rss.tsv"
start=$EPOCHREALTIME
"$BIN" "${ARGS[@]}" "$WORK/files" >"$OUT" 2>"$WORK/dfscan.log" &
PID=$!
printf 'seconds\trecords\trss_kib\n' >"$SAMPLES"
while kill -0 "$PID" 2>/dev/null; do
  rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status" 2>/dev/null || true)"
  [[ -n "$rss" ]] || break
  records="$(wc -l <"$OUT")"
  printf '%s\t%s\t%s\n' "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" \
    "$records" "$rss" >>"$SAMPLES"
  sleep 0.5
done
rc=0
wait "$PID" || rc=$?
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
  echo "scan-memory: dfscan exited $rc" >&2
  tail -5 "$WORK/dfscan.log" >&2
  exit 2
fi
records="$(grep -c '"type":"file"' "$OUT" || true)"
ok="$(grep -c '"status":"ok"' "$OUT" || true)"
[[ "$records" -eq "$FILES" ]] || { echo "scan-memory: $records records for $FILES files" >&2; exit 2; }

# Samples while records < 100 are taken during files 1-100; records >= N - 100, the last 100.
awk -F'\t' -v n="$FILES" -v ok="$ok" -v secs="$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')" '
  NR == 1 { next }
  { if ($3 > peak) peak = $3; samples++ }
  $2 < 100 && $3 > first { first = $3 }
  $2 >= n - 100 && $3 > last { last = $3 }
  # The middle of the run, for the shape of the curve.
  { bucket = int($2 * 10 / n); if ($3 > b[bucket]) b[bucket] = $3 }
  END {
    printf "%d files (%d ok) in %d s, %d RSS samples\n", n, ok, secs, samples
    printf "peak RSS by tenth of the run (MiB):"
    for (i = 0; i < 10; i++) printf " %.1f", b[i] / 1024
    printf "\n"
    if (first == 0 || last == 0) { print "scan-memory: too few samples in the first or last 100 files"; exit 2 }
    change = (last - first) / first
    printf "peak RSS, files 1-100: %.1f MiB; files %d-%d: %.1f MiB; change %+.1f %% (limit 10 %%); overall peak %.1f MiB\n",
      first / 1024, n - 99, n, last / 1024, 100 * change, peak / 1024
    exit (change > 0.10 || change < -0.10) ? 1 : 0
  }' "$SAMPLES"
