#!/usr/bin/env bash
# Installs the Debian 12 packages dfscan needs to build, test and run.
# Idempotent: prints nothing and touches nothing when everything is present.
#   scripts/setup-deps.sh [--audio-benchmark]
# --audio-benchmark adds the speech synthesisers and Debian speech recordings that
# scripts/build-audio-benchmark.sh needs (about 50 MB installed); CI does not need them.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0
  libopencv-dev opencv-data
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev ffmpeg
  libcli11-dev libspdlog-dev nlohmann-json3-dev libgtest-dev
  libdlib-dev zlib1g-dev
  libgloo-dev
  python3-torch python3-torchvision python3-sklearn python3-numpy
  clang libclang-rt-14-dev clang-format
  python3-skimage facedetect python3-jsonschema
  chromium time
)
if [[ "${1:-}" == "--audio-benchmark" ]]; then
  packages+=(sox espeak-ng flite festival festvox-kallpc16k festvox-us-slt-hts pocketsphinx-testdata codec2 codec2-examples alsa-utils)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "setup-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
