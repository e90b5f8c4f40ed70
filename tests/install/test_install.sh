#!/usr/bin/env bash
# `cmake --install` into a fresh prefix; then the installed dfscan runs and finds the models
# installed beside it, and a project outside the tree builds against find_package(dfscan).
#   test_install.sh BUILD_DIR TORCH_DIR
set -euo pipefail
build=$1
torch_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
"$prefix/bin/dfscan" --version
# Models resolve against the installed share/dfscan/models, with no user folder in the way.
env -u DFSCAN_MODELS_DIR HOME="$work" "$prefix/bin/dfscan" models list >"$work/models.txt"
grep -q "$prefix/share/dfscan/models/npr-proxy.safetensors" "$work/models.txt" || {
  cat "$work/models.txt"
  echo "FAIL: the installed npr-proxy is not listed"
  exit 1
}
cmake -S "$here/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DTorch_DIR="$torch_dir" >"$work/configure.log" || {
  cat "$work/configure.log"
  exit 1
}
cmake --build "$work/consumer" >"$work/build.log" || {
  cat "$work/build.log"
  exit 1
}
out=$("$work/consumer/consumer")
echo "$out"
grep -qx "auc 0.75" <<<"$out" || {
  echo "FAIL: the consumer's AUC"
  exit 1
}
echo "install: ok"
