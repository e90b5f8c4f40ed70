#!/usr/bin/env bash
# Fuzzes the formats dfscan parses itself: torch.save checkpoints (pth), model files
# (safetensors), score CSVs and ASV score files (scores), WildDeepfake's tar archives (tar) and
# the benchmarks' manifests (manifests; the first byte of an input picks which kind), each with
# its own libFuzzer executable (tests/fuzz/fuzz_formats.cpp), built with clang like scripts/fuzz-media.sh.
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
[ ${#FORMATS[@]} -gt 0 ] || FORMATS=(pth safetensors scores tar manifests)
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
seeds scores tests/data/metrics/*.csv tests/data/metrics/*.txt
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

# Manifest seeds: the kind's index in fuzz_formats.cpp's kManifests, then the manifest.
manifest_seed() {  # manifest_seed INDEX NAME < CONTENT
  local dir="$WORK/manifests/seeds"
  mkdir -p "$dir"
  { printf "\\$(printf '%03o' "$1")"; cat; } >"$dir/$2"
}
manifest_seed 0 csv <<<$'path,label,split,method\n"a, b.mp4",fake,test,x\nc.mp4,0,train,y'
manifest_seed 3 labels.csv <<<$'filename,label\naaa.mp4,1\nbbb.mp4,0'
manifest_seed 4 dataset.json <<<'{"method_A/1/1_A/x.mp4": {"label": "fake", "set": "test"}, "original_videos/1/y.mp4": {"label": "real", "set": "train"}}'
manifest_seed 6 trial_metadata.txt <<<$'LA_0009 LA_E_9332881 alaw ita_tx A07 spoof notrim eval\nLA_0013 LA_E_1000000 none - bonafide bonafide notrim progress'
manifest_seed 7 meta.csv <<<$'file,speaker,label\n0.wav,Alec Guinness,spoof\n1.wav,Alec Guinness,bona-fide'
shared=${DFSCAN_SHARED_DIR:-../shared}/manifests
if [ -d "$shared" ]; then
  manifest_seed 1 celebdf <"$shared/celebdf/List_of_testing_videos.txt"
  manifest_seed 2 metadata.json <"$shared/dfdc/metadata.json"
  manifest_seed 5 asvspoof2019 <"$shared/asvspoof2019/ASVspoof2019.LA.cm.train.trn.excerpt.txt"
  manifest_seed 8 ffpp-test.json <"$shared/ffpp/test.json"
fi

stamp="$WORK/.run-start"; mkdir -p "$WORK"; touch "$stamp"
for format in "${FORMATS[@]}"; do
  dir="$WORK/$format"
  mkdir -p "$dir/corpus" "$dir/crashes"
  echo "== $format: ${RUN_SECONDS} s"
  # -malloc_limit_mb: a single allocation this large from a small file is a finding in itself.
  # Except for pth: LibTorch's zip reader allocates each record's claimed size before reading it
  # (a 1 KB file claiming a 4 GiB record asks for 4 GiB, never touched, then fails to read it, a
  # one-line decode_error), which dfscan cannot intercept; there the resident-size limit decides,
  # and allocations too large to serve return null, which LibTorch turns into an error.
  malloc_limit=1024
  [ "$format" = pth ] && malloc_limit=1048576
  ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  LSAN_OPTIONS="suppressions=$PWD/tests/common/lsan-libtorch.supp:print_suppressions=0" \
  "$BUILD_DIR/tests/fuzz/fuzz_$format" "$dir/corpus" "$dir/seeds" \
    -max_total_time="$RUN_SECONDS" -max_len=65536 -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=$malloc_limit \
    -artifact_prefix="$dir/crashes/" -print_final_stats=1 >"$dir/fuzz.log" 2>&1 || true
  grep -E "ERROR|SUMMARY|stat::number_of_executed_units|stat::peak_rss_mb|Done" "$dir/fuzz.log" || true
done
echo "new crash/timeout/oom inputs: $(find "$WORK" -path '*/crashes/*' -type f -newer "$stamp" | wc -l) under $WORK/*/crashes"
