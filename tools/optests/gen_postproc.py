"""tools/optests/gen_postproc.py: op tests of paste_masks, heatmaps_to_keypoints, upsample.

Expected outputs come from the NumPy implementations below, written from detectron2's and
PyTorch's documented formulas (backends/cpu/ref_postproc.h states them); float32 steps are
done in np.float32 in the same order PyTorch does them, so thresholds and argmaxes decide
the same way:
  - paste_masks: detectron2 paste_masks_in_image (grid = ((px + 0.5) - x0) / (x1 - x0) * 2 - 1,
    grid_sample bilinear, zeros padding, align_corners=False, box hull +-1 px), then
    >= threshold (or trunc(value * 255) as u8 for a negative threshold).
  - heatmaps_to_keypoints: bicubic upsampling (A = -0.75) to (ceil(h), ceil(w)), first argmax,
    x = (x_int + 0.5) * w / ceil(w) + x0, score normalized over the input map.
  - upsample: F.interpolate's tap tables (nearest float32 floor rule, linear/cubic half-pixel
    or align_corners, scale factors), applied as dense per-axis matrices.
When PyTorch is importable (run with /work/venv-torch/bin/python), every expected output is
also checked against torch.nn.functional (grid_sample, interpolate) and the script fails on a
disagreement; with /work/venv/bin/python those checks are skipped.
Run: /work/venv/bin/python tools/optests/gen_postproc.py
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the reference stays NumPy; torch only cross-checks
    torch = None

RNG = np.random.default_rng(11)
F32 = np.float32
DTYPE_NAMES = {np.float32: "f32", np.float16: "f16", np.float64: "f64", np.int64: "i64",
               np.int32: "i32", np.uint8: "u8", np.bool_: "bool"}


def tname(a):
    return "%s[%s]" % (DTYPE_NAMES[a.dtype.type], ",".join(str(d) for d in a.shape))


def graph(inputs, op, attrs, out_names=("y",)):
    """inputs: list of (name, array); returns IR text for one node."""
    sig = ", ".join("%%%s: %s" % (n, tname(a)) for n, a in inputs)
    args = ", ".join("%" + n for n, _ in inputs)
    attr = ""
    if attrs:
        parts = []
        for k, v in attrs.items():
            if isinstance(v, (list, tuple)):
                v = "[" + ", ".join(repr(float(e)) for e in v) + "]"
            elif isinstance(v, float):
                v = repr(v)
            parts.append("%s=%s" % (k, v))
        attr = " {" + ", ".join(parts) + "}"
    outs = ", ".join("%" + o for o in out_names)
    return "graph main(%s) {\n  %s = %s(%s)%s\n  return %s\n}\n" % (sig, outs, op, args, attr, outs)


# ---- paste_masks ------------------------------------------------------------------

def paste_masks_np(masks, boxes, H, W, threshold):
    """detectron2 paste_masks_in_image, CPU path, in the data's precision."""
    T = np.float64 if (masks.dtype == np.float64 or boxes.dtype == np.float64) else np.float32
    m = masks.reshape(masks.shape[0], masks.shape[-2], masks.shape[-1]).astype(T)
    b = boxes.astype(T)
    n, mh, mw = m.shape
    out = np.zeros((n, H, W), np.uint8 if threshold < 0 else np.bool_)
    for i in range(n):
        x0, y0, x1, y1 = b[i]
        lx = int(max(math.floor(float(x0)) - 1, 0)); hx = int(min(math.ceil(float(x1)) + 1, W))
        ly = int(max(math.floor(float(y0)) - 1, 0)); hy = int(min(math.ceil(float(y1)) + 1, H))
        if hx <= lx or hy <= ly:
            continue
        px = np.arange(lx, hx).astype(T) + T(0.5)
        py = np.arange(ly, hy).astype(T) + T(0.5)
        gx = (px - x0) / (x1 - x0) * T(2) - T(1)
        gy = (py - y0) / (y1 - y0) * T(2) - T(1)
        u = (gx + T(1)) * (T(mw) / T(2)) - T(0.5)
        v = (gy + T(1)) * (T(mh) / T(2)) - T(0.5)
        uf, vf = np.floor(u), np.floor(v)
        dx, dy = u - uf, v - vf
        ex, sy = T(1) - dx, T(1) - dy
        ix, iy = uf.astype(np.int64), vf.astype(np.int64)

        def tap(yy, xx):
            ok = (yy[:, None] >= 0) & (yy[:, None] < mh) & (xx[None, :] >= 0) & (xx[None, :] < mw)
            vals = m[i][np.clip(yy, 0, mh - 1)[:, None], np.clip(xx, 0, mw - 1)[None, :]]
            return np.where(ok, vals, T(0))
        value = (tap(iy, ix) * (sy[:, None] * ex[None, :]) + tap(iy, ix + 1) * (sy[:, None] * dx[None, :])
                 + tap(iy + 1, ix) * (dy[:, None] * ex[None, :]) + tap(iy + 1, ix + 1) * (dy[:, None] * dx[None, :]))
        if threshold >= 0:
            out[i, ly:hy, lx:hx] = value >= threshold
        else:
            out[i, ly:hy, lx:hx] = np.clip(value * T(255), 0, 255).astype(np.uint8)
    return out


