#!/usr/bin/env bash
# ThreadSanitizer run of dfscan's own threads: the scan pipeline (decode and face workers ahead of
# inference, model loading and the face detector built in the background, the face finder's thread),
# face-cache extraction's workers and the trainer's sample loaders, on the shared media plus broken
# files. Exits 1 when TSan reports anything outside tests/common/tsan-thirdparty.supp.
#   scripts/tsan-check.sh        (builds build-tsan; about 25 minutes on 2 cores the first time)
# LibTorch, OpenMP, TBB, FFmpeg and OpenCV are not instrumented: LibTorch runs on one thread
# (--threads 1, OMP_NUM_THREADS=1), and what FFmpeg, GDAL and OpenCV's TBB loops do among their own
# threads is suppressed (tests/common/tsan-thirdparty.supp says why, line by line).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
BUILD=${BUILD_DIR:-build-tsan}
SHARED=${DFSCAN_SHARED_DIR:-$PWD/../shared}
[ -d "$SHARED/data/videos" ] || {
  echo "tsan-check: needs $SHARED/data (the shared media)" >&2
  exit 2
}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS=-fsanitize=thread \
  -DCMAKE_CXX_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread -DDFSCAN_BUILD_TESTS=OFF -DDFSCAN_SANITIZE=OFF >/dev/null || exit 2
cmake --build "$BUILD" --target dfscan dfscan_cli || exit 2

WORK=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
# TSan's dlopen interceptor resolves the launcher's libdfscan-cli without its $ORIGIN run path.
export LD_LIBRARY_PATH=$PWD/$BUILD/apps/dfscan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export TSAN_OPTIONS="suppressions=$PWD/tests/common/tsan-thirdparty.supp halt_on_error=0 exitcode=0 report_signal_unsafe=0 log_path=$WORK/tsan"
export OMP_NUM_THREADS=1
DFSCAN=$PWD/$BUILD/apps/dfscan/dfscan

# Inputs: both shared videos, the sample clip, face crops, and broken files among them.
mkdir -p "$WORK/mixed"
cp "$SHARED"/data/videos/*.mp4 tests/data/samples/astronaut.mp4 "$WORK/mixed/"
faces=$SHARED/data/dfdc-faces-sample
cp "$(ls -d "$faces"/test/real/* | head -1)" "$(ls -d "$faces"/test/fake/* | head -1)" "$WORK/mixed/"
: >"$WORK/mixed/empty.mp4"
echo "not a video" >"$WORK/mixed/text.mp4"
head -c 200000 "$SHARED/data/videos/stock_720p_aac.mp4" >"$WORK/mixed/truncated.mp4"
{
  echo "path,label,split"
  for label in real fake; do
    ls -d "$faces/train/$label"/* | head -6 | sed "s|$|,$label,train|"
    ls -d "$faces/valid/$label"/* | head -3 | sed "s|$|,$label,valid|"
  done
} >"$WORK/train.csv"
{
  echo "path,label,split"
  for f in "$WORK"/mixed/*; do echo "$f,real,test"; done
} >"$WORK/extract.csv"

failed=0
step() {  # $1: name; $2: the exit code expected; rest: the dfscan command line
  local name=$1 expected=$2
  shift 2
  local start=$SECONDS rc=0
  "$DFSCAN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  echo "$name: exit $rc (expected $expected) in $((SECONDS - start)) s"
  if [ "$rc" != "$expected" ]; then
    tail -5 "$WORK/$name.err"
    failed=1
  fi
}
# Broken inputs make scan and extract-faces exit 2; a crash or a TSan abort would not.
step scan 2 scan -f jsonl --threads 1 --workers 3 -r "$WORK/mixed"
step extract-faces 2 data extract-faces --data "$WORK/extract.csv" -o "$WORK/cache" --workers 2
step train 0 train --arch npr --data "$WORK/train.csv" --epochs 2 --batch 4 --workers 2 --threads 1 \
  --input-size 64 --augment default -o "$WORK/npr.safetensors"
[ -n "${KEEP:-}" ] && echo "tsan-check: outputs kept in $WORK"

reports=$(cat "$WORK"/tsan.* 2>/dev/null | grep -c "WARNING: ThreadSanitizer" || true)
if [ "$reports" != 0 ]; then
  cat "$WORK"/tsan.*
  echo "tsan-check: $reports report(s)"
  exit 1
fi
[ $failed = 0 ] || exit 1
echo "tsan-check: no reports"
