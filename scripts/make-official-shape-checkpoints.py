#!/usr/bin/python3
"""Random-valued GenConViT checkpoints with the official layout, for strict-loading and memory tests.

Reads a key -> shape map (../shared/parity/genconvit_{ed,vae}_official_shapes.json: every key of the
published genconvit_ed_inference.pth / genconvit_vae_inference.pth) and writes an OrderedDict of
random tensors with exactly those keys and shapes, in the same order, with torch.save's default
(zip) format, as the official files are saved:

  * relative_position_index and num_batches_tracked are int64, everything else float32;
  * BatchNorm running variances are U(0.5, 1.5), the rest N(0, 0.02^2), so a forward pass is finite;
  * the Swin embedder is registered twice in the official model (`embedder.*` and
    `<backbone>.patch_embed.backbone.*`), so both names refer to the same tensor here too and
    torch.save stores that storage once.

--without KEY OUT and --renamed OLD NEW OUT also write damaged copies (one key left out, or stored
under another name; tests check that import names the key) from the same process, which saves the
torch start-up for each.

Run with Debian's torch:
  /usr/bin/python3 scripts/make-official-shape-checkpoints.py --arch ed -o /tmp/ed.pth
"""
import argparse
import collections
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PARITY = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "parity"))
EMBEDDER_ALIAS = {"ed": "backbone.patch_embed.backbone.", "vae": "convnext_backbone.patch_embed.backbone."}
INT64_SUFFIXES = ("relative_position_index", "num_batches_tracked")


def random_tensor(key, shape, gen):
    if key.endswith("num_batches_tracked"):
        return torch.randint(0, 1000, shape, generator=gen, dtype=torch.int64)
    if key.endswith("relative_position_index"):
        # Indices into the bias table, whose row count is (2w-1)^2 for a w x w window.
        n = shape[0] if shape else 1
        return torch.randint(0, max(1, n), shape, generator=gen, dtype=torch.int64)
    if key.endswith("running_var"):
        # BatchNorm divides by sqrt(var + eps): keep it positive so a forward pass stays finite.
        return torch.rand(shape, generator=gen, dtype=torch.float32) + 0.5
    return torch.randn(shape, generator=gen, dtype=torch.float32) * 0.02


def build_state(shapes, arch, seed):
    gen = torch.Generator().manual_seed(seed)
    alias = EMBEDDER_ALIAS[arch]
    state = collections.OrderedDict()
    for key, shape in shapes.items():
        if key.startswith(alias) and "embedder." + key[len(alias):] in state:
            state[key] = state["embedder." + key[len(alias):]]
        else:
            state[key] = random_tensor(key, list(shape), gen)
    # An alias that comes before its embedder key: share the other way round.
    for key in list(state):
        twin = alias + key[len("embedder."):] if key.startswith("embedder.") else None
        if twin in state and state[twin] is not state[key]:
            state[twin] = state[key]
    return state


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=sorted(EMBEDDER_ALIAS), required=True)
    ap.add_argument("--shapes", help="key -> shape JSON (default: ../shared/parity/genconvit_ARCH_official_shapes.json)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--without", nargs=2, action="append", default=[], metavar=("KEY", "OUT"),
                    help="also write OUT: the checkpoint without KEY")
    ap.add_argument("--renamed", nargs=3, action="append", default=[], metavar=("OLD", "NEW", "OUT"),
                    help="also write OUT: the checkpoint with OLD stored as NEW")
    ap.add_argument("-o", "--output", help="write the checkpoint with the full layout here")
    args = ap.parse_args()

    path = args.shapes or os.path.join(DEFAULT_PARITY, f"genconvit_{args.arch}_official_shapes.json")
    with open(path) as f:
        shapes = json.load(f, object_pairs_hook=collections.OrderedDict)
    state = build_state(shapes, args.arch, args.seed)

    for key, _ in args.without:
        if key not in state:
            sys.exit(f"--without: no key {key}")
    for old, new, _ in args.renamed:
        if old not in state or new in state:
            sys.exit(f"--renamed: no key {old}, or {new} exists")

    if not (args.output or args.without or args.renamed):
        ap.error("nothing to write: give -o, --without or --renamed")
    if args.output:
        save(state, args.output)
    for key, out in args.without:
        save(collections.OrderedDict((k, v) for k, v in state.items() if k != key), out)
    for old, new, out in args.renamed:
        save(collections.OrderedDict((new if k == old else k, v) for k, v in state.items()), out)


def save(state, path):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)
    total = sum(v.numel() for v in {id(v): v for v in state.values()}.values())
    print(f"{path}: {len(state)} keys, {total} distinct elements", file=sys.stderr)


if __name__ == "__main__":
    main()
