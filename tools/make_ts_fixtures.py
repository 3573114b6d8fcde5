#!/usr/bin/env python3
"""tools/make_ts_fixtures.py: test data for the TorchScript archive reader
(tests/unit/test_ts_archive.c) in tests/data/torchscript/.

Run with a Python that has torch and numpy (e.g. /work/venv-torch/bin/python):
    python tools/make_ts_fixtures.py [--shared /work/shared/fixtures]

Writes:
  script.pt, trace.pt           tiny torch.jit.script / torch.jit.trace modules with known
                                parameters (values are arange-based, not random);
                                script.pt has an extra file extra/meta.json = {"k": 1}
  save.pt                       torch.save of a dict of tensors: every dtype, a
                                non-contiguous view, an offset view, a Parameter
  <stem>__<dotted.name>.npy     the expected value of each tensor, via numpy
                                (trace__CONSTANTS.c<i>.npy: the traced constants)
  modules.txt                   per archive: "<file> <modules> <params> <buffers> <root class>"
                                counted by torch (named_modules/parameters/buffers)
  zip_stored.zip, zip_deflated.zip   one text entry "hello.txt" (stored / deflated)
  zip_zip64.zip                 the same entry written with zip64 fields (0xFFFFFFFF in
                                the central directory, zip64 extra, zip64 end records)
  zip_badcrc.zip                zip_stored.zip with a wrong CRC in both headers
  shared__<model>__<dotted.name>.npy  a few parameters of the shared detectron2 .ts
                                fixtures (read with torch.jit.load), plus modules.txt lines
  legacy.pt                     torch.save(_use_new_zipfile_serialization=False): the legacy
                                raw-pickle format, out of scope for d2rt (must be refused)
"""
import argparse
import os
import struct
import zipfile
import zlib

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "torchscript")


def arange_like(shape, scale=0.01, offset=0.0, dtype=torch.float32):
    n = int(np.prod(shape)) if len(shape) else 1
    return (torch.arange(n, dtype=torch.float64) * scale + offset).reshape(shape).to(dtype)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, bias=False)
        self.bn = torch.nn.BatchNorm2d(3)
        with torch.no_grad():
            self.conv.weight.copy_(arange_like((3, 2, 3, 3), 0.01, -0.2))
            self.bn.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
            self.bn.bias.copy_(torch.tensor([0.5, -0.5, 0.25]))
            self.bn.running_mean.copy_(torch.tensor([0.1, 0.2, 0.3]))
            self.bn.running_var.copy_(torch.tensor([1.5, 2.5, 3.5]))

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = torch.nn.Linear(3, 4)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)])
        with torch.no_grad():
            self.head.weight.copy_(arange_like((4, 3), 0.1, -0.5))
            self.head.bias.copy_(torch.tensor([1.0, -1.0, 0.5, 0.0]))
            for i, l in enumerate(self.layers):
                l.weight.copy_(arange_like(tuple(l.weight.shape), 0.05 * (i + 1), -0.3))
                l.bias.copy_(arange_like(tuple(l.bias.shape), 0.5, 0.125))
        base = torch.arange(12, dtype=torch.float32)
        self.register_buffer("transposed", base.reshape(3, 4).t())          # strides (1, 4)
        self.register_buffer("offset_view", base[5:9])                      # storage offset 5
        self.register_buffer("counts", torch.arange(6, dtype=torch.int64).reshape(2, 3))
        self.register_buffer("halves", torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16))
        self.scale = 0.75
        self.names = ["a", "bc"]
        self.sizes = [3, 5, 7]
        self.table = {"x": 1, "y": 2}

    def forward(self, x):
        y = self.block(x).mean(dim=(2, 3))
        y = self.head(y)
        for l in self.layers:
            y = l(y)
        return y * self.scale + self.offset_view.sum()


class Traced(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
            self.fc.bias.copy_(torch.tensor([0.5, -0.5]))

    def forward(self, x):
        # The tensor literals become CONSTANTS.c0 and c1 in the traced code.
        return self.fc(x) + torch.tensor([10.0, 20.0]) * x.new_tensor([3.0])


def save_npy(name, t):
    np.save(os.path.join(OUT, name + ".npy"), t.detach().contiguous().numpy(), allow_pickle=False)


def module_counts(m):
    mods = list(m.modules())
    params = list(m.parameters())
    buffers = [b for b in m.buffers() if b is not None]
    return len(mods), len(params), len(buffers)


def write_module_tensors(stem, m):
    for name, p in m.named_parameters():
        save_npy(f"{stem}__{name}", p)
    for name, b in m.named_buffers():
        if b.dtype == torch.bfloat16:
            continue
        save_npy(f"{stem}__{name}", b)


# ---- zip variants ----------------------------------------------------------------

HELLO = b"hello, zip reader\n" * 4


def zip_plain(path, method):
    with zipfile.ZipFile(path, "w", compression=method) as z:
        info = zipfile.ZipInfo("dir/hello.txt", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = method
        z.writestr(info, HELLO)


def zip64_by_hand(path):
    """One stored entry; every size/offset field that zip64 can replace is replaced."""
    name = b"dir/hello.txt"
    crc = zlib.crc32(HELLO) & 0xFFFFFFFF
    n = len(HELLO)
    local_extra = struct.pack("<HHQQ", 1, 16, n, n)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                        len(name), len(local_extra)) + name + local_extra + HELLO
    cd_extra = struct.pack("<HHQQQ", 1, 24, n, n, 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                          len(name), len(cd_extra), 0, 0, 0, 0, 0xFFFFFFFF) + name + cd_extra
    cd_offset = len(local)
    eocd64_offset = cd_offset + len(central)
    eocd64 = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(central), cd_offset)
    locator = struct.pack("<IIQI", 0x07064B50, 0, eocd64_offset, 1)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path, "wb") as f:
        f.write(local + central + eocd64 + locator + eocd)


