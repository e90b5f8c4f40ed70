#!/usr/bin/env bash
# Builds the media libFuzzer target with clang (ASan+UBSan+coverage on our core/media code) and
# runs it on seeds made with the ffmpeg CLI. Crashes land in $WORK/crashes; turn each into a
# regression test in tests/media.
#   scripts/fuzz-media.sh            # 600 s
#   scripts/fuzz-media.sh 60         # a short run
#   BUILD_DIR=build-fuzz JOBS=2 scripts/fuzz-media.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_SECONDS=${1:-600}
BUILD_DIR=${BUILD_DIR:-build-fuzz}
WORK=${WORK:-$BUILD_DIR/fuzz-work}
JOBS=${JOBS:-2}

CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDFSCAN_FUZZ=ON -DDFSCAN_BUILD_TESTS=OFF -DDFSCAN_BUILD_APPS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target fuzz_media

mkdir -p "$WORK/seeds" "$WORK/corpus" "$WORK/crashes"
seed() {  # seed NAME FFMPEG-ARGS...
  local out="$WORK/seeds/$1"; shift
  [ -s "$out" ] || ffmpeg -nostdin -v error -y "$@" "$out"
}
v="testsrc2=size=32x24:rate=10:duration=0.3"
a="sine=frequency=440:sample_rate=8000:duration=0.2"
seed h264.mp4 -f lavfi -i "$v" -f lavfi -i "$a" -c:v libx264 -preset ultrafast -g 2 -bf 1 -pix_fmt yuv420p -c:a aac -shortest
seed faststart.mp4 -f lavfi -i "$v" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart
seed mpeg4.avi -f lavfi -i "$v" -c:v mpeg4
seed vp9.webm -f lavfi -i "$v" -c:v libvpx-vp9 -deadline realtime -cpu-used 8
seed ffv1.mkv -f lavfi -i "$v" -c:v ffv1
seed alpha.mov -f lavfi -i "$v" -vf format=rgba -c:v png
seed tone.wav -f lavfi -i "$a" -c:a pcm_s16le
seed tone.mp3 -f lavfi -i "$a" -c:a libmp3lame
seed tone.flac -f lavfi -i "$a" -c:a flac
seed tone.ogg -f lavfi -i "$a" -c:a libvorbis
seed tone.opus -f lavfi -i "$a" -c:a libopus
seed still.png -f lavfi -i testsrc2=size=16x12 -frames:v 1
seed still.jpg -f lavfi -i testsrc2=size=16x12 -frames:v 1
seed still.gif -f lavfi -i testsrc2=size=16x12 -frames:v 1
seed still.bmp -f lavfi -i testsrc2=size=16x12 -frames:v 1
seed still.webp -f lavfi -i testsrc2=size=16x12 -frames:v 1

stamp="$WORK/.run-start"; touch "$stamp"
# -timeout: a single input taking longer is reported as a hang (the readers' own deadline is 5 s).
"$BUILD_DIR/tests/fuzz/fuzz_media" "$WORK/corpus" "$WORK/seeds" \
  -max_total_time="$RUN_SECONDS" -max_len=65536 -timeout=20 -rss_limit_mb=2560 \
  -artifact_prefix="$WORK/crashes/" -print_final_stats=1 2>&1 | tee "$WORK/fuzz.log" | grep -E "^#|ERROR|SUMMARY|stat::|Done" || true
echo "log: $WORK/fuzz.log  new crash/timeout/oom inputs: $(find "$WORK/crashes" -type f -newer "$stamp" | wc -l) in $WORK/crashes"
