#!/usr/bin/env python3
"""The Python/PyTorch-eager side of `dfscan bench` (issue: CUDA speed).

Builds the reference networks in PyTorch -- GenConViT-ED and GenConViT-VAE around timm's
convnext_tiny (or, without timm, the plain-torch ConvNeXt of scripts/train-reference.py, same
layers), and NPR's truncated ResNet-50 from torchvision's Bottleneck blocks -- with random
weights, and times them the way `dfscan bench` does: warm-up, then the median img/s of REPEATS runs
of ITERS batches (more where they would take under --min-repeat-ms), CUDA events on the GPU,
cudnn.benchmark on, TF32 off for fp32 rows, autocast for bf16/fp16, optional channels_last. Output: one JSON object per line, the fields of `dfscan bench
-f jsonl`, so scripts/gpu-check.sh can join the two on (model, mode, dtype, batch).

  python3 scripts/bench-reference.py --model genconvit-ed --batch 1,32,256 --dtype fp32,bf16 \
      --mode infer,train --device cuda --channels-last
  python3 scripts/bench-reference.py --model npr --anchors    # the rows of research/gpu-anchors.md
"""
import argparse
import contextlib
import importlib.util
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def reference_module():
    spec = importlib.util.spec_from_file_location("train_reference", os.path.join(HERE, "train-reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def convnext_tiny():
    try:
        import timm

        return timm.create_model("convnext_tiny", pretrained=False, num_classes=1000), "timm"
    except ImportError:
        ref = reference_module()
        return ref.ConvNeXt(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)), "plain-torch"


class GenConViTED(nn.Module):
    """Network A: fc2(gelu(fc(gelu(cat(convnext(dec(enc(x))), convnext(x))))))."""

    def __init__(self):
        super().__init__()
        ref = reference_module()  # the ED encoder and decoder are the training reference's
        self.encoder, self.decoder = ref.encoder(), ref.decoder()
        self.backbone, self.backbone_source = convnext_tiny()
        self.fc, self.fc2 = nn.Linear(2000, 500), nn.Linear(500, 2)

    def forward(self, x):
        decoded = self.decoder(self.encoder(x))
        x = torch.cat((self.backbone(decoded), self.backbone(x)), dim=1)
        return self.fc2(F.gelu(self.fc(F.gelu(x))))


class GenConViTVAE(nn.Module):
    """Network B with z = mu (dfscan's deterministic default): the same arithmetic per batch."""

    def __init__(self, latent=12544):
        super().__init__()
        layers, c = [], 3
        for out in (16, 32, 64, 128):
            layers += [nn.Conv2d(c, out, 3, 2, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.01)]
            c = out
        self.features = nn.Sequential(*layers)
        self.mu = nn.Linear(128 * 14 * 14, latent)
        layers, c = [], 256
        for out in (64, 32, 16, 3):
            layers += [nn.ConvTranspose2d(c, out, 2, 2), nn.LeakyReLU(0.01)]
            c = out
        self.decoder = nn.Sequential(*layers)
        self.backbone, self.backbone_source = convnext_tiny()
        self.fc, self.fc2 = nn.Linear(2000, 500), nn.Linear(500, 2)

    def forward(self, x):
        z = self.mu(self.features(x).flatten(1)).view(-1, 256, 7, 7)
        x_hat = self.decoder(z)
        x = torch.cat((self.backbone(x), self.backbone(x_hat)), dim=1)
        return self.fc2(F.relu(self.fc(F.relu(x))))


class NPR(nn.Module):
    """Truncated ResNet-50 (stem 3x3 s2, layer1, layer2, fc1 512->1) applied to the NPR residual."""

    def __init__(self):
        super().__init__()
        from torchvision.models.resnet import Bottleneck

        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)

        def layer(inplanes, planes, blocks, stride):
            down = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))
            mods = [Bottleneck(inplanes, planes, stride, down)]
            mods += [Bottleneck(planes * 4, planes) for _ in range(blocks - 1)]
            return nn.Sequential(*mods)

        self.layer1 = layer(64, 64, 3, 1)
        self.layer2 = layer(256, 128, 4, 2)
        self.fc1 = nn.Linear(512, 1)

    def forward(self, x):
        up = F.interpolate(F.interpolate(x, scale_factor=0.5, mode="nearest", recompute_scale_factor=True),
                           scale_factor=2.0, mode="nearest", recompute_scale_factor=True)
        x = self.maxpool(F.relu(self.bn1(self.conv1((x - up) * 2.0 / 3.0))))
        x = self.layer2(self.layer1(x))
        return self.fc1(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


MODELS = {"genconvit-ed": GenConViTED, "genconvit-vae": GenConViTVAE, "npr": NPR}


def profile_kernels(step, steps, cuda, top):
    """`dfscan bench --profile-kernels`'s fields for this side, per batch: "kernels", the `top`
    longest CUDA kernels (on the CPU: aten operators, inclusive), as [{"name", "ms", "calls"}],
    longest first; on CUDA also "kernel_total" (every kernel) and "host_ops" (aten operators,
    inclusive, and CUDA runtime calls)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
    kernels, host = [], []
    for e in prof.key_averages():
        on_device = str(e.device_type).split(".")[-1] == "CUDA"
        if cuda and on_device:
            # PyTorch 2.4 renamed the cuda_* timings to device_*.
            us = getattr(e, "self_device_time_total", None)
            us = e.self_cuda_time_total if us is None else us
            kernels.append({"name": e.key, "ms": us / 1000.0 / steps, "calls": e.count / steps})
        elif not on_device and (cuda or e.key.startswith("aten::")):
            (host if cuda else kernels).append(
                {"name": e.key, "ms": e.cpu_time_total / 1000.0 / steps, "calls": e.count / steps})
    out = {}
    if cuda:
        out["kernel_total"] = {"ms": sum(k["ms"] for k in kernels), "calls": sum(k["calls"] for k in kernels)}
        out["host_ops"] = sorted(host, key=lambda r: -r["ms"])[:top]
    out["kernels"] = sorted(kernels, key=lambda r: -r["ms"])[:top]
    return out


def loss_of(out, labels):
    if out.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(out[:, 0].float(), labels.float())
    return F.cross_entropy(out.float(), 1 - labels)  # class 0 = fake, as in dfscan


def time_batches(step, iters, cuda):
    """Per-batch milliseconds of `iters` back-to-back batches, as dfscan bench times them."""
    if cuda:
        marks = [torch.cuda.Event(enable_timing=True) for _ in range(iters + 1)]
        marks[0].record()
        for i in range(iters):
            step()
            marks[i + 1].record()
        marks[-1].synchronize()
        return [marks[i].elapsed_time(marks[i + 1]) for i in range(iters)]
    ms = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        ms.append(1000.0 * (time.perf_counter() - start))
    return ms


def measure(step, batch, args, cuda):
    for _ in range(args.warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    iters = args.iters
    if args.min_repeat_ms > 0:  # the rule of dfscan bench --min-repeat-ms
        one = time_batches(step, 1, cuda)[0]
        if one * iters < args.min_repeat_ms:
            iters = math.ceil(args.min_repeat_ms / max(one, 1e-3))
    per_repeat, latencies = [], []
    for _ in range(args.repeats):
        ms = time_batches(step, iters, cuda)
        per_repeat.append(1000.0 * batch * iters / sum(ms))
        latencies += ms
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {"images_per_s": statistics.median(per_repeat), "repeat_images_per_s": per_repeat, "iters": iters,
            "latency_ms": {"p50": statistics.median(latencies), "p90": q[89], "p99": q[98]}}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="genconvit-ed", choices=sorted(MODELS))
    p.add_argument("-b", "--batch", default="1,32")
    p.add_argument("--dtype", default="fp32")
    p.add_argument("--mode", default="infer")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--min-repeat-ms", type=float, default=0.0,
                   help="more batches per repeat where ITERS of them would take less than this (timed on one "
                        "batch after the warm-up), as dfscan bench --min-repeat-ms")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--profile-kernels", type=int, default=0, metavar="N",
                   help="after timing, profile ITERS more batches per row and keep its N longest kernels "
                        "(CPU: aten operators), as dfscan bench --profile-kernels does")
    p.add_argument("--anchors", action="store_true",
                   help="the rows of research/gpu-anchors.md in one process (one start-up instead of three): "
                        "fp32 and bf16+channels_last inference at batches 1,32,256 and, except for the VAE, "
                        "a bf16+channels_last training step at batch 64; replaces --batch/--dtype/--mode/--channels-last")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    net = MODELS[args.model]().to(device)
    if cuda:
        torch.backends.cudnn.benchmark = True
    if args.anchors:
        rows = [("infer", "fp32", False, b) for b in (1, 32, 256)]
        rows += [("infer", "bf16", True, b) for b in (1, 32, 256)]
        if args.model != "genconvit-vae":
            rows.append(("train", "bf16", True, 64))
    else:
        rows = [(mode, dtype, args.channels_last, int(batch)) for mode in args.mode.split(",")
                for dtype in args.dtype.split(",") for batch in args.batch.split(",")]
    for mode, dtype, channels_last, batch in rows:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        net = net.to(memory_format=fmt)
        row = {"model": args.model, "mode": mode, "dtype": dtype, "device": str(device), "batch": batch,
               "input_size": args.input_size, "channels_last": channels_last, "cuda_graph": False,
               "impl": "pytorch-eager", "backbone": net.backbone_source if hasattr(net, "backbone_source")
               else "torchvision", "torch": torch.__version__}
        tf32 = dtype == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
        if amp is not None and not cuda:
            row["status"] = "skipped: " + dtype + " autocast needs CUDA"
            print(json.dumps(row), flush=True)
            continue
        x = torch.randn(batch, 3, args.input_size, args.input_size, device=device).to(memory_format=fmt)
        labels = torch.randint(0, 2, (batch,), device=device)
        autocast = (lambda: torch.autocast("cuda", dtype=amp)) if amp is not None else contextlib.nullcontext
        try:
            if mode == "infer":
                net.eval()

                def step():
                    with torch.inference_mode(), autocast():
                        net(x)
            else:
                net.train()
                opt = torch.optim.Adam(net.parameters(), lr=1e-4)

                def step():
                    opt.zero_grad()
                    with autocast():
                        loss = loss_of(net(x), labels)
                    loss.backward()
                    opt.step()

            row.update(measure(step, batch, args, cuda))
            row["status"] = "ok"
            if args.profile_kernels > 0:
                row.update(profile_kernels(step, args.iters, cuda, args.profile_kernels))
        except RuntimeError as e:  # e.g. out of memory at a large batch
            row["status"] = "failed: " + str(e).splitlines()[0]
            if cuda:
                torch.cuda.empty_cache()
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
