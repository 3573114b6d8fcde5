#!/usr/bin/env python3
"""tools/make_caffe2_fixtures.py: numpy references for tests/unit/test_caffe2.c.

Each case is one Caffe2 operator whose NetDef the C test builds itself (the operator
type and arguments are listed in the test next to the case name). This script writes
tests/data/caffe2/<case>.in<k>.npy (the operator's inputs) and <case>.out<k>.npy (its
outputs), computed here with numpy by transliterating the Caffe2 C++ operators'
documented semantics (float32 arithmetic where Caffe2 computes in float):

  add_legacy_bcast   Add(A [2,3,4,5], B [3,4]) broadcast=1 axis=1
  resize_nearest     ResizeNearest(X [1,2,3,5]) height_scale=2 width_scale=1.5:
                     out = floor(in*scale), src = min(int(dst/scale), in-1)
  softmax_axis1      Softmax(X [2,3,2,2]) axis=1: softmax over the flattened [2,12]
  concat_split       Concat(A [2,3], B [2,1]) axis=1 -> Y, split_info i32 [3, 1]
  slice_negative     Slice(X [3,6]) starts=[1,-3] ends=[-1,-2]: negative i means dim+1+i
  affine_channel     AffineChannel(X [2,3,2,2], scale [3], bias [3])
  bbox_transform     BBoxTransform(rois [6,5], deltas [6,8], im_info [1,3] scale 2)
                     weights (10,10,5,5), apply_scale=1, legacy_plus_one default (1)
  box_with_nms       BoxWithNMSLimit(scores [20,4], boxes [20,16]) score_thresh=0.3
                     nms=0.5 detections_per_im=8, other arguments Caffe2 defaults
                     (background column 0, classes include background, +1 widths)
Run from the repo root with /work/venv/bin/python.
"""
import math
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "caffe2")
rng = np.random.default_rng(20240702)
f32 = np.float32


def save(case, inputs, outputs):
    for k, a in enumerate(inputs):
        np.save(os.path.join(OUT, f"{case}.in{k}.npy"), a)
    for k, a in enumerate(outputs):
        np.save(os.path.join(OUT, f"{case}.out{k}.npy"), a)


def add_legacy_bcast():
    a = rng.standard_normal((2, 3, 4, 5)).astype(f32)
    b = rng.standard_normal((3, 4)).astype(f32)
    save("add_legacy_bcast", [a, b], [a + b[None, :, :, None]])


def resize_nearest():
    x = rng.standard_normal((1, 2, 3, 5)).astype(f32)
    hs, ws = f32(2.0), f32(1.5)
    oh, ow = int(3 * hs), int(5 * ws)
    y = np.zeros((1, 2, oh, ow), f32)
    for i in range(oh):
        si = min(int(f32(i) / hs), 2)
        for j in range(ow):
            sj = min(int(f32(j) / ws), 4)
            y[:, :, i, j] = x[:, :, si, sj]
    save("resize_nearest", [x], [y])


def softmax_axis1():
    x = rng.standard_normal((2, 3, 2, 2)).astype(f32)
    flat = x.reshape(2, 12).astype(np.float64)
    e = np.exp(flat - flat.max(axis=1, keepdims=True))
    save("softmax_axis1", [x], [(e / e.sum(axis=1, keepdims=True)).astype(f32).reshape(x.shape)])


def concat_split():
    a = rng.standard_normal((2, 3)).astype(f32)
    b = rng.standard_normal((2, 1)).astype(f32)
    save("concat_split", [a, b], [np.concatenate([a, b], axis=1), np.array([3, 1], np.int32)])


def slice_negative():
    x = rng.standard_normal((3, 6)).astype(f32)
    # starts [1, -3] -> [1, 6+1-3=4]; ends [-1, -2] -> [3, 6+1-2=5]
    save("slice_negative", [x], [x[1:3, 4:5]])


def affine_channel():
    x = rng.standard_normal((2, 3, 2, 2)).astype(f32)
    s = rng.standard_normal(3).astype(f32)
    b = rng.standard_normal(3).astype(f32)
    save("affine_channel", [x, s, b], [x * s[None, :, None, None] + b[None, :, None, None]])


