#!/usr/bin/python3
"""The Python pipeline that `dfscan scan` replaces, for scripts/bench-scan.sh.

One video, the way a Python user would score it with the same parts as dfscan's defaults:
  * OpenCV (cv2.VideoCapture) decodes the video and keeps the same uniformly sampled frames
    (index round(i * (n - 1) / (count - 1)), as the media layer picks them);
  * the same face detector: dlib's HOG frontal face detector (the default model's manifest
    asks for "dlib-hog"), called through a small ctypes shim built from Debian's libdlib-dev
    (Debian 12 has no python3-dlib), on frames downscaled to 640 px on the long side with
    INTER_AREA, threshold 0, no upsampling, nested boxes dropped -- dfscan's parameters;
  * the same crops: the tight box (margin 0, not squared), resized to the model's input size;
  * the same network: GenConViT-ED with a torchvision ConvNeXt backbone (torchvision's CNBlock
    stages) and the autoencoder of scripts/train-reference.py, loaded from the shipped
    .safetensors file (read with numpy + json), softmax P(fake) averaged over the crops.

Prints one JSON line: the score, face count and where the time went. Wall time measured from
outside (bench-scan.sh) includes interpreter start and imports.

  /usr/bin/python3 scripts/bench-scan-python.py --build-shim /tmp/dlib_hog_shim.so
  /usr/bin/python3 scripts/bench-scan-python.py --shim /tmp/dlib_hog_shim.so --threads 2 clip.mp4
"""
import argparse
import ctypes
import importlib.util
import json
import os
import struct
import subprocess
import sys
import time

T_START = time.perf_counter()

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SHIM_SOURCE = r"""
// dlib HOG face detection over an RGB buffer, for ctypes. Mirrors src/faces/dlib_hog_detector.cpp.
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/core.hpp>
extern "C" {
void* hog_new() { return new dlib::frontal_face_detector(dlib::get_frontal_face_detector()); }
// Writes up to `max` detections as (left, top, width, height, confidence); returns the count.
int hog_detect(void* handle, unsigned char* rgb, int width, int height, int stride, double* out, int max) {
  cv::Mat img(height, width, CV_8UC3, rgb, static_cast<size_t>(stride));
  dlib::cv_image<dlib::rgb_pixel> view(img);
  std::vector<dlib::rect_detection> dets;
  (*static_cast<dlib::frontal_face_detector*>(handle))(view, dets, 0.0);
  int n = 0;
  for (const auto& d : dets) {
    if (n == max) break;
    out[5 * n + 0] = d.rect.left();
    out[5 * n + 1] = d.rect.top();
    out[5 * n + 2] = d.rect.width();
    out[5 * n + 3] = d.rect.height();
    out[5 * n + 4] = d.detection_confidence;
    ++n;
  }
  return n;
}
}
"""


def build_shim(path):
    src = path + ".cpp"
    with open(src, "w") as f:
        f.write(SHIM_SOURCE)
    # The same optimisation level as dfscan's Release build.
    subprocess.check_call(["g++", "-O3", "-DNDEBUG", "-shared", "-fPIC", "-std=c++17",
                           "-I/usr/include/opencv4", src, "-o", path, "-ldlib", "-lopencv_core"])


# ---------------------------------------------------------------------------------------------
# safetensors (the format is an 8-byte header length, a JSON header, then raw little-endian data)

DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": None, "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
        tensors[name] = arr
    return meta, tensors


# ---------------------------------------------------------------------------------------------
# The network