def paste_masks_torch(masks, boxes, H, W, threshold):
    """detectron2's _do_paste_mask (skip_empty) in torch, per box."""
    m = torch.from_numpy(masks.reshape(masks.shape[0], 1, masks.shape[-2], masks.shape[-1]).copy())
    b = torch.from_numpy(boxes.copy())
    if m.dtype != b.dtype:
        m, b = m.double(), b.double()
    out = torch.zeros((m.shape[0], H, W), dtype=torch.bool if threshold >= 0 else torch.uint8)
    for i in range(m.shape[0]):
        bx = b[i:i + 1]
        x0_int, y0_int = torch.clamp(bx.min(dim=0).values.floor()[:2] - 1, min=0).to(dtype=torch.int32)
        x1_int = torch.clamp(bx[:, 2].max().ceil() + 1, max=W).to(dtype=torch.int32)
        y1_int = torch.clamp(bx[:, 3].max().ceil() + 1, max=H).to(dtype=torch.int32)
        if x1_int <= x0_int or y1_int <= y0_int:
            continue
        x0, y0, x1, y1 = torch.split(bx, 1, dim=1)
        img_y = torch.arange(int(y0_int), int(y1_int), dtype=torch.float32).to(b.dtype) + 0.5
        img_x = torch.arange(int(x0_int), int(x1_int), dtype=torch.float32).to(b.dtype) + 0.5
        img_y = (img_y - y0) / (y1 - y0) * 2 - 1
        img_x = (img_x - x0) / (x1 - x0) * 2 - 1
        gx = img_x[:, None, :].expand(1, img_y.size(1), img_x.size(1))
        gy = img_y[:, :, None].expand(1, img_y.size(1), img_x.size(1))
        grid = torch.stack([gx, gy], dim=3)
        v = F.grid_sample(m[i:i + 1].to(b.dtype), grid.to(b.dtype), align_corners=False)[0, 0]
        if threshold >= 0:
            v = v >= threshold
        else:
            v = (v * 255).to(dtype=torch.uint8)
        out[i, int(y0_int):int(y1_int), int(x0_int):int(x1_int)] = v
    return out.numpy()


def check_paste(name, masks, boxes, H, W, threshold, want):
    if torch is None:
        return
    got = paste_masks_torch(masks, boxes, H, W, threshold)
    diff = int((got != want).sum())
    if diff:
        raise SystemExit("paste_masks/%s: numpy reference differs from torch in %d pixels" % (name, diff))


def random_boxes(n, H, W, dtype=F32):
    x0 = RNG.uniform(-5, W - 4, n)
    y0 = RNG.uniform(-5, H - 4, n)
    w = RNG.uniform(1.5, W * 0.8, n)
    h = RNG.uniform(1.5, H * 0.8, n)
    return np.stack([x0, y0, x0 + w, y0 + h], 1).astype(dtype)


