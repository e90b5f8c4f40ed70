#!/usr/bin/env bash
# Peak resident memory of importing, and of loading, an official-size GenConViT-VAE checkpoint
# (random values, official layout: 2.6 GB of weights) against the bound of 1.3x the file size.
#
#   scripts/measure-import-rss.sh [BUILD_DIR]        # default BUILD_DIR: build
#
# Makes the .pth with scripts/make-official-shape-checkpoints.py (Debian's /usr/bin/python3 and torch),
# then runs, each under /usr/bin/time -v:
#   dfscan models import --arch genconvit-vae --strict vae.pth -o vae.safetensors
#   dfscan models info --load vae.safetensors          (builds the network, loads every weight strictly)
# Peak RSS of the import is compared with the .pth size, that of the load with the .safetensors size
# (larger: the Swin embedder that the .pth stores once under two names is stored under each name).
# WORK_DIR (default BUILD_DIR/rss-vae) holds the files; they are removed at the end unless KEEP=1.
# Exit status 0 when both are within the bound, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
BIN="$BUILD_DIR/apps/dfscan/dfscan"
WORK_DIR=${WORK_DIR:-$BUILD_DIR/rss-vae}
BOUND=1.3

[ -x "$BIN" ] || { echo "measure-import-rss: no $BIN (build the dfscan target first)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "measure-import-rss: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
mkdir -p "$WORK_DIR"
pth="$WORK_DIR/vae.pth"
model="$WORK_DIR/vae.safetensors"
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -f "$pth" "$model" "$WORK_DIR"/*.time; }
trap cleanup EXIT

if [ ! -s "$pth" ]; then
  echo "measure-import-rss: making $pth" >&2
  /usr/bin/python3 scripts/make-official-shape-checkpoints.py --arch vae -o "$pth"
fi
rm -f "$model"
/usr/bin/time -v "$BIN" models import --arch genconvit-vae --strict "$pth" -o "$model" 2>"$WORK_DIR/import.time"
/usr/bin/time -v "$BIN" models info --load "$model" >/dev/null 2>"$WORK_DIR/load.time"

peak_kib() { awk -F': ' '/Maximum resident set size/ {print $2}' "$1"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1"; }
status=0
report() {  # name, time file, compared file
  local rss_kib size ratio verdict
  rss_kib=$(peak_kib "$2")
  size=$(stat -c %s "$3")
  ratio=$(awk -v r="$rss_kib" -v s="$size" 'BEGIN { printf "%.3f", r * 1024 / s }')
  verdict=PASS
  awk -v x="$ratio" -v b="$BOUND" 'BEGIN { exit !(x <= b) }' || { verdict=FAIL; status=1; }
  printf '%-7s peak RSS %8.1f MiB  %-18s %8.1f MiB  ratio %s (bound %s)  wall %s  %s\n' "$1" \
    "$(awk -v r="$rss_kib" 'BEGIN { print r / 1024 }')" "$(basename "$3")" \
    "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')" "$ratio" "$BOUND" "$(wall "$2")" "$verdict"
}
report import "$WORK_DIR/import.time" "$pth"
report load "$WORK_DIR/load.time" "$model"
exit $status
