#!/usr/bin/env bash
# Data-parallel `dfscan train` on two machines with torchrun (python3-torch provides it; the
# training processes themselves run no Python). Options are spelled with underscores, which
# torchrun 1.13 (Debian) requires and 2.x still accepts (2.x also takes --no-python etc.).
# Debian's torchrun 1.13 under Python 3.11 crashes with its default --redirects/--tee of 0, so
# stdout is teed to per-rank logs (1).
# Run the same command on both machines:
#
#   MASTER=node0.example.org DATA=/shared/faces/data.csv scripts/train-torchrun-2node.sh
#
# torchrun's c10d rendezvous at MASTER:29400 assigns the node ranks; it then gives every process
# RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, which `dfscan train` reads
# (--distributed auto). GPUS processes per node, one per GPU (cuda:LOCAL_RANK). --batch is the global
# batch. torchrun restarts all workers up to --max-restarts times after a failure; with --resume
# they continue from the newest checkpoint, which must be on a filesystem both machines see.
set -euo pipefail

: "${MASTER:?set MASTER to the first machine host name or address}"
: "${DATA:?set DATA to a dataset folder or CSV (see dfscan train --help)}"
GPUS=${GPUS:-8}
DFSCAN=${DFSCAN:-dfscan}
OUT=${OUT:-genconvit-ed.safetensors}
# Only when the host names resolve to an unusable interface (Gloo, CPU runs):
# export GLOO_SOCKET_IFNAME=eth0

exec torchrun --nnodes=2 --nproc_per_node="$GPUS" \
  --rdzv_backend=c10d --rdzv_endpoint="$MASTER:29400" --rdzv_id="${RDZV_ID:-dfscan-train}" \
  --max_restarts=3 --redirects=1 --tee=1 --log_dir="$OUT.torchrun-logs" --no_python \
  "$DFSCAN" train --arch genconvit-ed --data "$DATA" --device cuda --precision bf16 \
  --epochs 20 --batch 256 --optimizer adamw --lr 4e-4 --schedule cosine --warmup-steps 500 \
  --augment default --no-progress \
  --checkpoint-dir "$OUT.ckpt" --resume --log "$OUT.jsonl" -o "$OUT"
