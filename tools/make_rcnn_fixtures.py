#!/usr/bin/env python3
"""tools/make_rcnn_fixtures.py: small random-weight torchvision detection models,
exported to ONNX, with reference outputs, for d2rt's end-to-end R-CNN tests.

Run from the repo root with the torch venv (see tools/README.md):
    /work/venv-torch/bin/python tools/make_rcnn_fixtures.py [model ...]

For each model in MODELS (faster_rcnn, mask_rcnn, keypoint_rcnn, retinanet) and each
opset in OPSETS (11 and 17) it writes tests/data/rcnn/<model>_opset<N>/:
    model.onnx        exported by the TorchScript-based exporter (dynamo=False),
                      fixed input shape, one image
    input_0.npy       the image, float32 [3, H, W] in 0..1 (torchvision convention:
                      the model normalises and resizes inside the graph)
    eager_out<k>.npy  the k-th output computed by PyTorch eager mode
    ort_out<k>.npy    the k-th output computed by onnxruntime on model.onnx
    names.txt         the graph's output names, one a line, in graph order (= k)
    info.json         versions, op histogram (nodes inside Loop/If bodies included,
                      keyed "domain::Op"), RoiAlign and Resize attributes, output
                      shapes, and how eager and onnxruntime outputs agree

The models are deliberately tiny (a 4-stage ResNet-like body with 16..48 channels,
FPN width 32, narrow heads) so each .onnx file is well under 1 MB and runs in
milliseconds. Weights are seeded and re-initialised with fan-in scaling so that the
activations, objectness and class logits are O(1): random torchvision weights are
otherwise so close to zero that every score ties. The final score threshold is then
calibrated (see calibrate_threshold) so that each model returns a few tens of
detections whose scores are distinct and far (>= MIN_SCORE_GAP) from the
threshold, which keeps eager and onnxruntime from disagreeing about which
borderline detection survives.

The agreement check is the R-CNN tolerance used by the C tests: a detection matches
when a detection of the same class has IoU >= 0.999 and |score difference| <= 1e-4;
matched keypoints, keypoint scores and masks are then compared element-wise.
"""
import argparse
import collections
import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision
from torch import nn
from torchvision.models.detection import (FasterRCNN, KeypointRCNN, MaskRCNN,
                                          RetinaNet)
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import (FastRCNNPredictor,
                                                      TwoMLPHead)
from torchvision.models.detection.keypoint_rcnn import (KeypointRCNNHeads,
                                                        KeypointRCNNPredictor)
from torchvision.models.detection.mask_rcnn import (MaskRCNNHeads,
                                                    MaskRCNNPredictor)
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.models.resnet import BasicBlock
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import (LastLevelMaxPool,
                                                     LastLevelP6P7)

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT_ROOT = os.path.join(REPO, "tests", "data", "rcnn")

MODELS = ["faster_rcnn", "mask_rcnn", "keypoint_rcnn", "retinanet"]
IMAGE_SEED = 2024        # one input image for every model (git stores it once)
OPSETS = [11, 17]

# Input image [3, H, W]. The model's transform resizes it so the short side is
# MIN_SIZE (scale 128/120, a real bilinear Resize in the graph) and pads to a
# multiple of 32 (128 x 192), so both Resize and the padding path are exercised.
IMAGE_HW = (120, 168)
MIN_SIZE = 128
MAX_SIZE = 224
NUM_CLASSES = 5          # background + 4
NUM_KEYPOINTS = 5
FPN_CHANNELS = 16
BOX_HEAD_WIDTH = 32

# Detection count targets (masks are N x 1 x H x W float32, hence fewer for Mask R-CNN).
TARGET_DETECTIONS = {"faster_rcnn": 30, "mask_rcnn": 8, "keypoint_rcnn": 16, "retinanet": 30}
MIN_SCORE_GAP = 1e-3     # no candidate score within this of the threshold
IOU_MATCH = 0.999
SCORE_TOL = 1e-4