def load_train_reference():
    spec = importlib.util.spec_from_file_location("train_reference", os.path.join(HERE, "train-reference.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_network(config):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    ref = load_train_reference()
    depths = config["backbone"]["depths"]
    dims = config["backbone"]["dims"]
    settings = [CNBlockConfig(dims[i], dims[i + 1] if i + 1 < len(dims) else None, depths[i])
                for i in range(len(dims))]

    class GenConViTED(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = ref.Features(ref.encoder())
            self.decoder = ref.Features(ref.decoder())
            self.backbone = ConvNeXt(settings, num_classes=config["backbone"]["num_classes"])
            self.fc = nn.Linear(2 * config["backbone"]["num_classes"], 500)
            self.fc2 = nn.Linear(500, config["num_classes"])

        def forward(self, x):
            decoded = self.decoder(self.encoder(x))
            x = torch.cat((self.backbone(decoded), self.backbone(x)), dim=1)
            return self.fc2(F.gelu(self.fc(F.gelu(x))))

    return GenConViTED()


def torchvision_key(key):
    """timm ConvNeXt names (the model file's) -> torchvision ConvNeXt names; None: not used."""
    if key.startswith("embedder."):
        return None  # the Swin embedder, stored but never run
    if not key.startswith("backbone."):
        return key
    parts = key.split(".")[1:]
    if parts[0] == "patch_embed":
        return None  # the Swin embedder's own backbone, never run either
    if parts[0] == "stem":
        return "backbone.features.0.%s.%s" % (parts[1], parts[2])
    if parts[0] == "head":
        return "backbone.classifier.%d.%s" % ({"norm": 0, "fc": 2}[parts[1]], parts[2])
    stage = int(parts[1])
    if parts[2] == "downsample":
        return "backbone.features.%d.%s.%s" % (2 * stage, parts[3], parts[4])
    block = "backbone.features.%d.%s" % (2 * stage + 1, parts[3])
    rest = ".".join(parts[4:])
    mapping = {"conv_dw.weight": "block.0.weight", "conv_dw.bias": "block.0.bias",
               "norm.weight": "block.2.weight", "norm.bias": "block.2.bias",
               "mlp.fc1.weight": "block.3.weight", "mlp.fc1.bias": "block.3.bias",
               "mlp.fc2.weight": "block.5.weight", "mlp.fc2.bias": "block.5.bias",
               "gamma": "layer_scale"}
    return block + "." + mapping[rest]


def load_weights(net, tensors):
    import torch
    state = net.state_dict()
    loaded = set()
    for key, arr in tensors.items():
        name = torchvision_key(key)
        if name is None:
            continue
        if name not in state:
            raise SystemExit("unexpected tensor " + key)
        value = torch.from_numpy(arr.astype("float32"))
        state[name].copy_(value.reshape(state[name].shape))
        loaded.add(name)
    missing = [k for k in state if k not in loaded]
    if missing:
        raise SystemExit("missing tensors: " + ", ".join(missing[:5]))


# ---------------------------------------------------------------------------------------------
# Faces, as src/faces does them

def detect_faces(hog, lib, frame, max_side=640):
    import cv2
    import numpy as np
    h, w = frame.shape[:2]
    scale = max_side / max(w, h) if max(w, h) > max_side else 1.0
    img = frame
    if scale < 1.0:
        img = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    img = np.ascontiguousarray(img)
    out = (ctypes.c_double * (5 * 64))()
    n = lib.hog_detect(hog, img.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte)), img.shape[1], img.shape[0],
                       img.strides[0], out, 64)
    sx, sy = w / img.shape[1], h / img.shape[0]
    faces = []
    for i in range(n):
        x, y, bw, bh, score = out[5 * i:5 * i + 5]
        x0, y0 = max(0.0, x * sx), max(0.0, y * sy)
        x1, y1 = min(float(w), (x + bw) * sx), min(float(h), (y + bh) * sy)
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            faces.append(((x0, y0, x1 - x0, y1 - y0), score))
    # Nested boxes: keep the more confident one.
    faces.sort(key=lambda f: -f[1])
    kept = []
    for box, score in faces:
        def inside(k):
            ix = max(0.0, min(box[0] + box[2], k[0] + k[2]) - max(box[0], k[0]))
            iy = max(0.0, min(box[1] + box[3], k[1] + k[3]) - max(box[1], k[1]))
            smaller = min(box[2] * box[3], k[2] * k[3])
            return smaller > 0 and ix * iy / smaller > 0.6
        if not any(inside(k) for k, _ in kept):
            kept.append((box, score))
    return kept


def place(centre, length, limit):
    n = min(max(int(round(length)), 0), limit)
    start = min(max(int(round(centre - n / 2.0)), 0), limit - n)
    return start, n


def crop_face(frame, box, size):
    import cv2
    h, w = frame.shape[:2]
    x, cw = place(box[0] + box[2] / 2.0, box[2], w)
    y, ch = place(box[1] + box[3] / 2.0, box[3], h)
    roi = frame[y:y + ch, x:x + cw]
    shrinking = cw > size or ch > size
    return cv2.resize(roi, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "genconvit-ed-atto.safetensors"))
    ap.add_argument("--frames", type=int, default=0, help="sampled frames (default: the model's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shim", help="the compiled dlib shim (.so)")
    ap.add_argument("--build-shim", metavar="SO", help="compile the dlib shim to SO and exit")
    args = ap.parse_args()
    if args.build_shim:
        build_shim(args.build_shim)
        return
    if not args.video or not args.shim:
        ap.error("need VIDEO and --shim")

    import cv2
    import numpy as np
    import torch
    import torch.nn.functional as F
    timings = {"imports": time.perf_counter() - T_START}

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    t = time.perf_counter()
    meta, tensors = read_safetensors(args.model)
    manifest = json.loads(meta["dfscan"])
    if manifest["arch"] != "genconvit-ed":
        raise SystemExit("this pipeline builds genconvit-ed only, not " + manifest["arch"])
    net = build_network(manifest["config"])
    load_weights(net, tensors)
    net.eval()
    lib = ctypes.CDLL(args.shim)
    lib.hog_new.restype = ctypes.c_void_p
    lib.hog_detect.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.POINTER(ctypes.c_double), ctypes.c_int]
    hog = lib.hog_new()
    timings["load"] = time.perf_counter() - t

    faces_cfg = manifest["faces"]
    if faces_cfg.get("detector") != "dlib-hog" or faces_cfg.get("margin", 0) != 0 or faces_cfg.get("square"):
        raise SystemExit("this pipeline mirrors dlib-hog tight crops only")
    count = args.frames or faces_cfg["frames"]
    size = manifest["input"]["size"]

    # Decode every frame in order, converting only the sampled ones.
    t = time.perf_counter()
    cap = cv2.VideoCapture(args.video)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = sorted({0 if count == 1 else int(round(i * (n - 1) / (count - 1))) for i in range(count)})
    frames = []
    index = 0
    while len(frames) < len(wanted) and cap.grab():
        if index == wanted[len(frames)]:
            ok, bgr = cap.retrieve()
            if ok:
                frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        index += 1
    timings["decode"] = time.perf_counter() - t

    t = time.perf_counter()
    crops = []
    for frame in frames:
        for box, _ in detect_faces(hog, lib, frame):
            crops.append(crop_face(frame, box, size))
    timings["faces"] = time.perf_counter() - t

    t = time.perf_counter()
    score = None
    if crops:
        x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255.0)
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(manifest["input"]["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(manifest["input"]["std"]).view(1, 3, 1, 1)
        with torch.no_grad():
            logits = net((x - mean) / std)
        p_fake = torch.softmax(logits.double(), dim=1)[:, manifest["score"].get("fake_index", 0)]
        score = float(p_fake.mean())
    timings["infer"] = time.perf_counter() - t
    print(json.dumps({"path": args.video, "frames": len(frames), "faces": len(crops), "score": score,
                      "timings_s": {k: round(v, 4) for k, v in timings.items()}}))


if __name__ == "__main__":
    sys.exit(main())
