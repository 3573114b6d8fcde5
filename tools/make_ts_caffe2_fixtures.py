#!/usr/bin/env python3
"""tools/make_ts_caffe2_fixtures.py: a traced TorchScript module calling `_caffe2::` ops
(as detectron2's caffe2_tracing export saved with torch.jit.save contains), with NumPy
reference outputs.

Current torch has no `_caffe2` operators, so this script registers stand-ins with
torch.library under the c10 schemas of ../shared/docs/detectron2-export.md §2.1
(tensors first, then the Caffe2 arguments in order), traces a module that calls them
and saves it: the archive's code then says `ops._caffe2.RoIAlign(x, rois, "NCHW", ...)`
exactly as a real export does. The stand-ins compute the NumPy implementations below
(written from Caffe2's documented semantics), and the reference outputs are those
NumPy results: nothing comes from d2rt.

Writes tests/data/torchscript_ops/caffe2_trace/ (the layout of
tools/make_ts_op_fixtures.py; tests/unit/test_ts_import.c runs every case).
Run: /work/venv-torch/bin/python tools/make_ts_caffe2_fixtures.py
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_ts_op_fixtures import write  # noqa: E402


# ---- NumPy semantics of the Caffe2 operators ----

def resize_nearest(x, width_scale, height_scale):
    n, c, h, w = x.shape
    oh, ow = int(h * height_scale), int(w * width_scale)
    ys = np.minimum((np.arange(oh) / height_scale).astype(np.int64), h - 1)
    xs = np.minimum((np.arange(ow) / width_scale).astype(np.int64), w - 1)
    return x[:, :, ys][:, :, :, xs]


def batch_permutation(x, indices):
    return x[indices.astype(np.int64)]


def bilinear(img, y, x):
    """Caffe2/torchvision RoIAlign sampling of img [C,H,W] at (y, x)."""
    c, h, w = img.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return np.zeros(c, np.float64)
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
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
    hy, hx = 1 - ly, 1 - lx
    return (hy * hx * img[:, y0, x0] + hy * lx * img[:, y0, x1] + ly * hx * img[:, y1, x0]
            + ly * lx * img[:, y1, x1])


def roi_align(x, rois, spatial_scale, pooled_h, pooled_w, sampling_ratio, aligned):
    out = np.zeros((rois.shape[0], x.shape[1], pooled_h, pooled_w), np.float64)
    offset = 0.5 if aligned else 0.0
    for r, roi in enumerate(rois.astype(np.float64)):
        b, box = (int(roi[0]), roi[1:]) if rois.shape[1] == 5 else (0, roi)
        x1, y1, x2, y2 = box * spatial_scale - offset
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / pooled_h, rw / pooled_w
        gh = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rh / pooled_h))
        gw = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rw / pooled_w))
        count = max(gh * gw, 1)
        for ph in range(pooled_h):
            for pw in range(pooled_w):
                acc = np.zeros(x.shape[1])
                for iy in range(gh):
                    yy = y1 + ph * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        xx = x1 + pw * bw + (ix + 0.5) * bw / gw
                        acc += bilinear(x[b].astype(np.float64), yy, xx)
                out[r, :, ph, pw] = acc / count
    return out.astype(np.float32)


def bbox_transform(rois, deltas, im_info, weights):
    """apply_scale=1, rotated=0, legacy_plus_one=0; rois sorted by batch index."""
    wx, wy, ww, wh = weights
    clip = math.log(1000.0 / 16.0)
    out = np.zeros(deltas.shape, np.float32)
    splits = np.zeros(im_info.shape[0], np.float32)
    for r in range(rois.shape[0]):
        b = int(rois[r, 0])
        splits[b] += 1
        h_img, w_img, scale = im_info[b]
        x1, y1, x2, y2 = rois[r, 1:5].astype(np.float32) / np.float32(scale)
        width, height = x2 - x1, y2 - y1
        cx, cy = x1 + np.float32(0.5) * width, y1 + np.float32(0.5) * height
        img_h = np.float32(int(h_img / scale + 0.5))
        img_w = np.float32(int(w_img / scale + 0.5))
        for k in range(deltas.shape[1] // 4):
            dx, dy, dw, dh = deltas[r, 4 * k:4 * k + 4] / np.array([wx, wy, ww, wh], np.float32)
            dw, dh = min(dw, np.float32(clip)), min(dh, np.float32(clip))
            pcx, pcy = dx * width + cx, dy * height + cy
            pw, ph = np.exp(dw) * width, np.exp(dh) * height
            box = np.array([pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph], np.float32)
            box[0::2] = np.clip(box[0::2], 0, img_w)
            box[1::2] = np.clip(box[1::2], 0, img_h)
            out[r, 4 * k:4 * k + 4] = box * np.float32(scale)
    return out, splits


# ---- stand-in operators with the c10 schemas ----

LIB = torch.library.Library("_caffe2", "DEF")
LIB.define("AliasWithName(Tensor input, str name, bool is_backward=False) -> Tensor")
LIB.define("ResizeNearest(Tensor X, str order, float width_scale, float height_scale) -> Tensor")
LIB.define("BatchPermutation(Tensor X, Tensor indices) -> Tensor")
LIB.define("RoIAlign(Tensor features, Tensor rois, str order, float spatial_scale, int pooled_h, "
           "int pooled_w, int sampling_ratio, bool aligned) -> Tensor")
LIB.define("BBoxTransform(Tensor rois, Tensor deltas, Tensor im_info, float[] weights, bool apply_scale, "
           "bool rotated, bool angle_bound_on, int angle_bound_lo, int angle_bound_hi, "
           "float clip_angle_thresh, bool legacy_plus_one) -> (Tensor, Tensor)")


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


LIB.impl("AliasWithName", lambda x, name, is_backward=False: x.clone(), "CPU")
LIB.impl("ResizeNearest", lambda x, order, ws, hs: t(resize_nearest(x.numpy(), ws, hs)), "CPU")
LIB.impl("BatchPermutation", lambda x, i: t(batch_permutation(x.numpy(), i.numpy())), "CPU")
LIB.impl("RoIAlign", lambda x, rois, order, s, ph, pw, sr, al: t(roi_align(x.numpy(), rois.numpy(), s, ph, pw,
                                                                           sr, al)), "CPU")


def _bbox(rois, deltas, im_info, weights, *rest):
    o, s = bbox_transform(rois.numpy(), deltas.numpy(), im_info.numpy(), weights)
    return t(o), t(s)


LIB.impl("BBoxTransform", _bbox, "CPU")


class Caffe2Ops(torch.nn.Module):
    def forward(self, feat, rois, perm, deltas, im_info):
        c2 = torch.ops._caffe2
        up = c2.ResizeNearest(c2.AliasWithName(feat, "feat", False), "NCHW", 2.0, 2.0)
        pooled = c2.RoIAlign(up, rois, "NCHW", 0.5, 3, 3, 2, True)
        permuted = c2.BatchPermutation(pooled, perm)
        boxes, splits = c2.BBoxTransform(rois, deltas, im_info, [10.0, 10.0, 5.0, 5.0], True, False, True,
                                         -180, 180, 1.0, False)
        return up, pooled, permuted, boxes, splits


def main():
    rng = np.random.default_rng(7)
    feat = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    xy = rng.uniform(0, 14, (4, 2))
    wh = rng.uniform(1, 8, (4, 2))
    rois = np.concatenate([np.zeros((4, 1)), xy, xy + wh], 1).astype(np.float32)
    perm = np.array([2, 0, 3, 1], np.int32)
    deltas = (rng.standard_normal((4, 8)) * 0.5).astype(np.float32)
    im_info = np.array([[20.0, 24.0, 1.5]], np.float32)
    inputs = [t(feat), t(rois), t(perm), t(deltas), t(im_info)]
    up = resize_nearest(feat, 2.0, 2.0)
    pooled = roi_align(up, rois, 0.5, 3, 3, 2, True)
    boxes, splits = bbox_transform(rois, deltas, im_info, (10.0, 10.0, 5.0, 5.0))
    expected = [t(up), t(pooled), t(batch_permutation(pooled, perm)), t(boxes), t(splits)]
    write("caffe2_trace", Caffe2Ops(), inputs, "trace", tol=(1e-5, 1e-5), expected=expected)


if __name__ == "__main__":
    sys.exit(main())
