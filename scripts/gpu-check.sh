#!/usr/bin/env bash
# GPU box check (issue: CUDA). Run from the repository root on a machine with PyTorch 2.x and a GPU:
#   scripts/gpu-check.sh [SHARED_DIR]
# 1. 60-second compile probe of our torch-facing code against PyTorch's bundled LibTorch;
# 2. configure with media off, build with ninja, ctest -L "parity|gpu" (CUDA where present);
# 3. (when available) dfscan bench vs the Python reference benchmark on the same card.
# Writes everything to gpu-check.log (or $OUT/gpu-check.log) and prints a summary table last.
set -uo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-${DFSCAN_SHARED_DIR:-$PWD/../shared}}
LOGDIR=${OUT:-$PWD}
LOG=$LOGDIR/gpu-check.log
BUILD=${BUILD_DIR:-build-gpu}
: >"$LOG"
say() { echo "== $*" | tee -a "$LOG"; }
PY=${PYTHON:-python3}
TORCH_PREFIX=$($PY -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>>"$LOG")
say "torch $($PY -c 'import torch;print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no-cuda")' 2>&1)"
say "cmake $(cmake --version | head -1), $(g++ --version | head -1), nproc $(nproc)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$LOG"

say "compile probe"
start=$(date +%s)
probe_rc=0
timeout 60 g++ -std=c++17 -fsyntax-only -I include -I src -I "$BUILD/include" \
  $($PY - <<'PYEOF'
import torch.utils.cpp_extension as c
print(" ".join("-isystem " + p for p in c.include_paths()))
PYEOF
) -D_GLIBCXX_USE_CXX11_ABI=$($PY -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))') \
  -x c++ - <<'CPP' >>"$LOG" 2>&1 || probe_rc=$?
#include <torch/torch.h>
#include "dfscan/runtime.hpp"
int main() { return torch::cuda::is_available() ? 0 : 1; }
CPP
say "compile probe rc=$probe_rc in $(( $(date +%s) - start ))s"

say "configure"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDFSCAN_WITH_MEDIA=OFF \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DDFSCAN_SHARED_DIR="$SHARED" >>"$LOG" 2>&1
cfg_rc=$?
say "configure rc=$cfg_rc"
build_rc=1
if [ $cfg_rc -eq 0 ]; then
  start=$(date +%s)
  # TARGETS limits the build (e.g. to the parity test executables); default: everything.
  cmake --build "$BUILD" -j "$(nproc)" ${TARGETS:+--target $TARGETS} >>"$LOG" 2>&1
  build_rc=$?
  say "build rc=$build_rc in $(( $(date +%s) - start ))s"
fi
test_rc=1
if [ $build_rc -eq 0 ]; then
  ctest --test-dir "$BUILD" -L "parity|gpu" -E "NOT_BUILT" --output-on-failure -V >"$LOGDIR/ctest-gpu.log" 2>&1
  test_rc=$?
  grep -E "\[parity\]|\[gpu\]|tests passed|tests failed|Failed|SKIPPED" "$LOGDIR/ctest-gpu.log" | tee -a "$LOG"
fi
say "summary: probe=$probe_rc configure=$cfg_rc build=$build_rc ctest=$test_rc"
if [ $build_rc -ne 0 ]; then grep -E "error|Error" "$LOG" | head -40; fi
