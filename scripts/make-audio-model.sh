#!/usr/bin/env bash
# Trains and measures the shipped audio model models/audio-lfcc-mlp.safetensors (card:
# models/audio-lfcc-mlp.md), and the same recipe on the 4 kHz low-passed benchmark (the bandwidth
# control, not shipped). CPU only; a few minutes on 2 cores once the benchmarks exist.
#
#   scripts/make-audio-model.sh [BUILD_DIR] [OUT_DIR]
#
# BUILD_DIR (default build-audio) holds a build of the dfscan app and the benchmarks BUILD_DIR/bench and
# BUILD_DIR/bench-lp4k (built with scripts/build-audio-benchmark.sh when missing; that needs
# `scripts/setup-deps.sh --audio-benchmark`). OUT_DIR (default BUILD_DIR/audio-model) receives the
# models, the held-out scan records and the metrics.
# Then `cp OUT_DIR/audio-lfcc-mlp.safetensors models/` ships the model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-audio}
out=${2:-$build/audio-model}
dfscan=$build/apps/dfscan/dfscan
[[ -x "$dfscan" ]] || { echo "no dfscan app in $build (cmake --build $build --target dfscan)" >&2; exit 2; }
mkdir -p "$out"
joint="espeak+flite+festival-kal+festival-hts+codec2"

# recipe BENCH MODEL_FILE: trains on the benchmark's train split less the held-back validation groups.
recipe() {
  local bench=$1 model=$2
  printf 'manifest = "manifest.csv"\ntasks = ["%s"]\n' "$joint" > "$bench/tasks-joint.toml"
  "$dfscan" continual --tasks "$bench/tasks-joint.toml" --model stats-mlp --features lfcc --frames 200 \
    --head-hidden 64 --strategies finetune --seeds 0 --epochs 40 --lr 0.01 --batch-size 32 \
    --valid-share 0.2 --window-seconds 2 --hop-seconds 1 --train-windows --balance-attacks \
    --save-model "$model" --model-name audio-lfcc-mlp --json "${model%.safetensors}-training.json"
}

# heldout BENCH MODEL_FILE PREFIX: scans every test-split file with `dfscan scan` and scores the records.
heldout() {
  local bench=$1 model=$2 prefix=$3
  awk -F, -v b="$bench" 'NR > 1 && $4 == "test" { print b "/" $1 }' "$bench/manifest.csv" > "$prefix-files.txt"
  "$dfscan" scan -m "$model" -f jsonl --workers 2 $(cat "$prefix-files.txt") > "$prefix-records.jsonl" || true
  # path,label,score,task,source from the records joined with the manifest.
  jq -r 'select(.type == "file") | [.path, .status, (.score // "")] | @tsv' "$prefix-records.jsonl" |
    awk -F'\t' -v b="$bench" 'BEGIN { OFS = ","
        while ((getline line < (b "/manifest.csv")) > 0) { split(line, c, ","); lab[b "/" c[1]] = c[2]; task[b "/" c[1]] = c[3]; src[b "/" c[1]] = (c[3] == "real" || c[3] == "codec2") ? c[5] : c[3] }
        print "path,label,score,task,source" }
      $2 != "ok" { print "not scored: " $1 " " $2 > "/dev/stderr"; bad++; next }
      { print $1, lab[$1], $3, task[$1], src[$1] }
      END { if (bad) exit 1 }' > "$prefix-scores.csv"
  local threshold
  threshold=$(jq -s -r '[.[] | select(.type == "file")][0].threshold' "$prefix-records.jsonl")
  for g in task source; do
    "$dfscan" eval --scores "$prefix-scores.csv" -t "$threshold" --bootstrap 1000 --seed 0 --group-by "$g" \
      > "$prefix-eval-by-$g.txt"
    "$dfscan" eval --scores "$prefix-scores.csv" -t "$threshold" --bootstrap 1000 --seed 0 --group-by "$g" \
      --format json > "$prefix-eval-by-$g.json"
  done
  echo "threshold $threshold" >&2
  cat "$prefix-eval-by-task.txt" >&2
}

# The shipped model, then the 4 kHz low-pass control (same recipe, every file low-passed).
[[ -f "$build/bench/manifest.csv" ]] || "$root/scripts/build-audio-benchmark.sh" "$build/bench"
[[ -f "$build/bench-lp4k/manifest.csv" ]] || "$root/scripts/build-audio-benchmark.sh" "$build/bench-lp4k" --lowpass 4000
recipe "$build/bench" "$out/audio-lfcc-mlp.safetensors"
heldout "$build/bench" "$out/audio-lfcc-mlp.safetensors" "$out/heldout-full"
recipe "$build/bench-lp4k" "$out/audio-lfcc-mlp-lp4k.safetensors"
heldout "$build/bench-lp4k" "$out/audio-lfcc-mlp-lp4k.safetensors" "$out/heldout-lp4k"