# --------------------------------------------------------------------------- model
class TinyResNetBody(nn.Module):
    """ResNet-shaped body: stem (stride 4) then layer1..layer4 at strides 4..32,
    one BasicBlock each, channels 8, 16, 24, 32. BackboneWithFPN picks the layers."""

    CHANNELS = (8, 16, 24, 32)

    def __init__(self):
        super().__init__()
        c = self.CHANNELS
        self.stem = nn.Sequential(
            nn.Conv2d(3, c[0], 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1))
        self.layer1 = BasicBlock(c[0], c[0])
        self.layer2 = self._down_block(c[0], c[1])
        self.layer3 = self._down_block(c[1], c[2])
        self.layer4 = self._down_block(c[2], c[3])

    @staticmethod
    def _down_block(cin, cout):
        downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=2, bias=False),
                                   nn.BatchNorm2d(cout))
        return BasicBlock(cin, cout, stride=2, downsample=downsample)

    def forward(self, x):  # only used through IntermediateLayerGetter
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def tiny_fpn_backbone(extra_blocks, first_layer=1):
    """FPN on layer<first_layer>..layer4, levels named "0", "1", ... like torchvision's
    resnet_fpn_backbone, plus the extra levels of extra_blocks."""
    layers = range(first_layer, 5)
    return BackboneWithFPN(TinyResNetBody(),
                           return_layers={f"layer{k}": str(i) for i, k in enumerate(layers)},
                           in_channels_list=[TinyResNetBody.CHANNELS[k - 1] for k in layers],
                           out_channels=FPN_CHANNELS,
                           extra_blocks=extra_blocks)


