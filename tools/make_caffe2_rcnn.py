#!/usr/bin/env python3
"""tools/make_caffe2_rcnn.py: detectron2-structured Caffe2 NetDefs (Mask R-CNN, RetinaNet
and held-out variants) with reference outputs, for tests/e2e_caffe2.sh.

Run with the torch venv: /work/venv-torch/bin/python tools/make_caffe2_rcnn.py

No Caffe2 runtime exists anymore, so the nets are written with the structure
detectron2's caffe2_tracing export produces (detectron2-export.md §1.1, §2.1, and the
real export in ../shared/fixtures/detectron2-caffe2/faster_rcnn): the same operator
types and arguments, inputs `data` [N,3,H,W] (BGR 0..255, zero-padded to
size_divisibility) + `im_info` [N,3], normalisation in the graph, `_wrapped_model.*`
parameter blobs (bottom-up convs with BN folded: `onnx::Conv_*`), ONNX-style
intermediate names, init_net GivenTensorFill per parameter, net arguments
size_divisibility / device / meta_architecture (RetinaNet: score_threshold,
topk_candidates, nms_threshold, max_detections_per_image, bbox_reg_weights,
serialized_anchor_generator). The models are thin (ResNet-like stages of 8..48
channels, FPN 16) with random weights calibrated on grace_hopper (each conv/FC
rescaled so its outputs have a chosen mean/std, as BN calibration would), so scores
are spread, not saturated.

References come from tools/c2net.py's interpreter (Caffe2 operator semantics in
numpy/torch, independent of d2rt) and, for RetinaNet, detectron2's post-processing
(sigmoid, score threshold, top-k per level, Box2BoxTransform, batched NMS, top
max_detections) written here in torch/numpy.

Writes tests/data/caffe2/<model>/:
  model.pb, model_init.pb          the NetDef
  model.onnx (mask_rcnn only)      the same graph as caffe2_tracing ONNX: standard ops +
                                   org.pytorch._caffe2 nodes + AliasWithName
  data_<img>.npy, im_info_<img>.npy  inputs (img: gh, mirror, flipud, crop; batch4 stacks them)
  ref_<img>/ pred_boxes, scores, pred_classes, pred_masks (all K channels) .npy
  pred_<stem>/ boxes, scores, classes (i64), masks_packed + masks_shape.json: the
                                   DefaultPredictor-style answer for the predictor images
                                   (pixel-mean padding, detector_postprocess, mask paste)
"""
import io
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import c2net  # noqa: E402
from c2net import FloatList, Net, f32, run  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data", "caffe2")
SHARED = os.environ.get("D2RT_SHARED", os.path.join(ROOT, "..", "shared"))
INPUTS = os.path.join(OUT, "inputs")
IMAGES = os.path.join(SHARED, "fixtures", "predictor", "images")
PIXEL_MEAN = np.array([103.53, 116.28, 123.675], f32)
PIXEL_STD = np.array([57.375, 57.12, 58.395], f32)
K = 4  # foreground classes


# ------------------------------------------------------------------ graph building

