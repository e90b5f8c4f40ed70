#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs from outside the repository into one ignored folder, small
# enough to travel with the working tree to a GPU box (the device tool carries 64 MiB in all):
#   scripts/gpu-pack.sh [SHARED_DIR] [OUT_DIR]      (defaults: ../shared, build-gpu-shared)
# then, on the box: scripts/gpu-check.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-../shared}
DEST=${2:-build-gpu-shared}
rm -rf "$DEST"
mkdir -p "$DEST/zlib"
# The fixtures are random float32 weights: xz alone saves a tenth, byte planes first another 7%,
# which is what makes them fit. gpu-check.sh undoes both.
tar -C "$SHARED" -cf - parity | /usr/bin/python3 scripts/byte-shuffle.py | xz -9 -T"$(nproc)" \
  >"$DEST/parity.tar.shuffled.xz"
# For a box without zlib's or GoogleTest's development files (gpu-check.sh uses them only then).
cp /usr/include/zlib.h /usr/include/zconf.h "$DEST/zlib/"
if [ -d /usr/src/googletest ]; then
  tar -C /usr/src -cf - googletest | xz -9 -T"$(nproc)" >"$DEST/googletest.tar.xz"
fi
tracked=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
carried=$(du -sb "$DEST" | cut -f1)
echo "$DEST: $((carried / 1024)) KiB; with the tracked tree $(((tracked + carried) / 1048576)) MiB (limit 64)"