def reinit_weights(model, seed):
    """Seeded fan-in scaled weights, small random biases, random BatchNorm affine
    parameters. Reproducible with the same torch version."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                w = m.weight
                fan_in = w.shape[0] * w[0, 0].numel() if isinstance(m, nn.ConvTranspose2d) else w[0].numel()
                w.copy_(torch.randn(w.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=gen))
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)


def output_layer_targets(model):
    """layer -> (wanted output std, normalise each channel separately?[, mean]) for
    the layers whose outputs
    are decoded: box deltas of a few tenths (boxes move but stay boxes), class and
    objectness logits spread by a few units (scores spread over 0..1 rather than
    saturating), mask and heatmap logits spread by a few units."""
    if isinstance(model, RetinaNet):
        # Sigmoid scores: centre the logits at -3 so only the tail scores high.
        return {model.head.regression_head.bbox_reg: (0.15, False),
                model.head.classification_head.cls_logits: (1.5, True, -3.0)}
    heads = model.roi_heads
    targets = {model.rpn.head.cls_logits: (2.0, True),
               model.rpn.head.bbox_pred: (0.15, False),
               heads.box_predictor.bbox_pred: (0.15, False),
               heads.box_predictor.cls_score: (1.2, True)}
    if heads.mask_predictor is not None:
        targets[heads.mask_predictor.mask_fcn_logits] = (3.0, False)
    if heads.keypoint_predictor is not None:
        targets[heads.keypoint_predictor.kps_score_lowres] = (2.0, False)
    return targets


def set_decorrelated_logits(layer, features, std):
    """layer(x) = std * Q @ C^-1/2 @ (x - mean): uncorrelated outputs of std `std`
    on `features`, Q a seeded random matrix with orthonormal rows."""
    mean = features.double().mean(0)
    centred = features.double() - mean
    cov = centred.T @ centred / (len(features) - 1)
    eigval, eigvec = torch.linalg.eigh(cov + 1e-4 * torch.eye(cov.shape[0], dtype=cov.dtype))
    inv_sqrt = eigvec @ torch.diag(eigval.rsqrt()) @ eigvec.T
    gen = torch.Generator().manual_seed(7)
    q, _ = torch.linalg.qr(torch.randn(layer.weight.shape[1], layer.weight.shape[0],
                                       generator=gen, dtype=torch.float64))
    weight = std * q.T @ inv_sqrt
    layer.weight.copy_(weight.float())
    layer.bias.copy_((-weight @ mean).float())


def layers_in_execution_order(model, image):
    """Conv/Linear/BatchNorm modules in the order a forward pass first runs them."""
    order = []
    hooks = [m.register_forward_hook(lambda m, i, o: order.append(m) if m not in order else None)
             for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.BatchNorm2d))]
    with torch.no_grad():
        model([image])
    for h in hooks:
        h.remove()
    return order


def calibrate_activations(model, image):
    """Data-dependent scaling (in the spirit of LSUV initialisation): every
    Conv/Linear is rescaled so its output on the fixture image has std 1 (or the
    output-layer target), and every BatchNorm gets the running statistics of its
    actual input, so activations stay O(1) through the 30-odd layers instead of
    growing layer by layer. Logit layers are normalised per channel (mean 0, same
    std for every class), so no class dominates every detection."""
    targets = output_layer_targets(model)
    # The mask and keypoint heads see only detections: calibrate them on the top
    # 100 whatever their scores, a count that keeps the ~40 forward passes quick.
    set_score_thresh(model, 0.0, 100)
    # In execution order, each layer is scaled after everything upstream of it.
    for layer in layers_in_execution_order(model, image):
        captured = []
        hook = layer.register_forward_hook(
            lambda m, i, o: captured.append((i[0].detach().clone(), o.detach().clone())))  # clone: a ReLU may follow in place
        with torch.no_grad():
            model([image])
        hook.remove()
        if not captured:
            continue
        # A shared head (RPN, RetinaNet) runs once per FPN level: pool them all.
        channel_dim = 1 if captured[0][1].dim() == 4 else -1
        def per_channel(t):
            return t.movedim(channel_dim, -1).reshape(-1, t.shape[channel_dim])
        inputs = torch.cat([per_channel(i) for i, _ in captured])
        outputs = torch.cat([per_channel(o) for _, o in captured])
        with torch.no_grad():
            if isinstance(layer, nn.BatchNorm2d):
                layer.running_mean.copy_(inputs.mean(0))
                layer.running_var.copy_(inputs.var(0) + layer.eps)
                continue
            std, per_channel_norm, centre = (targets.get(layer, (1.0, False)) + (0.0,))[:3]
            if per_channel_norm and isinstance(layer, nn.Linear):
                # Class logits: project whitened features on orthonormal random
                # directions, so the classes' logits are uncorrelated with equal
                # spread and each class wins some detections.
                set_decorrelated_logits(layer, inputs, std)
                continue
            if per_channel_norm:  # each output channel: mean 0, std `std`
                scale = std / outputs.std(0)
                shift = outputs.mean(0) * scale - centre
            else:
                scale = torch.full((outputs.shape[1],), std / float(outputs.std()))
                shift = torch.zeros(outputs.shape[1])
            # Output channels are dim 0 of Conv2d/Linear weights, dim 1 of ConvTranspose2d.
            out_dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0
            shape = [1] * layer.weight.dim()
            shape[out_dim] = -1
            layer.weight.mul_(scale.reshape(shape))
            if layer.bias is not None:
                layer.bias.mul_(scale).sub_(shift)


def build_model(name, seed):
    """Returns an eval-mode torchvision detector with tiny heads."""
    torch.manual_seed(seed)
    common = dict(min_size=MIN_SIZE, max_size=MAX_SIZE)
    # Anchor sizes fit the small image; one aspect ratio per R-CNN level keeps the
    # anchor count (~2,000) below the RPN top-n limits, so no top-n cut can fall
    # between two near-equal objectness scores.
    if name == "retinanet":
        anchor_gen = AnchorGenerator(sizes=((16,), (32,), (64,), (128,), (256,)),
                                     aspect_ratios=((0.5, 1.0, 2.0),) * 5)
        # As torchvision's retinanet_resnet50_fpn: P3-P5 from layer2..4, P6/P7 from P5.
        model = RetinaNet(tiny_fpn_backbone(LastLevelP6P7(FPN_CHANNELS, FPN_CHANNELS), first_layer=2),
                          num_classes=NUM_CLASSES, anchor_generator=anchor_gen,
                          head=RetinaNetHead(FPN_CHANNELS, 3, NUM_CLASSES),
                          topk_candidates=100000, detections_per_img=1000, **common)
    else:
        anchor_gen = AnchorGenerator(sizes=((16,), (32,), (64,), (128,), (256,)),
                                     aspect_ratios=((1.0,),) * 5)
        box_pool = MultiScaleRoIAlign(["0", "1", "2", "3"], output_size=7, sampling_ratio=2)
        kwargs = dict(
            num_classes=None, rpn_anchor_generator=anchor_gen,
            rpn_pre_nms_top_n_test=10000, rpn_post_nms_top_n_test=10000,
            box_roi_pool=box_pool,
            box_head=TwoMLPHead(FPN_CHANNELS * 7 * 7, BOX_HEAD_WIDTH),
            box_predictor=FastRCNNPredictor(BOX_HEAD_WIDTH, NUM_CLASSES),
            box_detections_per_img=1000, **common)
        if name == "faster_rcnn":
            model = FasterRCNN(tiny_fpn_backbone(LastLevelMaxPool()), **kwargs)
        elif name == "mask_rcnn":
            model = MaskRCNN(
                tiny_fpn_backbone(LastLevelMaxPool()),
                mask_roi_pool=MultiScaleRoIAlign(["0", "1", "2", "3"], output_size=14, sampling_ratio=2),
                mask_head=MaskRCNNHeads(FPN_CHANNELS, (16, 16), 1),
                mask_predictor=MaskRCNNPredictor(16, 16, NUM_CLASSES), **kwargs)
        elif name == "keypoint_rcnn":
            model = KeypointRCNN(
                tiny_fpn_backbone(LastLevelMaxPool()),
                keypoint_roi_pool=MultiScaleRoIAlign(["0", "1", "2", "3"], output_size=14, sampling_ratio=2),
                keypoint_head=KeypointRCNNHeads(FPN_CHANNELS, (16, 16)),
                keypoint_predictor=KeypointRCNNPredictor(16, NUM_KEYPOINTS), **kwargs)
        else:
            raise ValueError(name)
    reinit_weights(model, seed)
    model.eval()
    return model


def set_score_thresh(model, thresh, limit):
    if isinstance(model, RetinaNet):
        model.score_thresh = thresh
        model.detections_per_img = limit
    else:
        model.roi_heads.score_thresh = thresh
        model.roi_heads.detections_per_img = limit


def candidate_scores(model, image):
    """Every per-class score that the final threshold is applied to."""
    captured = []
    if isinstance(model, RetinaNet):
        hook_module = model.head.classification_head
        to_scores = lambda out: torch.sigmoid(out).flatten()  # noqa: E731
    else:
        hook_module = model.roi_heads.box_predictor
        to_scores = lambda out: torch.softmax(out[0], -1)[:, 1:].flatten()  # noqa: E731
    handle = hook_module.register_forward_hook(lambda m, i, o: captured.append(to_scores(o)))
    with torch.no_grad():
        model([image])
    handle.remove()
    return np.sort(captured[0].numpy())[::-1]


def calibrate_threshold(model, image, target):
    """Pick the score threshold: the midpoint of a gap >= 2*MIN_SCORE_GAP in the
    sorted candidate scores at which the model returns >= target detections
    (the count only grows as the threshold falls). Detection limits stay high, so
    no top-k cut ranks near-equal scores."""
    scores = candidate_scores(model, image)
    gaps = [i for i in range(len(scores) - 1) if scores[i] - scores[i + 1] >= 2 * MIN_SCORE_GAP]

    def count(i):
        set_score_thresh(model, float((scores[i] + scores[i + 1]) / 2), 100000)
        with torch.no_grad():
            return len(model([image])[0]["scores"])

    lo, hi = 0, len(gaps) - 1
    while lo < hi:  # first gap index whose detection count reaches the target
        mid = (lo + hi) // 2
        if count(gaps[mid]) >= target:
            hi = mid
        else:
            lo = mid + 1
    i = gaps[lo]
    thresh = float((scores[i] + scores[i + 1]) / 2)
    n = count(i)
    set_score_thresh(model, thresh, n + 1000)
    return thresh, n


# --------------------------------------------------------------------------- data
def make_image(seed):
    """A smooth synthetic picture: a gradient, a few soft blobs and rectangles, mild
    noise; float32 [3, H, W] in 0..1."""
    rng = np.random.default_rng(seed)
    h, w = IMAGE_HW
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.3 + 0.3 * xx / w, 0.4 * yy / h + 0.2, np.full((h, w), 0.5, np.float32)])
    for _ in range(6):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(8, 30)
        color = rng.uniform(0, 1, 3).astype(np.float32)
        alpha = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img = img * (1 - alpha) + color[:, None, None] * alpha
    for _ in range(4):
        y0, x0 = rng.integers(0, h - 20), rng.integers(0, w - 20)
        hh, ww = rng.integers(10, 40), rng.integers(10, 50)
        img[:, y0:y0 + hh, x0:x0 + ww] = rng.uniform(0, 1, (3, 1, 1))
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


# --------------------------------------------------------------------------- export
def export(model, image, path, opset, names):
    torch.onnx.export(model, ([image],), path, opset_version=opset, dynamo=False,
                      input_names=["image"], output_names=names,
                      do_constant_folding=True)


def op_histogram(graph, hist=None):
    """Node counts by "domain::op", including nodes in subgraphs (Loop, If, Scan)."""
    hist = collections.Counter() if hist is None else hist
    for node in graph.node:
        hist[f"{node.domain or 'ai.onnx'}::{node.op_type}"] += 1
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                op_histogram(attr.g, hist)
            for g in attr.graphs:
                op_histogram(g, hist)
    return hist


def node_attributes(graph, op_type):
    """The attributes of every top-level `op_type` node (RoiAlign, Resize: the ops
    whose semantics hinge on attributes that changed between opsets)."""
    found = []
    for node in graph.node:
        if node.op_type == op_type:
            found.append({a.name: onnx.helper.get_attribute_value(a) for a in node.attribute})
    return [{k: (v.decode() if isinstance(v, bytes) else v) for k, v in d.items()} for d in found]


# --------------------------------------------------------------------------- compare
def box_iou(a, b):
    """IoU matrix of [N,4] and [M,4] xyxy boxes (float64)."""
    a = a.astype(np.float64)[:, None, :]
    b = b.astype(np.float64)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_detections(ref, got):
    """Greedy one-to-one matching (in ref order) of detections with the same label,
    IoU >= IOU_MATCH and |score diff| <= SCORE_TOL. Returns pairs and unmatched."""
    iou = box_iou(ref["boxes"], got["boxes"])
    used = set()
    pairs = []
    for i in range(len(ref["scores"])):
        best, best_iou = None, -1.0
        for j in range(len(got["scores"])):
            if j in used or got["labels"][j] != ref["labels"][i]:
                continue
            if abs(float(got["scores"][j]) - float(ref["scores"][i])) > SCORE_TOL:
                continue
            if iou[i, j] >= IOU_MATCH and iou[i, j] > best_iou:
                best, best_iou = j, iou[i, j]
        if best is not None:
            used.add(best)
            pairs.append((i, best))
    return pairs


def compare(ref, got, names):
    pairs = match_detections(ref, got)
    n_ref, n_got = len(ref["scores"]), len(got["scores"])
    result = {
        "detections_eager": n_ref, "detections_ort": n_got, "matched": len(pairs),
        "same_order": all(i == j for i, j in pairs) and len(pairs) == n_ref == n_got,
    }
    if pairs:
        ri = np.array([p[0] for p in pairs])
        gi = np.array([p[1] for p in pairs])
        result["max_abs_diff_boxes"] = float(np.abs(ref["boxes"][ri] - got["boxes"][gi]).max())
        result["max_abs_diff_scores"] = float(np.abs(ref["scores"][ri] - got["scores"][gi]).max())
        result["min_iou"] = float(min(box_iou(ref["boxes"][ri], got["boxes"][gi]).diagonal()))
        for extra in [n for n in names if n not in ("boxes", "labels", "scores")]:
            d = np.abs(ref[extra][ri].astype(np.float64) - got[extra][gi].astype(np.float64))
            result[f"max_abs_diff_{extra}"] = float(d.max()) if d.size else 0.0
            if extra == "masks":
                binary_ref = ref[extra][ri] > 0.5
                binary_got = got[extra][gi] > 0.5
                result["mask_pixels_differing_at_0.5"] = int((binary_ref != binary_got).sum())
    result["within_rcnn_tolerance"] = (len(pairs) == n_ref == n_got)
    return result


# --------------------------------------------------------------------------- main
def prepare_model(name, seed):
    """The calibrated eval-mode model, its input image, and its score threshold."""
    model = build_model(name, seed)
    image = torch.from_numpy(make_image(IMAGE_SEED))
    calibrate_activations(model, image)
    thresh, n_det = calibrate_threshold(model, image, TARGET_DETECTIONS[name])
    return model, image, thresh, n_det


def write_fixture(name, opset, seed, model, image, thresh, n_det):
    out_dir = os.path.join(OUT_ROOT, f"{name}_opset{opset}")
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)

    with torch.no_grad():
        eager = model([image])[0]
    # The graph's outputs follow the detection dict's order: boxes, labels, scores
    # (+ masks | keypoints, keypoints_scores) for R-CNNs, boxes, scores, labels for
    # RetinaNet.
    names = list(eager.keys())
    eager = {k: eager[k].numpy() for k in names}

    onnx_path = os.path.join(out_dir, "model.onnx")
    export(model, image, onnx_path, opset, names)
    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto)
    graph_names = [o.name for o in proto.graph.output]
    assert graph_names == names, (graph_names, names)

    options = ort.SessionOptions()
    # Mask R-CNN's exported paste-masks Loop declares its scan output as
    # {1, H, W} while it grows to {N, H, W}; onnxruntime warns once per iteration.
    options.log_severity_level = 3
    sess = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    ort_values = sess.run(None, {sess.get_inputs()[0].name: image.numpy()})
    ort_out = dict(zip(graph_names, ort_values))

    np.save(os.path.join(out_dir, "input_0.npy"), image.numpy())
    for k, n in enumerate(graph_names):
        np.save(os.path.join(out_dir, f"eager_out{k}.npy"), eager[n])
        np.save(os.path.join(out_dir, f"ort_out{k}.npy"), ort_out[n])
    with open(os.path.join(out_dir, "names.txt"), "w") as f:
        f.write("".join(n + "\n" for n in graph_names))

    agreement = compare(eager, ort_out, graph_names)
    hist = op_histogram(proto.graph)
    opsets = {(o.domain or "ai.onnx"): o.version for o in proto.opset_import}
    info = {
        "model": name, "opset": opset, "seed": seed,
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                     "onnx": onnx.__version__, "onnxruntime": ort.__version__,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
        "exporter": "torch.onnx.export(dynamo=False), TorchScript-based",
        "opset_import": opsets,
        "input": {"name": proto.graph.input[0].name, "shape": list(image.shape), "dtype": "float32",
                  "range": "0..1; the graph normalises (ImageNet mean/std), resizes the short "
                           f"side to {MIN_SIZE} (bilinear) and pads to a multiple of 32"},
        "num_classes_incl_background": NUM_CLASSES,
        "score_thresh": thresh,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "onnx_bytes": os.path.getsize(onnx_path),
        "outputs": [{"name": n, "shape": list(ort_out[n].shape), "dtype": str(ort_out[n].dtype)}
                    for n in graph_names],
        "op_histogram": dict(sorted(hist.items())),
        "roi_align_attributes": node_attributes(proto.graph, "RoiAlign"),
        "resize_attributes": node_attributes(proto.graph, "Resize"),
        "eager_vs_ort": agreement,
    }
    with open(os.path.join(out_dir, "info.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(f"{name}_opset{opset}: {n_det} detections (thresh {thresh:.6f}), "
          f"{info['parameters']} params, {info['onnx_bytes']} bytes, "
          f"eager vs ort: {json.dumps(agreement)}")
    return agreement["within_rcnn_tolerance"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", help=f"models to (re)build, of {MODELS}; default all")
    args = parser.parse_args()
    unknown = set(args.models) - set(MODELS)
    if unknown:
        parser.error(f"unknown model(s) {sorted(unknown)}; choose from {MODELS}")
    torch.set_num_threads(1)  # deterministic reductions in eager mode
    ok = True
    for idx, name in enumerate(MODELS):
        if args.models and name not in args.models:
            continue
        seed = 1000 + 10 * idx
        prepared = prepare_model(name, seed)
        for opset in OPSETS:
            ok &= write_fixture(name, opset, seed, *prepared)
    if not ok:
        print("WARNING: onnxruntime and eager disagree beyond the R-CNN tolerance", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
