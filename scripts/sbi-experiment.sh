#!/usr/bin/env bash
# Self-blended images (issue 8): trains a small detector on real faces and their self-blends ONLY, then
# scores the DFDC sample's test crops (28 real, 28 fake) and reports AUC with a 95 % bootstrap interval.
#
#   scripts/sbi-experiment.sh [BUILD_DIR] [SHARED_DIR]
#
# Real faces (no fake is ever read for training):
#   - Debian-packaged photos: scikit-image's astronaut.png, facedetect's grace_hopper_512x512.jpg and
#     the face photos of libdlib's examples (PASCAL VOC images and a few portraits; dogs.jpg left out);
#   - the shared real video stock_720p_aac.mp4 (48 sampled frames; one person). The other shared video,
#     ff_clip_0017_fake.mp4, is a deepfake and is not used; neither are any DFDC crops (its test reals
#     duplicate its train reals, so even those would leak).
# Faces are cut the way the DFDC crops were: dlib's HOG box, tight (no margin), 224 x 224.
# Outputs go to BUILD_DIR/sbi-experiment/ (never into git). Every random choice is seeded; training
# runs on the CPU. Set ARCH=genconvit-ed to train GenConViT-ED-atto instead of NPR, EPOCHS=N,
# SIZE=N (input side), MASKS=sbi-hull to use box masks instead of dlib's landmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SHARED=${2:-${DFSCAN_SHARED_DIR:-$PWD/../shared}}
APP=$BUILD/apps/dfscan/dfscan
WORK=$BUILD/sbi-experiment
TEST=$SHARED/data/dfdc-faces-sample/test
ARCH=${ARCH:-npr}
EPOCHS=${EPOCHS:-8}
SIZE=${SIZE:-112}
MASKS=${MASKS:-sbi}
SEED=${SEED:-20260127}

[ -x "$APP" ] || { echo "build dfscan first: cmake --build $BUILD --target dfscan" >&2; exit 1; }
[ -d "$TEST/fake" ] || { echo "no DFDC sample crops at $TEST" >&2; exit 1; }
mkdir -p "$WORK"

# 1. Real faces.
if [ ! -f "$WORK/reals/.done" ]; then
  rm -rf "$WORK/reals"
  photos=()
  for p in /usr/lib/python3/dist-packages/skimage/data/astronaut.png \
    /usr/share/doc/facedetect/examples/grace_hopper_512x512.jpg \
    /usr/share/doc/libdlib19.1/examples/faces/*.jpg; do
    case $p in *dogs.jpg) continue ;; esac
    [ -f "$p" ] && photos+=("$p")
  done
  crop=(--detector dlib-hog --tight --crop-size 224 --format jsonl)
  "$APP" faces "${photos[@]}" "${crop[@]}" --max-side 0 --save-crops "$WORK/reals/photos" >"$WORK/faces-photos.jsonl"
  "$APP" faces "$SHARED/data/videos/stock_720p_aac.mp4" --frames 48 "${crop[@]}" \
    --save-crops "$WORK/reals/video" >"$WORK/faces-video.jsonl"
  touch "$WORK/reals/.done"
fi
echo "real faces: $(find "$WORK/reals" -name '*.png' | wc -l)"

# 2. Train on sbi:reals (each real face as itself, label 0, and as its self-blend, label 1; one in five
#    faces held out for validation, which picks the epoch and the threshold).
case $ARCH in
  npr) arch=(--arch npr --arch-config '{"layers":[3,4],"num_classes":1}' --lr 2e-4 --optimizer adam) ;;
  genconvit-ed)
    # The default model's recipe holds the atto config under "arch_config".
    /usr/bin/python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['arch_config']))" \
      scripts/default-models/genconvit-ed-atto.json >"$WORK/genconvit-ed-atto.config.json"
    arch=(--arch genconvit-ed --arch-config "$WORK/genconvit-ed-atto.config.json" --lr 5e-4 --optimizer adamw
      --weight-decay 0.05 --clip-grad-norm 1)
    ;;
  *) echo "ARCH must be npr or genconvit-ed" >&2; exit 64 ;;
esac
MODEL=$WORK/sbi-$ARCH.safetensors
/usr/bin/time -f "%e s wall, %U s user" -o "$WORK/train.time" \
  "$APP" train "${arch[@]}" --data "$MASKS:$WORK/reals" --input-size "$SIZE" --epochs "$EPOCHS" --batch 16 \
  --schedule cosine --warmup-steps 5 --augment default --seed "$SEED" --workers 2 --no-progress \
  --name "sbi-$ARCH" -o "$MODEL" --log "$WORK/train.jsonl" >"$WORK/train.json"
cat "$WORK/train.json"

# 3. Score the DFDC test crops (read only here, after training) and join the true labels.
"$APP" scan -r "$TEST" -m "$MODEL" --faces none -f csv -o "$WORK/test-scan.csv" --no-progress || [ $? -eq 1 ]  # 1: something was called fake
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; print "path,label,score"; next }
  $col["status"] == "ok" { label = ($col["path"] ~ /\/fake\//) ? 1 : 0; print $col["path"] "," label "," $col["score"] }' \
  "$WORK/test-scan.csv" >"$WORK/test-scores.csv"
echo "scored crops: $(($(wc -l <"$WORK/test-scores.csv") - 1))"

# 4. AUC with a 95 % bootstrap interval (2000 stratified resamples).
"$APP" eval --scores "$WORK/test-scores.csv" --bootstrap 2000 --seed 0 --format json >"$WORK/test-eval.json"
cat "$WORK/test-eval.json"
