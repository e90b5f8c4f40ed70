#!/usr/bin/python3
"""Writes the small checkpoint fixtures in tests/data/io/ that tests/io/ reads.

Run with Debian's interpreter (it has torch): /usr/bin/python3 scripts/make-io-fixtures.py
The files are committed; this script documents how they were made. expected.json holds, for every
file that must load, each key's dtype, shape and values (as float64) in checkpoint order; for every
file that must be refused, a fragment of the error message.
"""
import collections
import io
import json
import os
import pathlib
import struct
import zipfile

import torch
import torch.serialization

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "io"


def tiny_net():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 2, 3),
        torch.nn.BatchNorm2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(2, 2),
    )
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].num_batches_tracked.fill_(12)
    return net


def describe(state):
    return [
        {
            "key": k,
            "dtype": str(v.dtype).replace("torch.", ""),
            "shape": list(v.shape),
            "values": v.detach().to(torch.float64).flatten().tolist(),
        }
        for k, v in state.items()
    ]


def raw_archive(name, pickle_bytes, records=()):
    """A zip laid out like torch.save's, holding hand-written pickle bytes."""
    writer = torch._C.PyTorchFileWriter(str(OUT / name))
    writer.write_record("data.pkl", pickle_bytes, len(pickle_bytes))
    for rec_name, data in records:
        writer.write_record(rec_name, data, len(data))
    writer.write_end_of_file()
    del writer


def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def tensor_pickle(storage_type, key, numel, offset, sizes, strides):
    """Pickle bytes for {"w": _rebuild_tensor_v2(storage, offset, sizes, strides, False, OrderedDict())}."""
    ints = lambda xs: b"(" + b"".join(b"J" + struct.pack("<i", x) for x in xs) + b"t"
    return (
        b"\x80\x02}(" + binunicode("w") + b"ctorch._utils\n_rebuild_tensor_v2\n((" + binunicode("storage")
        + b"ctorch\n" + storage_type.encode() + b"\n" + binunicode(key) + binunicode("cpu")
        + b"J" + struct.pack("<i", numel) + b"tQ" + b"J" + struct.pack("<i", offset) + ints(sizes)
        + ints(strides) + b"\x89ccollections\nOrderedDict\n)RtRu."
    )


# ---- safetensors, written by hand from the published format (Debian has no safetensors package) ----

ST_TENSORS = [  # name, dtype, struct format, shape, values
    ("weight", "F32", "f", [2, 3], [0.5, -1.25, 2.0, 3.5, -0.0, 1e-3]),
    ("count", "I64", "q", [3], [-7, 0, 1 << 40]),
    ("mask", "BOOL", "?", [4], [True, False, False, True]),
    ("half", "F16", "e", [2], [1.5, -2.0]),
    ("double", "F64", "d", [2], [3.141592653589793, -1e300]),
    ("index", "I32", "i", [1, 2], [5, -6]),
    ("bytes", "U8", "B", [3], [0, 128, 255]),
    ("brain", "BF16", None, [2], [1.0, -3.0]),  # bf16 = upper half of the float32 bits
    ("empty", "F32", "f", [0, 4], []),
]


def st_bytes(dtype, fmt, values):
    if dtype == "BF16":
        return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)
    return struct.pack("<" + fmt * len(values), *values)


def content_hash(manifest, tensors):
    """The canonical content hash of include/dfscan/model_file.hpp, computed independently."""
    import hashlib

    h = hashlib.sha256()
    field = lambda b: h.update(struct.pack("<Q", len(b)) + b)
    field(b"dfscan-model-hash/1")
    m = {k: v for k, v in manifest.items() if k != "hash"}
    field(json.dumps(m, sort_keys=True, separators=(",", ":")).encode())
    h.update(struct.pack("<Q", len(tensors)))
    for name, dtype, shape, data in sorted(tensors):
        field(name.encode())
        field(dtype.encode())
        h.update(struct.pack("<Q", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape))
        field(data)
    return "sha256:" + h.hexdigest()


def write_safetensors(path, tensors, metadata):
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header).encode()  # unpadded: tensors may be unaligned in the file
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors))


