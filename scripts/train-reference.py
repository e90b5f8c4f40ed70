#!/usr/bin/python3
"""Reference training loop for `dfscan train` (issue 6, "Reproduction").

Trains a small GenConViT-ED (ConvNeXt-atto backbone; the swin_micro embedder is loaded but, as in
the official model, never run) on the train split of a {train,valid,test}/{real,fake} folder with
plain SGD, no augmentation, and writes the per-step losses and batch order as a JSON fixture.

The network is written here with plain torch modules in timm 0.6.5 key naming, so the shared
parity weights (/work/shared/parity/genconvit_ed_atto/weights.pth) load strictly except for the
never-run Swin keys.

dfscan's sampler and input pipeline are mirrored exactly:
  * samples: train/{fake,real}/*, sorted by path relative to the split folder; label 1 = fake;
  * epoch e visits torch.randperm(n, generator seeded with epoch_seed(seed, e)), last partial
    batch dropped;
  * pixels: cv2.imread -> RGB -> float32 / 255 -> (x - mean) / std (ImageNet);
  * loss: cross-entropy with target class 0 for fake, 1 for real (GenConViT's FAKE index is 0).

Run with Debian's /usr/bin/python3 (torch 1.13, OpenCV):
  /usr/bin/python3 scripts/train-reference.py -o tests/train/data/genconvit_ed_atto_sgd.json
"""
import argparse
import json
import os

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK64 = (1 << 64) - 1


def epoch_seed(seed, epoch):
    # Must equal dfscan::train::epoch_seed.
    return (seed + 0x9E3779B97F4A7C15 * (epoch + 1)) & MASK64


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                            self.eps).permute(0, 3, 1, 2)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x):
        y = self.conv_dw(x).permute(0, 2, 3, 1)
        y = self.mlp(self.norm(y)).permute(0, 3, 1, 2)
        return y * self.gamma.reshape(1, -1, 1, 1) + x


class Stage(nn.Module):
    def __init__(self, in_dim, out_dim, depth, downsample):
        super().__init__()
        if downsample:
            self.downsample = nn.Sequential(LayerNorm2d(in_dim, eps=1e-6), nn.Conv2d(in_dim, out_dim, 2, 2))
        else:
            self.downsample = nn.Identity()
        self.blocks = nn.Sequential(*[Block(out_dim) for _ in range(depth)])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class Head(nn.Module):
    def __init__(self, dim, classes):
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.fc = nn.Linear(dim, classes)

    def forward(self, x):
        return self.fc(self.norm(x.mean((2, 3), keepdim=True)).flatten(1))


class ConvNeXt(nn.Module):
    def __init__(self, depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6))
        self.stages = nn.Sequential(*[
            Stage(dims[max(i - 1, 0)], dims[i], depths[i], i > 0) for i in range(len(dims))])
        self.head = Head(dims[-1], classes)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


def encoder():
    layers, c = [], 3
    for out in (16, 32, 64, 128, 256):
        layers += [nn.Conv2d(c, out, 3, 1, 1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2)]
        c = out
    return nn.Sequential(*layers)


def decoder():
    layers, c = [], 256
    for out in (128, 64, 32, 16, 3):
        layers += [nn.ConvTranspose2d(c, out, 2, 2), nn.ReLU(inplace=True)]
        c = out
    return nn.Sequential(*layers)


class Features(nn.Module):
    def __init__(self, seq):
        super().__init__()
        self.features = seq

    def forward(self, x):
        return self.features(x)


class GenConViTED(nn.Module):
    """The official network A forward: fc2(gelu(fc(gelu(cat(convnext(dec(enc(x))), convnext(x))))))."""

    def __init__(self):
        super().__init__()
        self.encoder = Features(encoder())
        self.decoder = Features(decoder())
        self.backbone = ConvNeXt()
        self.fc = nn.Linear(2000, 500)
        self.fc2 = nn.Linear(500, 2)

    def forward(self, x):
        decoded = self.decoder(self.encoder(x))
        x = torch.cat((self.backbone(decoded), self.backbone(x)), dim=1)
        return self.fc2(F.gelu(self.fc(F.gelu(x))))


def load_samples(root):
    split = os.path.join(root, "train")
    samples = []
    for cls in ("fake", "real"):
        for name in os.listdir(os.path.join(split, cls)):
            samples.append((cls + "/" + name, 1 if cls == "fake" else 0))
    samples.sort(key=lambda s: s[0].encode())
    return split, samples


MEAN = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float32).reshape(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float32).reshape(3, 1, 1)


def load_image(path):
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
    return (x - MEAN) / STD


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data/dfdc-faces-sample")
    ap.add_argument("--weights", default="/work/shared/parity/genconvit_ed_atto/weights.pth")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    model = GenConViTED()
    state = torch.load(args.weights, map_location="cpu")
    never_run = [k for k in state if k.startswith("embedder.") or k.startswith("backbone.patch_embed.")]
    for k in never_run:
        del state[k]
    model.load_state_dict(state, strict=True)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)

    split, samples = load_samples(args.data)
    losses, order, step, epoch = [], [], 0, 0
    while step < args.steps:
        g = torch.Generator()
        g.manual_seed(epoch_seed(args.seed, epoch))
        perm = torch.randperm(len(samples), generator=g).tolist()
        for start in range(0, len(perm) - args.batch + 1, args.batch):
            if step >= args.steps:
                break
            idx = perm[start:start + args.batch]
            x = torch.stack([load_image(os.path.join(split, samples[i][0])) for i in idx])
            y = torch.tensor([0 if samples[i][1] == 1 else 1 for i in idx])
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            order.append([samples[i][0] for i in idx])
            print(f"step {step} epoch {epoch} loss {loss.item():.6f}", flush=True)
            step += 1
        epoch += 1

    fixture = {
        "generator": "scripts/train-reference.py",
        "torch": torch.__version__,
        "setup": {"arch": "genconvit-ed", "backbone": "convnext_atto", "embedder": "swin_micro",
                  "weights": "parity/genconvit_ed_atto/weights.pth", "data": "data/dfdc-faces-sample",
                  "split": "train", "optimizer": "sgd", "lr": args.lr, "momentum": args.momentum,
                  "weight_decay": 0.0, "batch": args.batch, "seed": args.seed, "steps": args.steps,
                  "augment": False, "drop_last": True},
        "order": order,
        "losses": losses,
    }
    with open(args.output, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
