#!/usr/bin/env bash
# Starts N ranks of a command on this machine with the variables torchrun would give them, without
# Python: RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. Rank 0 hosts
# the rendezvous store. When one rank fails the others are stopped, and the script exits with the
# first failure's status.
#
#   scripts/launch-local.sh -n 2 [-p PORT] [-a ADDR] -- dfscan train --data DATA -o model.safetensors ...
#
# --batch stays the global batch: each rank trains on its 1/N slice of every batch. On a GPU machine
# each rank takes cuda:LOCAL_RANK when --device is cuda.
set -euo pipefail

usage() {
  sed -n '2,11s/^# \{0,1\}//p' "$0" >&2
  exit 64
}

ranks=2
port=29500
addr=127.0.0.1
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n | --nproc) ranks="$2"; shift 2 ;;
    -p | --port) port="$2"; shift 2 ;;
    -a | --addr) addr="$2"; shift 2 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[[ $# -gt 0 ]] || usage
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || { echo "launch-local: -n needs a positive integer" >&2; exit 64; }

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 130' INT TERM

for ((rank = 0; rank < ranks; ++rank)); do
  RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=$ranks LOCAL_WORLD_SIZE=$ranks \
    MASTER_ADDR=$addr MASTER_PORT=$port "$@" &
  pids+=("$!")
done

status=0
for ((left = ranks; left > 0; --left)); do
  rc=0
  wait -n || rc=$?
  if [[ $rc -ne 0 && $status -eq 0 ]]; then
    status=$rc
    echo "launch-local: a rank exited with status $rc; stopping the others" >&2
    stop_all
  fi
done
exit "$status"