def write_safetensors_fixtures(expected):
    tensors = [(n, dt, shape, st_bytes(dt, fmt, vals)) for n, dt, fmt, shape, vals in ST_TENSORS]
    manifest = {"arch": "test-arch", "config": {"depth": 2, "scale": 0.5}, "threshold": 0.5}
    manifest["hash"] = content_hash(manifest, tensors)
    write_safetensors(OUT / "handmade.safetensors", tensors, {"dfscan": json.dumps(manifest)})
    write_safetensors(OUT / "plain.safetensors", tensors[:2], {"format": "pt"})
    expected["safetensors"] = {
        "manifest": manifest,
        # Values as stored (1e-3 rounded to float32); bf16 values are exact.
        "tensors": [{"key": n, "dtype": dt, "shape": shape,
                     "values": [float(v) for v in (vals if fmt is None else struct.unpack("<" + fmt * len(vals), st_bytes(dt, fmt, vals)))]}
                    for n, dt, fmt, shape, vals in ST_TENSORS],
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    expected = {"load": {}, "refuse": {}}

    def save(name, obj, state_for_expectation, **kw):
        torch.save(obj, OUT / name, **kw)
        expected["load"][name] = describe(state_for_expectation)

    net = tiny_net()
    sd = net.state_dict()
    save("ordered.pth", sd, sd)

    # A training checkpoint: the state dict sits next to an optimizer state and plain numbers.
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(2, 3, 3, 3)).sum().backward()
    opt.step()
    ckpt = {"epoch": 3, "state_dict": sd, "optimizer": opt.state_dict(), "min_loss": 0.25}
    save("wrapped_state_dict.pth", ckpt, sd)

    prefixed = collections.OrderedDict(("module." + k, v) for k, v in sd.items())
    save("model_module_prefix.pth", {"model": prefixed}, sd)

    # Views sharing one storage: offsets, transposes, steps, a 0-d tensor and an empty one.
    base = torch.arange(24, dtype=torch.float32)
    views = collections.OrderedDict(
        base=base,
        transposed=base.view(4, 6).t(),
        slice=base[5:11],
        stepped=base.view(4, 6)[1:, 1::2],
        scalar=torch.tensor(3.5),
        empty=torch.zeros(0, 3),
    )
    save("views.pth", views, views)

    dtypes = collections.OrderedDict()
    for dt in [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32,
               torch.int16, torch.int8, torch.uint8, torch.bool]:
        dtypes[str(dt).replace("torch.", "")] = (torch.arange(-2, 4) * 3 % 7).to(dt)
    save("dtypes.pth", dtypes, dtypes)

    # Saved as if from a GPU: only the location string differs; it must still load on the CPU.
    original = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        save("cuda_location.pth", {"input": base.view(2, 12), "output": base[:2]},
             {"input": base.view(2, 12), "output": base[:2]})
    finally:
        torch.serialization.location_tag = original

    # nn.Parameter values go through torch._utils._rebuild_parameter.
    params = collections.OrderedDict(w=torch.nn.Parameter(base.view(4, 6)[:2].clone()), b=torch.nn.Parameter(base[:3]))
    save("parameters.pth", params, params)

    # Protocol 4 adds FRAME, MEMOIZE, SHORT_BINUNICODE and STACK_GLOBAL.
    save("protocol4.pth", sd, sd, pickle_protocol=4)

    torch.save(sd, OUT / "legacy.pth", _use_new_zipfile_serialization=False)
    expected["refuse"]["legacy.pth"] = "legacy (pre-1.6) torch.save format is not supported"

    whole = (OUT / "ordered.pth").read_bytes()
    (OUT / "truncated.pth").write_bytes(whole[: len(whole) // 2])
    expected["refuse"]["truncated.pth"] = "corrupt or truncated checkpoint archive"

    # os.system("true") as torch.load(weights_only=False) would run it.
    raw_archive("os_system.pth", b"\x80\x02cposix\nsystem\nq\x00" + binunicode("true") + b"\x85R.")
    expected["refuse"]["os_system.pth"] = "refusing pickle global 'posix.system'"

    raw_archive("eval_global.pth", b"\x80\x02cbuiltins\neval\n" + binunicode("1") + b"\x85R.")
    expected["refuse"]["eval_global.pth"] = "refusing pickle global 'builtins.eval'"

    four_floats = struct.pack("<4f", 1, 2, 3, 4)
    raw_archive("view_past_storage.pth", tensor_pickle("FloatStorage", "0", 4, 2, [3], [1]),
                [("data/0", four_floats)])
    expected["refuse"]["view_past_storage.pth"] = "tensor view reaches element 4 of a storage with 4 elements"

    raw_archive("short_storage.pth", tensor_pickle("FloatStorage", "0", 8, 0, [8], [1]),
                [("data/0", four_floats)])
    expected["refuse"]["short_storage.pth"] = "holds 16 bytes, expected 32"

    raw_archive("missing_storage.pth", tensor_pickle("FloatStorage", "7", 4, 0, [4], [1]))
    expected["refuse"]["missing_storage.pth"] = "storage record 'data/7' is missing"

    good = tensor_pickle("FloatStorage", "0", 4, 0, [2, 2], [2, 1])
    raw_archive("hand_written.pth", good, [("data/0", four_floats)])
    expected["load"]["hand_written.pth"] = [
        {"key": "w", "dtype": "float32", "shape": [2, 2], "values": [1.0, 2.0, 3.0, 4.0]}]

    raw_archive("truncated_pickle.pth", good[: len(good) - 9], [("data/0", four_floats)])
    expected["refuse"]["truncated_pickle.pth"] = "pickle is truncated"

    raw_archive("unknown_opcode.pth", b"\x80\x02}\xff.")
    expected["refuse"]["unknown_opcode.pth"] = "unsupported pickle opcode 0xff"

    raw_archive("deep_marks.pth", b"\x80\x02" + b"(" * 5000 + b".")
    expected["refuse"]["deep_marks.pth"] = "pickle nests too deeply"

    raw_archive("not_a_tensor.pth", b"\x80\x02}" + binunicode("epoch") + b"K\x03s.")
    expected["refuse"]["not_a_tensor.pth"] = "checkpoint entry 'epoch' holds a value of type int, not a tensor"

    torch.save([base], OUT / "list_top.pth")
    expected["refuse"]["list_top.pth"] = "checkpoint top level holds a value of type list"

    (OUT / "not_zip.pth").write_bytes(b"hello, this is not a checkpoint\n")
    expected["refuse"]["not_zip.pth"] = "not a zip-format torch.save checkpoint"

    (OUT / "empty.pth").write_bytes(b"")
    expected["refuse"]["empty.pth"] = "empty file"

    write_safetensors_fixtures(expected)

    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.glob("*.pth"))
    print(f"wrote {len(list(OUT.glob('*.pth')))} fixtures, {total} bytes, into {OUT}")


if __name__ == "__main__":
    main()
