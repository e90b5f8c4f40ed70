#!/usr/bin/env bash
# GPU box check (issue: CUDA). Run from the repository root on a machine with PyTorch 2.x and a GPU:
#   scripts/gpu-check.sh [CARRY_DIR]
# CARRY_DIR (default ../shared) holds the parity fixtures, as parity/ or as parity.tar.shuffled.xz (what
# scripts/gpu-pack.sh makes, small enough for the device tool's 64 MiB), and optionally zlib/ (zlib.h
# and zconf.h, for a box without zlib's headers) and googletest.tar.xz (GoogleTest's sources).
#
# 1. compile probe (60 s) of the code that differs between LibTorch generations, with its CUDA
#    parts on; its result picks the configure switches, so one broken file costs a feature, not
#    the run: CUDA-only extras (graphs, events, pinned copies) off, or NCCL off;
# 2. configure with media off, build the CLI and the parity/gpu tests with ninja (keep going), run
#    ctest -L "parity|gpu" on CUDA;
# 3. dfscan bench and scripts/bench-reference.py (PyTorch eager) on the same card, most important
#    rows first (with PROFILE=1 also per-kernel profiles on both sides); steps that would start
#    after DEADLINE_S (default 470 s) are skipped and say so.
# Writes gpu-check.log, ctest-gpu.log and the bench JSONL files to $OUT (or the repository root);
# prints the comparison table last.
# Knobs (environment): DEADLINE_S; PROFILE=1 (ED without dfscan's shortcuts; its batch-1 and
# -256 rows profiled kernel by kernel and on the host, both sides; where dfscan loads CUDA
# libraries PyTorch does not, two rows again with the wheel's libraries first; about 2.5 minutes
# more); BENCH_MODELS, BENCH_ITERS, BENCH_MIN_REPEAT_MS (default 250); VARIANTS=1 (ED at batch 256
# in fp16 and in bf16 without channels_last, both sides, about 40 s more); SKIP_BENCH=1; for
# reruns on a warm box SKIP_PROBE=1, TARGETS="...", CTEST_SELECT="-R Name" (GoogleTest names),
# PY_LAST=1.
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
CARRY=${1:-${DFSCAN_SHARED_DIR:-$PWD/../shared}}
CARRY=$(cd "$CARRY" 2>/dev/null && pwd || echo "$CARRY")
LOGDIR=${OUT:-$PWD}
LOG=$LOGDIR/gpu-check.log
BUILD=${BUILD_DIR:-build-gpu}
DEADLINE_S=${DEADLINE_S:-470}
: >"$LOG"
elapsed() { echo $(($(date +%s) - T0)); }
say() { echo "== [$(elapsed)s] $*" | tee -a "$LOG"; }
PY=${PYTHON:-python3}
JOBS=$(nproc)

