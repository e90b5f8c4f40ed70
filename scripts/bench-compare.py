#!/usr/bin/env python3
"""Joins `dfscan bench -f jsonl` rows with scripts/bench-reference.py rows and prints one table.

  python3 scripts/bench-compare.py bench-dfscan.jsonl bench-python.jsonl

Rows match on (model, mode, dtype, batch, channels_last). A dfscan row replayed from a CUDA graph
is compared with the same eager PyTorch row (Python has no graph there), and marked "graph". The
ratio is dfscan img/s over PyTorch img/s: >= 1.0 means dfscan is at least as fast.
"""
import json
import sys


def read(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def key(row):
    name = row["model"].split("/")[0]
    return (name, row["mode"], row["dtype"], row["batch"], row["channels_last"])


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 64
    ours, theirs = read(argv[1]), read(argv[2])
    reference = {key(r): r for r in theirs if r.get("status") == "ok"}
    print(f"{'model':<15} {'mode':<5} {'dtype':<5} {'batch':>5} {'chlst':>5} {'graph':>5} "
          f"{'dfscan img/s':>13} {'pytorch img/s':>14} {'ratio':>7}")
    worst = None
    for r in ours:
        ref = reference.get(key(r))
        ok = r.get("status") == "ok"
        ratio = r["images_per_s"] / ref["images_per_s"] if ok and ref else None
        if ratio is not None:
            worst = ratio if worst is None else min(worst, ratio)
        print(f"{key(r)[0]:<15} {r['mode']:<5} {r['dtype']:<5} {r['batch']:>5} "
              f"{'yes' if r['channels_last'] else 'no':>5} {'yes' if r['cuda_graph'] else 'no':>5} "
              f"{r['images_per_s'] if ok else float('nan'):>13.1f} "
              f"{ref['images_per_s'] if ref else float('nan'):>14.1f} "
              f"{ratio if ratio is not None else float('nan'):>7.2f}"
              + ("" if ok else "  " + r.get("status", "")))
    if worst is not None:
        print(f"lowest ratio: {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
