#!/usr/bin/env bash
# Reproduces dfscan's shipped default models from scratch (see models/*.md):
#   models/genconvit-ed-atto.safetensors  video (face crops), GenConViT-ED with a ConvNeXt-atto backbone
#   models/npr-proxy.safetensors          image, NPR trained on a random-decoder proxy
# and measures each on data its training never saw, with 95 % bootstrap intervals.
#
#   scripts/make-default-models.sh [BUILD_DIR] [SHARED_DIR]
#
# BUILD_DIR (default build-models) must be configured with the media layers and tests (the defaults); the
# generated training data, checkpoints, logs and reports go to BUILD_DIR/default-models/, never into
# git. Every random choice is seeded (the recipes in scripts/default-models/*.json), and training runs
# on the CPU, so a rerun on the same software gives the same files. An interrupted run resumes from its
# last per-epoch checkpoint; FRESH=1 starts over. ONLY=video or ONLY=image builds one model.
# Needs Debian's python3-torch, python3-opencv, python3-skimage, python3-matplotlib and facedetect for
# the data (scripts/make-default-model-data.py).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-models}
SHARED=${2:-${DFSCAN_SHARED_DIR:-$PWD/../shared}}
DFDC=$SHARED/data/dfdc-faces-sample
WORK=$BUILD/default-models
ONLY=${ONLY:-all}
PY=/usr/bin/python3

[ -d "$DFDC/train" ] || { echo "no DFDC sample crops at $DFDC" >&2; exit 1; }
cmake --build "$BUILD" --target default_models_tool
TOOL=$BUILD/tests/models/default_models_tool

if [ "${FRESH:-0}" = 1 ]; then rm -rf "$WORK"; fi
mkdir -p "$WORK" models
if [ ! -f "$WORK/data/.done" ]; then
  rm -rf "$WORK/data"
  $PY scripts/make-default-model-data.py --out "$WORK/data" --dfdc "$DFDC"
  touch "$WORK/data/.done"
fi

# The test split is read only here, after training, for the report.
if [ "$ONLY" = all ] || [ "$ONLY" = video ]; then
  /usr/bin/time -f "%e s wall, %U s user" -o "$WORK/genconvit-ed-atto.time" \
    "$TOOL" train scripts/default-models/genconvit-ed-atto.json "$WORK/data/video/data.csv" \
    "$WORK/genconvit-ed-atto.safetensors" >"$WORK/genconvit-ed-atto.train.json"
  for split in test valid; do
    "$TOOL" evaluate "$WORK/genconvit-ed-atto.safetensors" "$WORK/data/video/dfdc-eval.csv" $split \
      >"$WORK/genconvit-ed-atto.$split.json"
  done
  cp "$WORK/genconvit-ed-atto.safetensors" models/
fi
if [ "$ONLY" = all ] || [ "$ONLY" = image ]; then
  /usr/bin/time -f "%e s wall, %U s user" -o "$WORK/npr-proxy.time" \
    "$TOOL" train scripts/default-models/npr-proxy.json "$WORK/data/image" \
    "$WORK/npr-proxy.safetensors" >"$WORK/npr-proxy.train.json"
  for split in test valid; do
    "$TOOL" evaluate "$WORK/npr-proxy.safetensors" "$WORK/data/image" $split >"$WORK/npr-proxy.$split.json"
  done
  # Whole images at native size, and the DFDC face crops (a task it was not trained for).
  "$TOOL" evaluate "$WORK/npr-proxy.safetensors" "$WORK/data/image-fullsize" test >"$WORK/npr-proxy.fullsize.json"
  "$TOOL" evaluate "$WORK/npr-proxy.safetensors" "$DFDC" test >"$WORK/npr-proxy.dfdc.json"
  cp "$WORK/npr-proxy.safetensors" models/
fi

case $ONLY in video) built=genconvit-ed-atto ;; image) built=npr-proxy ;; *) built="genconvit-ed-atto npr-proxy" ;; esac
for m in $built; do
  echo "== $m ($(stat -c %s "models/$m.safetensors") bytes, trained in $(cat "$WORK/$m.time"))"
  for report in "$WORK/$m".{test,valid,fullsize,dfdc}.json; do
    [ -f "$report" ] || continue
    echo "-- $(basename "$report")"
    $PY - "$report" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
def line(name, m):
    def f(k):
        v, ci = m[k], (m["ci95"] or {}).get(k) or {}
        if v is None:
            return "n/a"
        lo, hi = ci.get("low"), ci.get("high")
        return f"{v:.3f}" + ("" if lo is None or hi is None else f" [{lo:.3f}, {hi:.3f}]")
    print(f"{name}: n={m['n']} (fake {m['n_fake']}, real {m['n_real']}), threshold {m['threshold']:.4f}: "
          f"AUC {f('auc')}, accuracy {f('accuracy')}, EER {f('eer')}")
print(f"hash {r['hash']}")
line(r["split"], r["metrics"])
for key, groups in r["metrics"].get("groups", {}).items():
    for g, m in groups["by_group"].items():
        line(f"{r['split']} {key}={g}", m)
EOF
  done
done
