#!/usr/bin/env python3
"""tools/make_caffe2_edge_cases.py: tiny Caffe2 nets that pin the detection operators'
edge cases, for tests/unit/test_caffe2_edge.c.

Run with the torch venv: /work/venv-torch/bin/python tools/make_caffe2_edge_cases.py

Each case is a NetDef whose inputs are all init_net constants (GivenTensorFill /
GivenTensorIntFill), so the test imports it and runs it without feeds. Expected outputs
come from tools/c2net.py's reference interpreter (Caffe2 operator semantics, independent
of d2rt). Writes tests/data/caffe2/edge/<case>/{model.pb, model_init.pb, out<k>.npy}.

  nms_empty            BoxWithNMSLimit on zero rows (with batch_splits [0]): every output empty
  nms_below_thresh     no score > score_thresh (strict): empty outputs, batch_splits [0]
  nms_ties             equal scores: the lower row wins (stable), output by class then row
  nms_zero_area        zero-area boxes: identical ones give IoU 0/0 = NaN, which Caffe2 suppresses;
                       against a normal box IoU 0 keeps; legacy_plus_one=0
  nms_plus_one_off /   two boxes with IoU 0.333 (w = x2-x1) or 0.375 (w = x2-x1+1) against
  nms_plus_one_on      nms 0.35: both kept without +1, one suppressed with it
  nms_plus_one_default the same net without the legacy_plus_one argument: Caffe2's default (1)
  distribute_empty     DistributeFpnProposals of zero rois: four empty levels, empty restore index
  distribute_4col      4-column rois (bbox_nms) on exact level boundaries (sqrt(area)/224 = 2^k),
                       a zero-area roi (clamped to the lowest level), a roi 5e-7 below a boundary
                       that the 1e-6 epsilon lifts, legacy_plus_one on
  zero_proposals       GenerateProposals that keeps nothing (min_size larger than the image),
                       through CollectRpnProposals, DistributeFpnProposals, RoIAlign, Concat,
                       BatchPermutation, BBoxTransform and BoxWithNMSLimit
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import c2net  # noqa: E402
from c2net import FloatList, Net, Op, f32  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "caffe2", "edge")


def nms_args(plus_one=0, thresh=0.05, nms=0.5, det=100):
    args = [("score_thresh", thresh), ("nms", nms), ("detections_per_im", det), ("soft_nms_enabled", 0),
            ("rotated", 0), ("cls_agnostic_bbox_reg", 0), ("input_boxes_include_bg_cls", 0),
            ("output_classes_include_bg_cls", 0)]
    if plus_one is not None:
        args.append(("legacy_plus_one", plus_one))
    return args


NMS_OUTS = ["score_nms", "bbox_nms", "class_nms", "batch_splits_nms", "keeps_nms", "keeps_size_nms"]


def write(case, net, outputs):
    d = os.path.join(OUT, case)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.pb"), "wb") as f:
        f.write(c2net.encode_net(case, net.ops, list(net.weight_order), outputs))
    with open(os.path.join(d, "model_init.pb"), "wb") as f:
        f.write(net.init_net())
    blobs = c2net.run(net, {})
    for k, o in enumerate(outputs):
        np.save(os.path.join(d, f"out{k}.npy"), blobs[o])
    print(case, [tuple(blobs[o].shape) for o in outputs])


def nms_case(case, scores, boxes, splits, **kw):
    n = Net()
    n.weight("scores", np.asarray(scores, f32))
    n.weight("boxes", np.asarray(boxes, f32))
    n.weight("splits", np.asarray(splits, f32))
    n.ops.append(Op("BoxWithNMSLimit", ["scores", "boxes", "splits"], NMS_OUTS, nms_args(**kw)))
    write(case, n, NMS_OUTS)


def main():
    # K = 2 foreground classes + background (last column)
    nms_case("nms_empty", np.zeros((0, 3)), np.zeros((0, 8)), [0])
    nms_case("nms_below_thresh", [[0.05, 0.01, 0.94], [0.02, 0.05, 0.93]], np.tile([0, 0, 10, 10], (2, 2)), [2])
    ties_boxes = [[0, 0, 10, 10, 0, 0, 10, 10], [0, 0, 10, 10, 50, 50, 60, 60], [20, 20, 30, 30, 1, 0, 11, 10]]
    nms_case("nms_ties", [[0.4, 0.3, 0.3], [0.4, 0.3, 0.3], [0.4, 0.3, 0.3]], ties_boxes, [3])
    zero = [[5, 5, 5, 5, 0, 0, 0, 9], [5, 5, 5, 5, 0, 0, 10, 10], [0, 0, 10, 10, 0, 0, 0, 9]]
    nms_case("nms_zero_area", [[0.9, 0.8, 0.1], [0.8, 0.7, 0.1], [0.7, 0.6, 0.1]], zero, [3])
    pair = [[0, 0, 10, 10, 0, 0, 1, 1], [5, 0, 15, 10, 0, 0, 1, 1]]
    pair_scores = [[0.9, 0.01, 0.09], [0.8, 0.01, 0.19]]
    nms_case("nms_plus_one_off", pair_scores, pair, [2], plus_one=0, nms=0.35)
    nms_case("nms_plus_one_on", pair_scores, pair, [2], plus_one=1, nms=0.35)
    nms_case("nms_plus_one_default", pair_scores, pair, [2], plus_one=None, nms=0.35)

    dist_args = [("roi_canonical_scale", 224), ("roi_canonical_level", 4), ("roi_max_level", 5), ("roi_min_level", 2)]
    dist_outs = ["rois_fpn2", "rois_fpn3", "rois_fpn4", "rois_fpn5", "rois_idx_restore_int32"]
    n = Net()
    n.weight("rois", np.zeros((0, 5), f32))
    n.ops.append(Op("DistributeFpnProposals", ["rois"], dist_outs, dist_args + [("legacy_plus_one", 0)]))
    write("distribute_empty", n, dist_outs)
    n = Net()
    # sqrt(area) = 112, 224, 448, 896 (+1 widths: w = x2 - x1 + 1), 56, a zero-area box, 10,
    # and 224 * (1 - 5e-7): level 4 with Caffe2's epsilon 1e-6, level 3 with detectron2's 1e-8
    sides = [112, 224, 448, 896, 56, 0, 10, 223.99989]
    rois = [[3, 7, 3 + s - 1, 7 + s - 1] for s in sides]
    rois[5] = [4, 4, 3, 3]  # w = h = 0 with +1
    n.weight("rois", np.array(rois, f32))
    n.ops.append(Op("DistributeFpnProposals", ["rois"], dist_outs, dist_args + [("legacy_plus_one", 1)]))
    write("distribute_4col", n, dist_outs)

    # zero proposals through the whole R-CNN detection chain
    n = Net()
    n.weight("scores", np.random.default_rng(1).standard_normal((1, 3, 4, 5)).astype(f32))
    n.weight("deltas", np.zeros((1, 12, 4, 5), f32))
    n.weight("im_info", np.array([[32, 40, 1]], f32))
    n.weight("anchors", np.array([[-8, -8, 8, 8], [-16, -8, 16, 8], [-8, -16, 8, 16]], f32))
    n.weight("feat", np.random.default_rng(2).standard_normal((1, 2, 8, 10)).astype(f32))
    n.weight("cls_prob", np.zeros((0, 3), f32))
    n.weight("bbox_deltas", np.zeros((0, 8), f32))
    n.ops.append(Op("GenerateProposals", ["scores", "deltas", "im_info", "anchors"], ["rois0", "probs0"],
                    [("spatial_scale", 0.125), ("pre_nms_topN", 10), ("post_nms_topN", 5), ("nms_thresh", 0.7),
                     ("min_size", 1000.0), ("legacy_plus_one", 0)]))
    n.ops.append(Op("CollectRpnProposals", ["rois0", "probs0"], ["rois"],
                    [("rpn_max_level", 2), ("rpn_min_level", 2), ("rpn_post_nms_topN", 5)]))
    n.ops.append(Op("DistributeFpnProposals", ["rois"], dist_outs, dist_args + [("legacy_plus_one", 0)]))
    pooled = []
    for i in range(4):
        n.ops.append(Op("RoIAlign", ["feat", dist_outs[i]], [f"pooled{i}"],
                        [("order", "NCHW"), ("spatial_scale", 0.125), ("pooled_h", 2), ("pooled_w", 2),
                         ("sampling_ratio", 0), ("aligned", 1)]))
        pooled.append(f"pooled{i}")
    n.ops.append(Op("Concat", pooled, ["pooled_all", "split_info"], [("axis", 0)]))
    n.ops.append(Op("BatchPermutation", ["pooled_all", "rois_idx_restore_int32"], ["pooled_rois"]))
    n.ops.append(Op("BBoxTransform", ["rois", "bbox_deltas", "im_info"], ["pred_boxes", "roi_splits"],
                    [("weights", FloatList([10, 10, 5, 5])), ("apply_scale", 1), ("rotated", 0),
                     ("legacy_plus_one", 0)]))
    n.ops.append(Op("BoxWithNMSLimit", ["cls_prob", "pred_boxes", "roi_splits"], NMS_OUTS, nms_args()))
    write("zero_proposals", n, ["rois", "pooled_rois", "pred_boxes", "roi_splits"] + NMS_OUTS)


if __name__ == "__main__":
    main()
