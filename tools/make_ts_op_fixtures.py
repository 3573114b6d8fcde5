#!/usr/bin/env python3
"""tools/make_ts_op_fixtures.py: tiny TorchScript modules, one per op family, saved
with torch.jit.trace and/or torch.jit.script, with PyTorch's own outputs as reference.

Run with a Python that has torch (e.g. /work/venv-torch/bin/python), from anywhere:
    python tools/make_ts_op_fixtures.py
Writes tests/data/torchscript_ops/<case>/:
    model.ts          the saved module
    shapes.txt        the input_shapes option for d2rt (dtype:dims;...; '?' where the
                      model must not depend on the size)
    in<k>.npy         inputs in flattened order
    out<k>.npy        outputs of the module run by torch on those inputs (flattened
                      outputs: a tuple gives one file per item)
    tol.txt           optional "rtol atol" (default 1e-5 1e-6)
tests/unit/test_ts_import.c imports every case, runs it with the reference CPU
executor and compares. The expected values come from PyTorch running the same
saved module (torch.jit.load), never from d2rt.
"""
import os
import shutil
import sys
from typing import List

import numpy as np
import torch
import torch.nn.functional as F

try:
    import torchvision  # noqa: F401  (registers torchvision::nms / roi_align)
    HAVE_TV = True
except Exception:  # pragma: no cover
    HAVE_TV = False

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "torchscript_ops")

torch.manual_seed(0)
RNG = np.random.default_rng(0)


def randn(*shape):
    return torch.from_numpy(RNG.standard_normal(shape).astype(np.float32))


def dtype_name(t):
    return {torch.float32: "f32", torch.float64: "f64", torch.int64: "i64", torch.int32: "i32",
            torch.bool: "bool", torch.uint8: "u8"}[t.dtype]


def flatten(v):
    if isinstance(v, torch.Tensor):
        return [v]
    if isinstance(v, (int, float, bool)):
        return [torch.tensor(v)]
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in flatten(item)]
    if isinstance(v, dict):
        return [x for k in sorted(v) for x in flatten(v[k])]  # d2rt flattens dict keys sorted
    raise TypeError(type(v))


def write(name, module, inputs, mode="trace", shapes=None, tol=None, run_inputs=None, expected=None):
    """Save module (traced on `inputs` or scripted), run the saved file on run_inputs
    (default: inputs) and store everything. With case names on the command line, only
    those cases are written."""
    if len(sys.argv) > 1 and name not in sys.argv[1:]:
        return
    d = os.path.join(OUT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    module.eval()
    with torch.no_grad():
        if mode == "trace":
            ts = torch.jit.trace(module, tuple(inputs), check_trace=False)
        else:
            ts = torch.jit.script(module)
        path = os.path.join(d, "model.ts")
        ts.save(path)
        loaded = torch.jit.load(path)
        run = run_inputs if run_inputs is not None else inputs
        outs = flatten(loaded(*run)) if expected is None else expected
    for k, x in enumerate(run):
        np.save(os.path.join(d, "in%d.npy" % k), np.array(x.numpy(), order="C"))
    for k, y in enumerate(outs):
        np.save(os.path.join(d, "out%d.npy" % k), np.array(y.detach().numpy(), order="C"))
    if shapes is None:
        shapes = ";".join(dtype_name(x) + ":" + ",".join(str(s) for s in x.shape) for x in run)
    with open(os.path.join(d, "shapes.txt"), "w") as f:
        f.write(shapes + "\n")
    if tol:
        with open(os.path.join(d, "tol.txt"), "w") as f:
            f.write("%g %g\n" % tol)
    print("wrote", name, "(%d outputs)" % len(outs))


class Arith(torch.nn.Module):
    def forward(self, x, i):
        s = i.sum()
        return (x + i, i * 2, i / 2, torch.div(i, 3, rounding_mode="floor"), torch.floor_divide(-i, 3),
                x - 0.5, x * s, torch.add(x, x, alpha=2), i % 3, torch.remainder(-i, 4), 2 - x,
                torch.div(x, 0.3, rounding_mode="trunc"), x ** 2, i.float() / s)


class CompareLogical(torch.nn.Module):
    def forward(self, x, y):
        a = x > 0
        b = y <= 0.5
        return (a & b, a | b, torch.where(a, x, y), x.clamp(min=-0.5), x.clamp(-0.3, 0.4),
                torch.clamp(x, max=y), torch.isfinite(x / y), x == y, x != x, ~a, torch.logical_not(b))


class Unary(torch.nn.Module):
    def forward(self, x):
        p = x.abs() + 0.1
        return (torch.relu(x), torch.sigmoid(x), torch.exp(x), torch.log2(p), torch.sqrt(p), torch.floor(x * 3),
                torch.rsqrt(p), -x, torch.log(p), torch.tanh(x), x.ceil(), torch.round(x * 4))


class ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.c2 = torch.nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2, bias=False)
        self.bn = torch.nn.BatchNorm2d(4)
        self.bn.running_mean.uniform_(-1, 1)
        self.bn.running_var.uniform_(0.5, 2)
        self.bn.weight.data.uniform_(0.5, 1.5)
        self.bn.bias.data.uniform_(-0.5, 0.5)
        self.up = torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        y = torch.relu_(self.bn(self.c2(self.c1(x))))
        return (self.up(y), F.max_pool2d(y, 3, 2, 1, ceil_mode=True), F.avg_pool2d(y, 2),
                F.adaptive_avg_pool2d(y, 1), F.max_pool2d(y, 1, 2))