def gen_paste_masks():
    def case(name, masks, boxes, H, W, threshold=0.5, size_input=True, attrs_extra=None):
        want = paste_masks_np(masks, boxes, H, W, threshold)
        check_paste(name, masks, boxes, H, W, threshold, want)
        attrs = {}
        if threshold != 0.5:
            attrs["threshold"] = float(threshold)
        inputs = [("masks", masks), ("boxes", boxes)]
        if size_input:
            inputs.append(("size", np.array([H, W], np.int64)))
        else:
            attrs["height"] = H
            attrs["width"] = W
        write_case("paste_masks", name, graph(inputs, "paste_masks", attrs), [a for _, a in inputs], [want])

    probs = RNG.uniform(0.2, 0.8, (4, 28, 28)).astype(F32)
    boxes = random_boxes(4, 40, 50)
    boxes[3] = [44.5, 30.25, 58.0, 47.0]  # partly outside the canvas
    case("basic_size_input", probs, boxes, 40, 50)
    case("rank4_attrs", probs.reshape(4, 1, 28, 28), boxes, 40, 50, size_input=False)
    case("threshold_0_3", probs, boxes, 40, 50, threshold=0.3)
    case("soft_u8", probs, boxes, 40, 50, threshold=-1.0)
    case("f64", probs.astype(np.float64), boxes.astype(np.float64), 40, 50)
    case("f16", probs.astype(np.float16), boxes, 33, 29)
    rect = RNG.uniform(0.0, 1.0, (3, 14, 20)).astype(F32)
    small = np.array([[2.0, 3.0, 2.75, 3.5], [0.0, 0.0, 33.0, 21.0], [-10.0, -10.0, -2.0, -1.0]], F32)
    case("non_square_tiny_outside", rect, small, 21, 33)
    # Exact halves: pixel centres fall on map cell centres, values right at the threshold.
    half = np.full((1, 4, 4), 0.5, F32)
    case("on_threshold", half, np.array([[0.0, 0.0, 8.0, 8.0]], F32), 10, 10)
    case("zero_masks", np.zeros((0, 28, 28), F32), np.zeros((0, 4), F32), 6, 7)


# ---- heatmaps_to_keypoints -----------------------------------------------------------

def cubic_w(t, T):
    A = T(-0.75)

    def c1(x):
        return ((A + T(2)) * x - (A + T(3))) * x * x + T(1)

    def c2(x):
        return ((A * x - T(5) * A) * x + T(8) * A) * x - T(4) * A
    return [c2(t + T(1)), c1(t), c1(T(1) - t), c2((T(1) - t) + T(1))]


def interp_matrix(mode, align, n_in, n_out, sf, T):
    """[n_out, n_in] float64 matrix of F.interpolate along one axis (taps built in T)."""
    M = np.zeros((n_out, n_in))
    for j in range(n_out):
        if mode == "nearest":
            if T is np.float64:
                s = 1.0 / sf if sf else n_in / n_out
                i = int(np.floor(np.float32(s * j)))
            else:
                s = F32(1.0 / sf) if sf else F32(n_in) / F32(n_out)
                i = int(np.floor(F32(j) * s))
            M[j, min(i, n_in - 1)] = 1.0
            continue
        if align:
            s = T(n_in - 1) / T(n_out - 1) if n_out > 1 else T(0)
            src = s * T(j)
        else:
            s = T(1.0 / sf) if sf else T(n_in) / T(n_out)
            src = s * (T(j) + T(0.5)) - T(0.5)
            if mode == "linear" and src < 0:
                src = T(0)
        i0 = min(int(np.floor(src)), n_in - 1)
        t = min(max(src - T(i0), T(0)), T(1))
        if mode == "linear":
            M[j, i0] += float(T(1) - t)
            M[j, i0 + (1 if i0 < n_in - 1 else 0)] += float(t)
        else:
            for k, w in enumerate(cubic_w(t, T)):
                M[j, min(max(i0 - 1 + k, 0), n_in - 1)] += float(w)
    return M


def upsample_np(x, mode, align, sizes, scales):
    T = np.float64 if x.dtype == np.float64 else np.float32
    y = x.astype(np.float64) if mode != "nearest" else x
    k = x.ndim - 2
    for d in range(k):
        n_in = x.shape[d + 2]
        n_out = sizes[d] if sizes is not None else int(math.floor(n_in * scales[d]))
        M = interp_matrix(mode, align, n_in, n_out, scales[d] if scales else None, T)
        if mode == "nearest":
            y = np.take(y, M.argmax(1), axis=d + 2)
        else:
            y = np.moveaxis(np.tensordot(M, np.moveaxis(y, d + 2, 0), axes=1), 0, d + 2)
    return y.astype(x.dtype)


