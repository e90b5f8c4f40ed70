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
# The probe compiles the files that hold the LibTorch-generation differences (autocast, CUDA graphs,
# CUDA events) with the CUDA code on, before the long build spends minutes finding the same error.
PROBE_INC=$(mktemp -d)
mkdir -p "$PROBE_INC/dfscan"
sed -e 's/#cmakedefine01 \(DFSCAN_TORCH_CUDA\)/#define \1 1/' -e 's/#cmakedefine01 \(.*\)/#define \1 0/' \
  -e 's/@[A-Z_]*@/probe/g' include/dfscan/config.hpp.in >"$PROBE_INC/dfscan/config.hpp"
PROBE_FLAGS="-std=c++17 -fsyntax-only -I include -I src -I $PROBE_INC $($PY - <<'PYEOF'
import torch.utils.cpp_extension as c
print(" ".join("-isystem " + p for p in c.include_paths(cuda=True)))
PYEOF
) -isystem /usr/local/cuda/include -D_GLIBCXX_USE_CXX11_ABI=$($PY -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
pids=()
for f in src/train/amp.cpp src/train/bench.cpp src/detectors/device_copy.cpp; do
  timeout 60 g++ $PROBE_FLAGS "$f" >>"$LOG" 2>&1 &
  pids+=($!)
done
# The c10d code (c10d_compat.hpp: Backend vs ProcessGroup, NCCL shutdown) with Gloo and NCCL on; its
# own rc, since a wheel without Gloo's headers only turns distributed training off in the build.
C10D_INC=$(mktemp -d)
mkdir -p "$C10D_INC/dfscan"
sed -e 's/#cmakedefine01 \(DFSCAN_TORCH_CUDA\|DFSCAN_WITH_DISTRIBUTED\)/#define \1 1/' \
  -e 's/#cmakedefine01 \(.*\)/#define \1 0/' -e 's/@[A-Z_]*@/probe/g' include/dfscan/config.hpp.in \
  >"$C10D_INC/dfscan/config.hpp"
c10d_probe_rc=0
timeout 60 g++ ${PROBE_FLAGS/-I $PROBE_INC/-I $C10D_INC} -DDFSCAN_WITH_DISTRIBUTED=1 -DDFSCAN_WITH_GLOO=1 \
  -DDFSCAN_WITH_NCCL=1 src/train/distributed_c10d.cpp >>"$LOG" 2>&1 &
pids+=($!)
c10d_pid=$!
for pid in "${pids[@]}"; do
  if [ "$pid" = "$c10d_pid" ]; then wait "$pid" || c10d_probe_rc=$?; else wait "$pid" || probe_rc=$?; fi
done
say "compile probe rc=$probe_rc, c10d probe rc=$c10d_probe_rc in $(( $(date +%s) - start ))s"

say "configure"
# nccl.h of the wheel's nvidia-nccl package, so that the c10d code builds with NCCL (its library
# is already inside libtorch_cuda).
if [ -z "${NCCL_ROOT:-}" ]; then
  NCCL_ROOT=$($PY -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>>"$LOG") && export NCCL_ROOT
fi
say "NCCL_ROOT=${NCCL_ROOT:-none}"
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
  grep -E "\[parity\]|\[gpu\]|\[cuda nccl\]|tests passed|tests failed|Failed|SKIPPED" "$LOGDIR/ctest-gpu.log" | tee -a "$LOG"
fi
bench_rc=skipped
BIN=$BUILD/apps/dfscan/dfscan
if [ $build_rc -eq 0 ] && [ -x "$BIN" ] && [ "${SKIP_BENCH:-0}" != 1 ]; then
  # The anchors' settings (research/gpu-anchors.md): fp32 plain, bf16 autocast with channels_last,
  # training bf16 + channels_last at batch 64; batch 1 also with CUDA graphs (dfscan only).
  say "bench: dfscan vs PyTorch eager, same card"
  DF=$LOGDIR/bench-dfscan.jsonl PYJ=$LOGDIR/bench-python.jsonl
  : >"$DF"; : >"$PYJ"
  bench_rc=0
  for model in ${BENCH_MODELS:-genconvit-ed npr genconvit-vae}; do
    common="--device cuda --warmup 5 --iters 20 --repeats 5"
    "$BIN" bench --arch "$model" --arch-config official $common -b 1,32,256 --dtype fp32 -f jsonl >>"$DF" 2>>"$LOG" || bench_rc=$?
    "$BIN" bench --arch "$model" --arch-config official $common -b 1,32,256 --dtype bf16 --channels-last -f jsonl >>"$DF" 2>>"$LOG" || bench_rc=$?
    "$BIN" bench --arch "$model" --arch-config official $common -b 1 --dtype fp32,bf16 --cuda-graphs on -f jsonl >>"$DF" 2>>"$LOG" || bench_rc=$?
    $PY scripts/bench-reference.py --model "$model" $common -b 1,32,256 --dtype fp32 >>"$PYJ" 2>>"$LOG" || bench_rc=$?
    $PY scripts/bench-reference.py --model "$model" $common -b 1,32,256 --dtype bf16 --channels-last >>"$PYJ" 2>>"$LOG" || bench_rc=$?
    if [ "$model" != genconvit-vae ]; then
      "$BIN" bench --arch "$model" --arch-config official $common -b 64 --dtype bf16 --channels-last --mode train -f jsonl >>"$DF" 2>>"$LOG" || bench_rc=$?
      $PY scripts/bench-reference.py --model "$model" $common -b 64 --dtype bf16 --channels-last --mode train >>"$PYJ" 2>>"$LOG" || bench_rc=$?
    fi
  done
  # The scan's inference stage with the synthetic crop source: pageable vs pinned asynchronous copies.
  "$BIN" bench --arch genconvit-ed --arch-config official --device cuda --warmup 5 --iters 20 --repeats 5 \
    -b 32,256 --dtype bf16 --channels-last --mode pipeline --pinned both --workers 8 -f jsonl >>"$DF" 2>>"$LOG" || bench_rc=$?
fi
say "summary: probe=$probe_rc c10d-probe=$c10d_probe_rc configure=$cfg_rc build=$build_rc ctest=$test_rc bench=$bench_rc"
if [ $build_rc -ne 0 ]; then grep -E "error|Error" "$LOG" | head -40; fi
if [ "$bench_rc" != skipped ]; then
  $PY scripts/bench-compare.py "$LOGDIR/bench-dfscan.jsonl" "$LOGDIR/bench-python.jsonl" | tee -a "$LOG"
fi