class Upsample(torch.nn.Module):
    def forward(self, x):
        return (F.interpolate(x, scale_factor=2.0, mode="nearest"),
                F.interpolate(x, size=(7, 5), mode="nearest"),
                F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False),
                F.interpolate(x, size=(9, 11), mode="bilinear", align_corners=True),
                F.interpolate(x, scale_factor=1.5, mode="bicubic", align_corners=False),
                F.interpolate(x, size=(3, 4), mode="bilinear", align_corners=False))


class ShapeOps(torch.nn.Module):
    def forward(self, x):
        n = x.size(0)
        a = x.view(n, -1)
        b = x.permute(0, 2, 3, 1).flatten(1, -2)
        c = x.transpose(1, 3).unsqueeze(0).squeeze(0)
        d = x[:, :1].expand(-1, 3, -1, -1)
        e = x.repeat(1, 1, 2, 1)
        f = torch.cat([x, x * 2], 1)
        g = torch.stack([x, -x], -1)
        h1, h2 = torch.split(x, [1, 2], dim=1)
        i = torch.chunk(x, 2, dim=3)
        j = torch.unbind(x, 1)
        k = x[:, :, 1:5:2, -3:]
        m = x.select(2, -1).narrow(1, 1, 2)
        p = F.pad(x, [1, 2, 0, 1], value=0.5)
        q = F.pad(x, [2, 1, 1, 2], mode="reflect")
        return (a, b, c, d, e, f, g, h1, h2, i[0], i[1], j[2], k, m, p, q, x.reshape(-1, 4).t())


class GridOps(torch.nn.Module):
    def forward(self, x):
        h = x.size(2)
        w = x.size(3)
        ys = torch.arange(0.0, h * 8.0, 8.0, dtype=torch.float32)
        xs = torch.arange(w) * 4
        gy, gx = torch.meshgrid([ys, xs.float()], indexing="ij")
        r = torch.repeat_interleave(torch.arange(3), torch.tensor([2, 0, 3]))
        z = torch.zeros(h, w) + torch.ones_like(gx) + torch.full((1, w), 2.5)
        return gy, gx, r, z, x.new_full((2, h), 7.0), torch.tensor([h, w]), torch.arange(5, 1, -2)


class IndexOps(torch.nn.Module):
    def forward(self, x, idx, mask):
        a = x[mask]
        b = x[idx]
        c = x[idx, idx.flip(0)]
        d = x.clone()
        d[mask] = -1.0
        e = x.clone()
        e.index_put_((idx,), torch.ones(idx.shape[0], x.shape[1]), accumulate=True)
        f = torch.nonzero(mask)
        v, k = torch.topk(x[0], 3)
        s, si = torch.sort(x[:, 0], descending=True)
        g = torch.gather(x, 1, idx.view(-1, 1).expand(-1, 2) % x.size(1))
        h = x.masked_fill(x > 0.5, 9.0)
        m, mi = x.max(1)
        return a, b, c, d, e, f, v, k, s, si, g, h, m, mi, x.argmax(1), x.sum(0), x.mean(1, keepdim=True)


class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 4)
        self.w = torch.nn.Parameter(torch.randn(4, 3))
        self.b = torch.nn.Parameter(torch.randn(3))

    def forward(self, x):
        y = self.fc(x)
        return (y, torch.addmm(self.b, y, self.w, beta=0.5, alpha=2.0), y @ self.w, F.softmax(y, -1),
                F.log_softmax(y, dim=0), F.leaky_relu(y, 0.1))