def heatmaps_np(maps, boxes):
    T = np.float64 if (maps.dtype == np.float64 or boxes.dtype == np.float64) else np.float32
    n, K, sh, sw = maps.shape
    out = np.zeros((n, K, 3), maps.dtype)
    b = boxes.astype(T)
    for i in range(n):
        w = max(b[i, 2] - b[i, 0], T(1))
        h = max(b[i, 3] - b[i, 1], T(1))
        wc, hc = np.ceil(w), np.ceil(h)
        up = upsample_np(maps[i:i + 1].astype(T), "cubic", False, (int(hc), int(wc)), None)[0].astype(np.float64)
        for k in range(K):
            pos = int(np.argmax(up[k]))
            x_int, y_int = pos % int(wc), pos // int(wc)
            mx = up[k].max()
            out[i, k, 0] = (T(x_int) + T(0.5)) * (w / wc) + b[i, 0]
            out[i, k, 1] = (T(y_int) + T(0.5)) * (h / hc) + b[i, 1]
            out[i, k, 2] = np.exp(up[k, y_int, x_int] - mx) / np.exp(maps[i, k].astype(np.float64) - mx).sum()
    return out


def heatmaps_torch(maps, boxes):
    """detectron2's heatmaps_to_keypoints (columns x, y, score) in torch."""
    maps, rois = torch.from_numpy(maps.copy()), torch.from_numpy(boxes.copy())
    widths = (rois[:, 2] - rois[:, 0]).clamp(min=1)
    heights = (rois[:, 3] - rois[:, 1]).clamp(min=1)
    wc, hc = widths.ceil(), heights.ceil()
    K = maps.shape[1]
    out = maps.new_zeros(rois.shape[0], K, 3)
    idx = torch.arange(K)
    for i in range(rois.shape[0]):
        rm = F.interpolate(maps[[i]], size=(int(hc[i]), int(wc[i])), mode="bicubic", align_corners=False)[0]
        mx = rm.view(K, -1).max(1)[0].view(K, 1, 1)
        full = (rm - mx).exp_()
        pool = (maps[i] - mx).exp_()
        scores = full / pool.sum((1, 2), keepdim=True)
        w = rm.shape[2]
        pos = rm.view(K, -1).argmax(1)
        x_int = pos % w
        y_int = (pos - x_int) // w
        out[i, :, 0] = (x_int.float() + 0.5) * (widths[i] / wc[i]) + rois[i, 0]
        out[i, :, 1] = (y_int.float() + 0.5) * (heights[i] / hc[i]) + rois[i, 1]
        out[i, :, 2] = scores[idx, y_int, x_int]
    return out.numpy()


def gen_heatmaps_to_keypoints():
    def case(name, maps, boxes, tol=(1e-5, 1e-5)):
        want = heatmaps_np(maps, boxes)
        if torch is not None and maps.dtype == np.float32:
            got = heatmaps_torch(maps, boxes)
            if not np.allclose(got, want, rtol=1e-5, atol=1e-4):
                raise SystemExit("heatmaps_to_keypoints/%s: numpy differs from torch by %g" %
                                 (name, np.abs(got - want).max()))
        inputs = [("heatmaps", maps), ("boxes", boxes)]
        write_case("heatmaps_to_keypoints", name, graph(inputs, "heatmaps_to_keypoints", {}),
                   [maps, boxes], [want], tol=tol)

    maps = (RNG.standard_normal((3, 4, 12, 12)) * 3).astype(F32)
    boxes = np.array([[3.25, 4.5, 40.75, 22.0], [10.0, 10.0, 10.5, 10.25], [0.0, 5.0, 7.3, 60.9]], F32)
    case("basic", maps, boxes)
    peaked = np.full((2, 2, 8, 8), -4.0, F32)
    peaked[0, 0, 2, 5] = 6.0
    peaked[0, 1, 7, 0] = 6.0
    peaked[1, 0, 0, 0] = 3.0
    peaked[1, 1, 4, 4] = 9.0
    case("peaked", peaked, np.array([[1.0, 2.0, 17.0, 9.0], [5.5, 5.5, 30.5, 47.5]], F32))
    case("f64", maps[:2].astype(np.float64), boxes[:2].astype(np.float64))
    case("rect_maps", (RNG.standard_normal((1, 3, 6, 10)) * 2).astype(F32),
         np.array([[2.0, 3.0, 23.0, 11.5]], F32))
    case("empty", np.zeros((0, 17, 56, 56), F32), np.zeros((0, 4), F32))


# ---- upsample ------------------------------------------------------------------------

