"""tools/c2net.py: Caffe2 NetDef writing and a reference interpreter, for
tools/make_caffe2_rcnn.py.

No Caffe2 runtime can be installed anymore (gone from PyTorch since 1.10), so the
fixtures are written here:

  - encode_net(): a minimal protobuf encoder for caffe2.proto's NetDef / OperatorDef /
    Argument / DeviceOption (field numbers as published by Caffe2; repeated numbers
    unpacked, as Caffe2's proto2 writer did);
  - Net: an operator list (type, inputs, outputs, args) plus the weights, which
    becomes predict_net + init_net (GivenTensorFill / GivenTensorIntFill per weight);
  - run(): an independent interpreter of those operators that follows the Caffe2 C++
    operators' documented semantics (docs: detectron2-export.md §2.1, §3) with numpy
    (float32 where Caffe2 computes in float) and torch.nn.functional for the dense
    backbone/head ops. It is the reference d2rt is compared with; it shares no code
    with d2rt.
"""
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

f32 = np.float32


# ---------------------------------------------------------------- protobuf encoding

def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def _len(field, payload):
    return _key(field, 2) + _varint(len(payload)) + payload


def _str(field, s):
    return _len(field, s.encode() if isinstance(s, str) else bytes(s))


def encode_arg(name, v):
    """Argument: name 1, f 2, i 3, s 4, floats 5, ints 6, strings 7."""
    out = _str(1, name)
    if isinstance(v, bool) or isinstance(v, (int, np.integer)):
        out += _key(3, 0) + _varint(int(v))
    elif isinstance(v, (float, np.floating)):
        out += _key(2, 5) + struct.pack("<f", float(v))
    elif isinstance(v, (str, bytes)):
        out += _str(4, v)
    elif isinstance(v, FloatList):
        for x in v:
            out += _key(5, 5) + struct.pack("<f", float(x))
    elif isinstance(v, (list, tuple, np.ndarray)):
        vals = list(np.asarray(v).ravel()) if isinstance(v, np.ndarray) else list(v)
        if vals and all(isinstance(x, (int, np.integer)) for x in vals):
            for x in vals:
                out += _key(6, 0) + _varint(int(x))
        else:
            for x in vals:
                out += _key(5, 5) + struct.pack("<f", float(x))
    else:
        raise TypeError(f"argument {name}: {type(v)}")
    return out


class FloatList(list):
    """A list written as `floats` even when its values are integral."""


def encode_op(op):
    out = b""
    for i in op.inputs:
        out += _str(1, i)
    for o in op.outputs:
        out += _str(2, o)
    if op.name:
        out += _str(3, op.name)
    out += _str(4, op.type)
    for k, v in op.args:
        out += _len(5, encode_arg(k, v))
    return out


def encode_net(name, ops, external_input, external_output, args=(), device_option=True):
    """NetDef: name 1, op 2, device_option 5, arg 6, external_input 7, external_output 8."""
    out = _str(1, name)
    for op in ops:
        out += _len(2, encode_op(op))
    if device_option:
        out += _len(5, _key(1, 0) + _varint(0))  # DeviceOption{device_type: 0 (CPU)}
    for k, v in args:
        out += _len(6, encode_arg(k, v))
    for i in external_input:
        out += _str(7, i)
    for o in external_output:
        out += _str(8, o)
    return out


# ---------------------------------------------------------------- the operator list

class Op:
    def __init__(self, type_, inputs, outputs, args=(), name=""):
        self.type = type_
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.args = list(args)
        self.name = name

    def arg(self, key, default=None):
        for k, v in self.args:
            if k == key:
                return v
        return default