say "environment"
# One interpreter start (torch's import takes seconds): the CMake prefix, then the versions.
TORCH_INFO=$($PY -c 'import torch
print(torch.utils.cmake_prefix_path)
print(torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no-cuda")' 2>>"$LOG")
TORCH_PREFIX=$(sed -n 1p <<<"$TORCH_INFO")
say "torch $(sed -n 2p <<<"$TORCH_INFO")"
say "$(cmake --version | head -1), $(g++ --version | head -1), ninja $(ninja --version 2>&1), nvcc $(nvcc --version 2>/dev/null | tail -1), nproc $JOBS"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | tee -a "$LOG"
have() { [ -e "$1" ] && echo yes || echo no; }
say "profilers: nsys $(command -v nsys >/dev/null && echo yes || echo no), ncu $(command -v ncu >/dev/null && echo yes || echo no)"
say "headers: zlib $(have /usr/include/zlib.h), nccl $(have /usr/include/nccl.h), gtest $(have /usr/include/gtest/gtest.h), gtest-src $(have /usr/src/googletest/CMakeLists.txt), spdlog $(have /usr/include/spdlog/spdlog.h), CLI11 $(have /usr/include/CLI/CLI.hpp), nlohmann $(have /usr/include/nlohmann/json.hpp)"

# Fixtures: unpack in the background while the probe runs.
SHARED=$CARRY
UNPACK_PID=
if [ ! -d "$CARRY/parity" ] && [ -f "$CARRY/parity.tar.shuffled.xz" ]; then
  SHARED=/tmp/dfscan-shared
  mkdir -p "$SHARED"
  (xz -dc "$CARRY/parity.tar.shuffled.xz" | $PY scripts/byte-shuffle.py --undo | tar -xf - -C "$SHARED") &
  UNPACK_PID=$!
fi
say "fixtures from $SHARED"

# Fallbacks for what the box may lack (each one visible in the log).
EXTRA=()
if [ ! -e /usr/include/zlib.h ] && [ -e "$CARRY/zlib/zlib.h" ]; then
  LIBZ=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
  EXTRA+=("-DZLIB_INCLUDE_DIR=$CARRY/zlib" "-DZLIB_LIBRARY=$LIBZ")
  say "zlib: carried headers, library $LIBZ"
fi
if [ ! -e /usr/src/googletest/CMakeLists.txt ] && [ -f "$CARRY/googletest.tar.xz" ]; then
  mkdir -p /tmp/dfscan-gtest && tar -xJf "$CARRY/googletest.tar.xz" -C /tmp/dfscan-gtest
  EXTRA+=("-DDFSCAN_GTEST_SOURCE_DIR=/tmp/dfscan-gtest/googletest")
  say "googletest: carried sources (used only if no GTest package is found)"
fi
if [ -z "${NCCL_ROOT:-}" ] && [ ! -e /usr/include/nccl.h ]; then
  # nccl.h of the wheel's nvidia-nccl package (the library itself is inside libtorch_cuda).
  NCCL_ROOT=$($PY -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>>"$LOG") && export NCCL_ROOT
fi

say "compile probe"
# scripts/cuda-probe.sh: -fsyntax-only on the files that hold the LibTorch-generation differences,
# CUDA code on. Its results pick the configure switches below.
PROBE_DIR=/tmp/dfscan-probe
rm -rf "$PROBE_DIR"
if [ "${SKIP_PROBE:-0}" = 1 ]; then  # a rerun on a box where the probe already passed
  mkdir -p "$PROBE_DIR"
  for p in amp bench device_copy profile c10d_nccl; do echo 0 >"$PROBE_DIR/$p.rc"; done
else
  PYTHON=$PY bash scripts/cuda-probe.sh "$PROBE_DIR" 2>&1 | tee -a "$LOG"
fi
probe_rc() { cat "$PROBE_DIR/$1.rc" 2>/dev/null || echo 1; }
# Both switches always spelled out: a build folder kept from an earlier run has them cached.
CONFIG_ARGS=(-DDFSCAN_CUDA_EXTRAS=ON -DDFSCAN_USE_NCCL=ON -DDFSCAN_KERNEL_PROFILER=ON)
extras_rc=0
[ "$(probe_rc bench)" = 0 ] && [ "$(probe_rc device_copy)" = 0 ] || extras_rc=1
if [ $extras_rc -ne 0 ]; then
  CONFIG_ARGS[0]=-DDFSCAN_CUDA_EXTRAS=OFF
  say "fallback: CUDA-only extras off (no CUDA graphs, events or pinned copies in this build)"
fi
if [ "$(probe_rc profile)" != 0 ]; then
  CONFIG_ARGS[2]=-DDFSCAN_KERNEL_PROFILER=OFF
  say "fallback: no kernel profiler (dfscan bench --profile-kernels says so)"
fi
nccl_rc=$(probe_rc c10d_nccl)
if [ "$nccl_rc" != 0 ]; then
  CONFIG_ARGS[1]=-DDFSCAN_USE_NCCL=OFF
  say "fallback: NCCL off"
fi

say "configure"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDFSCAN_WITH_MEDIA=OFF \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DDFSCAN_SHARED_DIR="$SHARED" "${EXTRA[@]}" "${CONFIG_ARGS[@]}" \
  >>"$LOG" 2>&1
cfg_rc=$?
grep -E "^-- dfscan:|CMake Error" "$LOG"
say "configure rc=$cfg_rc"
build_rc=1
if [ $cfg_rc -eq 0 ]; then
  # The CLI and the tests ctest -L "parity|gpu" runs (TARGETS overrides; "all" builds everything).
  WANT=${TARGETS:-"dfscan dfscan_cli test_audio_frontend test_detectors test_official_shapes test_io_parity test_nn_parity test_swin test_train_gpu test_device_copy_gpu test_distributed_one_rank_cuda"}
  BUILD_TARGETS=()
  if [ "$WANT" != all ]; then
    KNOWN=$(ninja -C "$BUILD" -t targets all 2>/dev/null | sed 's/:.*//')
    for t in $WANT; do
      if grep -qx "$t" <<<"$KNOWN"; then BUILD_TARGETS+=(--target "$t"); else say "target $t not configured"; fi
    done
  fi
  start=$(date +%s)
  cmake --build "$BUILD" -j "$JOBS" "${BUILD_TARGETS[@]}" -- -k 0 >>"$LOG" 2>&1
  build_rc=$?
  say "build rc=$build_rc in $(($(date +%s) - start))s"
  if [ $build_rc -ne 0 ]; then
    grep -E "^FAILED:|error:" "$LOG" | head -40
  fi
fi
[ -n "$UNPACK_PID" ] && wait "$UNPACK_PID"

test_rc=skipped
if [ $cfg_rc -eq 0 ]; then
  # CTEST_SELECT narrows a rerun, e.g. "-R DistributedOneRankCuda" for the NCCL smoke test alone
  # (ctest names the tests by their GoogleTest names, not by executable).
  SELECT=${CTEST_SELECT:--L parity|gpu}
  say "ctest $SELECT"
  ctest --test-dir "$BUILD" $SELECT -E "NOT_BUILT" -j 8 --timeout 90 --output-on-failure -V \
    >"$LOGDIR/ctest-gpu.log" 2>&1
  test_rc=$?
  grep -E "\[parity\]|\[gpu\]|\[cuda nccl\]|(fp32|bf16|fp16): train loss|tests passed|tests failed|\(Failed\)|\(Timeout\)|Not Run" \
    "$LOGDIR/ctest-gpu.log" | sed 's/^[0-9]*: //' | tee -a "$LOG"
  say "ctest rc=$test_rc"
fi

bench_rc=skipped
BIN=$BUILD/apps/dfscan/dfscan
DF=$LOGDIR/bench-dfscan.jsonl
PYJ=$LOGDIR/bench-python.jsonl
LIBS_DF=$LOGDIR/bench-dfscan-wheel-libs.jsonl
if [ -x "$BIN" ] && [ "${SKIP_BENCH:-0}" != 1 ]; then
  # The anchors' settings (research/gpu-anchors.md): fp32 plain, bf16 autocast with channels_last,
  # training bf16 + channels_last at batch 64; batch 1 also replayed from a CUDA graph (dfscan only).
  say "bench: dfscan vs PyTorch eager, same card"
  # Which CUDA math libraries each side really loads (a build can pick up the system toolkit's
  # cuBLAS in place of the one the wheel ships, same soname, other version): a few seconds.
  # Canonical paths: torch/lib/../../nvidia/... and nvidia/... are the same file.
  cuda_libs() { LD_DEBUG=libs "$@" 2>&1 >/dev/null | grep -oE "calling init: [^ ]*(cublas|cublasLt|cudnn|cudart|nccl)[^ ]*" \
    | sed 's/calling init: //' | xargs -r readlink -f | sort -u | tr '\n' ' '; }
  # One tiny dfscan CUDA run (NPR, a batch of one) under LD_DEBUG.
  dfscan_libs() { cuda_libs timeout 60 "$BIN" bench --arch npr --arch-config official --device cuda -b 1 \
    --warmup 0 --iters 1 --repeats 1; }
  DF_LIBS=$(dfscan_libs)
  PY_LIBS=$(cuda_libs timeout 60 $PY -c 'import torch; a = torch.randn(64, 64, device="cuda"); \
torch.nn.functional.conv2d(a[None, None], a[None, None, :3, :3]); print((a @ a).sum().item())')
  say "libraries dfscan: $DF_LIBS"
  say "libraries pytorch: $PY_LIBS"
  # Files dfscan loads that PyTorch does not (PROFILE=1 then reruns two ED rows with the wheel's
  # library folders first on the search path).
  LIBS_ONLY_DFSCAN=$(comm -23 <(tr ' ' '\n' <<<"$DF_LIBS" | sort -u) <(tr ' ' '\n' <<<"$PY_LIBS" | sort -u) | tr '\n' ' ')
  say "loaded by dfscan only: ${LIBS_ONLY_DFSCAN:-none}"
  : >"$DF"
  : >"$PYJ"
  bench_rc=0
  # 10 batches per repeat, median of 5 repeats. A default run (build included) should take about
  # 7.5 minutes on an H200: estimated from its steps' times in earlier runs (probe 29 s, build
  # 102 s, ctest 30 s with 4 jobs, bench about 290 s), not yet timed whole.
  # Fast rows (small batches, NPR) run more batches per repeat, at least 250 ms, on both sides: ten
  # batches of 5 ms are timed over too short a window to tell 1 % apart.
  common="--device cuda --warmup 5 --iters ${BENCH_ITERS:-10} --repeats 5 --min-repeat-ms ${BENCH_MIN_REPEAT_MS:-250}"
  crashed=0
  PRELOAD=
  step() {  # $1: output file; rest: the command. Skipped once the deadline has passed.
    local out=$1
    shift
    if [ "$(elapsed)" -ge "$DEADLINE_S" ]; then
      say "skipped (deadline ${DEADLINE_S}s): ${*:2:4}"
      bench_rc=deadline
      return
    fi
    local s=$(date +%s) rc=0
    env ${PRELOAD:+LD_PRELOAD=$PRELOAD} "$@" >>"$out" 2>>"$LOG" || rc=$?
    if [ $rc -ge 128 ] && [ "$1" = "$BIN" ]; then
      say "crashed rc=$rc: $*"
      bench_rc=1
      if [ $crashed -eq 0 ]; then
        crashed=1
        # Once: a backtrace (45 s at most), then the same command with the command library loaded
        # at start-up (as a directly linked one), which the remaining steps keep if it helps.
        if [ "${GDB_ON_CRASH:-1}" = 1 ] && command -v cuda-gdb >/dev/null; then
          timeout 45 cuda-gdb -q -batch -ex run -ex bt --args "$@" 2>&1 | grep -E "^#|signal|SIG" | head -30 | tee -a "$LOG"
        fi
        local cli
        cli=$(ls "$BUILD"/apps/dfscan/libdfscan-cli.so.* 2>/dev/null | head -1)
        if [ -n "$cli" ] && LD_PRELOAD=$cli "$@" >>"$out" 2>>"$LOG"; then
          PRELOAD=$cli
          bench_rc=0
          say "ran with $cli preloaded; the remaining steps preload it too"
        fi
      fi
    elif [ $rc -ne 0 ]; then
      say "failed rc=$rc: $*"
      bench_rc=1
    fi
    echo "   $(($(date +%s) - s))s: ${*:2:6}" >>"$LOG"
  }
  # One dfscan bench process (MODEL untrained at the official size; rows to $DF_OUT, default $DF)
  # and one PyTorch one: MODEL, rest.
  df_step() {
    local model=$1
    shift
    step "${DF_OUT:-$DF}" "$BIN" bench --arch "$model" --arch-config official $common -f jsonl "$@"
  }
  py_ref() {
    local model=$1
    shift
    step "$PYJ" $PY scripts/bench-reference.py --model "$model" $common "$@"
  }
  # Each model's dfscan rows, then PyTorch's rows of the same settings; PY_LAST=1 puts every
  # PyTorch row after all dfscan rows (a short rerun that already has PyTorch's figures).
  PY_STEPS=()
  py_step() {
    if [ "${PY_LAST:-0}" = 1 ]; then PY_STEPS+=("$*"); else py_ref "$@"; fi
  }
  # PROFILE=1 (a diagnostic run; about 2.5 minutes more): after ED's rows, ED again with the
  # reference's operators (--reference-ops: what dfscan's shortcuts buy), and where its time goes,
  # kernel by kernel and on the host, both sides (bench-compare.py prints the largest differences).
  MODELS_DEFAULT="genconvit-ed npr pipeline genconvit-vae"
  [ "${PROFILE:-0}" = 1 ] && MODELS_DEFAULT="genconvit-ed profile npr pipeline genconvit-vae"
  for model in ${BENCH_MODELS:-$MODELS_DEFAULT}; do
    if [ "$model" = profile ]; then
      # What dfscan's shortcuts buy: ED with the reference's operators one for one.
      df_step genconvit-ed -b 1,32,256 --dtype fp32 --reference-ops
      df_step genconvit-ed -b 1,32,256 --dtype bf16 --channels-last --reference-ops
      # Every kernel (ED has fewer than 400 names) and the host side: launches and their cost at
      # batch 1, kernel time at batch 256, fp32 (the same operators on both sides) and bf16.
      df_step genconvit-ed -b 1,256 --dtype fp32 --profile-kernels 400
      py_ref genconvit-ed -b 1,256 --dtype fp32 --profile-kernels 400
      df_step genconvit-ed -b 256 --dtype bf16 --channels-last --profile-kernels 400
      py_ref genconvit-ed -b 256 --dtype bf16 --channels-last --profile-kernels 400
      if [ -n "$LIBS_ONLY_DFSCAN" ]; then
        WHEEL_LIBS=$($PY -c 'import glob, os, nvidia; print(":".join(sorted(glob.glob(os.path.join(list(nvidia.__path__)[0], "*", "lib")))))' 2>>"$LOG")
        say "dfscan with the wheel's libraries first: $WHEEL_LIBS"
        LD_LIBRARY_PATH=$WHEEL_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} DF_OUT=$LIBS_DF \
          df_step genconvit-ed -b 1,256 --dtype fp32
        say "libraries then: $(LD_LIBRARY_PATH=$WHEEL_LIBS dfscan_libs)"
      fi
      continue
    fi
    if [ "$model" = pipeline ]; then
      # The scan's inference stage with the synthetic crop source: pageable vs pinned copies.
      df_step genconvit-ed -b 32,256 --dtype bf16 --channels-last --mode pipeline --pinned both --workers 8
      continue
    fi
    df_step "$model" -b 1,32,256 --dtype fp32
    df_step "$model" -b 1,32,256 --dtype bf16 --channels-last
    df_step "$model" -b 1 --dtype fp32,bf16 --cuda-graphs on
    if [ "$model" != genconvit-vae ]; then
      df_step "$model" -b 64 --dtype bf16 --channels-last --mode train
    fi
    # The same rows in PyTorch, in one process (its start-up and model build cost 10-20 s each).
    py_step "$model" --anchors
  done
  for args in "${PY_STEPS[@]}"; do py_ref $args; done
  # VARIANTS=1: variants of the largest anchor row (ED, batch 256, reduced precision), last and
  # only while time is left: fp16 with channels_last and bf16 without, both sides, to tell a
  # precision- or layout-specific gap from a whole-card one.
  if [ "${VARIANTS:-0}" = 1 ]; then
    df_step genconvit-ed -b 256 --dtype fp16 --channels-last
    py_ref genconvit-ed -b 256 --dtype fp16 --channels-last
    df_step genconvit-ed -b 256 --dtype bf16
    py_ref genconvit-ed -b 256 --dtype bf16
  fi
fi
say "summary: probe amp=$(probe_rc amp) extras=$extras_rc profiler=$(probe_rc profile) c10d-nccl=$nccl_rc configure=$cfg_rc build=$build_rc ctest=$test_rc bench=$bench_rc"
if [ "$bench_rc" != skipped ]; then
  $PY scripts/bench-compare.py "$DF" "$PYJ" | tee -a "$LOG"
  if [ -s "$LIBS_DF" ]; then
    say "dfscan with the wheel's library folders first (img/s, against the same rows above)"
    $PY -c 'import json, sys
for r in map(json.loads, sys.stdin):
    print(r["model"], r["dtype"], "batch", r["batch"], round(r.get("images_per_s", 0), 1), r["status"])' \
      <"$LIBS_DF" | tee -a "$LOG"
  fi
fi
