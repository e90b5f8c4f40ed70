#!/usr/bin/env bash
# Face-detection speed on 16 uniformly sampled 1080p frames (decoding excluded): upscales the
# shared 720p clip to 1080p with ffmpeg, then times each backend with face_bench_tool.
# Usage: scripts/bench-faces.sh [BUILD_DIR] [DETECTOR...]   (default build dir: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
detectors=("$@")
[ ${#detectors[@]} -gt 0 ] || detectors=(default haar haar-alt2 lbp lbp-improved dlib-hog)
clip=${DFSCAN_BENCH_CLIP:-$root/../shared/data/videos/stock_720p_aac.mp4}
[ -f "$clip" ] || { echo "missing $clip (set DFSCAN_BENCH_CLIP)" >&2; exit 2; }

cmake --build "$build" --target face_bench_tool >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ffmpeg -v error -y -i "$clip" -an -vf scale=1920:1080:flags=bicubic -c:v libx264 -preset veryfast -crf 18 \
  "$work/clip_1080p.mp4"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/tests/faces/face_bench_tool" "$work/clip_1080p.mp4" --frames 16 --repeat 5 "${detectors[@]}"
