"""tools/optests/gen_detect2_rest.py: the box_roi_align, generate_proposals and
find_top_rpn_proposals cases of gen_detect2.py (run that script, not this one).
NumPy references written from detectron2-export.md §3.2/§3.4 and the torchvision
roi_align documentation; f32 geometry on np.float32 scalars (see gen_detect2.py).
"""
import math

import numpy as np

from common import write_case
from gen_detect2 import ftype, graph, np_clip, np_decode, np_nms, random_boxes, sort_desc

RNG = np.random.default_rng(99)


# ---- box_roi_align ------------------------------------------------------------------------

def bilinear(plane, y, x, F):
    h, w = plane.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return 0.0
    y = F(0) if y <= 0 else y
    x = F(0) if x <= 0 else x
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = F(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = F(x0)
    else:
        x1 = x0 + 1
    ly, lx = F(y - F(y0)), F(x - F(x0))
    hy, hx = F(1) - ly, F(1) - lx
    return (float(hy * hx) * plane[y0, x0] + float(hy * lx) * plane[y0, x1] +
            float(ly * hx) * plane[y1, x0] + float(ly * lx) * plane[y1, x1])


def np_roi_align(x, rois, bidx, ph, pw, scale, sr, aligned, mode):
    F = ftype(x.dtype)
    xd = x.astype(np.float64)
    out = np.zeros((rois.shape[0], x.shape[1], ph, pw))
    off = 0.5 if aligned else 0.0
    for r in range(rois.shape[0]):
        if rois.shape[1] == 5:
            b, coords = int(rois[r, 0]), rois[r, 1:]
        else:
            b, coords = (int(bidx[r]) if bidx is not None else 0), rois[r]
        sw, sh, ew, eh = (F(float(F(c)) * scale - off) for c in coords)
        rw, rh = F(ew - sw), F(eh - sh)
        if not aligned:
            rw, rh = max(rw, F(1)), max(rh, F(1))
        bh, bw = F(rh / F(ph)), F(rw / F(pw))
        gh = sr if sr > 0 else int(math.ceil(float(bh)))
        gw = sr if sr > 0 else int(math.ceil(float(bw)))
        count = max(gh * gw, 1)
        for c in range(x.shape[1]):
            plane = xd[b, c]
            for i in range(ph):
                for j in range(pw):
                    vals = []
                    for iy in range(gh):
                        y = F(F(sh + F(F(i) * bh)) + F(F(F(iy + 0.5) * bh) / F(gh)))
                        for ix in range(gw):
                            xx = F(F(sw + F(F(j) * bw)) + F(F(F(ix + 0.5) * bw) / F(gw)))
                            vals.append(bilinear(plane, y, xx, F))
                    if mode == "max":
                        out[r, c, i, j] = max(vals) if vals else 0.0
                    else:
                        out[r, c, i, j] = sum(vals) / count
    return out.astype(x.dtype)


def roi_case(crosscheck, case, x, rois, bidx=None, ph=2, pw=2, scale=1.0, sr=0, aligned=1, mode="avg"):
    attrs = {"pooled_h": ph, "pooled_w": pw}
    if scale != 1.0:
        attrs["spatial_scale"] = scale
    if sr:
        attrs["sampling_ratio"] = sr
    if aligned:
        attrs["aligned"] = 1
    if mode != "avg":
        attrs["mode"] = mode
    inputs = [("x", x), ("rois", rois)] + ([("batch_indices", bidx)] if bidx is not None else [])
    expected = np_roi_align(x, rois, bidx, ph, pw, scale, sr, aligned, mode)
    tol = {np.float32: (1e-5, 1e-5), np.float16: (2e-3, 2e-3), np.float64: (1e-10, 1e-10)}[x.dtype.type]
    write_case("box_roi_align", case, graph(inputs, "box_roi_align", attrs, ["y"]), [a for _, a in inputs],
               [expected], tol)
    if mode == "avg" and x.dtype != np.float16:
        crosscheck.append({"op": "box_roi_align", "case": case, "spatial_scale": scale, "pooled_h": ph,
                           "pooled_w": pw, "sampling_ratio": sr, "aligned": aligned})


def gen_roi_align(cc):
    x = RNG.standard_normal((2, 3, 10, 12)).astype(np.float32)
    rois = np.array([[0, 1.0, 1.5, 30.0, 20.0], [1, 4.0, 0.0, 44.5, 38.0], [0, -6.0, -4.0, 12.0, 10.0],
                     [1, 30.0, 25.0, 60.0, 50.0], [0, 8.0, 8.0, 9.0, 8.5], [1, 10.0, 10.0, 10.0, 10.0]],
                    np.float32)
    roi_case(cc, "aligned_adaptive", x, rois, ph=3, pw=2, scale=0.25)
    roi_case(cc, "aligned_sr2", x, rois, ph=2, pw=3, scale=0.25, sr=2)
    roi_case(cc, "legacy_adaptive", x, rois, ph=3, pw=3, scale=0.25, aligned=0)
    roi_case(cc, "legacy_sr2", x, rois, ph=2, pw=2, scale=0.25, sr=2, aligned=0)
    roi_case(cc, "pooled_7_scale_0_5", x, rois, ph=7, pw=7, scale=0.5)
    roi_case(cc, "rois4_with_batch_indices", x, rois[:, 1:].copy(), rois[:, 0].astype(np.int64), scale=0.25)
    roi_case(cc, "rois4_without_batch_is_batch_0", x, rois[:, 1:].copy(), scale=0.25, aligned=0)
    roi_case(cc, "empty_rois", x, np.zeros((0, 5), np.float32), ph=7, pw=7)
    roi_case(cc, "outside_image", x, np.array([[0, -40, -40, -20, -20], [1, 60, 50, 90, 80], [0, 47, 39, 52, 44]],
                                              np.float32), scale=0.25, sr=2)
    # A zero-size roi: aligned gives an empty adaptive grid (0), legacy a 1x1 roi.
    zero = np.array([[0, 16.0, 16.0, 16.0, 16.0]], np.float32)
    roi_case(cc, "zero_size_roi_aligned", x, zero, scale=0.25)
    roi_case(cc, "zero_size_roi_legacy", x, zero, scale=0.25, aligned=0)
    roi_case(cc, "max_mode", x, rois, ph=2, pw=2, scale=0.25, sr=2, mode="max")
    roi_case(cc, "f64", x.astype(np.float64), rois.astype(np.float64), ph=3, pw=2, scale=0.25)
    roi_case(cc, "f16", x.astype(np.float16), rois.astype(np.float16), ph=2, pw=2, scale=0.25)


# ---- generate_proposals -----------------------------------------------------------------------

def np_generate_proposals(scores, deltas, im_info, anchors, scale, pre, post, thr, min_size, plus_one):
    F = ftype(deltas.dtype)
    n_img, na, h, w = scores.shape
    stride = F(1.0 / float(F(scale)))
    rows, probs = [], []
    for n in range(n_img):
        flat = scores[n].reshape(-1)
        order = sort_desc(flat.astype(np.float64))
        if 0 < pre < len(order):
            order = order[:pre]
        im_h, im_w, im_s = (float(v) for v in im_info[n])
        boxes, sc = [], []
        for o in order:
            a, y, x = o // (h * w), (o % (h * w)) // w, o % w
            sx, sy = F(F(x) * stride), F(F(y) * stride)
            anc = np.array([F(anchors[a, 0]) + sx, F(anchors[a, 1]) + sy, F(anchors[a, 2]) + sx,
                            F(anchors[a, 3]) + sy], deltas.dtype)
            d = deltas[n, 4 * a:4 * a + 4, y, x].reshape(1, 4)
            box = np_decode(anc.reshape(1, 4), d, [1, 1, 1, 1], math.log(1000.0 / 16), plus_one)
            box = np_clip(box, float(int(im_h)), float(int(im_w)), plus_one)[0]
            p = F(plus_one)
            bw = F(box[2]) - F(box[0]) + p
            bh = F(box[3]) - F(box[1]) + p
            cx = F(box[0]) + bw / F(2)
            cy = F(box[1]) + bh / F(2)
            if float(bw) >= min_size * im_s and float(bh) >= min_size * im_s and float(cx) < im_w and float(cy) < im_h:
                boxes.append(box)
                sc.append(flat[o])
        bx = np.array(boxes, deltas.dtype).reshape(-1, 4)
        # Candidates are already in score order: NMS visits them in that order.
        keep = np_nms(bx, np.arange(len(boxes), 0, -1).astype(np.float64), thr, plus_one, True,
                      post if post > 0 else -1)
        for k in keep:
            rows.append([n] + [float(v) for v in bx[k]])
            probs.append(sc[k])
    return np.array(rows, scores.dtype).reshape(-1, 5), np.array(probs, scores.dtype)


def gp_case(case, scores, deltas, im_info, anchors, scale=0.25, pre=6000, post=300, thr=0.7, min_size=16.0,
            plus_one=1):
    attrs = {"spatial_scale": scale}
    if pre != 6000:
        attrs["pre_nms_topn"] = pre
    if post != 300:
        attrs["post_nms_topn"] = post
    if thr != 0.7:
        attrs["nms_threshold"] = thr
    if min_size != 16.0:
        attrs["min_size"] = min_size
    if plus_one != 1:
        attrs["legacy_plus_one"] = plus_one
    inputs = [("scores", scores), ("deltas", deltas), ("im_info", im_info), ("anchors", anchors)]
    rois, probs = np_generate_proposals(scores, deltas, im_info, anchors, scale, pre, post, thr, min_size, plus_one)
    write_case("generate_proposals", case, graph(inputs, "generate_proposals", attrs, ["rois", "probs"]),
               [a for _, a in inputs], [rois, probs], (1e-5, 1e-4))


def gen_generate_proposals():
    n, a, h, w = 2, 3, 4, 5
    scores = RNG.standard_normal((n, a, h, w)).astype(np.float32)
    deltas = RNG.normal(0, 0.3, (n, 4 * a, h, w)).astype(np.float32)
    anchors = np.array([[-8, -8, 8, 8], [-16, -8, 16, 8], [-8, -16, 8, 16]], np.float32)
    im_info = np.array([[14, 18, 1.0], [16, 20, 0.5]], np.float32)
    gp_case("detectron2_args", scores, deltas, im_info, anchors, pre=20, post=8, min_size=0.0, plus_one=0)
    gp_case("caffe2_defaults_legacy", scores, deltas, im_info, anchors, min_size=2.0)
    gp_case("all_candidates_no_post_limit", scores, deltas, im_info, anchors, pre=0, post=0, thr=0.5,
            min_size=0.0, plus_one=0)
    gp_case("min_size_scaled_by_im_info", scores, deltas, im_info, anchors, pre=30, post=30, min_size=6.0,
            plus_one=0)
    ties = np.zeros((1, a, h, w), np.float32)
    gp_case("score_ties_lower_index_first", ties, deltas[:1], im_info[:1], anchors, pre=10, post=5, min_size=0.0,
            plus_one=0)
    # Image smaller than the anchors: boxes clip to zero width, kept with min_size 0.
    gp_case("clipped_to_zero_width", scores[:1], deltas[:1], np.array([[1, 1, 1.0]], np.float32), anchors,
            pre=6, post=6, min_size=0.0, plus_one=0)
    gp_case("f64", scores.astype(np.float64), deltas.astype(np.float64), im_info.astype(np.float64),
            anchors.astype(np.float64), pre=20, post=8, min_size=0.0, plus_one=0)


# ---- find_top_rpn_proposals ----------------------------------------------------------------

def np_find_top(sizes, levels, pre, post, thr, min_size):
    rows, logits = [], []
    F = ftype(levels[0][0].dtype)
    for n in range(sizes.shape[0]):
        im_h, im_w = float(sizes[n, 0]), float(sizes[n, 1])
        boxes, sc, ids = [], [], []
        for lvl, (p, lg) in enumerate(levels):
            order = sort_desc(lg[n].astype(np.float64))[:min(p.shape[1], pre)]
            for i in order:
                b = p[n, i]
                s = float(lg[n, i])
                if not (np.all(np.isfinite(b)) and math.isfinite(s)):
                    continue
                b = np_clip(b.reshape(1, 4), im_h, im_w, 0)[0]
                if not (float(F(b[2]) - F(b[0])) > min_size and float(F(b[3]) - F(b[1])) > min_size):
                    continue
                boxes.append(b)
                sc.append(s)
                ids.append(lvl)
        bx = np.array(boxes, levels[0][0].dtype).reshape(-1, 4)
        keep = np_nms(bx, np.array(sc, np.float64), thr, 0, False, post, np.array(ids, np.int64))
        for k in keep:
            rows.append([n] + [float(v) for v in bx[k]])
            logits.append(sc[k])
    return (np.array(rows, levels[0][0].dtype).reshape(-1, 5), np.array(logits, levels[0][1].dtype))


def ft_case(case, sizes, levels, pre=1000, post=1000, thr=0.7, min_size=0.0):
    attrs = {}
    if pre != 1000:
        attrs["pre_nms_topk"] = pre
    if post != 1000:
        attrs["post_nms_topk"] = post
    if thr != 0.7:
        attrs["nms_threshold"] = thr
    if min_size != 0.0:
        attrs["min_size"] = min_size
    inputs = [("image_sizes", sizes)]
    for i, (p, lg) in enumerate(levels):
        inputs += [("proposals%d" % i, p), ("logits%d" % i, lg)]
    rois, logits = np_find_top(sizes, levels, pre, post, thr, min_size)
    write_case("find_top_rpn_proposals", case, graph(inputs, "find_top_rpn_proposals", attrs, ["rois", "logits"]),
               [a for _, a in inputs], [rois, logits])


def rpn_level(n, m, size=40.0, dtype=np.float32):
    p = np.stack([random_boxes(m, size=size, max_wh=15.0, dtype=dtype) - 3.0 for _ in range(n)])
    return p.astype(dtype), RNG.standard_normal((n, m)).astype(dtype)


def gen_find_top():
    sizes = np.array([[32, 40], [40, 36]], np.int64)
    levels = [rpn_level(2, 30), rpn_level(2, 12), rpn_level(2, 4)]
    ft_case("three_levels", sizes, levels, pre=10, post=12, thr=0.5)
    ft_case("no_limits", sizes, levels)
    ft_case("post_topk_4", sizes, levels, pre=8, post=4, thr=0.7)
    ft_case("min_size_strict", sizes, levels, pre=20, min_size=5.0)
    bad = [(lv[0].copy(), lv[1].copy()) for lv in levels]
    bad[0][0][0, 3, 2] = np.inf
    bad[0][1][1, 5] = np.nan
    bad[1][1][0, 0] = -np.inf
    ft_case("non_finite_dropped", sizes, bad, pre=10, post=20, thr=0.5)
    # Zero-width after clipping (boxes left of the image) are dropped even with min_size 0.
    left = np.array([[[-9, 0, -1, 5], [0, 0, 5, 5]]], np.float32)
    ft_case("zero_width_dropped", sizes[:1], [(left, np.array([[2.0, 1.0]], np.float32))])
    ft_case("empty_level", sizes, [levels[0], (np.zeros((2, 0, 4), np.float32), np.zeros((2, 0), np.float32))],
            pre=5, post=6)
    ft_case("f32_sizes_f64_boxes", sizes.astype(np.float32),
            [(p.astype(np.float64), lg.astype(np.float64)) for p, lg in levels[:2]], pre=6, post=9)


def main(crosscheck):
    gen_roi_align(crosscheck)
    gen_generate_proposals()
    gen_find_top()
