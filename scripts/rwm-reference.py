#!/usr/bin/python3
"""Writes tests/data/audio/rwm-reference.pth: the published RAWM/RWM/OWM gradient update on a small case.

Run with Debian's interpreter: /usr/bin/python3 scripts/rwm-reference.py

This re-states, in plain torch, the update of the authors' plugins as documented in
shared/research/detectors.md section 3.3 (applied after backward, before the optimiser step, to the
classifier weight W [C x d] on every minibatch of every task after the first):

    r = mean(X, 0, keepdim)            X: [B, d] inputs of the classifier
    k = P r^T
    P = P - (k k^T) / (alpha + k r)    element-wise division by the d x d outer product k r
    P = P / ||P||_F
    Q = I - P (P^T P)^-1 P^T           via torch.linalg.solve;  Q = Q / ||Q||_F
    R = P + beta Q                     (OWM: R = P)
    grad_W = grad_W R^T
    RAWM: beta = (n_real + 1) / (n_fake + 1)
    RWM:  beta = tan(pi/4 + 1/2 sum_i sign_i asin(softmax_over_batch(z_true)_i)), sign +1 real, -1 fake

Because P stays square and full rank, Q is round-off noise scaled to unit norm (pitfall 1 in the
research notes); the fixture stores Q's norm before scaling so the C++ test can tell when its
round-off differs from this library's (another LibTorch build) and compare only the exact parts.
All steps use float32, as the published code does.

Keys: x{t} [B, d], z{t} [B, 2], y{t} [B] int64, g{t} [2, d] for steps t = 0..2; for each mode m in
(owm, rawm, rwm): {m}_beta{t} [1] float64, {m}_p{t} [d, d] (P after step t), {m}_qnorm{t} [1] (raw
||Q||_F, 0 for owm), {m}_out{t} [2, d] (projected gradient).
"""
import math
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "audio" / "rwm-reference.pth"
ALPHA = 1.0
D, B, STEPS = 6, 5, 3


def rawm_beta(y):
    n_fake = int((y == 1).sum())
    n_real = y.numel() - n_fake
    return (n_real + 1) / (n_fake + 1)


def rwm_beta(z, y):
    z_true = z.gather(1, y.view(-1, 1)).squeeze(1)
    s = torch.softmax(z_true, 0)
    theta = torch.asin(s)
    sign = 1.0 - 2.0 * y.to(theta.dtype)
    return math.tan(math.pi / 4 + 0.5 * float((sign * theta).sum()))


def main():
    g = torch.Generator().manual_seed(7)
    state = {}
    steps = []
    for t in range(STEPS):
        x = torch.rand(B, D, generator=g) * 2.0  # non-negative, like ReLU features
        z = torch.randn(B, 2, generator=g) * 2.0
        y = torch.tensor([0, 1, 1, 0, 1] if t != 1 else [0, 0, 0, 1, 0], dtype=torch.long)
        grad = torch.randn(2, D, generator=g)
        state[f"x{t}"], state[f"z{t}"], state[f"y{t}"], state[f"g{t}"] = x, z, y, grad
        steps.append((x, z, y, grad))
    for mode in ("owm", "rawm", "rwm"):
        p = torch.eye(D)
        for t, (x, z, y, grad) in enumerate(steps):
            beta = 0.0 if mode == "owm" else rawm_beta(y) if mode == "rawm" else rwm_beta(z, y)
            r = torch.mean(x, 0, True)
            k = torch.mm(p, r.t())
            p = p - torch.mm(k, k.t()) / (ALPHA + torch.mm(k, r))
            p = p / torch.norm(p)
            if mode == "owm":
                rmat, qnorm = p, 0.0
            else:
                q = torch.eye(D) - torch.mm(p, torch.linalg.solve(torch.mm(p.t(), p), p.t()))
                qnorm = float(torch.norm(q))
                q = q / torch.norm(q)
                rmat = p + beta * q
            state[f"{mode}_beta{t}"] = torch.tensor([beta], dtype=torch.float64)
            state[f"{mode}_p{t}"] = p.clone()
            state[f"{mode}_qnorm{t}"] = torch.tensor([qnorm], dtype=torch.float64)
            state[f"{mode}_out{t}"] = torch.mm(grad, rmat.t())
            print(f"{mode} step {t}: beta {beta:.6f} |Q_raw| {qnorm:.3e}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