class TopkTies(torch.nn.Module):
    def forward(self, x):
        v, i = torch.topk(x, 4, 1)
        return v, i


class Vision(torch.nn.Module):
    def forward(self, feat, boxes, scores):
        keep = torchvision.ops.nms(boxes, scores, 0.5)
        rois = torch.cat([torch.zeros(boxes.size(0), 1), boxes], 1)
        a = torchvision.ops.roi_align(feat, rois, (3, 3), 0.5, 2, aligned=True)
        b = torchvision.ops.roi_align(feat, rois, (2, 4), 0.25, 0, aligned=False)
        return keep, a, b


class Scripted(torch.nn.Module):
    """Control flow and Python-level values that only scripting keeps."""

    def __init__(self):
        super().__init__()
        self.scale = 2
        self.names = ["a", "b"]

    def helper(self, x: torch.Tensor, k: int) -> torch.Tensor:
        for _ in range(k):
            x = x + 1
        return x

    def forward(self, x: torch.Tensor, y: torch.Tensor):
        out: list[torch.Tensor] = []
        for i in range(len(self.names)):
            out.append(x * (i + self.scale))
        if bool(x.sum() > 0):          # a run-time condition: an IR if
            z = x - y
            w = y.clone()
        else:
            z = x + y
            w = y * 0
        if x.dim() == 2:               # a static condition
            z = z * 2
        t = x.clone()
        t[:, 0::2] *= 3                # in-place through a view
        t[:, 1] = y[:, 0]
        d = {"sum": z, "list0": out[0], "help": self.helper(y, 3)}
        n = x.size(0)
        if n > 100:
            raise RuntimeError("too big")
        return d, w, t, out[1]


class ScriptedBatchedNms(torch.nn.Module):
    def forward(self, boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor):
        return torchvision.ops.batched_nms(boxes, scores, idxs, 0.4)


class DynamicLoops(torch.nn.Module):
    """Loops whose trip count or condition depends on the input: IR loops."""

    def forward(self, x: torch.Tensor):
        acc = torch.zeros_like(x[0])
        n = x.size(0)
        count = 0
        for i in range(n):
            acc = acc + x[i] * (i + 1)
            count += 2
        k = 0
        y = x.abs().sum() * 10
        while y > 1.0:
            y = y / 2
            k += 1
        t = x.clone()
        for j in range(1, n, 2):
            t[j] = t[j - 1] * 2
        return acc, count, y, k, t


class DynamicLists(torch.nn.Module):
    """torchvision's paste-masks pattern: a list appended to once per iteration of a
    loop with a run-time trip count, then len / index / stack / cat of it (d2rt: the
    loop's stacked scan output). With an empty input the loop runs zero times."""

    def forward(self, x: torch.Tensor):
        rows: List[torch.Tensor] = []
        for i in range(x.size(0)):
            rows.append(x[i] * (i + 1))
        n = len(rows)
        if n > 0:
            a, b, f = torch.stack(rows, 1), torch.stack(rows, -1), torch.stack(rows)
            c, d, e = torch.cat(rows, 0), torch.cat(rows, 1), rows[n - 1]
        else:
            a, b, f = x.new_zeros(2, 0, 3), x.new_zeros(2, 3, 0), x.new_zeros(0, 2, 3)
            c, d, e = x.new_zeros(0, 3), x.new_zeros(2, 0), x.new_zeros(2, 3)
        return n, a, b, c, d, e, f


class Unsupported(torch.nn.Module):
    def forward(self, x):
        return torch.kthvalue(x, 2, 1)[0]