class Net:
    """Operators plus weights (name -> np.ndarray, f32 or i32)."""

    def __init__(self):
        self.ops = []
        self.weights = {}
        self.weight_order = []
        self._counts = {}

    def weight(self, name, value):
        if name not in self.weights:
            self.weight_order.append(name)
        self.weights[name] = value
        return name

    def op(self, type_, inputs, num_outputs=1, args=(), scope="", outputs=None):
        """Append an operator; outputs get ONNX-export style names (/scope/Type_k_output_i)
        unless given."""
        base = f"{scope}/{type_}"
        k = self._counts.get(base, 0)
        self._counts[base] = k + 1
        name = base if k == 0 else f"{base}_{k}"
        if outputs is None:
            outputs = [f"{name}_output_{i}" for i in range(num_outputs)]
        self.ops.append(Op(type_, inputs, outputs, args, name))
        return outputs[0] if len(outputs) == 1 else outputs

    def rename(self, old, new):
        """Rename a blob everywhere (detectron2's alias(..., is_backward=True) / fused aliases)."""
        for op in self.ops:
            op.inputs = [new if i == old else i for i in op.inputs]
            op.outputs = [new if o == old else o for o in op.outputs]

    def init_net(self, name="torch_jit_init"):
        ops = []
        for w in self.weight_order:
            v = self.weights[w]
            if v.dtype == np.int32:
                ops.append(Op("GivenTensorIntFill", [], [w], [("shape", list(v.shape)), ("values", [int(x) for x in v.ravel()])]))
            elif v.dtype == np.int64:
                ops.append(Op("GivenTensorInt64Fill", [], [w], [("shape", list(v.shape)), ("values", [int(x) for x in v.ravel()])]))
            else:
                ops.append(Op("GivenTensorFill", [], [w], [("shape", list(v.shape)), ("values", FloatList(v.ravel().tolist()))]))
        return encode_net(name, ops, [], list(self.weight_order))


# ---------------------------------------------------------------- reference semantics

BBOX_XFORM_CLIP = math.log(1000.0 / 16.0)


def t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def pads4(op):
    p = op.arg("pads", [0, 0, 0, 0])
    assert p[0] == p[2] and p[1] == p[3], "asymmetric pads"
    return (p[0], p[1])


def bbox_transform(boxes, deltas, weights, plus_one):
    """Caffe2 bbox_transform_upright (float32): boxes [R,4], deltas [R,4]."""
    boxes = boxes.astype(f32)
    deltas = deltas.astype(f32)
    off = f32(1 if plus_one else 0)
    w = boxes[:, 2] - boxes[:, 0] + off
    h = boxes[:, 3] - boxes[:, 1] + off
    cx = boxes[:, 0] + f32(0.5) * w
    cy = boxes[:, 1] + f32(0.5) * h
    wx, wy, ww, wh = (f32(x) for x in weights)
    dx = deltas[:, 0] / wx
    dy = deltas[:, 1] / wy
    dw = np.minimum(deltas[:, 2] / ww, f32(BBOX_XFORM_CLIP))
    dh = np.minimum(deltas[:, 3] / wh, f32(BBOX_XFORM_CLIP))
    pcx = dx * w + cx
    pcy = dy * h + cy
    pw = np.exp(dw) * w
    ph = np.exp(dh) * h
    return np.stack([pcx - f32(0.5) * pw, pcy - f32(0.5) * ph, pcx + f32(0.5) * pw - off,
                     pcy + f32(0.5) * ph - off], axis=1).astype(f32)


def clip_boxes(boxes, height, width, plus_one):
    off = f32(1 if plus_one else 0)
    out = boxes.copy()
    out[:, 0::2] = np.clip(out[:, 0::2], f32(0), f32(width) - off)
    out[:, 1::2] = np.clip(out[:, 1::2], f32(0), f32(height) - off)
    return out