def bbox_transform():
    weights = [f32(10), f32(10), f32(5), f32(5)]
    plus = f32(1)
    clip = f32(math.log(1000.0 / 16.0))
    im_info = np.array([[61.0, 83.0, 2.0]], f32)
    xy = rng.uniform(0, 140, (6, 2)).astype(f32)
    wh = rng.uniform(4, 60, (6, 2)).astype(f32)
    rois = np.concatenate([np.zeros((6, 1), f32), xy, xy + wh], axis=1)
    deltas = rng.standard_normal((6, 8)).astype(f32)
    deltas[0, 2] = 9.0  # above the dw clamp
    out = np.zeros_like(deltas)
    for r in range(6):
        info = im_info[int(rois[r, 0])]
        scale = info[2]
        img_h = int(float(info[0] / scale) + 0.5)
        img_w = int(float(info[1] / scale) + 0.5)
        x1, y1, x2, y2 = (rois[r, 1:5] / scale).astype(f32)
        w = x2 - x1 + plus
        h = y2 - y1 + plus
        cx = x1 + f32(0.5) * w
        cy = y1 + f32(0.5) * h
        for k in range(2):
            d = deltas[r, 4 * k:4 * k + 4]
            dx, dy = d[0] / weights[0], d[1] / weights[1]
            dw, dh = min(d[2] / weights[2], clip), min(d[3] / weights[3], clip)
            pcx, pcy = dx * w + cx, dy * h + cy
            pw, ph = np.exp(dw) * w, np.exp(dh) * h
            box = [pcx - f32(0.5) * pw, pcy - f32(0.5) * ph, pcx + f32(0.5) * pw - plus, pcy + f32(0.5) * ph - plus]
            bounds = [img_w - 1, img_h - 1, img_w - 1, img_h - 1]
            out[r, 4 * k:4 * k + 4] = [max(min(v, f32(m)), f32(0)) * scale for v, m in zip(box, bounds)]
    save("bbox_transform", [rois, deltas, im_info], [out.astype(f32), np.array([6.0], f32)])


def iou_plus_one(a, b):
    iw = max(f32(0), min(a[2], b[2]) - max(a[0], b[0]) + f32(1))
    ih = max(f32(0), min(a[3], b[3]) - max(a[1], b[1]) + f32(1))
    inter = iw * ih
    area_a = (a[2] - a[0] + f32(1)) * (a[3] - a[1] + f32(1))
    area_b = (b[2] - b[0] + f32(1)) * (b[3] - b[1] + f32(1))
    return inter / (area_a + area_b - inter)


def box_with_nms():
    R, C = 20, 4
    thresh, nms, limit = f32(0.3), f32(0.5), 8
    scores = rng.uniform(0, 1, (R, C)).astype(f32)
    centers = rng.uniform(20, 60, (R, 1, 2)).astype(f32)
    jitter = rng.uniform(-6, 6, (R, C, 2)).astype(f32)
    size = rng.uniform(10, 30, (R, C, 2)).astype(f32)
    lo = centers + jitter
    boxes = np.concatenate([lo, lo + size], axis=2).reshape(R, 4 * C).astype(f32)
    keeps = {}
    for j in range(1, C):  # column 0 is background (input_boxes_include_bg_cls=1)
        cand = [i for i in range(R) if scores[i, j] > thresh]
        cand.sort(key=lambda i: -scores[i, j])  # stable: ties keep the lower index first
        kept = []
        for i in cand:
            if all(iou_plus_one(boxes[i, 4 * j:4 * j + 4], boxes[k, 4 * j:4 * j + 4]) <= nms for k in kept):
                kept.append(i)
            if len(kept) == limit:
                break
        keeps[j] = kept
    total = sum(len(v) for v in keeps.values())
    if total > limit:
        allk = sorted(((j, i) for j in keeps for i in keeps[j]), key=lambda t: -scores[t[1], t[0]])[:limit]
        keeps = {j: [i for (jj, i) in allk if jj == j] for j in keeps}
    out_s, out_b, out_c, out_k = [], [], [], []
    for j in range(1, C):
        for i in keeps[j]:
            out_s.append(scores[i, j])
            out_b.append(boxes[i, 4 * j:4 * j + 4])
            out_c.append(float(j))
            out_k.append(i)
    sizes = np.zeros((1, C), np.int32)
    for j in range(1, C):
        sizes[0, j] = len(keeps[j])
    save("box_with_nms", [scores, boxes],
         [np.array(out_s, f32), np.array(out_b, f32).reshape(-1, 4), np.array(out_c, f32),
          np.array([len(out_s)], f32), np.array(out_k, np.int32), sizes])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for fn in (add_legacy_bcast, resize_nearest, softmax_axis1, concat_split, slice_negative, affine_channel,
               bbox_transform, box_with_nms):
        fn()
