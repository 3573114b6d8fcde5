"""tools/optests/gen_detect.py: op tests of non_max_suppression, roi_align and resize.

Expected outputs come from the straightforward Python/NumPy implementations below,
written from the ONNX operator specifications (not onnx.reference):
  - NMS: greedy selection per (batch, class) by decreasing score (ties: lower box
    index first), score strictly above score_threshold, suppression when IoU is
    strictly above iou_threshold.
  - roi_align: torchvision/ONNX RoiAlign-16 sampling with the edge rule, avg and max
    (max of the 4 weighted corner values, as ONNX's reference and onnxruntime).
  - resize: each resized axis becomes a dense [out, in] weight matrix (one row per
    output coordinate, weight K((i - x) * s) for every input position i, edges
    clamped or excluded), applied with tensordot; nearest picks one index.
Run: /work/venv/bin/python tools/optests/gen_detect.py
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402

RNG = np.random.default_rng(7)
DTYPE_NAMES = {np.float32: "f32", np.float16: "f16", np.float64: "f64", np.int64: "i64",
               np.int32: "i32", np.uint8: "u8"}


def tname(a):
    return "%s[%s]" % (DTYPE_NAMES[a.dtype.type], ",".join(str(d) for d in a.shape))


def attrs_text(attrs):
    if not attrs:
        return ""
    parts = []
    for k, v in attrs.items():
        if isinstance(v, (list, tuple)):
            v = "[" + ", ".join(str(e) for e in v) + "]"
        parts.append("%s=%s" % (k, v))
    return " {" + ", ".join(parts) + "}"


def const_text(name, a):
    if np.issubdtype(a.dtype, np.integer):
        vals = ", ".join(repr(int(v)) for v in a.reshape(-1))
    else:
        vals = ", ".join(repr(float(v)) for v in a.reshape(-1))
    return "  %%%s: %s = const [%s]\n" % (name, tname(a), vals)


# ---- non_max_suppression ---------------------------------------------------------

def box_corners(b, center):
    if center:
        xc, yc, w, h = (float(v) for v in b)
        return xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2
    y1, x1, y2, x2 = (float(v) for v in b)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def iou(a, b):
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    if area_a <= 0 or area_b <= 0:
        return 0.0
    return inter / (area_a + area_b - inter)


def np_nms(boxes, scores, max_out, iou_thr, score_thr, center):
    rows = []
    for b in range(boxes.shape[0]):
        corners = [box_corners(boxes[b, i], center) for i in range(boxes.shape[1])]
        for c in range(scores.shape[1]):
            s = scores[b, c].astype(np.float64)
            cand = [i for i in range(len(s)) if score_thr is None or s[i] > score_thr]
            cand.sort(key=lambda i: (-s[i], i))
            kept = []
            for i in cand:
                if len(kept) >= max_out:
                    break
                if all(iou(corners[i], corners[k]) <= iou_thr for k in kept):
                    kept.append(i)
                    rows.append((b, c, i))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def nms_case(case, boxes, scores, max_out=None, iou_thr=None, score_thr=None, center=0):
    text = "graph main(%%boxes: %s, %%scores: %s) {\n" % (tname(boxes), tname(scores))
    args = ["%boxes", "%scores"]
    optional = [("max_out", None if max_out is None else np.array([max_out], np.int64)),
                ("iou", None if iou_thr is None else np.array([iou_thr], np.float32)),
                ("score", None if score_thr is None else np.array([score_thr], np.float32))]
    for name, value in optional:
        if value is None:
            args.append("_")
        else:
            text += const_text(name, value)
            args.append("%" + name)
    while args[-1] == "_":
        args.pop()
    attrs = {"center_point_box": 1} if center else {}
    text += "  %%sel = non_max_suppression(%s)%s\n  return %%sel\n}\n" % (", ".join(args), attrs_text(attrs))
    expected = np_nms(boxes, scores, 0 if max_out is None else max_out,
                      0.0 if iou_thr is None else float(np.float32(iou_thr)),
                      None if score_thr is None else float(np.float32(score_thr)), center)
    write_case("non_max_suppression", case, text, [boxes, scores], [expected])


def gen_nms():
    boxes = np.array([[[0.0, 0.0, 1.0, 1.0], [0.0, 0.1, 1.0, 1.1], [0.0, -0.1, 1.0, 0.9],
                       [0.0, 10.0, 1.0, 11.0], [0.0, 10.1, 1.0, 11.1], [0.0, 100.0, 1.0, 101.0]]], np.float32)
    scores = np.array([[[0.9, 0.75, 0.6, 0.95, 0.5, 0.3]]], np.float32)
    nms_case("suppress_by_iou", boxes, scores, 3, 0.5, 0.0)
    nms_case("suppress_by_iou_and_scores", boxes, scores, 3, 0.5, 0.4)
    nms_case("limit_output_size", boxes, scores, 2, 0.5)
    nms_case("no_max_output_means_none", boxes, scores)
    nms_case("max_output_zero", boxes, scores, 0, 0.5)
    nms_case("score_threshold_strict", boxes, scores, 10, 0.5, 0.6)
    flipped = boxes[:, :, [2, 3, 0, 1]].copy()
    flipped[0, 1] = boxes[0, 1][[0, 3, 2, 1]]
    nms_case("flipped_coordinates", flipped, scores, 3, 0.5)
    center = np.array([[[0.5, 0.5, 1.0, 1.0], [0.5, 0.6, 1.0, 1.0], [0.5, 0.4, 1.0, 1.0],
                        [0.5, 10.5, 1.0, 1.0], [0.5, 10.6, 1.0, 1.0], [0.5, 100.5, 1.0, 1.0]]], np.float32)
    nms_case("center_point_box", center, scores, 3, 0.5, center=1)
    identical = np.tile(np.array([0.0, 0.0, 1.0, 1.0], np.float32), (1, 5, 1))
    nms_case("identical_boxes", identical, np.full((1, 1, 5), 0.9, np.float32), 3, 0.5)
    # Box 1 is the left half of box 0: IoU exactly 0.5, equal to the threshold: kept.
    boundary = np.array([[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.5]]], np.float32)
    nms_case("iou_equal_threshold_kept", boundary, np.array([[[0.9, 0.8]]], np.float32), 3, 0.5)
    ties = np.array([[[0.0, 0.0, 1.0, 1.0], [0.0, 2.0, 1.0, 3.0], [0.0, 0.05, 1.0, 1.05], [0.0, 4.0, 1.0, 5.0]]],
                    np.float32)
    nms_case("score_ties_lower_index_first", ties, np.array([[[0.5, 0.5, 0.5, 0.5]]], np.float32), 2, 0.5)
    two = RNG.uniform(0, 4, (2, 8, 4)).astype(np.float32)
    two[:, :, 2:] = two[:, :, :2] + RNG.uniform(0.5, 2.0, (2, 8, 2)).astype(np.float32)
    nms_case("two_batches_three_classes", two, RNG.uniform(0, 1, (2, 3, 8)).astype(np.float32), 4, 0.3, 0.2)
    nms_case("zero_area_box_never_suppresses", np.array([[[0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5], [0, 0, 1, 1]]],
                                                       np.float32),
             np.array([[[0.9, 0.8, 0.7]]], np.float32), 5, 0.1)


# ---- roi_align --------------------------------------------------------------------

def bilinear(plane, y, x):
    """torchvision/ONNX rule; returns (value, max of weighted corners)."""
    h, w = plane.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return 0.0, 0.0
    y = max(y, 0.0)
    x = max(x, 0.0)
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    terms = [(1 - ly) * (1 - lx) * plane[y0, x0], (1 - ly) * lx * plane[y0, x1],
             ly * (1 - lx) * plane[y1, x0], ly * lx * plane[y1, x1]]
    return sum(terms), max(terms)


def np_roi_align(x, rois, batch_idx, oh, ow, sr, scale, mode, half_pixel):
    xd = x.astype(np.float64)
    out = np.zeros((rois.shape[0], x.shape[1], oh, ow), np.float64)
    for r in range(rois.shape[0]):
        shift = 0.5 if half_pixel else 0.0
        x1, y1, x2, y2 = (float(v) * scale - shift for v in rois[r])
        rw, rh = x2 - x1, y2 - y1
        if not half_pixel:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / oh, rw / ow
        gh = sr if sr > 0 else max(int(math.ceil(rh / oh)), 0)
        gw = sr if sr > 0 else max(int(math.ceil(rw / ow)), 0)
        for c in range(x.shape[1]):
            plane = xd[int(batch_idx[r]), c]
            for ph in range(oh):
                for pw in range(ow):
                    vals = []
                    for iy in range(gh):
                        sy = y1 + ph * bh + (iy + 0.5) * bh / gh
                        for ix in range(gw):
                            sx = x1 + pw * bw + (ix + 0.5) * bw / gw
                            vals.append(bilinear(plane, sy, sx))
                    if mode == "avg":
                        out[r, c, ph, pw] = sum(v[0] for v in vals) / max(gh * gw, 1)
                    else:
                        out[r, c, ph, pw] = max(v[1] for v in vals) if vals else 0.0
    return out.astype(x.dtype)


def roi_case(case, x, rois, batch_idx, oh=2, ow=2, sr=0, scale=1.0, mode="avg", half_pixel=True):
    attrs = {"output_height": oh, "output_width": ow}
    if sr:
        attrs["sampling_ratio"] = sr
    if scale != 1.0:
        attrs["spatial_scale"] = scale
    if mode != "avg":
        attrs["mode"] = mode
    if not half_pixel:
        attrs["coordinate_transformation_mode"] = "output_half_pixel"
    text = ("graph main(%%x: %s, %%rois: %s, %%bi: %s) {\n  %%y = roi_align(%%x, %%rois, %%bi)%s\n"
            "  return %%y\n}\n" % (tname(x), tname(rois), tname(batch_idx), attrs_text(attrs)))
    expected = np_roi_align(x, rois, batch_idx, oh, ow, sr, scale, mode, half_pixel)
    tol = (1e-5, 1e-5) if x.dtype == np.float32 else None
    write_case("roi_align", case, text, [x, rois, batch_idx], [expected], tol)


def gen_roi_align():
    x = RNG.standard_normal((2, 2, 6, 7)).astype(np.float32)
    rois = np.array([[0.5, 1.0, 4.0, 5.0], [2.0, 0.0, 6.5, 3.5], [-1.5, -1.0, 3.0, 2.0],
                     [5.0, 4.0, 8.0, 7.5], [1.0, 1.0, 1.2, 1.1]], np.float32)
    bi = np.array([0, 1, 0, 1, 0], np.int64)
    roi_case("avg_half_pixel_adaptive", x, rois, bi, 3, 2)
    roi_case("avg_half_pixel_sr2_scale", x, rois * 2, bi, 2, 3, sr=2, scale=0.5)
    roi_case("avg_output_half_pixel", x, rois, bi, 2, 2, half_pixel=False)
    roi_case("avg_output_half_pixel_sr1", x, rois, bi, 3, 3, sr=1, half_pixel=False)
    roi_case("max_half_pixel", x, rois, bi, 2, 2, sr=2, mode="max")
    roi_case("max_output_half_pixel_adaptive", np.abs(x), rois, bi, 3, 2, mode="max", half_pixel=False)
    roi_case("f64", x.astype(np.float64), rois.astype(np.float64), bi, 2, 2)
    roi_case("i32_batch_indices", x, rois, bi.astype(np.int32), 1, 1)
    roi_case("zero_rois", x, np.zeros((0, 4), np.float32), np.zeros((0,), np.int64), 2, 2)
    roi_case("outside_image", x, np.array([[-5.0, -5.0, -2.0, -2.0], [9.0, 8.0, 12.0, 11.0]], np.float32),
             np.array([0, 1], np.int64), 2, 2, sr=2)


# ---- resize -----------------------------------------------------------------------

def cubic(d, a):
    d = abs(d)
    if d <= 1:
        return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
    if d < 2:
        return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a
    return 0.0


def source_coord(mode, xr, scale, n_in, n_out, roi):
    out_f = scale * n_in
    if mode == "half_pixel":
        return (xr + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        return n_in / 2 * (1 - n_out / out_f) + (xr + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (xr + 0.5) / scale - 0.5 if n_out > 1 else 0.0
    if mode == "align_corners":
        return 0.0 if out_f == 1 else xr * (n_in - 1) / (out_f - 1)
    if mode == "asymmetric":
        return xr / scale
    start, end = roi
    if out_f == 1:
        return (end - start) * (n_in - 1) / 2 + start * (n_in - 1)
    return start * (n_in - 1) + xr * (end - start) * (n_in - 1) / (out_f - 1)


def nearest(x, how):
    if x == math.floor(x):
        return int(x)
    f = math.floor(x)
    frac = x - f
    return {"round_prefer_floor": f + (frac > 0.5), "round_prefer_ceil": f + (frac >= 0.5),
            "floor": f, "ceil": f + 1}[how]


def axis_weights(n_in, n_out, scale, p, roi):
    """[n_out, n_in] weight matrix and the extrapolated rows."""
    m = np.zeros((n_out, n_in))
    extrap = np.zeros(n_out, bool)
    for j in range(n_out):
        x = source_coord(p["ctm"], j, scale, n_in, n_out, roi)
        if p["ctm"] == "tf_crop_and_resize" and (x < 0 or x > n_in - 1):
            extrap[j] = True
            continue
        if p["mode"] == "nearest":
            m[j, min(max(nearest(x, p["nearest_mode"]), 0), n_in - 1)] = 1.0
            continue
        s = min(scale, 1.0) if p["antialias"] else 1.0
        support = 2.0 if p["mode"] == "cubic" else 1.0
        reach = int(math.ceil(support / s)) + 1
        row = np.zeros(n_in)
        total = 0.0
        for i in range(int(math.floor(x)) - reach, int(math.floor(x)) + reach + 1):
            d = (i - x) * s
            w = cubic(d, p["a"]) if p["mode"] == "cubic" else max(0.0, 1 - abs(d))
            if p["exclude_outside"] and (i < 0 or i >= n_in):
                continue
            row[min(max(i, 0), n_in - 1)] += w
            total += w
        if p["antialias"] or p["exclude_outside"]:
            row /= total
        m[j] = row
    return m, extrap


def np_resize(x, p, scales, out_shape, roi):
    """scales/roi per axis (all axes); separable application in float64."""
    if p["mode"] == "nearest":
        idx = []
        ext = np.zeros(out_shape, bool)
        for d in range(x.ndim):
            if out_shape[d] == x.shape[d] and scales[d] == 1.0 and p["ctm"] != "tf_crop_and_resize":
                idx.append(np.arange(x.shape[d]))
                continue
            m, e = axis_weights(x.shape[d], out_shape[d], scales[d], p, roi[d])
            idx.append(np.argmax(m, axis=1))
            shape = [1] * x.ndim
            shape[d] = out_shape[d]
            ext = ext | e.reshape(shape)
        y = x[np.ix_(*idx)]
        return np.where(ext, np.array(p["extrapolation"], x.dtype), y).astype(x.dtype)
    y = x.astype(np.float64)
    for d in range(x.ndim):
        if out_shape[d] == x.shape[d] and scales[d] == 1.0 and p["ctm"] != "tf_crop_and_resize":
            continue
        m, e = axis_weights(x.shape[d], out_shape[d], scales[d], p, roi[d])
        y = np.moveaxis(np.tensordot(m, np.moveaxis(y, d, 0), axes=(1, 0)), 0, d)
        shape = [1] * x.ndim
        shape[d] = out_shape[d]
        y = np.where(e.reshape(shape), p["extrapolation"], y)
    if np.issubdtype(x.dtype, np.integer):
        # Exact .5 ties would make the expected value depend on rounding noise.
        frac = np.abs(y - np.floor(y) - 0.5)
        assert frac.min() > 1e-6, "integer resize case hits a rounding tie; change the data"
        info = np.iinfo(x.dtype)
        y = np.clip(np.rint(y), info.min, info.max)
    return y.astype(x.dtype)


def resize_case(case, x, scales=None, sizes=None, axes=None, roi=None, runtime=False, tol=None, **attrs):
    p = {"mode": attrs.get("mode", "nearest"), "ctm": attrs.get("coordinate_transformation_mode", "half_pixel"),
         "nearest_mode": attrs.get("nearest_mode", "round_prefer_floor"), "a": attrs.get("cubic_coeff_a", -0.75),
         "exclude_outside": attrs.get("exclude_outside", 0), "antialias": attrs.get("antialias", 0),
         "extrapolation": attrs.get("extrapolation_value", 0.0)}
    policy = attrs.get("keep_aspect_ratio_policy", "stretch")
    if axes is not None:
        attrs["axes"] = list(axes)
    r = x.ndim
    ax = [a % r for a in (axes if axes is not None else range(r))]
    full_scales = [1.0] * r
    out_shape = list(x.shape)
    if scales is not None:
        scales = np.array(scales, np.float32)
        for i, d in enumerate(ax):
            full_scales[d] = float(scales[i])
            out_shape[d] = int(math.floor(x.shape[d] * float(scales[i])))
    else:
        sizes = np.array(sizes, np.int64)
        ratios = [sizes[i] / x.shape[d] for i, d in enumerate(ax)]
        if policy == "stretch":
            for i, d in enumerate(ax):
                full_scales[d] = ratios[i]
                out_shape[d] = int(sizes[i])
        else:
            s = min(ratios) if policy == "not_larger" else max(ratios)
            for d in ax:
                full_scales[d] = s
                out_shape[d] = int(math.floor(s * x.shape[d] + 0.5))
    full_roi = [(0.0, 1.0)] * r
    if roi is not None:
        roi = np.array(roi, np.float32)
        for i, d in enumerate(ax):
            full_roi[d] = (float(roi[i]), float(roi[len(ax) + i]))
    expected = np_resize(x, p, full_scales, out_shape, full_roi)

    text = "graph main(%%x: %s" % tname(x)
    inputs = [x]
    body = ""
    args = ["%x", "_", "_", "_"]
    if roi is not None:
        body += const_text("roi", roi)
        args[1] = "%roi"
    given = scales if scales is not None else sizes
    slot = 2 if scales is not None else 3
    if runtime:
        text += ", %%g: %s" % tname(given)
        inputs.append(given)
    else:
        body += const_text("g", given)
    args[slot] = "%g"
    while args[-1] == "_":
        args.pop()
    text += ") {\n" + body
    text += "  %%y = resize(%s)%s\n  return %%y\n}\n" % (", ".join(args), attrs_text(attrs))
    write_case("resize", case, text, inputs, [expected], tol)


def gen_resize():
    img = RNG.standard_normal((1, 2, 4, 5)).astype(np.float32)
    small = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
    # nearest
    resize_case("nearest_up_scales", img, scales=[1, 1, 2, 1.5])
    resize_case("nearest_down_scales", img, scales=[1, 1, 0.6, 0.6])
    for nm in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
        for ctm in ("half_pixel", "asymmetric", "align_corners"):
            resize_case("nearest_%s_%s" % (nm, ctm), small, sizes=[1, 1, 7, 3], nearest_mode=nm,
                        coordinate_transformation_mode=ctm)
    resize_case("nearest_axes_2_3", img, scales=[2.0, 3.0], axes=[2, 3])
    resize_case("nearest_axes_neg1", img, sizes=[9], axes=[-1])
    resize_case("nearest_i32", RNG.integers(-50, 50, (2, 3, 3)).astype(np.int32), scales=[1, 2, 0.5])
    resize_case("nearest_sizes_runtime", img, sizes=[1, 2, 3, 8], runtime=True)
    resize_case("nearest_not_larger", img, sizes=[7, 7], axes=[2, 3], keep_aspect_ratio_policy="not_larger")
    resize_case("nearest_not_smaller", img, sizes=[7, 7], axes=[2, 3], keep_aspect_ratio_policy="not_smaller")
    resize_case("nearest_tf_crop_extrapolate", small, sizes=[1, 1, 3, 3], roi=[0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7],
                coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=10.0)
    # linear
    for ctm in ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric"):
        resize_case("linear_up_%s" % ctm, img, scales=[1, 1, 1.75, 2.5], mode="linear",
                    coordinate_transformation_mode=ctm)
        resize_case("linear_down_%s" % ctm, img, scales=[1, 1, 0.6, 0.5], mode="linear",
                    coordinate_transformation_mode=ctm)
    resize_case("linear_pytorch_half_pixel_to_1", img, sizes=[1, 2, 1, 3], mode="linear",
                coordinate_transformation_mode="pytorch_half_pixel")
    resize_case("linear_tf_crop", small, sizes=[1, 1, 3, 5], roi=[0, 0, 0.2, 0.1, 1, 1, 0.9, 1.3],
                mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0)
    resize_case("linear_tf_crop_axes", small, sizes=[3, 3], axes=[3, 2], roi=[0.2, 0.4, 0.8, 0.6], mode="linear",
                coordinate_transformation_mode="tf_crop_and_resize")
    resize_case("linear_trilinear_5d", RNG.standard_normal((1, 1, 3, 4, 2)).astype(np.float32),
                scales=[1, 1, 1.5, 0.75, 2], mode="linear")
    resize_case("linear_antialias_down", RNG.standard_normal((1, 1, 9, 10)).astype(np.float32),
                scales=[1, 1, 0.4, 0.35], mode="linear", antialias=1)
    resize_case("linear_antialias_sizes", RNG.standard_normal((1, 1, 8, 8)).astype(np.float32),
                sizes=[3, 5], axes=[2, 3], mode="linear", antialias=1)
    resize_case("linear_u8", RNG.integers(0, 256, (1, 1, 3, 4)).astype(np.uint8), scales=[1, 1, 1.7, 1.3],
                mode="linear")
    resize_case("linear_f16", img.astype(np.float16), scales=[1, 1, 1.5, 2], mode="linear", tol=(2e-3, 2e-3))
    resize_case("linear_f64_runtime_scales", img.astype(np.float64), scales=[1, 1, 0.75, 1.6], mode="linear",
                runtime=True)
    # cubic
    resize_case("cubic_up", small, scales=[1, 1, 2, 2], mode="cubic")
    resize_case("cubic_down", img, scales=[1, 1, 0.8, 0.6], mode="cubic")
    resize_case("cubic_align_corners", small, scales=[1, 1, 1.5, 2], mode="cubic",
                coordinate_transformation_mode="align_corners")
    resize_case("cubic_asymmetric", small, scales=[1, 1, 2, 0.75], mode="cubic",
                coordinate_transformation_mode="asymmetric")
    resize_case("cubic_a_n0p5_exclude_outside", small, scales=[1, 1, 1.5, 0.8], mode="cubic", cubic_coeff_a=-0.5,
                exclude_outside=1)
    resize_case("cubic_antialias_down", RNG.standard_normal((1, 1, 9, 8)).astype(np.float32),
                scales=[1, 1, 0.5, 0.3], mode="cubic", antialias=1)
    resize_case("cubic_antialias_up_is_plain", small, scales=[1, 1, 1.5, 1.5], mode="cubic", antialias=1)
    resize_case("cubic_f64_sizes", img.astype(np.float64), sizes=[1, 2, 6, 3], mode="cubic")
    resize_case("cubic_u8_saturates", np.array([[0, 255, 0, 255], [255, 0, 255, 0]], np.uint8), scales=[1, 2],
                mode="cubic")


def main():
    gen_nms()
    gen_roi_align()
    gen_resize()


if __name__ == "__main__":
    main()
