#!/usr/bin/python3
"""Face-crop PNGs and the reference GenConViT-ED logits on them, for test_face_crop_scan.

Takes the first two fake and two real DFDC face crops (sorted by name) of ../shared/data's test split,
resizes them to 224x224 with INTER_AREA (the reference's face-crop resize; these crops are already
224, so it is a copy), and writes them as PNG. The reference network is scripts/train-reference.py's
(plain torch modules in timm 0.6.5 key naming, the official network A forward) with the shared parity
weights of genconvit_ed_atto; its input is each PNG read back with OpenCV, RGB, /255, ImageNet
mean/std. The logits go to reference.json.

  /usr/bin/python3 tests/detectors/make_face_crop_fixture.py
"""
import importlib.util
import json
import os

import cv2
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
OUT = os.path.join(HERE, "data", "face_crops")


def reference_module():
    spec = importlib.util.spec_from_file_location("train_reference", os.path.join(ROOT, "scripts", "train-reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    ref = reference_module()
    split = os.path.join(SHARED, "data", "dfdc-faces-sample", "test")
    picked = []
    for cls in ("fake", "real"):
        names = sorted(n for n in os.listdir(os.path.join(split, cls)) if n.endswith(".jpg"))
        picked += [(cls, n) for n in names[:2]]

    os.makedirs(OUT, exist_ok=True)
    pngs = []
    for cls, name in picked:
        bgr = cv2.imread(os.path.join(split, cls, name), cv2.IMREAD_COLOR)
        if bgr.shape[:2] != (224, 224):
            bgr = cv2.resize(bgr, (224, 224), interpolation=cv2.INTER_AREA)
        png = f"{cls}_{os.path.splitext(name)[0]}.png"
        cv2.imwrite(os.path.join(OUT, png), bgr)
        pngs.append(png)

    model = ref.GenConViTED()
    state = torch.load(os.path.join(SHARED, "parity", "genconvit_ed_atto", "weights.pth"), map_location="cpu")
    for k in [k for k in state if k.startswith("embedder.") or k.startswith("backbone.patch_embed.")]:
        del state[k]  # the Swin embedder is never run
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        x = torch.stack([ref.load_image(os.path.join(OUT, p)) for p in pngs])
        logits = model(x)

    fixture = {
        "generator": "tests/detectors/make_face_crop_fixture.py",
        "torch": torch.__version__,
        "weights": "parity/genconvit_ed_atto/weights.pth",
        "input": "cv2.imread(png) -> RGB -> float32 / 255 -> ImageNet mean/std, 224x224",
        "logits": {p: [float(v) for v in row] for p, row in zip(pngs, logits)},
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