def nms(boxes, order, thresh, top_n, plus_one):
    """Caffe2 nms_cpu_upright: keep i iff IoU <= thresh with every kept box (NaN IoU
    suppresses); `order` is already sorted by descending score."""
    off = f32(1 if plus_one else 0)
    x1, y1, x2, y2 = (boxes[:, k].astype(f32) for k in range(4))
    areas = (x2 - x1 + off) * (y2 - y1 + off)
    order = np.asarray(order, np.int64)
    keep = []
    with np.errstate(invalid="ignore", divide="ignore"):
        while order.size:
            if top_n > 0 and len(keep) >= top_n:
                break
            i = order[0]
            keep.append(int(i))
            rest = order[1:]
            xx1 = np.maximum(x1[i], x1[rest])
            yy1 = np.maximum(y1[i], y1[rest])
            xx2 = np.minimum(x2[i], x2[rest])
            yy2 = np.minimum(y2[i], y2[rest])
            iw = np.maximum(f32(0), xx2 - xx1 + off)
            ih = np.maximum(f32(0), yy2 - yy1 + off)
            inter = iw * ih
            ovr = inter / (areas[i] + areas[rest] - inter)
            order = rest[ovr <= f32(thresh)]
    return keep


def desc_order(scores):
    """Indices by descending score, ties by lower index (a stable sort)."""
    return np.argsort(-scores.astype(np.float64), kind="stable")