def upsample_torch(x, mode, align, sizes, scales):
    t = torch.from_numpy(x.copy())
    tmode = {"nearest": "nearest", "linear": ["linear", "bilinear", "trilinear"][x.ndim - 3],
             "cubic": "bicubic"}[mode]
    kw = {} if mode == "nearest" else {"align_corners": bool(align)}
    if sizes is not None and scales is None:
        return F.interpolate(t, size=tuple(sizes), mode=tmode, **kw).numpy()
    if sizes is None:
        return F.interpolate(t, scale_factor=tuple(scales), mode=tmode, **kw).numpy()
    # both: aten op with explicit output size and scales
    k = x.ndim - 2
    if mode == "nearest":
        fn = [torch.ops.aten.upsample_nearest1d, torch.ops.aten.upsample_nearest2d,
              torch.ops.aten.upsample_nearest3d][k - 1]
        return fn(t, list(sizes), *scales).numpy()
    if mode == "linear":
        fn = [torch.ops.aten.upsample_linear1d, torch.ops.aten.upsample_bilinear2d,
              torch.ops.aten.upsample_trilinear3d][k - 1]
    else:
        fn = torch.ops.aten.upsample_bicubic2d
    return fn(t, list(sizes), bool(align), *scales).numpy()


def gen_upsample():
    def case(name, x, mode, align=0, sizes=None, scales=None, tol=None):
        want = upsample_np(x, mode, align, sizes, scales)
        if torch is not None and x.dtype in (np.float32, np.float64, np.uint8):
            got = upsample_torch(x, mode, align, sizes, scales)
            if got.shape != want.shape or not np.allclose(got.astype(np.float64), want.astype(np.float64),
                                                          rtol=1e-5, atol=1e-5):
                raise SystemExit("upsample/%s: numpy differs from torch" % name)
        attrs = {"mode": mode}
        if align:
            attrs["align_corners"] = 1
        if scales:
            attrs["scales"] = list(scales)
        inputs = [("x", x)]
        if sizes is not None:
            inputs.append(("sizes", np.array(sizes, np.int64)))
        write_case("upsample", name, graph(inputs, "upsample", attrs), [a for _, a in inputs], [want], tol=tol)

    x1 = RNG.standard_normal((1, 2, 10)).astype(F32)
    x26 = np.arange(26, dtype=F32).reshape(1, 1, 26)
    x2 = RNG.standard_normal((2, 3, 5, 7)).astype(F32)
    x3 = RNG.standard_normal((1, 2, 3, 4, 5)).astype(F32)
    # 26 -> 22: PyTorch's float32 scale reads input 12 at output 11 (exact arithmetic: 13).
    case("nearest_1d_float_rule", x26, "nearest", sizes=[22])
    case("nearest_1d", x1, "nearest", sizes=[6])
    case("nearest_2d_scale2", x2, "nearest", scales=[2.0, 2.0])
    case("nearest_2d_scale_2_2", RNG.standard_normal((1, 1, 20, 16)).astype(F32), "nearest", scales=[2.2, 2.2])
    case("nearest_u8", RNG.integers(0, 255, (1, 3, 4, 6)).astype(np.uint8), "nearest", sizes=[7, 3])
    case("nearest_i64_3d", RNG.integers(-9, 9, (1, 1, 2, 3, 4)).astype(np.int64), "nearest", sizes=[3, 5, 7])
    case("linear_1d", x1, "linear", sizes=[17])
    case("linear_2d_half_pixel", x2, "linear", sizes=[9, 4])
    case("linear_2d_align_corners", x2, "linear", align=1, sizes=[9, 4])
    case("linear_2d_scales", x2, "linear", scales=[1.5, 2.5])
    case("linear_2d_size1", x2, "linear", sizes=[1, 1])
    case("linear_3d", x3, "linear", sizes=[5, 2, 8])
    case("linear_sizes_and_scales", x2, "linear", sizes=[10, 14], scales=[1.9, 2.1])
    case("cubic_2d", x2, "cubic", sizes=[11, 13])
    case("cubic_2d_align_corners", x2, "cubic", align=1, sizes=[11, 13])
    case("cubic_2d_down", RNG.standard_normal((1, 2, 12, 9)).astype(F32), "cubic", sizes=[5, 4])
    case("cubic_f64", x2.astype(np.float64), "cubic", scales=[2.0, 3.0])
    case("linear_f16", x2.astype(np.float16), "linear", sizes=[8, 8], tol=(1e-3, 1e-3))


if __name__ == "__main__":
    gen_paste_masks()
    gen_heatmaps_to_keypoints()
    gen_upsample()
    print("postproc op tests written%s" % ("" if torch is None else " (checked against torch)"))
