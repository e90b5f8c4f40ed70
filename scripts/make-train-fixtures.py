#!/usr/bin/python3
"""Writes tests/data_adapters/data/tiny_shard.pth: a uint8 tensor shard of 32 RGB 16x16 images.

The shard layout is the one dfscan's SampleReader reads ("images": uint8 [N,H,W,3]; a sample path
is "tiny_shard.pth#ROW"). Fakes (odd rows) carry a faint checkerboard, an up-sampling-like artefact,
so a tiny network has something to learn; reals are smooth noise. "labels" (1 = fake) is stored
for convenience; dfscan takes labels from the dataset's CSV.

  /usr/bin/python3 scripts/make-train-fixtures.py
"""
import os

import torch

g = torch.Generator().manual_seed(6)
n, size = 32, 16
base = torch.rand(n, 3, size // 4, size // 4, generator=g)
images = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)
labels = torch.tensor([i % 2 for i in range(n)], dtype=torch.int64)
checker = ((torch.arange(size).view(-1, 1) + torch.arange(size).view(1, -1)) % 2).float() * 2 - 1
images = images + 0.12 * labels.view(-1, 1, 1, 1) * checker
images = images + 0.03 * torch.randn(images.shape, generator=g)
images = (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()

out = os.path.join(os.path.dirname(__file__), "..", "tests", "data_adapters", "data", "tiny_shard.pth")
os.makedirs(os.path.dirname(out), exist_ok=True)
torch.save({"images": images, "labels": labels}, out)
print(out, tuple(images.shape))