def generate_proposals(op, scores, deltas, im_info, anchors):
    """One level; scores [N,A,H,W] (logits), deltas [N,4A,H,W]."""
    scale = op.arg("spatial_scale", 1.0 / 16)
    stride = 1.0 / scale
    pre = op.arg("pre_nms_topN", 6000)
    post = op.arg("post_nms_topN", 300)
    thresh = op.arg("nms_thresh", 0.7)
    min_size = op.arg("min_size", 16.0)
    plus_one = op.arg("legacy_plus_one", 1)
    N, A, H, W = scores.shape
    rois, probs = [], []
    for n in range(N):
        s = scores[n].reshape(-1)                      # (A, H, W) order
        order = desc_order(s)
        if 0 < pre < s.size:
            order = order[:pre]
        a = order // (H * W)
        h = (order // W) % H
        w = order % W
        shift = np.stack([w * stride, h * stride, w * stride, h * stride], axis=1).astype(f32)
        anc = anchors[a].astype(f32) + shift
        d = deltas[n].reshape(A, 4, H, W)[a, :, h, w]
        boxes = bbox_transform(anc, d, (1, 1, 1, 1), plus_one)
        ih, iw, isc = (f32(x) for x in im_info[n])
        boxes = clip_boxes(boxes, ih, iw, plus_one)
        off = f32(1 if plus_one else 0)
        ws = boxes[:, 2] - boxes[:, 0] + off
        hs = boxes[:, 3] - boxes[:, 1] + off
        ms = f32(min_size) * isc
        xc = boxes[:, 0] + ws / f32(2)
        yc = boxes[:, 1] + hs / f32(2)
        keep = np.nonzero((ws >= ms) & (hs >= ms) & (xc < iw) & (yc < ih))[0]
        if thresh > 0:
            keep = nms(boxes, keep, thresh, post, plus_one)
        elif post > 0:
            keep = keep[:post]
        keep = np.asarray(keep, np.int64)
        rois.append(np.concatenate([np.full((keep.size, 1), n, f32), boxes[keep]], axis=1))
        probs.append(s[order][keep])
    return np.concatenate(rois).astype(f32).reshape(-1, 5), np.concatenate(probs).astype(f32)


def collect_rpn_proposals(op, inputs):
    levels = op.arg("rpn_max_level", 6) - op.arg("rpn_min_level", 2) + 1
    top = op.arg("rpn_post_nms_topN", op.arg("post_nms_topN", 2000))
    rois = np.concatenate(inputs[:levels])
    probs = np.concatenate(inputs[levels:])
    order = desc_order(probs)[:top]   # SortAndLimitRoIsByScores: ties -> lower index first
    return rois[order]


def fpn_levels(rois, op):
    plus_one = op.arg("legacy_plus_one", 1)
    off = 1.0 if plus_one else 0.0
    b = rois[:, -4:].astype(np.float64)
    w = b[:, 2] - b[:, 0] + off
    h = b[:, 3] - b[:, 1] + off
    area = w * h
    s = np.sqrt(np.maximum(area, 0))
    lo, hi = op.arg("roi_min_level", 2), op.arg("roi_max_level", 5)
    with np.errstate(divide="ignore"):
        lvl = np.floor(op.arg("roi_canonical_level", 4) + np.log2(s / op.arg("roi_canonical_scale", 224) + 1e-6))
    return np.clip(lvl, lo, hi).astype(np.int64) - lo


def distribute_fpn_proposals(op, rois):
    lvl = fpn_levels(rois, op)
    n_levels = op.arg("roi_max_level", 5) - op.arg("roi_min_level", 2) + 1
    outs = [rois[lvl == k] for k in range(n_levels)]
    order = np.argsort(lvl, kind="stable")
    restore = np.argsort(order, kind="stable").astype(np.int32)
    return outs + [restore]


def roi_align(op, x, rois):
    """Caffe2 RoIAlign (NCHW), aligned from the argument."""
    scale = f32(op.arg("spatial_scale", 1.0))
    ph, pw = op.arg("pooled_h", 1), op.arg("pooled_w", 1)
    sr = op.arg("sampling_ratio", -1)
    aligned = op.arg("aligned", 0)
    N, C, H, W = x.shape
    R = rois.shape[0]
    out = np.zeros((R, C, ph, pw), f32)
    for r in range(R):
        roi = rois[r]
        b = int(roi[0]) if rois.shape[1] == 5 else 0
        x1, y1, x2, y2 = (f32(v) for v in roi[-4:])
        off = f32(0.5) if aligned else f32(0)
        sw, sh = x1 * scale - off, y1 * scale - off
        ew, eh = x2 * scale - off, y2 * scale - off
        rw, rh = ew - sw, eh - sh
        if not aligned:
            rw, rh = max(rw, f32(1)), max(rh, f32(1))
        bw, bh = rw / f32(pw), rh / f32(ph)
        gh = sr if sr > 0 else int(math.ceil(rh / f32(ph)))
        gw = sr if sr > 0 else int(math.ceil(rw / f32(pw)))
        count = max(gh * gw, 1)
        iy = np.arange(gh, dtype=f32)
        ix = np.arange(gw, dtype=f32)
        ys = sh + np.arange(ph, dtype=f32)[:, None] * bh + (iy[None, :] + f32(0.5)) * bh / f32(max(gh, 1))  # [ph,gh]
        xs = sw + np.arange(pw, dtype=f32)[:, None] * bw + (ix[None, :] + f32(0.5)) * bw / f32(max(gw, 1))  # [pw,gw]
        wy = _bilinear_axis(ys.ravel(), H)
        wx = _bilinear_axis(xs.ravel(), W)
        feat = x[b]
        # value[c, p] = sum over corners of w * feat[c, y, x]
        acc = np.zeros((C, ph * gh, pw * gw), f32)
        for (yl, yw) in wy:
            for (xl, xw) in wx:
                acc += feat[:, yl][:, :, xl] * (yw[:, None] * xw[None, :])[None]
        out[r] = acc.reshape(C, ph, gh, pw, gw).sum(axis=(2, 4)) / f32(count)
    return out


def _bilinear_axis(v, size):
    """For sample coordinates v: two (index, weight) pairs per sample (low, high)."""
    v = v.astype(f32).copy()
    valid = ~((v < f32(-1)) | (v > f32(size)))
    v = np.where(v <= 0, f32(0), v)
    low = v.astype(np.int64)
    high = low + 1
    at_end = low >= size - 1
    low = np.where(at_end, size - 1, low)
    high = np.where(at_end, size - 1, high)
    v = np.where(at_end, low.astype(f32), v)
    lw = v - low.astype(f32)
    hw = f32(1) - lw
    hw = np.where(valid, hw, f32(0)).astype(f32)
    lw = np.where(valid, lw, f32(0)).astype(f32)
    return [(np.clip(low, 0, size - 1), hw), (np.clip(high, 0, size - 1), lw)]


def bbox_transform_op(op, rois, deltas, im_info):
    weights = op.arg("weights", [1, 1, 1, 1])
    apply_scale = op.arg("apply_scale", 1)
    plus_one = op.arg("legacy_plus_one", 1)
    R = rois.shape[0]
    K = deltas.shape[1] // 4
    out = np.zeros((R, 4 * K), f32)
    cols = rois.shape[1]
    for r in range(R):
        b = int(rois[r, 0]) if cols == 5 else 0
        ih, iw, sc = (f32(v) for v in im_info[b])
        box = (rois[r, -4:] / sc).astype(f32)[None]
        img_h = int(float(ih / sc) + 0.5)
        img_w = int(float(iw / sc) + 0.5)
        for k in range(K):
            d = bbox_transform(box, deltas[r:r + 1, 4 * k:4 * k + 4], weights, plus_one)
            d = clip_boxes(d, img_h, img_w, plus_one)
            out[r, 4 * k:4 * k + 4] = d[0] * (sc if apply_scale else f32(1))
    B = im_info.shape[0]
    if cols == 5:
        splits = np.array([np.sum(rois[:, 0] == b) for b in range(B)], f32)
    else:
        splits = np.array([R], f32)
    return out, splits


def box_with_nms_limit(op, scores, boxes, batch_splits=None):
    thresh = f32(op.arg("score_thresh", 0.05))
    nms_t = op.arg("nms", 0.3)
    limit = op.arg("detections_per_im", 100)
    agnostic = op.arg("cls_agnostic_bbox_reg", 0)
    boxes_bg = op.arg("input_boxes_include_bg_cls", 1)
    classes_bg = op.arg("output_classes_include_bg_cls", 1)
    plus_one = op.arg("legacy_plus_one", 1)
    R, C = scores.shape
    splits = [R] if batch_splits is None else [int(x) for x in batch_splits]
    out_s, out_b, out_c, out_k, out_splits = [], [], [], [], []
    sizes = np.zeros((1, C), np.int32)
    start = 0
    for n_rows in splits:
        rows = np.arange(start, start + n_rows)
        keeps = {}
        for j in range(1, C):
            col = j - 1 + boxes_bg
            blk = 0 if agnostic else (j if boxes_bg else j - 1)
            s = scores[rows, col]
            cand = np.nonzero(s > thresh)[0]
            cand = cand[desc_order(s[cand])]
            bx = boxes[rows, 4 * blk:4 * blk + 4]
            keeps[j] = [int(rows[i]) for i in nms(bx, cand, nms_t, limit, plus_one)]
        total = sum(len(v) for v in keeps.values())
        if limit > 0 and total > limit:
            allk = [(j, i) for j in range(1, C) for i in keeps[j]]
            sc = np.array([scores[i, j - 1 + boxes_bg] for (j, i) in allk])
            top = [allk[p] for p in desc_order(sc)[:limit]]
            keeps = {j: [i for (jj, i) in top if jj == j] for j in range(1, C)}
        count = 0
        for j in range(1, C):
            blk = 0 if agnostic else (j if boxes_bg else j - 1)
            for i in keeps[j]:
                out_s.append(scores[i, j - 1 + boxes_bg])
                out_b.append(boxes[i, 4 * blk:4 * blk + 4])
                out_c.append(float(j if classes_bg else j - 1))
                out_k.append(i)
                count += 1
            sizes[0, j] += len(keeps[j])
        out_splits.append(count)
        start += n_rows
    return [np.array(out_s, f32), np.array(out_b, f32).reshape(-1, 4), np.array(out_c, f32),
            np.array(out_splits, f32), np.array(out_k, np.int32), sizes]


def resize_nearest(op, x):
    hs, ws = op.arg("height_scale", 1.0), op.arg("width_scale", 1.0)
    N, C, H, W = x.shape
    oh, ow = int(H * hs), int(W * ws)
    yi = np.minimum((np.arange(oh) / hs).astype(np.int64), H - 1)
    xi = np.minimum((np.arange(ow) / ws).astype(np.int64), W - 1)
    return x[:, :, yi][:, :, :, xi]


def run(net, feeds, hook=None):
    """Execute net.ops on feeds (name -> array); returns the blob dictionary.
    hook(op, outputs) may replace an operator's outputs (weight calibration)."""
    blobs = dict(feeds)
    for op in net.ops:
        ins = [blobs[i] if i in blobs else net.weights[i] for i in op.inputs]  # weights read live
        outs = eval_op(op, ins)
        if hook is not None:
            outs = hook(op, ins, outs) or outs
        for name, v in zip(op.outputs, outs):
            blobs[name] = v
    return blobs


def eval_op(op, ins):
    ty = op.type
    if ty == "Conv":
        st = op.arg("strides", [1, 1])
        y = F.conv2d(t(ins[0]), t(ins[1]), t(ins[2]) if len(ins) > 2 else None, stride=tuple(st),
                     padding=pads4(op), dilation=tuple(op.arg("dilations", [1, 1])), groups=op.arg("group", 1))
        return [y.numpy()]
    if ty == "ConvTranspose":
        st = op.arg("strides", [1, 1])
        y = F.conv_transpose2d(t(ins[0]), t(ins[1]), t(ins[2]) if len(ins) > 2 else None, stride=tuple(st),
                               padding=pads4(op))
        return [y.numpy()]
    if ty == "Relu":
        return [np.maximum(ins[0], f32(0))]
    if ty == "Sigmoid":
        return [torch.sigmoid(t(ins[0])).numpy()]
    if ty == "MaxPool":
        y = F.max_pool2d(t(ins[0]), tuple(op.arg("kernels")), tuple(op.arg("strides", [1, 1])), pads4(op))
        return [y.numpy()]
    if ty in ("Add", "Sum"):
        return [(ins[0] + ins[1]).astype(f32)]
    if ty == "Sub":
        return [(ins[0] - ins[1]).astype(f32)]
    if ty == "Div":
        return [(ins[0] / ins[1]).astype(f32)]
    if ty == "ResizeNearest":
        return [resize_nearest(op, ins[0])]
    if ty == "Flatten":
        return [ins[0].reshape(ins[0].shape[0], -1)]
    if ty == "FC":
        x = ins[0].reshape(ins[0].shape[0], -1)
        return [F.linear(t(x), t(ins[1]), t(ins[2])).numpy()]
    if ty == "Softmax":
        return [torch.softmax(t(ins[0]), dim=op.arg("axis", 1)).numpy()]
    if ty == "Concat":
        axis = op.arg("axis", 1)
        y = np.concatenate(ins, axis=axis)
        return [y, np.array([a.shape[axis] for a in ins], np.int32)]
    if ty == "GenerateProposals":
        return list(generate_proposals(op, *ins))
    if ty == "CollectRpnProposals":
        return [collect_rpn_proposals(op, ins)]
    if ty == "DistributeFpnProposals":
        return distribute_fpn_proposals(op, ins[0])
    if ty == "RoIAlign":
        return [roi_align(op, ins[0], ins[1])]
    if ty == "BatchPermutation":
        return [ins[0][ins[1].astype(np.int64)]]
    if ty == "BBoxTransform":
        return list(bbox_transform_op(op, *ins))
    if ty == "BoxWithNMSLimit":
        return box_with_nms_limit(op, *ins)
    if ty == "Copy":
        return [ins[0]]
    if ty == "Shape":
        return [np.array(ins[0].shape, np.int64)]
    if ty == "Gather":
        return [np.take(ins[0], ins[1].astype(np.int64), axis=op.arg("axis", 0))]
    if ty == "ExpandDims":
        y = ins[0]
        for d in sorted(op.arg("dims")):
            y = np.expand_dims(y, d)
        return [y]
    if ty == "ConstantFill":
        assert op.arg("input_as_shape", 0) == 1
        return [np.full(tuple(int(v) for v in ins[0]), op.arg("value", 0.0), f32)]
    raise NotImplementedError(ty)
