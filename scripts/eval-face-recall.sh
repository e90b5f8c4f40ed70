#!/usr/bin/env bash
# Recall and speed of every built-in face detector on the DFDC face-crop sample, each crop
# centred on a grey canvas twice its size (tests/faces/face_recall.hpp). Prints a table.
# Usage: scripts/eval-face-recall.sh [BUILD_DIR] [face_recall_tool options and detectors...]
#   e.g. scripts/eval-face-recall.sh build --min-neighbors 2 haar-alt2
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
data=${DFSCAN_FACES_SAMPLE:-$root/../shared/data/dfdc-faces-sample}
[ -d "$data" ] || { echo "missing $data (set DFSCAN_FACES_SAMPLE)" >&2; exit 2; }
cmake --build "$build" --target face_recall_tool >/dev/null
echo "data: $data ($(find "$data" -type f | wc -l) files); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/tests/faces/face_recall_tool" "$data" "$@"
