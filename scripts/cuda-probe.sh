#!/usr/bin/env bash
# Compile probe of dfscan's CUDA-only code: g++ -fsyntax-only, with the CUDA code switched on, of
# the files that differ between LibTorch generations or only compile against a CUDA LibTorch.
#   scripts/cuda-probe.sh [OUT_DIR]
# Writes OUT_DIR/NAME.rc (0 = compiles) and OUT_DIR/NAME.txt (the compiler's output) per probe,
# prints one line per probe and exits 1 when any failed. OUT_DIR defaults to a temporary folder.
#
# Two uses:
# - scripts/gpu-check.sh runs it first on the GPU box, against PyTorch 2.x's bundled LibTorch, and
#   turns off the features whose probe fails, so that one broken file costs a feature, not the run;
# - on a machine without a GPU but with CUDA's headers (a CUDA toolkit, /usr/local/cuda), it
#   compiles the CUDA paths against the LibTorch found here (Debian's CPU-only build is enough),
#   which no ordinary build on such a machine does: run it before spending a GPU window.
# Environment: PYTHON (the interpreter whose torch gives the headers; default python3),
# CUDA_INCLUDE (default $CUDA_HOME/include or /usr/local/cuda/include), NCCL_ROOT.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PY=${PYTHON:-python3}
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
CUDA_INCLUDE=${CUDA_INCLUDE:-${CUDA_HOME:-/usr/local/cuda}/include}
CUDA_FLAGS="-isystem $CUDA_INCLUDE"
if [ ! -e "$CUDA_INCLUDE/cuda_runtime_api.h" ]; then
  # LibTorch's own include paths may still name them (a wheel finds its CUDA through CUDA_HOME).
  echo "cuda-probe: no CUDA headers in $CUDA_INCLUDE (set CUDA_INCLUDE or CUDA_HOME)" >&2
  CUDA_FLAGS=
fi

# A config.hpp with the CUDA code on and every other switch off (the c10d probe sets its own).
GEN=$(mktemp -d)
trap 'rm -rf "$GEN"' EXIT
mkdir -p "$GEN/dfscan"
sed -e 's/#cmakedefine01 DFSCAN_TORCH_CUDA$/#define DFSCAN_TORCH_CUDA 1/' -e 's/#cmakedefine01 \(.*\)/#define \1 0/' \
  -e 's/@[A-Z_]*@/probe/g' include/dfscan/config.hpp.in >"$GEN/dfscan/config.hpp"

TORCH_FLAGS=$($PY - <<'PYEOF'
import torch
import torch.utils.cpp_extension as c
try:
    paths = c.include_paths("cuda")  # 2.x: a device type
except TypeError:
    paths = c.include_paths(cuda=True)
print(" ".join("-isystem " + p for p in paths), "-D_GLIBCXX_USE_CXX11_ABI=%d" % int(torch._C._GLIBCXX_USE_CXX11_ABI))
PYEOF
) || {
  echo "cuda-probe: $PY cannot import torch" >&2
  exit 2
}
# A CPU-only LibTorch (Debian's) ships c10's CUDA headers without the one its CMake generates; it
# holds only the shared-library switch, which a syntax check does not need.
for inc in $TORCH_FLAGS; do
  [ -d "$inc" ] || continue
  if [ -e "$inc/c10/cuda/CUDAMacros.h" ] && [ ! -e "$inc/c10/cuda/impl/cuda_cmake_macros.h" ]; then
    mkdir -p "$GEN/c10/cuda/impl"
    printf '#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n' >"$GEN/c10/cuda/impl/cuda_cmake_macros.h"
    TORCH_FLAGS="$TORCH_FLAGS -isystem $GEN"
    break
  fi
done
NCCL_INC=
for d in "${NCCL_ROOT:-/nonexistent}/include" "$CUDA_INCLUDE" /usr/include; do
  if [ -e "$d/nccl.h" ]; then
    NCCL_INC="-isystem $d"
    break
  fi
done
FLAGS="-std=c++17 -fsyntax-only -I include -I src -I $GEN $TORCH_FLAGS $CUDA_FLAGS $NCCL_INC"

probe() {  # $1: name; rest: g++ arguments
  local name=$1
  shift
  if timeout "${PROBE_TIMEOUT_S:-60}" g++ $FLAGS "$@" >"$OUT/$name.txt" 2>&1; then
    echo 0 >"$OUT/$name.rc"
  else
    echo 1 >"$OUT/$name.rc"
  fi
}
NAMES=(amp bench device_copy device_copy_test profile c10d_nccl)
probe amp src/train/amp.cpp &
probe bench src/train/bench.cpp &
probe device_copy src/detectors/device_copy.cpp &
probe device_copy_test -I tests/common tests/detectors/test_device_copy_gpu.cpp &
probe profile -DDFSCAN_KERNEL_PROFILER=1 src/train/bench_profile.cpp &
if [ -n "$NCCL_INC" ]; then
  probe c10d_nccl -DDFSCAN_WITH_DISTRIBUTED=1 -DDFSCAN_WITH_GLOO=0 -DDFSCAN_WITH_NCCL=1 \
    src/train/distributed_c10d.cpp &
else
  echo "no nccl.h (set NCCL_ROOT)" >"$OUT/c10d_nccl.txt"
  echo 1 >"$OUT/c10d_nccl.rc"
fi
wait

failed=0
for name in "${NAMES[@]}"; do
  rc=$(cat "$OUT/$name.rc" 2>/dev/null || echo 1)
  echo "probe $name: rc=$rc"
  if [ "$rc" != 0 ]; then
    failed=1
    grep -E "error|required from|nccl.h" "$OUT/$name.txt" | head -15
  fi
done
exit $failed