def boxes_and_scores(n, seed):
    r = np.random.default_rng(seed)
    xy = r.uniform(0, 20, (n, 2)).astype(np.float32)
    wh = r.uniform(2, 10, (n, 2)).astype(np.float32)
    b = np.concatenate([xy, xy + wh], 1)
    return torch.from_numpy(b), torch.from_numpy(r.uniform(0, 1, n).astype(np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    x23 = randn(2, 3)
    i23 = torch.from_numpy(RNG.integers(-7, 8, (2, 3)))
    for mode in ("trace", "script"):
        write("arith_" + mode, Arith(), [x23, i23], mode)
        write("compare_" + mode, CompareLogical(), [randn(3, 4), randn(3, 4)], mode)
    x_inf = randn(5, 4)
    write("unary_trace", Unary(), [x_inf], "trace")
    write("conv_trace", ConvNet(), [randn(1, 3, 11, 9)], "trace", tol=(1e-4, 1e-5))
    # traced on one size, run on another: shapes must come from the input
    write("conv_dynamic", ConvNet(), [randn(1, 3, 11, 9)], "trace", shapes="f32:1,3,?h,?w",
          run_inputs=[randn(1, 3, 14, 7)], tol=(1e-4, 1e-5))
    write("upsample_trace", Upsample(), [randn(1, 2, 4, 5)], "trace", tol=(1e-5, 1e-5))
    write("upsample_script", Upsample(), [randn(1, 2, 4, 5)], "script", tol=(1e-5, 1e-5))
    write("shape_trace", ShapeOps(), [randn(2, 3, 6, 8)], "trace")
    write("shape_script", ShapeOps(), [randn(2, 3, 6, 8)], "script")
    write("grid_trace", GridOps(), [randn(1, 1, 3, 4)], "trace", shapes="f32:1,1,?h,?w",
          run_inputs=[randn(1, 1, 5, 2)])
    write("grid_script", GridOps(), [randn(1, 1, 3, 4)], "script", shapes="f32:1,1,?h,?w",
          run_inputs=[randn(1, 1, 5, 2)])
    xi = randn(6, 5)
    idx = torch.tensor([4, 0, -1, 2])
    mask = torch.tensor([True, False, True, True, False, True])
    write("index_trace", IndexOps(), [xi, idx, mask], "trace", shapes="f32:6,5;i64:4;bool:6")
    write("index_script", IndexOps(), [xi, idx, mask], "script", shapes="f32:6,5;i64:4;bool:6")
    write("linear_trace", Linear(), [randn(3, 6)], "trace", tol=(1e-5, 1e-5))
    write("linear_script", Linear(), [randn(3, 6)], "script", tol=(1e-5, 1e-5))
    ties = torch.tensor([[1.0, 3.0, 3.0, 2.0, 3.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    # d2rt's topk breaks ties by lower index (stable); torch's CPU kernel does not
    # promise an order, so the expected indices come from a stable NumPy sort.
    order = np.argsort(-ties.numpy(), axis=1, kind="stable")[:, :4]
    write("topk_ties_trace", TopkTies(), [ties], "trace",
          expected=[torch.from_numpy(np.take_along_axis(ties.numpy(), order, 1)), torch.from_numpy(order)])
    if HAVE_TV:
        b, s = boxes_and_scores(30, 1)
        write("vision_trace", Vision(), [randn(1, 2, 16, 16), b, s], "trace", shapes="f32:1,2,16,16;f32:?n,4;f32:?n",
              tol=(1e-5, 1e-5))
        b, s = boxes_and_scores(40, 2)
        cls = torch.from_numpy(np.random.default_rng(3).integers(0, 3, 40))
        write("batched_nms_script", ScriptedBatchedNms(), [b, s, cls], "script", shapes="f32:?n,4;f32:?n;i64:?n")
    write("unsupported_op", Unsupported(), [randn(2, 5)], "script")
    # a zip that is not a torch file: format detection must not call it TorchScript
    import zipfile
    if len(sys.argv) == 1:  # (skipped when writing selected cases)
        with zipfile.ZipFile(os.path.join(ROOT, "tests", "data", "torchscript_plain.zip"), "w") as z:
            z.writestr("archive/readme.txt", "not a model")
    write("loops_script", DynamicLoops(), [randn(4, 3)], "script", shapes="f32:?n,3", run_inputs=[randn(5, 3)])
    lists_rng = np.random.default_rng(7)  # its own stream: the cases above keep their data
    lists_x = torch.from_numpy(lists_rng.standard_normal((5, 2, 3)).astype(np.float32))
    write("loop_lists_script", DynamicLists(), [lists_x], "script", shapes="f32:?n,2,3")
    write("loop_lists_script_empty", DynamicLists(), [lists_x[:0]], "script", shapes="f32:?n,2,3")
    sx, sy = randn(3, 4), randn(3, 4)
    write("control_script", Scripted(), [sx, sy], "script", shapes="f32:3,4;f32:3,4")
    write("control_script_neg", Scripted(), [sx, sy], "script", shapes="f32:3,4;f32:3,4",
          run_inputs=[-sx.abs(), sy])


if __name__ == "__main__":
    sys.exit(main())
