#!/usr/bin/env bash
# Fuzzes the formats dfscan parses itself: torch.save checkpoints (pth), model files
# (safetensors), score CSVs (scores) and WildDeepfake's tar archives (tar), each with its own
# libFuzzer executable (tests/fuzz/fuzz_formats.cpp), built with clang like scripts/fuzz-media.sh.
# Seeds are the test suite's fixtures. Crashes land in $WORK/<format>/crashes; turn each into a
# regression test beside the reader's tests.
#   scripts/fuzz-formats.sh                 # 300 s for each format
#   scripts/fuzz-formats.sh 60 pth tar      # 60 s for these two
#   BUILD_DIR=build-fuzz JOBS=2 scripts/fuzz-formats.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_SECONDS=${1:-300}
shift || true
FORMATS=("$@")
[ ${#FORMATS[@]} -gt 0 ] || FORMATS=(pth safetensors scores tar)
BUILD_DIR=${BUILD_DIR:-build-fuzz}
WORK=${WORK:-$BUILD_DIR/fuzz-formats}
JOBS=${JOBS:-2}

CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDFSCAN_FUZZ=ON -DDFSCAN_BUILD_TESTS=OFF -DDFSCAN_BUILD_APPS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target "${FORMATS[@]/#/fuzz_}"

# seeds FORMAT FILE...: copies fixtures into the format's seed folder.
seeds() {
  local dir="$WORK/$1/seeds"; shift
  mkdir -p "$dir"
  cp -n "$@" "$dir/" 2>/dev/null || true
}
seeds pth tests/data/io/*.pth
seeds safetensors tests/data/io/*.safetensors models/npr-proxy.safetensors
seeds scores tests/data/metrics/*.csv
# Tar seeds are uncompressed (the harness gzips each input): a ustar file, a GNU long name, a pax path.
tar_dir="$WORK/tar/seeds"
if [ ! -s "$tar_dir/ustar.tar" ]; then
  mkdir -p "$tar_dir" "$WORK/tar/src/0/real/1"
  printf 'png-bytes' >"$WORK/tar/src/0/real/1/0.png"
  printf 'more' >"$WORK/tar/src/0/real/1/$(printf 'n%.0s' {1..120}).png"
  tar -C "$WORK/tar/src" --format=ustar -cf "$tar_dir/ustar.tar" 0/real/1/0.png
  tar -C "$WORK/tar/src" --format=gnu -cf "$tar_dir/gnu.tar" 0
  tar -C "$WORK/tar/src" --format=pax -cf "$tar_dir/pax.tar" 0
fi

stamp="$WORK/.run-start"; mkdir -p "$WORK"; touch "$stamp"
for format in "${FORMATS[@]}"; do
  dir="$WORK/$format"
  mkdir -p "$dir/corpus" "$dir/crashes"
  echo "== $format: ${RUN_SECONDS} s"
  # -malloc_limit_mb: a single allocation this large from a small file is a finding in itself.
  LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan-libtorch.supp:print_suppressions=0" \
  "$BUILD_DIR/tests/fuzz/fuzz_$format" "$dir/corpus" "$dir/seeds" \
    -max_total_time="$RUN_SECONDS" -max_len=65536 -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=1024 \
    -artifact_prefix="$dir/crashes/" -print_final_stats=1 >"$dir/fuzz.log" 2>&1 || true
  grep -E "ERROR|SUMMARY|stat::number_of_executed_units|stat::peak_rss_mb|Done" "$dir/fuzz.log" || true
done
echo "new crash/timeout/oom inputs: $(find "$WORK" -path '*/crashes/*' -type f -newer "$stamp" | wc -l) under $WORK/*/crashes"