class Builder:
    def __init__(self, rng, plus_one=True):
        self.net = Net()
        self.rng = rng
        self.folded = 0
        self.plus_one = plus_one  # write legacy_plus_one=0 (detectron2) or leave it out
        self.calib = {}           # weight name -> (mean, std) target for its outputs

    def lp1(self):
        return [("legacy_plus_one", 0)] if self.plus_one else []

    def param(self, name, shape, scale=1.0):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        v = (self.rng.standard_normal(shape) * scale / math.sqrt(max(fan_in, 1))).astype(f32)
        return self.net.weight(name, v)

    def conv(self, x, cin, cout, k, stride=1, pad=None, path=None, scope="", target=(0.0, 1.0), transpose=False):
        pad = (k - 1) // 2 if pad is None else pad
        if path is None:  # bottom-up conv with FrozenBN folded in by the ONNX export
            wn, bn = f"onnx::Conv_{552 + 2 * self.folded}", f"onnx::Conv_{553 + 2 * self.folded}"
            self.folded += 1
        else:
            wn, bn = f"_wrapped_model.{path}.weight", f"_wrapped_model.{path}.bias"
        if wn not in self.net.weights:
            self.param(wn, (cin, cout, k, k) if transpose else (cout, cin, k, k))
            self.net.weight(bn, np.zeros(cout, f32))
            self.calib[wn] = target
        args = [("dilations", [1, 1]), ("group", 1), ("kernels", [k, k]), ("pads", [pad] * 4),
                ("strides", [stride, stride])]
        if transpose:
            args = [("kernels", [k, k]), ("pads", [pad] * 4), ("strides", [stride, stride])]
        return self.net.op("ConvTranspose" if transpose else "Conv", [x, wn, bn], args=args, scope=scope)

    def relu(self, x, scope=""):
        return self.net.op("Relu", [x], scope=scope)

    def fc(self, x, cin, cout, path, target=(0.0, 1.0)):
        wn, bn = f"_wrapped_model.{path}.weight", f"_wrapped_model.{path}.bias"
        self.param(wn, (cout, cin))
        self.net.weight(bn, np.zeros(cout, f32))
        self.calib[wn] = target
        out = f"/{path.replace('.', '/')}/Gemm_output_0"
        self.net.ops.append(c2net.Op("FC", [x, wn, bn], [out]))
        return out

    def normalize(self):
        n = self.net
        mean = n.weight("/Constant_output_0", PIXEL_MEAN.reshape(3, 1, 1))
        std = n.weight("/Constant_1_output_0", PIXEL_STD.reshape(3, 1, 1))
        x = n.op("Sub", ["data", mean])
        n.ops.append(c2net.Op("Div", [x, std], ["normalized_data"], name="/Div"))
        return "normalized_data"

    def bottom_up(self, x, widths=(8, 16, 24, 32, 48)):
        s = "/backbone/bottom_up"
        x = self.relu(self.conv(x, 3, widths[0], 7, 2, 3, scope=f"{s}/stem/conv1"), scope=f"{s}/stem")
        x = self.net.op("MaxPool", [x], args=[("ceil_mode", 0), ("kernels", [3, 3]), ("pads", [1, 1, 1, 1]),
                                              ("strides", [2, 2])], scope=f"{s}/stem")
        feats = {}
        cin = widths[0]
        for i, cout in enumerate(widths[1:]):
            name = f"res{i + 2}"
            sc = f"{s}/{name}/{name}.0"
            stride = 1 if i == 0 else 2
            mid = max(cout // 2, 8)
            y = self.relu(self.conv(x, cin, mid, 1, stride, scope=f"{sc}/conv1"), scope=sc)
            y = self.relu(self.conv(y, mid, mid, 3, 1, scope=f"{sc}/conv2"), scope=sc)
            y = self.conv(y, mid, cout, 1, 1, scope=f"{sc}/conv3")
            short = self.conv(x, cin, cout, 1, stride, scope=f"{sc}/shortcut")
            x = self.relu(self.net.op("Add", [y, short], scope=sc), scope=sc)
            feats[name] = (x, cout)
            cin = cout
        return feats

    def fpn(self, feats, names, out_ch=16, top="maxpool"):
        """detectron2 FPN: lateral 1x1, top-down nearest x2 (ResizeNearest) + add, output
        3x3; top block: LastLevelMaxPool (p6) or LastLevelP6P7 (from res5)."""
        n = self.net
        levels = [int(nm[3:]) for nm in names]
        prev = None
        outs = {}
        for nm, lvl in reversed(list(zip(names, levels))):
            x, c = feats[nm]
            lat = self.conv(x, c, out_ch, 1, path=f"backbone.fpn_lateral{lvl}", scope=f"/backbone/fpn_lateral{lvl}")
            if prev is not None:
                up = n.op("ResizeNearest", [prev], args=[("order", "NCHW"), ("width_scale", 2.0),
                                                        ("height_scale", 2.0)], scope="/backbone")
                lat = n.op("Add", [lat, up], scope="/backbone")
            prev = lat
            outs[lvl] = self.conv(lat, out_ch, out_ch, 3, path=f"backbone.fpn_output{lvl}",
                                  scope=f"/backbone/fpn_output{lvl}")
        result = [outs[lvl] for lvl in levels]
        if top == "maxpool":
            result.append(n.op("MaxPool", [result[-1]], args=[("kernels", [1, 1]), ("pads", [0, 0, 0, 0]),
                                                              ("strides", [2, 2])], scope="/backbone/top_block"))
        else:
            c5, c = feats["res5"]
            p6 = self.conv(c5, c, out_ch, 3, 2, path="backbone.top_block.p6", scope="/backbone/top_block/p6")
            p7 = self.conv(self.relu(p6, scope="/backbone/top_block"), out_ch, out_ch, 3, 2,
                           path="backbone.top_block.p7", scope="/backbone/top_block/p7")
            result += [p6, p7]
        return result


def cell_anchors(sizes, ratios):
    """detectron2 DefaultAnchorGenerator.generate_cell_anchors (sizes outer, ratios inner)."""
    out = []
    for s in sizes:
        area = float(s) ** 2
        for r in ratios:
            w = math.sqrt(area / r)
            h = r * w
            out.append([-w / 2, -h / 2, w / 2, h / 2])
    return np.array(out, f32)


def rpn(b, feats, strides, ch=16, pre=600, post=300, top=300):
    n = b.net
    A = 3
    rois, probs = [], []
    for i, (x, stride) in enumerate(zip(feats, strides)):
        sc = "/proposal_generator/rpn_head"
        h = b.relu(b.conv(x, ch, ch, 3, path="proposal_generator.rpn_head.conv", scope=f"{sc}/conv"),
                   scope=f"{sc}/conv/activation")
        obj = b.conv(h, ch, A, 1, path="proposal_generator.rpn_head.objectness_logits",
                     scope=f"{sc}/objectness_logits", target=(0.0, 1.5))
        dl = b.conv(h, ch, 4 * A, 1, path="proposal_generator.rpn_head.anchor_deltas",
                    scope=f"{sc}/anchor_deltas", target=(0.0, 0.3))
        anc = n.weight(f"_wrapped_model.proposal_generator.anchor_generator.cell_anchors.{i}",
                       cell_anchors([32 * 2 ** (math.log2(stride) - 2)] if len(feats) > 1 else [32, 64, 128],
                                    [0.5, 1.0, 2.0] if len(feats) > 1 else [1.0]))
        r, p = n.op("GenerateProposals", [obj, dl, "im_info", anc], 2, scope="/proposal_generator", args=[
            ("spatial_scale", 1.0 / stride), ("pre_nms_topN", pre), ("post_nms_topN", post),
            ("nms_thresh", 0.7), ("min_size", 0.0), ("angle_bound_on", 1), ("angle_bound_lo", -180),
            ("angle_bound_hi", 180), ("clip_angle_thresh", 1.0)] + b.lp1())
        rois.append(r)
        probs.append(p)
    if len(feats) == 1:
        return rois[0]
    return n.op("CollectRpnProposals", rois + probs, scope="/proposal_generator", args=[
        ("rpn_max_level", 2 + len(feats) - 1), ("rpn_min_level", 2), ("rpn_post_nms_topN", top)])


def pooler(b, feats, strides, rois, res, scope):
    n = b.net
    args = lambda s: [("order", "NCHW"), ("spatial_scale", 1.0 / s), ("pooled_h", res), ("pooled_w", res),
                      ("sampling_ratio", 0), ("aligned", 1)]
    if len(feats) == 1:
        return n.op("RoIAlign", [feats[0], rois], args=args(strides[0]), scope=scope)
    outs = n.op("DistributeFpnProposals", [rois], 5, scope=scope, args=[
        ("roi_canonical_scale", 224), ("roi_canonical_level", 4), ("roi_max_level", 5),
        ("roi_min_level", 2)] + b.lp1())
    pooled = [n.op("RoIAlign", [f, r], args=args(s), scope=scope) for f, r, s in zip(feats, outs[:4], strides)]
    cat, _ = n.op("Concat", pooled, 2, args=[("axis", 0)], scope=scope)
    return n.op("BatchPermutation", [cat, outs[4]], scope=scope)


def box_head(b, feats, strides, proposals, ch=16, agnostic=False, sigmoid=False, det=25):
    n = b.net
    x = pooler(b, feats, strides, proposals, 7, "/roi_heads/box_pooler")
    x = n.op("Flatten", [x], args=[("axis", 1)], scope="/roi_heads/box_head/flatten")
    x = b.relu(b.fc(x, ch * 49, 64, "roi_heads.box_head.fc1"), scope="/roi_heads/box_head/fc_relu1")
    x = b.relu(b.fc(x, 64, 64, "roi_heads.box_head.fc2"), scope="/roi_heads/box_head/fc_relu2")
    if sigmoid:
        # use_sigmoid_ce: K logits, sigmoid, then a zero background column (c10.py), the
        # zeros made by Shape/Gather/ExpandDims/Concat/ConstantFill as the ONNX export did
        logits = b.fc(x, 64, K, "roi_heads.box_predictor.cls_score", target=(-1.0, 1.5))
        prob = n.op("Sigmoid", [logits], scope="/roi_heads")
        shape = n.op("Shape", [prob], scope="/roi_heads")
        idx0 = n.weight("/roi_heads/Constant_output_0", np.array(0, np.int64))
        rows = n.op("Gather", [shape, idx0], args=[("axis", 0)], scope="/roi_heads")
        rows1 = n.op("ExpandDims", [rows], args=[("dims", [0])], scope="/roi_heads")
        one = n.weight("/roi_heads/Constant_1_output_0", np.array([1], np.int64))
        zshape, _ = n.op("Concat", [rows1, one], 2, args=[("axis", 0)], scope="/roi_heads")
        zeros = n.op("ConstantFill", [zshape], args=[("input_as_shape", 1), ("value", 0.0), ("dtype", 1)],
                     scope="/roi_heads")
        scores, _ = n.op("Concat", [prob, zeros], 2, args=[("axis", 1)], scope="/roi_heads")
    else:
        logits = b.fc(x, 64, K + 1, "roi_heads.box_predictor.cls_score", target=(0.0, 1.5))
        scores = n.op("Softmax", [logits], args=[("axis", -1)], scope="/roi_heads")
    deltas = b.fc(x, 64, 4 if agnostic else 4 * K, "roi_heads.box_predictor.bbox_pred", target=(0.0, 0.5))
    rois, _ = n.op("Concat", [proposals], 2, args=[("axis", 0)], scope="/roi_heads")
    boxes, splits = n.op("BBoxTransform", [rois, deltas, "im_info"], 2, scope="/roi_heads", args=[
        ("weights", FloatList([10.0, 10.0, 5.0, 5.0])), ("apply_scale", 1), ("rotated", 0), ("angle_bound_on", 1),
        ("angle_bound_lo", -180), ("angle_bound_hi", 180), ("clip_angle_thresh", 1.0)] + b.lp1())
    n.ops.append(c2net.Op("BoxWithNMSLimit", [scores, boxes, splits],
                          ["score_nms", "bbox_nms", "class_nms", "/roi_heads/BoxWithNMSLimit_output_3",
                           "/roi_heads/BoxWithNMSLimit_output_4", "/roi_heads/BoxWithNMSLimit_output_5"],
                          [("score_thresh", 0.05), ("nms", 0.5), ("detections_per_im", det),
                           ("soft_nms_enabled", 0), ("soft_nms_method", "linear"), ("soft_nms_sigma", 0.5),
                           ("soft_nms_min_score_thres", 0.001), ("rotated", 0),
                           ("cls_agnostic_bbox_reg", 1 if agnostic else 0), ("input_boxes_include_bg_cls", 0),
                           ("output_classes_include_bg_cls", 0)] + b.lp1(), name="/roi_heads/BoxWithNMSLimit"))


def mask_head(b, feats, strides, ch=16):
    n = b.net
    x = pooler(b, feats, strides, "bbox_nms", 14, "/roi_heads/mask_pooler")
    for i in (1, 2):
        x = b.relu(b.conv(x, ch, ch, 3, path=f"roi_heads.mask_head.mask_fcn{i}",
                          scope=f"/roi_heads/mask_head/mask_fcn{i}"), scope=f"/roi_heads/mask_head/mask_fcn{i}")
    x = b.relu(b.conv(x, ch, ch, 2, 2, 0, path="roi_heads.mask_head.deconv", scope="/roi_heads/mask_head/deconv",
                      transpose=True), scope="/roi_heads/mask_head")
    x = b.conv(x, ch, K, 1, path="roi_heads.mask_head.predictor", scope="/roi_heads/mask_head/predictor",
               target=(0.0, 0.1))  # small logits (probabilities ~0.45-0.55): float noise stays < 1e-4
    n.ops.append(c2net.Op("Sigmoid", [x], ["mask_fcn_probs"], name="/roi_heads/Sigmoid"))


def build_rcnn(seed, fpn=True, mask=True, plus_one=True, agnostic=False, sigmoid=False):
    b = Builder(np.random.default_rng(seed), plus_one)
    x = b.normalize()
    feats = b.bottom_up(x)
    if fpn:
        p = b.fpn(feats, ["res2", "res3", "res4", "res5"])
        proposals = rpn(b, p, [4, 8, 16, 32, 64])
        box_feats, strides = p[:4], [4, 8, 16, 32]
        div = 32
    else:
        # C4-style: one level (res4, stride 16), no Collect/Distribute; size_divisibility 0
        box_feats, strides = [feats["res4"][0]], [16]
        proposals = rpn(b, box_feats, strides, ch=32)
        div = 0
    box_head(b, box_feats, strides, proposals, ch=16 if fpn else 32, agnostic=agnostic, sigmoid=sigmoid)
    outputs = ["bbox_nms", "score_nms", "class_nms"]
    if mask:
        mask_head(b, box_feats, strides, ch=16 if fpn else 32)
        outputs.append("mask_fcn_probs")
    args = [("size_divisibility", div), ("device", "cpu"), ("meta_architecture", "GeneralizedRCNN")]
    return b, outputs, args


# RetinaNet (detectron2 defaults, thin): P3-P7, A = 9 anchors per cell
RETINA_SIZES = [[x, x * 2 ** (1.0 / 3), x * 2 ** (2.0 / 3)] for x in [32, 64, 128, 256, 512]]
RETINA_RATIOS = [0.5, 1.0, 2.0]
RETINA_STRIDES = [8, 16, 32, 64, 128]


def build_retinanet(seed, anchor_cfg=None):
    b = Builder(np.random.default_rng(seed))
    n = b.net
    x = b.normalize()
    feats = b.bottom_up(x)
    p = b.fpn(feats, ["res3", "res4", "res5"], top="p6p7")
    cfg = anchor_cfg or dict(sizes=RETINA_SIZES, ratios=RETINA_RATIOS, offset=0.0)
    A = len(cfg["sizes"][0]) * len(cfg["ratios"])
    outputs = ["im_info"]
    for i in range(len(p)):
        # the features are aliased feature_i (is_backward: the producer's output renamed)
        n.rename(p[i], f"feature_{i}")
        p[i] = f"feature_{i}"
        outputs.append(p[i])
    for i, f in enumerate(p):
        sc = "/head"
        c = b.relu(b.conv(f, 16, 16, 3, path="head.cls_subnet.0", scope=f"{sc}/cls_subnet/0"), scope=f"{sc}/cls_subnet")
        r = b.relu(b.conv(f, 16, 16, 3, path="head.bbox_subnet.0", scope=f"{sc}/bbox_subnet/0"),
                   scope=f"{sc}/bbox_subnet")
        cls = b.conv(c, 16, A * K, 3, path="head.cls_score", scope=f"{sc}/cls_score", target=(-3.0, 1.0))
        dl = b.conv(r, 16, A * 4, 3, path="head.bbox_pred", scope=f"{sc}/bbox_pred", target=(0.0, 0.4))
        n.rename(dl, f"box_delta_{i}")
        n.rename(cls, f"box_cls_{i}")
        outputs += [f"box_cls_{i}", f"box_delta_{i}"]
    ser = io.BytesIO()
    torch.save({"cell_anchors": [torch.from_numpy(cell_anchors(s, cfg["ratios"])) for s in cfg["sizes"]]}, ser)
    args = [("size_divisibility", 32), ("device", "cpu"), ("meta_architecture", "RetinaNet"),
            ("score_threshold", 0.05), ("topk_candidates", 1000), ("nms_threshold", 0.5),
            ("max_detections_per_image", 100), ("bbox_reg_weights", FloatList([1.0, 1.0, 1.0, 1.0])),
            ("serialized_anchor_generator", ser.getvalue())]
    if anchor_cfg:
        # d2rt's own arguments (a real export has only the pickle above): anchor sizes per
        # level (flattened), aspect ratios, strides, offset
        args += [("anchor_sizes", FloatList([s for lv in cfg["sizes"] for s in lv])),
                 ("anchor_aspect_ratios", FloatList(cfg["ratios"])), ("anchor_strides", RETINA_STRIDES),
                 ("anchor_offset", float(cfg["offset"]))]
    return b, outputs, args, cfg


def retinanet_postprocess(blobs, im_info, cfg, score_thresh=0.05, topk=1000, nms_thresh=0.5, max_det=100):
    """detectron2 RetinaNet.forward_inference for one image (dense_detector.py HEAD):
    per level sigmoid, keep > thresh, top-k of those, decode (weights 1) against
    DefaultAnchorGenerator anchors (H, W, A order, offset), then batched NMS over all
    levels by class, keep max_det (by descending score)."""
    boxes, scores, classes = [], [], []
    for i, stride in enumerate(RETINA_STRIDES):
        cls = torch.from_numpy(blobs[f"box_cls_{i}"])
        dl = torch.from_numpy(blobs[f"box_delta_{i}"])
        N, AK, H, W = cls.shape
        A = dl.shape[1] // 4
        cls = cls.view(N, A, K, H, W).permute(0, 3, 4, 1, 2).reshape(-1, K)[None][0]
        dl = dl.view(N, A, 4, H, W).permute(0, 3, 4, 1, 2).reshape(-1, 4)
        cell = torch.from_numpy(cell_anchors(cfg["sizes"][i], cfg["ratios"]))
        off = cfg["offset"] * stride
        sx = torch.arange(off, W * stride, step=stride, dtype=torch.float32)
        sy = torch.arange(off, H * stride, step=stride, dtype=torch.float32)
        yy, xx = torch.meshgrid(sy, sx, indexing="ij")
        shifts = torch.stack([xx.reshape(-1), yy.reshape(-1)] * 2, dim=1)
        anchors = (shifts.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4)
        prob = cls.sigmoid().flatten()
        keep = prob > score_thresh
        s = prob[keep]
        idx = torch.nonzero(keep).flatten()
        num = min(idx.numel(), topk)
        s, o = s.topk(num)
        idx = idx[o]
        a, c = idx // K, idx % K
        boxes.append(decode(anchors[a], dl[a]))
        scores.append(s)
        classes.append(c)
    boxes, scores, classes = torch.cat(boxes), torch.cat(scores), torch.cat(classes)
    keep = batched_nms(boxes, scores, classes, nms_thresh)[:max_det]
    return boxes[keep].numpy(), scores[keep].numpy(), classes[keep].numpy()


def decode(anchors, deltas):
    """Box2BoxTransform.apply_deltas, weights (1,1,1,1), scale_clamp log(1000/16)."""
    w = anchors[:, 2] - anchors[:, 0]
    h = anchors[:, 3] - anchors[:, 1]
    cx = anchors[:, 0] + 0.5 * w
    cy = anchors[:, 1] + 0.5 * h
    dw = torch.clamp(deltas[:, 2], max=math.log(1000.0 / 16))
    dh = torch.clamp(deltas[:, 3], max=math.log(1000.0 / 16))
    pcx, pcy = deltas[:, 0] * w + cx, deltas[:, 1] * h + cy
    pw, ph = torch.exp(dw) * w, torch.exp(dh) * h
    return torch.stack([pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph], dim=1)


def batched_nms(boxes, scores, idxs, thresh):
    """torchvision batched_nms semantics: per class greedy NMS (suppress IoU > thresh),
    result by descending score (stable)."""
    order = torch.from_numpy(np.argsort(-scores.numpy().astype(np.float64), kind="stable"))
    b = boxes.numpy().astype(f32)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep = []
    kept_by_class = {}
    for i in order.tolist():
        c = int(idxs[i])
        ok = True
        for j in kept_by_class.get(c, []):
            iw = max(f32(0), min(b[i, 2], b[j, 2]) - max(b[i, 0], b[j, 0]))
            ih = max(f32(0), min(b[i, 3], b[j, 3]) - max(b[i, 1], b[j, 1]))
            inter = iw * ih
            if inter / (area[i] + area[j] - inter) > f32(thresh):
                ok = False
                break
        if ok:
            keep.append(i)
            kept_by_class.setdefault(c, []).append(i)
    return torch.tensor(keep, dtype=torch.int64)


# ------------------------------------------------------------------ calibration

def calibrate(b, feeds):
    """One pass on the calibration input; each conv/FC listed in b.calib is rescaled (on
    its first use) so that its output channels have the target mean and std."""
    done = set()

    def hook(op, ins, outs):
        if op.type not in ("Conv", "ConvTranspose", "FC") or op.inputs[1] not in b.calib or op.inputs[1] in done:
            return None
        wn, bn = op.inputs[1], op.inputs[2]
        done.add(wn)
        y = outs[0]
        axes = (0, 2, 3) if y.ndim == 4 else (0,)
        if y.shape[0] == 0:
            return None
        m = y.mean(axis=axes).astype(np.float64)
        s = y.std(axis=axes).astype(np.float64) + 1e-3
        tm, ts = b.calib[wn]
        a = ts / s
        w = b.net.weights[wn].astype(np.float64)
        if op.type == "ConvTranspose":
            w = w * a[None, :, None, None]
        else:
            w = w * a.reshape((-1,) + (1,) * (w.ndim - 1))
        b.net.weights[wn] = w.astype(f32)
        b.net.weights[bn] = (a * (b.net.weights[bn].astype(np.float64) - m) + tm).astype(f32)
        return c2net.eval_op(op, [ins[0], b.net.weights[wn], b.net.weights[bn]])

    run(b.net, feeds, hook)


# ------------------------------------------------------------------ inputs

def load_images():
    # half of grace_hopper's 375x320 model input (every other pixel): small fixtures
    gh = np.ascontiguousarray(np.load(os.path.join(IMAGES, "grace_hopper.resized_bgr_uint8.npy"))[::2, ::2])
    crop = gh[:170, :150]                                                         # another im_info
    return {"gh": gh, "mirror": gh[:, ::-1], "flipud": gh[::-1], "crop": crop}


def make_data(img, div, pad_h=None, pad_w=None, pad_value=None):
    h, w = img.shape[:2]
    ph = pad_h or (-(-h // div) * div if div > 0 else h)
    pw = pad_w or (-(-w // div) * div if div > 0 else w)
    data = np.zeros((1, 3, ph, pw), f32)
    if pad_value is not None:
        data[0] = pad_value.reshape(3, 1, 1)
    data[0, :, :h, :w] = img.transpose(2, 0, 1).astype(f32)
    return data, np.array([[h, w, 1.0]], f32)


# ------------------------------------------------------------------ DefaultPredictor-style answers

def paste_masks(probs, boxes, H, W):
    """detectron2 paste_masks_in_image semantics via grid_sample (bilinear, zeros,
    align_corners=False) over the whole image, threshold >= 0.5."""
    n = probs.shape[0]
    out = np.zeros((n, H, W), bool)
    ys = torch.arange(H, dtype=torch.float32) + 0.5
    xs = torch.arange(W, dtype=torch.float32) + 0.5
    for i in range(n):
        x0, y0, x1, y1 = (torch.tensor(float(v), dtype=torch.float32) for v in boxes[i])
        gy = (ys - y0) / (y1 - y0) * 2 - 1
        gx = (xs - x0) / (x1 - x0) * 2 - 1
        grid = torch.stack([gx[None, :].expand(H, W), gy[:, None].expand(H, W)], dim=2)[None]
        m = F.grid_sample(torch.from_numpy(probs[i][None, None]), grid, align_corners=False)
        out[i] = (m[0, 0] >= 0.5).numpy()
    return out


def predictor_answer(boxes, scores, classes, masks, resized_hw, orig_hw, outdir):
    """detector_postprocess: scale to the original size, clip, drop empty boxes, paste."""
    rh, rw = resized_hw
    oh, ow = orig_hw
    sx, sy = f32(ow) / f32(rw), f32(oh) / f32(rh)
    order = np.argsort(-scores.astype(np.float64), kind="stable")
    b = boxes[order].astype(f32).copy()
    b[:, 0::2] *= sx
    b[:, 1::2] *= sy
    b[:, 0::2] = np.clip(b[:, 0::2], 0, f32(ow))
    b[:, 1::2] = np.clip(b[:, 1::2], 0, f32(oh))
    keep = (b[:, 2] - b[:, 0] > 0) & (b[:, 3] - b[:, 1] > 0)
    os.makedirs(outdir, exist_ok=True)
    np.save(os.path.join(outdir, "boxes.npy"), b[keep])
    np.save(os.path.join(outdir, "scores.npy"), scores[order][keep].astype(f32))
    np.save(os.path.join(outdir, "classes.npy"), classes[order][keep].astype(np.int64))
    if masks is not None:
        m = paste_masks(masks[order][keep], b[keep], oh, ow)
        np.save(os.path.join(outdir, "masks_packed.npy"), np.packbits(m, axis=-1))
        with open(os.path.join(outdir, "masks_shape.json"), "w") as f:
            json.dump({"shape": list(m.shape)}, f)


def picked_masks(blobs):
    """mask_fcn_probs rows with only... all K channels kept (the test compares them all)."""
    return blobs["mask_fcn_probs"]


def save_input(d, img, data, info):
    """data_<img>.npy / im_info_<img>.npy; the size_divisibility-32 models share one set
    (tests/data/caffe2/inputs), and must agree on it."""
    os.makedirs(d, exist_ok=True)
    for prefix, v in (("data", data), ("im_info", info)):
        path = os.path.join(d, f"{prefix}_{img}.npy")
        if d == INPUTS and os.path.exists(path) and path in SAVED_INPUTS:
            assert np.array_equal(np.load(path), v), path
        np.save(path, v)
        SAVED_INPUTS.add(path)


SAVED_INPUTS = set()


def save_ref(d, name, boxes, scores, classes, masks=None):
    os.makedirs(os.path.join(d, name), exist_ok=True)
    np.save(os.path.join(d, name, "pred_boxes.npy"), boxes.astype(f32))
    np.save(os.path.join(d, name, "scores.npy"), scores.astype(f32))
    np.save(os.path.join(d, name, "pred_classes.npy"), classes.astype(f32))
    if masks is not None:
        np.save(os.path.join(d, name, "pred_masks.npy"), masks.astype(f32))


# ------------------------------------------------------------------ ONNX (caffe2_tracing export)

CAFFE2_DOMAIN = "org.pytorch._caffe2"
ONNX_STANDARD = {"Conv", "ConvTranspose", "Relu", "Sigmoid", "MaxPool", "Add", "Sub", "Div", "Flatten", "Softmax",
                 "Concat", "FC"}


def write_onnx(b, outputs, path, data_shape):
    """The same graph as detectron2's Caffe2Tracer.export_onnx writes it: standard ONNX
    ops for the dense layers, Caffe2 ops as nodes of domain org.pytorch._caffe2 (same
    attributes), inputs x.1 / x.3 renamed through AliasWithName, outputs through
    AliasWithName (roi_bbox_nms, then numeric names), no NetDef rewrites."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rename = {"data": "/AliasWithName_output_0", "im_info": "/AliasWithName_1_output_0"}

    nodes = []
    for i, (src, blob) in enumerate((("x.1", "data"), ("x.3", "im_info"))):
        n = helper.make_node("AliasWithName", [src], [rename[blob]], domain=CAFFE2_DOMAIN)
        n.attribute.extend([helper.make_attribute("name", blob), helper.make_attribute("is_backward", 0)])
        nodes.append(n)
    out_alias = {"bbox_nms": "roi_bbox_nms", "score_nms": "549", "class_nms": "548", "mask_fcn_probs": "611"}
    produced = {}
    for op in b.net.ops:
        ins = [rename.get(i, i) for i in op.inputs]
        outs = list(op.outputs)
        for k, o in enumerate(outs):
            if o in out_alias:
                produced[o] = outs[k] = f"{op.name}_output_{k}"
        attrs = {}
        if op.type in ONNX_STANDARD:
            ty, dom = op.type, ""
            if op.type in ("Conv", "ConvTranspose", "MaxPool"):
                attrs = {"kernel_shape": op.arg("kernels"), "strides": op.arg("strides"), "pads": op.arg("pads")}
                if op.type == "Conv":
                    attrs.update(dilations=op.arg("dilations"), group=op.arg("group"))
            elif op.type in ("Flatten", "Softmax", "Concat"):
                attrs = {"axis": op.arg("axis")}
                outs = outs[:1]
            elif op.type == "FC":
                ty, attrs = "Gemm", {"transB": 1}
        else:
            ty, dom = op.type, CAFFE2_DOMAIN
            attrs = {}
            for k, v in op.args:
                attrs[k] = list(v) if isinstance(v, (list, tuple)) else v
        node = helper.make_node(ty, ins, outs, name=op.name or None, domain=dom or None)
        for k, v in attrs.items():
            node.attribute.append(helper.make_attribute(k, v))
        nodes.append(node)
        for o in op.outputs:
            if o in out_alias:
                rename[o] = out_alias[o]
                a = helper.make_node("AliasWithName", [produced[o]], [out_alias[o]], domain=CAFFE2_DOMAIN)
                a.attribute.extend([helper.make_attribute("name", o), helper.make_attribute("is_backward", 0)])
                nodes.append(a)
    inits = [numpy_helper.from_array(v, name=k) for k, v in b.net.weights.items()]
    g = helper.make_graph(
        nodes, "torch_jit",
        [helper.make_tensor_value_info("x.1", TensorProto.FLOAT, list(data_shape)),
         helper.make_tensor_value_info("x.3", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info(out_alias[o], TensorProto.FLOAT, None) for o in outputs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14), helper.make_opsetid(CAFFE2_DOMAIN, 1)],
                          producer_name="pytorch")
    onnx.save(m, path)


# ------------------------------------------------------------------ writing one model

def write_netdef(b, outputs, args, d):
    os.makedirs(d, exist_ok=True)
    ext_in = ["data", "im_info"] + [w for w in b.net.weight_order if w.startswith("_wrapped_model.")]
    with open(os.path.join(d, "model.pb"), "wb") as f:
        f.write(c2net.encode_net("torch_jit_predict", b.net.ops, ext_in, outputs, args))
    with open(os.path.join(d, "model_init.pb"), "wb") as f:
        f.write(b.net.init_net())


def rcnn_fixture(name, seed, images, predictor=False, onnx_export=False, batch=True, **kw):
    b, outputs, args = build_rcnn(seed, **kw)
    div = dict(args)["size_divisibility"]
    mask = "mask_fcn_probs" in outputs
    gh_data, gh_info = make_data(images["gh"], div)
    calibrate(b, {"data": gh_data, "im_info": gh_info})
    d = os.path.join(OUT, name)
    write_netdef(b, outputs, args, d)
    names = ["gh", "mirror", "flipud", "crop"] if batch else ["gh"]
    datas, infos = [], []
    summary = {}
    for img in names:
        data, info = make_data(images[img], div, *(gh_data.shape[2:] if div else (None, None)))
        blobs = run(b.net, {"data": data, "im_info": info})
        save_input(d if div != 32 else INPUTS, img, data, info)
        save_ref(d, f"ref_{img}", blobs["bbox_nms"], blobs["score_nms"], blobs["class_nms"],
                 blobs["mask_fcn_probs"] if mask else None)
        datas.append(data)
        infos.append(info)
        s = blobs["score_nms"]
        summary[img] = {"detections": int(s.size), "score_range": [float(s.min()), float(s.max())] if s.size else [],
                        "classes": sorted(set(int(c) for c in blobs["class_nms"]))}
    if batch:
        save_input(INPUTS, "batch4", np.concatenate(datas), np.concatenate(infos))
    if onnx_export:
        write_onnx(b, outputs, os.path.join(d, "model.onnx"), gh_data.shape)
    if predictor:
        predictor_refs(b, d, div, lambda blobs: (blobs["bbox_nms"], blobs["score_nms"], blobs["class_nms"],
                                                 blobs["mask_fcn_probs"] if mask else None), mask)
    return summary


def predictor_refs(b, d, div, answer, mask):
    """Predictor images: resized BGR from the fixtures, padded with the pixel mean (d2rt's
    default, equal to DefaultPredictor), one image per run."""
    for stem in ("grace_hopper", "grace_hopper_fliprot90"):  # masks pasted for grace_hopper only (size)
        resized = np.load(os.path.join(IMAGES, f"{stem}.resized_bgr_uint8.npy"))
        orig = np.load(os.path.join(IMAGES, f"{stem}.decoded_bgr_uint8.npy"), mmap_mode="r").shape[:2]
        data, info = make_data(resized, div, pad_value=PIXEL_MEAN)
        blobs = run(b.net, {"data": data, "im_info": info})
        boxes, scores, classes, masks = answer(blobs)
        if masks is not None:
            masks = masks[np.arange(len(classes)), classes.astype(np.int64)] if stem == "grace_hopper" else None
        predictor_answer(boxes, scores, classes, masks, resized.shape[:2], orig, os.path.join(d, f"pred_{stem}"))


def retinanet_fixture(name, seed, images, anchor_cfg=None, predictor=False):
    b, outputs, args, cfg = build_retinanet(seed, anchor_cfg)
    gh_data, gh_info = make_data(images["gh"], 32)
    calibrate(b, {"data": gh_data, "im_info": gh_info})
    d = os.path.join(OUT, name)
    write_netdef(b, outputs, args, d)
    datas, infos, summary = [], [], {}
    for img in ["gh", "mirror", "flipud", "crop"]:
        data, info = make_data(images[img], 32, *gh_data.shape[2:])
        blobs = run(b.net, {"data": data, "im_info": info})
        boxes, scores, classes = retinanet_postprocess(blobs, info, cfg)
        save_input(INPUTS, img, data, info)
        save_ref(d, f"ref_{img}", boxes, scores, classes)
        datas.append(data)
        infos.append(info)
        summary[img] = {"detections": int(scores.size), "score_range": [float(scores.min()), float(scores.max())]}
    save_input(INPUTS, "batch4", np.concatenate(datas), np.concatenate(infos))
    if predictor:
        predictor_refs(b, d, 32, lambda blobs: retinanet_postprocess(blobs, None, cfg) + (None,), False)
    return summary


def main():
    images = load_images()
    summary = {
        "mask_rcnn": rcnn_fixture("mask_rcnn", 1, images, predictor=True, onnx_export=True),
        "retinanet": retinanet_fixture("retinanet", 2, images, predictor=True),
        # held-out variants
        "heldout_default_plus_one": rcnn_fixture("heldout_default_plus_one", 3, images, mask=False, plus_one=False,
                                                 batch=False),
        "heldout_c4": rcnn_fixture("heldout_c4", 4, images, fpn=False, batch=False),
        "heldout_agnostic_sigmoid": rcnn_fixture("heldout_agnostic_sigmoid", 5, images, mask=False, agnostic=True,
                                                 sigmoid=True, batch=False),
        "heldout_retinanet_anchor_args": retinanet_fixture(
            "heldout_retinanet_anchor_args", 6, images,
            anchor_cfg=dict(sizes=[[24 * 2 ** i, 40 * 2 ** i] for i in range(5)], ratios=[0.5, 1.0, 2.0],
                            offset=0.5)),
    }
    with open(os.path.join(OUT, "rcnn_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