def corrupt_crc(src, dst):
    data = bytearray(open(src, "rb").read())
    crc = struct.pack("<I", zlib.crc32(HELLO) & 0xFFFFFFFF)
    bad = struct.pack("<I", (zlib.crc32(HELLO) ^ 0x5A5A5A5A) & 0xFFFFFFFF)
    assert data.count(crc) == 2
    open(dst, "wb").write(bytes(data).replace(crc, bad))


def declare_torchvision_ops():
    """torch.jit.load needs the schemas of the ops the detectron2 code calls. Without
    torchvision installed, declare them (no kernels: nothing here runs the models)."""
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
               "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor")
    return lib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="/work/shared/fixtures")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    lines = []

    tiny = Tiny().eval()
    scripted = torch.jit.script(tiny)
    torch.jit.save(scripted, os.path.join(OUT, "script.pt"), _extra_files={"meta.json": '{"k": 1}'})
    write_module_tensors("script", tiny)
    lines.append(("script.pt",) + module_counts(tiny) + ("__torch__.Tiny",))

    traced = torch.jit.trace(Traced().eval(), torch.ones(1, 2))
    traced.save(os.path.join(OUT, "trace.pt"))
    write_module_tensors("trace", Traced().eval())
    lines.append(("trace.pt",) + module_counts(traced) + ("__torch__.Traced",))
    # CONSTANTS.c0 of the traced code, as torch reads it back.
    loaded = torch.jit.load(os.path.join(OUT, "trace.pt"))
    consts = loaded.code_with_constants[1].const_mapping
    assert sorted(consts) == ["c0", "c1"], consts
    for key, value in consts.items():
        save_npy(f"trace__CONSTANTS.{key}", value)

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    saved = {
        "f32": base,
        "f64": torch.linspace(-1, 1, 5, dtype=torch.float64),
        "f16": torch.tensor([1.5, -0.25, 1000.0], dtype=torch.float16),
        "bf16": torch.tensor([1.5, -0.25, 3.0], dtype=torch.bfloat16),
        "i64": torch.tensor([-(2 ** 40), 0, 2 ** 40]),
        "i32": torch.tensor([-7, 8], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 3),
        "strided": base[:, ::2],            # strides (6, 2): made contiguous by the reader
        "offset": base[2],                  # storage offset 12, shares base's storage
        "param": torch.nn.Parameter(torch.tensor([[1.0, 2.0], [3.0, 4.0]])),
    }
    torch.save(saved, os.path.join(OUT, "save.pt"))
    for k, v in saved.items():
        save_npy(f"save__{k}", v.float() if v.dtype == torch.bfloat16 else v)

    # The legacy (pre-1.6) torch.save format: a raw pickle stream, refused by d2rt.
    torch.save({"x": torch.ones(2)}, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)

    zip_plain(os.path.join(OUT, "zip_stored.zip"), zipfile.ZIP_STORED)
    zip_plain(os.path.join(OUT, "zip_deflated.zip"), zipfile.ZIP_DEFLATED)
    zip64_by_hand(os.path.join(OUT, "zip_zip64.zip"))
    corrupt_crc(os.path.join(OUT, "zip_stored.zip"), os.path.join(OUT, "zip_badcrc.zip"))
    with zipfile.ZipFile(os.path.join(OUT, "zip_zip64.zip")) as z:
        assert z.read("dir/hello.txt") == HELLO  # Python's reader agrees with the hand-made file

    # Shared detectron2 fixtures: counts for every file, a few tensors as .npy.
    picks = {
        "mask_rcnn_tracing": ("mask_rcnn/tracing_torchscript/model.ts",
                              ["model.backbone.bottom_up.stem.conv1.weight",
                               "model.backbone.bottom_up.stem.conv1.norm.running_var",
                               "model.roi_heads.box_predictor.cls_score.bias", "model.pixel_mean"]),
        "mask_rcnn_scripting": ("mask_rcnn/scripting_torchscript/model.ts",
                                ["model.backbone.bottom_up.stem.conv1.weight",
                                 "model.roi_heads.box_predictor.bbox_pred.bias", "model.pixel_std"]),
        "retinanet_tracing": ("retinanet/tracing_torchscript/model.ts",
                              ["model.backbone.bottom_up.stem.conv1.weight", "model.head.cls_score.bias"]),
    }
    keep_alive = declare_torchvision_ops()  # noqa: F841
    for stem, (rel, names) in picks.items():
        path = os.path.join(args.shared, "detectron2", rel)
        m = torch.jit.load(path, map_location="cpu")
        tensors = dict(m.named_parameters())
        tensors.update(dict(m.named_buffers()))
        for name in names:
            save_npy(f"shared__{stem}__{name}", tensors[name])
        lines.append((f"shared:{rel}",) + module_counts(m) + (m._c._type().qualified_name(),))

    with open(os.path.join(OUT, "modules.txt"), "w") as f:
        for line in lines:
            f.write(" ".join(str(x) for x in line) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
