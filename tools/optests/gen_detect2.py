"""tools/optests/gen_detect2.py: op tests of the "detection (shared by all dialects)"
ops: box_roi_align, box_nms, box_batched_nms, box_decode, box_clip,
generate_proposals, find_top_rpn_proposals, fpn_level_assign, sort.

Expected outputs come from the plain Python/NumPy implementations below, written
from the documented semantics (docs: /work/shared/docs/detectron2-export.md §3,
torchvision.ops docs, Caffe2 operator docs), not from d2rt. For f32 inputs box
arithmetic is done on np.float32 scalars, one rounding per operation, as the
frameworks do (float32 numpy scalar ops are correctly rounded); comparisons against
thresholds happen in double like torchvision (`float ovr > double threshold`).

Cases of box_roi_align, box_nms and box_batched_nms are also listed in
tools/optests/detect2_crosscheck.json; tools/optests/crosscheck_detect2.py runs
them through torchvision (a venv with torch + torchvision) and records the result
in tools/optests/detect2_crosscheck.txt.
Run: /work/venv/bin/python tools/optests/gen_detect2.py
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402

RNG = np.random.default_rng(2024)
HERE = os.path.dirname(os.path.abspath(__file__))
DTYPE_NAMES = {np.float32: "f32", np.float16: "f16", np.float64: "f64", np.int64: "i64",
               np.int32: "i32", np.uint8: "u8", np.int16: "i16"}
CROSSCHECK = []  # cases to run through torchvision


def tname(a):
    return "%s[%s]" % (DTYPE_NAMES[a.dtype.type], ",".join(str(d) for d in a.shape))


def attrs_text(attrs):
    if not attrs:
        return ""
    parts = []
    for k, v in attrs.items():
        if isinstance(v, (list, tuple)):
            v = "[" + ", ".join(repr(float(e)) for e in v) + "]"
        elif isinstance(v, float):
            v = repr(v)
        parts.append("%s=%s" % (k, v))
    return " {" + ", ".join(parts) + "}"


def graph(inputs, op, attrs, outputs, omitted_tail=0):
    """One-node graph: inputs is a list of (name, array); outputs a list of names."""
    params = ", ".join("%%%s: %s" % (n, tname(a)) for n, a in inputs)
    args = ", ".join(["%" + n for n, _ in inputs] + ["_"] * omitted_tail)
    outs = ", ".join("%" + o for o in outputs)
    return "graph main(%s) {\n  %s = %s(%s)%s\n  return %s\n}\n" % (params, outs, op, args, attrs_text(attrs), outs)


def ftype(dtype):
    """Arithmetic type of the kernels: float32 for f32/f16, float64 for f64."""
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


# ---- NMS ------------------------------------------------------------------------------

def sort_desc(scores):
    """Stable descending order, NaN first."""
    keyed = [(0 if math.isnan(float(s)) else 1, -float(s) if not math.isnan(float(s)) else 0.0, i)
             for i, s in enumerate(scores)]
    return [i for _, _, i in sorted(keyed)]


def iou(a, b, plus_one, F):
    p = F(plus_one)
    area_a = (a[2] - a[0] + p) * (a[3] - a[1] + p)
    area_b = (b[2] - b[0] + p) * (b[3] - b[1] + p)
    w = max(F(0), min(a[2], b[2]) - max(a[0], b[0]) + p)
    h = max(F(0), min(a[3], b[3]) - max(a[1], b[1]) + p)
    inter = w * h
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / ((area_a + area_b) - inter)


def np_nms(boxes, scores, thr, plus_one=0, nan_suppresses=False, max_output=-1, ids=None):
    F = ftype(boxes.dtype)
    bx = [tuple(F(v) for v in row) for row in boxes]
    order = sort_desc(scores.astype(np.float64))
    kept = []
    for i in order:
        if max_output >= 0 and len(kept) >= max_output:
            break
        ok = True
        for k in kept:
            if ids is not None and ids[k] != ids[i]:
                continue
            o = float(iou(bx[k], bx[i], plus_one, F))
            if (not (o <= thr)) if nan_suppresses else (o > thr):
                ok = False
                break
        if ok:
            kept.append(i)
    return kept


def nms_case(case, boxes, scores, thr=0.5, plus_one=0, nan_suppresses=0, max_output=-1, ids=None, order=None,
             crosscheck=True):
    attrs = {"iou_threshold": thr}
    if max_output != -1:
        attrs["max_output"] = max_output
    if plus_one:
        attrs["legacy_plus_one"] = 1
    if nan_suppresses:
        attrs["nan_iou_suppresses"] = 1
    if order:
        attrs["order"] = order
    kept = np_nms(boxes, scores, thr, plus_one, nan_suppresses, max_output, ids)
    if ids is None:
        op, inputs = "box_nms", [("boxes", boxes), ("scores", scores)]
    else:
        op, inputs = "box_batched_nms", [("boxes", boxes), ("scores", scores), ("idxs", ids)]
        if order == "by_id":
            kept = sorted(kept, key=lambda i: int(ids[i]))  # stable: score order within an id
    write_case(op, case, graph(inputs, op, attrs, ["keep"]), [a for _, a in inputs],
               [np.array(kept, np.int64)])
    if crosscheck and not plus_one and not nan_suppresses and max_output == -1 and order != "by_id":
        CROSSCHECK.append({"op": op, "case": case, "iou_threshold": thr})


def random_boxes(n, size=20.0, max_wh=8.0, dtype=np.float32):
    xy = RNG.uniform(0, size, (n, 2))
    wh = RNG.uniform(0.5, max_wh, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(dtype)


def clustered_boxes(n, clusters=5, dtype=np.float32):
    """Boxes jittered around a few centres, so that many pairs overlap strongly."""
    centres = RNG.uniform(10, 40, (clusters, 2))
    c = centres[RNG.integers(0, clusters, n)] + RNG.normal(0, 1.5, (n, 2))
    wh = RNG.uniform(4, 10, (n, 2))
    return np.concatenate([c - wh / 2, c + wh / 2], 1).astype(dtype)


def gen_nms():
    b = clustered_boxes(40)
    s = RNG.uniform(0, 1, 40).astype(np.float32)
    nms_case("random_iou_0_5", b, s, 0.5)
    nms_case("random_iou_0_3", b, s, 0.3)
    nms_case("random_iou_0_7_f64", b.astype(np.float64), s.astype(np.float64), 0.7)
    nms_case("random_f16", b.astype(np.float16), s.astype(np.float16), 0.5, crosscheck=False)
    nms_case("max_output_3", b, s, 0.5, max_output=3)
    nms_case("max_output_0", b, s, 0.5, max_output=0)
    nms_case("empty", np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), 0.5)
    # Equal scores: lower index first, so box 0 suppresses 2 and box 1 survives.
    ties = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [1, 1, 10, 10], [0, 0, 10, 10]], np.float32)
    nms_case("score_ties_lower_index_first", ties, np.full(4, 0.5, np.float32), 0.5)
    # IoU exactly 0.5 is kept (suppress only when >).
    half = np.array([[0, 0, 10, 10], [0, 0, 10, 5]], np.float32)
    nms_case("iou_equal_threshold_kept", half, np.array([0.9, 0.8], np.float32), 0.5)
    # Two identical zero-area boxes: IoU 0/0. torchvision keeps, Caffe2 suppresses.
    zero = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 4, 4], [2, 2, 2, 9]], np.float32)
    zs = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    nms_case("zero_area_nan_iou_kept", zero, zs, 0.5)
    nms_case("zero_area_nan_iou_suppressed", zero, zs, 0.5, nan_suppresses=1)
    # legacy_plus_one: [0,0,1,1] and [1,1,2,2] touch at a corner: IoU 0 without +1,
    # 1/7 with +1 (2x2 boxes overlapping in one pixel).
    touch = np.array([[0, 0, 1, 1], [1, 1, 2, 2], [0, 0, 9, 9], [0, 0, 9, 10]], np.float32)
    ts = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    nms_case("legacy_plus_one_off", touch, ts, 0.1)
    nms_case("legacy_plus_one_on", touch, ts, 0.1, plus_one=1)
    # Boxes far outside any image and with negative coordinates.
    out = np.array([[-50, -50, -40, -40], [-49, -49, -40, -40], [1000, 1000, 1010, 1010]], np.float32)
    nms_case("negative_and_far_coordinates", out, np.array([0.3, 0.9, 0.5], np.float32), 0.5)


def gen_batched_nms():
    b = clustered_boxes(40, clusters=4)
    s = RNG.uniform(0, 1, 40).astype(np.float32)
    ids = RNG.integers(0, 3, 40).astype(np.int64)
    nms_case("by_score", b, s, 0.5, ids=ids)
    nms_case("by_score_iou_0_3_i32_ids", b, s, 0.3, ids=ids.astype(np.int32))
    nms_case("by_id", b, s, 0.5, ids=ids, order="by_id")
    nms_case("by_id_max_output_5", b, s, 0.5, ids=ids, order="by_id", max_output=5)
    nms_case("by_score_max_output_5", b, s, 0.5, ids=ids, max_output=5)
    nms_case("empty", np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), 0.5, ids=np.zeros((0,), np.int64))
    # Same box in two classes: both kept; a duplicate within a class is suppressed.
    same = np.array([[0, 0, 10, 10]] * 4, np.float32)
    nms_case("same_box_different_ids", same, np.array([0.9, 0.8, 0.7, 0.7], np.float32), 0.5,
             ids=np.array([0, 1, 0, 2], np.int64))
    nms_case("ties_by_id_legacy", same, np.full(4, 0.5, np.float32), 0.5, ids=np.array([2, 1, 2, 0], np.int64),
             order="by_id", plus_one=1)
    nms_case("f64", b.astype(np.float64), s.astype(np.float64), 0.6, ids=ids)


# ---- box_decode, box_clip ------------------------------------------------------------------

def np_decode(boxes, deltas, weights, clamp, plus_one):
    F = ftype(deltas.dtype)
    p = F(plus_one)
    out = np.zeros(deltas.shape, np.float64)
    box_cols = boxes[:, -4:]
    wx, wy, ww, wh = (F(w) for w in weights)
    c = F(clamp)
    for r in range(deltas.shape[0]):
        x1, y1, x2, y2 = (F(v) for v in box_cols[r])
        w = (x2 - x1) + p
        h = (y2 - y1) + p
        cx = x1 + F(0.5) * w
        cy = y1 + F(0.5) * h
        for k in range(deltas.shape[1] // 4):
            d = [F(v) for v in deltas[r, 4 * k:4 * k + 4]]
            dx, dy, dw, dh = d[0] / wx, d[1] / wy, d[2] / ww, d[3] / wh
            dw = c if dw > c else dw
            dh = c if dh > c else dh
            pcx = dx * w + cx
            pcy = dy * h + cy
            pw = F(np.exp(dw)) * w
            ph = F(np.exp(dh)) * h
            out[r, 4 * k:4 * k + 4] = [pcx - F(0.5) * pw, pcy - F(0.5) * ph,
                                       (pcx + F(0.5) * pw) - p, (pcy + F(0.5) * ph) - p]
    return out.astype(deltas.dtype)


def decode_case(case, boxes, deltas, weights=None, clamp=None, plus_one=0, tol=(1e-6, 1e-5)):
    attrs = {}
    if weights is not None:
        attrs["weights"] = weights
    if clamp is not None:
        attrs["scale_clamp"] = clamp
    if plus_one:
        attrs["legacy_plus_one"] = 1
    expected = np_decode(boxes, deltas, weights or [1, 1, 1, 1], math.log(1000.0 / 16) if clamp is None else clamp,
                         plus_one)
    if deltas.dtype == np.float16:
        tol = (2e-3, 2e-2)
    write_case("box_decode", case, graph([("boxes", boxes), ("deltas", deltas)], "box_decode", attrs, ["y"]),
               [boxes, deltas], [expected], tol)


def gen_decode():
    b = random_boxes(6, size=50, max_wh=30)
    d = RNG.normal(0, 0.5, (6, 12)).astype(np.float32)
    decode_case("three_classes_weights_10_10_5_5", b, d, [10.0, 10.0, 5.0, 5.0])
    decode_case("unit_weights", b, d[:, :4].copy())
    decode_case("legacy_plus_one", b, d, [10.0, 10.0, 5.0, 5.0], plus_one=1)
    big = d.copy()
    big[:, 2::4] = 9.0  # exp(9) would be huge: clamped to log(1000/16)
    big[:, 3::4] = -3.0
    decode_case("scale_clamp_default", b, big)
    decode_case("scale_clamp_custom", b, big, clamp=1.5)
    rois5 = np.concatenate([np.zeros((6, 1), np.float32), b], 1)
    decode_case("rois_with_batch_column", rois5, d, [10.0, 10.0, 5.0, 5.0])
    decode_case("zero_width_boxes", np.array([[5, 5, 5, 9], [0, 0, 0, 0]], np.float32),
                RNG.normal(0, 1, (2, 4)).astype(np.float32))
    decode_case("empty", np.zeros((0, 4), np.float32), np.zeros((0, 8), np.float32))
    decode_case("f64", b.astype(np.float64), d.astype(np.float64), [10.0, 10.0, 5.0, 5.0], tol=(1e-12, 1e-10))
    decode_case("f16", b.astype(np.float16), d.astype(np.float16), [10.0, 10.0, 5.0, 5.0])


def np_clip(boxes, h, w, plus_one):
    F = ftype(boxes.dtype)
    xm, ym = F(w - plus_one), F(h - plus_one)
    out = boxes.astype(np.float64).copy()
    for idx in np.ndindex(*boxes.shape[:-1]):
        for j, hi in enumerate([xm, ym, xm, ym]):
            v = out[idx + (j,)]
            if v > hi:
                v = hi
            if v < 0:
                v = 0
            out[idx + (j,)] = v
    return out.astype(boxes.dtype)


def clip_case(case, boxes, size=None, attr_hw=None, plus_one=0):
    attrs = {}
    if attr_hw:
        attrs["height"], attrs["width"] = attr_hw
    if plus_one:
        attrs["legacy_plus_one"] = 1
    inputs = [("boxes", boxes)] + ([("image_size", size)] if size is not None else [])
    h, w = (float(size[0]), float(size[1])) if size is not None else attr_hw
    write_case("box_clip", case, graph(inputs, "box_clip", attrs, ["y"]), [a for _, a in inputs],
               [np_clip(boxes, h, w, plus_one)])


def gen_clip():
    b = np.array([[-5, -3, 12, 9], [2, 3, 4, 5], [15, 15, 30, 30], [-10, 4, -2, 30], [np.nan, 1, 2, np.inf]],
                 np.float32)
    clip_case("image_size_i64", b, np.array([10, 8], np.int64))
    clip_case("im_info_f32_row", b, np.array([10, 8, 1.5], np.float32))
    clip_case("attrs", b, attr_hw=(10, 8))
    clip_case("legacy_plus_one", b, np.array([10, 8], np.int64), plus_one=1)
    clip_case("rank3_f64", RNG.uniform(-5, 25, (2, 3, 4)).astype(np.float64), np.array([20, 16], np.int32))
    clip_case("empty", np.zeros((0, 4), np.float32), np.array([10, 8], np.int64))


# ---- fpn_level_assign ---------------------------------------------------------------------

def np_fpn(boxes, scale, level0, lo, hi, eps, plus_one):
    F = ftype(boxes.dtype)
    out = []
    for row in boxes[:, -4:]:
        x1, y1, x2, y2 = (F(v) for v in row)
        p = F(plus_one)
        with np.errstate(invalid="ignore", divide="ignore"):
            area = (x2 - x1 + p) * (y2 - y1 + p)
            s = F(np.sqrt(area))
            ratio = s / F(scale) + F(eps)
            lvl = math.floor(float(F(level0) + F(np.log2(ratio))))  if not np.isnan(ratio) else float("nan")
        if math.isnan(lvl) or lvl <= lo:
            out.append(0)
        else:
            out.append(min(lvl, hi) - lo)
    return np.array(out)


def fpn_case(case, boxes, eps=1e-6, plus_one=0, lo=2, hi=5, dtype="i64", scale=224.0, level0=4):
    attrs = {}
    if eps != 1e-6:
        attrs["epsilon"] = eps
    if plus_one:
        attrs["legacy_plus_one"] = 1
    if (lo, hi) != (2, 5):
        attrs["min_level"], attrs["max_level"] = lo, hi
    if scale != 224.0:
        attrs["canonical_scale"] = scale
    if level0 != 4:
        attrs["canonical_level"] = level0
    if dtype != "i64":
        attrs["dtype"] = dtype
    expected = np_fpn(boxes, scale, level0, lo, hi, eps, plus_one).astype(np.int64 if dtype == "i64" else np.int32)
    write_case("fpn_level_assign", case, graph([("boxes", boxes)], "fpn_level_assign", attrs, ["lvl"]), [boxes],
               [expected])


def gen_fpn():
    sizes = [1, 10, 56, 111.9, 112, 150, 223.99, 224, 300, 447.9, 448, 896, 2000]
    b = np.array([[3, 4, 3 + s, 4 + s] for s in sizes] + [[5, 5, 5, 5], [5, 5, 2, 9]], np.float32)
    fpn_case("caffe2_eps_1e-6", b)
    fpn_case("detectron2_eps_1e-8", b, eps=1e-8)
    fpn_case("legacy_plus_one", b, plus_one=1)
    fpn_case("levels_3_to_6_i32", b, lo=3, hi=6, dtype="i32")
    fpn_case("rois_with_batch_column", np.concatenate([np.ones((len(b), 1), np.float32), b], 1))
    fpn_case("f64", b.astype(np.float64), eps=1e-8)
    fpn_case("empty", np.zeros((0, 4), np.float32))
    # Boundary: sqrt(area)/224 a hair below 2 lands on level 5 only thanks to epsilon 1e-6 in f64.
    edge = np.array([[0, 0, 448 - 1e-4, 448 - 1e-4], [0, 0, 448 - 1e-7, 448]], np.float64)
    fpn_case("epsilon_matters_f64_1e-6", edge)
    fpn_case("epsilon_matters_f64_1e-8", edge, eps=1e-8)


# ---- sort -----------------------------------------------------------------------------------

def np_sort(x, axis, descending, k=None):
    xm = np.moveaxis(x, axis, -1)
    flat = xm.reshape(int(np.prod(xm.shape[:-1])), xm.shape[-1])
    idx = np.zeros(flat.shape, np.int64)
    for r in range(flat.shape[0]):
        vals = [float(v) if np.issubdtype(x.dtype, np.floating) else int(v) for v in flat[r]]
        if descending:
            key = lambda i: (0 if (isinstance(vals[i], float) and math.isnan(vals[i])) else 1,  # noqa: E731
                             -vals[i] if not (isinstance(vals[i], float) and math.isnan(vals[i])) else 0, i)
        else:
            key = lambda i: (1 if (isinstance(vals[i], float) and math.isnan(vals[i])) else 0,  # noqa: E731
                             vals[i] if not (isinstance(vals[i], float) and math.isnan(vals[i])) else 0, i)
        idx[r] = sorted(range(len(vals)), key=key)
    n = xm.shape[-1] if k is None else min(k, xm.shape[-1])
    idx = idx[:, :n].reshape(xm.shape[:-1] + (n,))
    vals = np.take_along_axis(xm, idx, -1)
    return np.moveaxis(vals, -1, axis), np.moveaxis(idx, -1, axis)


def sort_case(case, x, axis=-1, descending=1, k=None):
    attrs = {}
    if axis != -1:
        attrs["axis"] = axis
    if not descending:
        attrs["descending"] = 0
    inputs = [("x", x)] + ([("k", np.array(k, np.int64))] if k is not None else [])
    v, i = np_sort(x, axis, descending, None if k is None else int(np.array(k).reshape(-1)[0]))
    write_case("sort", case, graph(inputs, "sort", attrs, ["values", "indices"]), [a for _, a in inputs], [v, i])


def gen_sort():
    x = np.array([0.5, 0.2, 0.9, 0.5, np.nan, -1.0, 0.9, 0.5], np.float32)
    sort_case("descending_ties_nan_first", x)
    sort_case("ascending_ties_nan_last", x, descending=0)
    sort_case("topk_3", x, k=[3])
    sort_case("topk_scalar_k_larger_than_n_clamps", x[:4].copy(), k=10)
    sort_case("topk_0", x, k=0)
    sort_case("axis0_2d_f64", RNG.integers(0, 4, (5, 3)).astype(np.float64), axis=0)
    sort_case("i64_large_values", np.array([2**62, -2**62, 2**62 + 1, 7, 7], np.int64))
    sort_case("u8_ascending_topk", RNG.integers(0, 5, (2, 9)).astype(np.uint8), descending=0, k=4)
    sort_case("f16", RNG.standard_normal(12).astype(np.float16))
    sort_case("empty", np.zeros((0,), np.float32), k=5)


if __name__ == "__main__":
    gen_nms()
    gen_batched_nms()
    gen_decode()
    gen_clip()
    gen_fpn()
    gen_sort()
    import gen_detect2_rest  # noqa: E402  (roi_align and proposals: kept in a second file)
    gen_detect2_rest.main(CROSSCHECK)
    with open(os.path.join(HERE, "detect2_crosscheck.json"), "w") as f:
        json.dump(CROSSCHECK, f, indent=1)
        f.write("\n")
