#!/usr/bin/env bash
# GPU box check for `dfscan train` (issue 6): builds the trainer against PyTorch 2.x's LibTorch with
# media off, then runs the CUDA training tests (fp32, bf16 autocast, fp16 autocast + loss scaling,
# resume on CUDA) and the CPU trainer unit tests. Logs go to $OUT (or the current folder).
set -uo pipefail
cd "$(dirname "$0")/.."
LOGDIR=${OUT:-$PWD}
# Reuse scripts/gpu-check.sh's build when a warm machine still has it.
if [ -z "${BUILD_DIR:-}" ] && [ -f build-gpu/CMakeCache.txt ]; then BUILD_DIR=build-gpu; fi
BUILD=${BUILD_DIR:-build-gpu-train}
PY=${PYTHON:-python3}
TP=$($PY -c 'import torch;print(torch.utils.cmake_prefix_path)')
$PY -c 'import torch;print("torch", torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))'
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDFSCAN_WITH_MEDIA=OFF \
  -DCMAKE_PREFIX_PATH="$TP" >"$LOGDIR/train-configure.log" 2>&1 || { tail -30 "$LOGDIR/train-configure.log"; exit 1; }
start=$(date +%s)
cmake --build "$BUILD" -j "$(nproc)" --target test_train_gpu test_train_unit >"$LOGDIR/train-build.log" 2>&1
rc=$?
echo "build rc=$rc in $(( $(date +%s) - start ))s"
if [ $rc -ne 0 ]; then grep -E "error|FAILED" "$LOGDIR/train-build.log" | head -30; exit 1; fi
"$BUILD/tests/train/test_train_gpu" 2>&1 | grep -v '^\[20' | tee "$LOGDIR/train-gpu.txt" | tail -25
"$BUILD/tests/train/test_train_unit" 2>&1 | grep -E "OK|FAILED|PASSED" | tee "$LOGDIR/train-unit.txt"
