#!/usr/bin/env python3
"""tools/train_demo_model.py: trains the small Mask R-CNN that ships as d2rt's demo
model, on synthetic pictures of circles, squares and triangles, and exports it.

Run from the repo root with the torch venv (see tools/README.md):
    /work/venv-torch/bin/python tools/train_demo_model.py [--iterations N]

CPU only, one thread, seeded, about 10 minutes. Writes:
    examples/shapes_maskrcnn.onnx   torchvision Mask R-CNN, ONNX opset 17, exported by
                                    the TorchScript-based exporter (dynamo=False)
    examples/shapes.png             the demo picture (seed different from training)
    examples/shapes_input.npy       the exact model input: float32 [3, 128, 160], the
                                    PNG's RGB bytes / 255, channels first
    examples/classes.txt            label names, one a line; line k names label k
                                    (line 0 is the background, never output)
    examples/expected/out<k>.npy    onnxruntime's outputs for shapes_input.npy, in
                                    graph order; names.txt lists the names
                                    (boxes, labels, scores, masks)
    examples/expected/ground_truth.json  the demo picture's shapes (class, box)
and prints the training log summary and the weights' hash that docs/FIXTURES.md
records.

The model's input is the raw picture: torchvision's GeneralizedRCNNTransform is
part of the graph (normalise with ImageNet mean/std, "resize" at scale 1 because
min_size/max_size equal the picture's 128 x 160, pad to a multiple of 32, which
128 x 160 already is). Outputs are in the picture's pixel coordinates; masks are
pasted into the picture by the graph (N x 1 x 128 x 160, probabilities).
Detections scoring under SCORE_THRESH (0.5) are dropped inside the graph.

Quality bar, checked before anything is written: on the demo picture every shape
is found with the right class, IoU >= 0.8 and score > 0.7, and no other detection
scores above 0.5; the script fails otherwise.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.resnet import BasicBlock
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
EXAMPLES = os.path.join(REPO, "examples")

CLASSES = ["__background__", "circle", "square", "triangle"]
HEIGHT, WIDTH = 128, 160
SCORE_THRESH = 0.5
TRAIN_SEED = 1
DEMO_SEED = 20240607
VALIDATION_SEED = 777
OPSET = 17


# --------------------------------------------------------------------------- data
def shape_mask(kind, cx, cy, size, angle):
    """Boolean [H, W] mask of one shape, sampled at pixel centres. `size` is the
    circle's radius, the square's half side, the triangle's circumradius."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64) + 0.5
    dx, dy = xx - cx, yy - cy
    if kind == "circle":
        return dx * dx + dy * dy <= size * size
    # Rotate the sample points into the shape's frame.
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    if kind == "square":
        return (np.abs(u) <= size) & (np.abs(v) <= size)
    if kind == "triangle":
        # Equilateral: inside the three edges, whose outward normals are 120 degrees
        # apart at distance size/2 (the inradius) from the centre.
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            normal = math.pi / 2 + 2 * math.pi * k / 3
            inside &= (math.cos(normal) * u + math.sin(normal) * v) <= size / 2
        return inside
    raise ValueError(kind)


def make_scene(rng, min_shapes=1, max_shapes=4):
    """A noisy picture with non-overlapping shapes. Returns (uint8 [H, W, 3] RGB,
    list of (label, bool mask))."""
    background = rng.uniform(0.15, 0.85, 3)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH] / max(HEIGHT, WIDTH)
    gradient = rng.uniform(-0.15, 0.15, (2, 3))
    image = (background + xx[..., None] * gradient[0] + yy[..., None] * gradient[1])
    shapes = []
    occupied = np.zeros((HEIGHT, WIDTH), bool)
    for _ in range(rng.integers(min_shapes, max_shapes + 1)):
        for _attempt in range(30):
            label = int(rng.integers(1, len(CLASSES)))
            size = rng.uniform(11, 24)
            cx, cy = rng.uniform(size, WIDTH - size), rng.uniform(size, HEIGHT - size)
            mask = shape_mask(CLASSES[label], cx, cy, size, rng.uniform(0, 2 * math.pi))
            grown = np.zeros_like(occupied)  # keep a 3-pixel margin between shapes
            ys, xs = np.nonzero(mask)
            grown[max(ys.min() - 3, 0):ys.max() + 4, max(xs.min() - 3, 0):xs.max() + 4] = True
            if mask.sum() < 60 or (grown & occupied).any():
                continue
            color = rng.uniform(0, 1, 3)
            if np.abs(color - background).max() < 0.35:  # keep shapes visible
                continue
            image[mask] = color
            occupied |= grown
            shapes.append((label, mask))
            break
    image = image + rng.normal(0, 0.04, image.shape)
    image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    return image, shapes


def mask_box(mask):
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def to_tensor(image_u8):
    return torch.from_numpy(image_u8.astype(np.float32).transpose(2, 0, 1) / 255.0)


def to_target(shapes):
    return {"boxes": torch.tensor([mask_box(m) for _, m in shapes], dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor([l for l, _ in shapes], dtype=torch.int64),
            "masks": torch.from_numpy(np.stack([m for _, m in shapes]).astype(np.uint8))}


# --------------------------------------------------------------------------- model
class SmallResNetBody(nn.Module):
    """stem to stride 4, then one BasicBlock per stage: 32, 48, 64, 96 channels at
    strides 4, 8, 16, 32."""

    CHANNELS = (32, 48, 64, 96)

    def __init__(self):
        super().__init__()
        c = self.CHANNELS
        self.stem = nn.Sequential(
            nn.Conv2d(3, 24, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(24), nn.ReLU(inplace=True),
            nn.Conv2d(24, c[0], 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True))
        self.layer1 = BasicBlock(c[0], c[0])
        self.layer2 = self._down(c[0], c[1])
        self.layer3 = self._down(c[1], c[2])
        self.layer4 = self._down(c[2], c[3])

    @staticmethod
    def _down(cin, cout):
        return BasicBlock(cin, cout, stride=2, downsample=nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride=2, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x):  # only used through IntermediateLayerGetter
        return self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))


def build_model():
    fpn_channels = 48
    backbone = BackboneWithFPN(SmallResNetBody(),
                               return_layers={"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                               in_channels_list=list(SmallResNetBody.CHANNELS),
                               out_channels=fpn_channels, extra_blocks=LastLevelMaxPool())
    anchors = AnchorGenerator(sizes=((12,), (24,), (48,), (96,), (192,)),
                              aspect_ratios=((0.5, 1.0, 2.0),) * 5)
    levels = ["0", "1", "2", "3"]
    return MaskRCNN(
        backbone, num_classes=None, min_size=HEIGHT, max_size=WIDTH,
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=400, rpn_post_nms_top_n_train=200,
        rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
        box_roi_pool=MultiScaleRoIAlign(levels, output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(fpn_channels * 7 * 7, 128),
        box_predictor=FastRCNNPredictor(128, len(CLASSES)),
        box_batch_size_per_image=64, box_score_thresh=SCORE_THRESH, box_detections_per_img=20,
        mask_roi_pool=MultiScaleRoIAlign(levels, output_size=14, sampling_ratio=2),
        mask_head=MaskRCNNHeads(fpn_channels, (48, 48, 48), 1),
        mask_predictor=MaskRCNNPredictor(48, 48, len(CLASSES)))


def state_dict_sha256(model):
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- train
def train(model, iterations, batch_size, log):
    rng = np.random.default_rng(TRAIN_SEED)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=2e-3, weight_decay=1e-4)
    warmup = 50

    def lr_factor(it):  # linear warm-up, then cosine decay to 2% of the peak
        if it < warmup:
            return (it + 1) / warmup
        t = (it - warmup) / max(iterations - warmup, 1)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    model.train()
    start = time.time()
    window = {}
    for it in range(iterations):
        scenes = [make_scene(rng) for _ in range(batch_size)]
        images = [to_tensor(img) for img, _ in scenes]
        targets = [to_target(shapes) for _, shapes in scenes]
        losses = model(images, targets)
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        optimizer.step()
        scheduler.step()
        for k, v in losses.items():
            window.setdefault(k, []).append(float(v))
        window.setdefault("total", []).append(float(total))
        if (it + 1) % 50 == 0 or it + 1 == iterations:
            means = {k: float(np.mean(v)) for k, v in window.items()}
            line = {"iteration": it + 1, "seconds": round(time.time() - start, 1),
                    "lr": round(scheduler.get_last_lr()[0], 6),
                    **{k: round(v, 4) for k, v in means.items()}}
            log.append(line)
            print(json.dumps(line), flush=True)
            window = {}
    model.eval()


# --------------------------------------------------------------------------- check
def box_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def judge(detections, shapes):
    """Matches each shape to its best-IoU detection of the same class. Returns
    (found: shapes with a same-class detection of IoU >= 0.8 and score > 0.7,
     false_positives: detections above 0.5 matched to no shape, details)."""
    boxes, labels, scores = detections["boxes"], detections["labels"], detections["scores"]
    used = set()
    found = 0
    details = []
    for label, mask in shapes:
        gt = mask_box(mask)
        best, best_iou = None, 0.0
        for j in range(len(scores)):
            iou = box_iou(gt, [float(x) for x in boxes[j]])
            if j not in used and int(labels[j]) == label and iou > best_iou:
                best, best_iou = j, iou
        ok = best is not None and best_iou >= 0.8 and float(scores[best]) > 0.7
        if best is not None and best_iou >= 0.5:
            used.add(best)
        found += ok
        details.append({"class": CLASSES[label], "box": gt, "iou": round(best_iou, 4),
                        "score": round(float(scores[best]), 4) if best is not None else None})
    false_positives = [{"class": CLASSES[int(labels[j])], "score": round(float(scores[j]), 4),
                        "box": [round(float(x), 1) for x in boxes[j]]}
                       for j in range(len(scores)) if j not in used and float(scores[j]) > 0.5]
    return found, false_positives, details


def validate(model, count, seed):
    rng = np.random.default_rng(seed)
    total = found = fps = 0
    with torch.no_grad():
        for _ in range(count):
            image, shapes = make_scene(rng)
            out = model([to_tensor(image)])[0]
            f, fp, _ = judge({k: v.numpy() for k, v in out.items()}, shapes)
            total += len(shapes)
            found += f
            fps += len(fp)
    return {"images": count, "shapes": total, "found": found, "false_positives_above_0.5": fps}


# --------------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=4)
    # One thread: reproducible reductions, and no OpenMP barrier stalls on a busy machine.
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(TRAIN_SEED)

    model = build_model()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {n_params} parameters")
    log = []
    start = time.time()
    train(model, args.iterations, args.batch_size, log)
    train_seconds = time.time() - start
    weights_hash = state_dict_sha256(model)

    validation = validate(model, 100, VALIDATION_SEED)
    print("validation:", json.dumps(validation))

    demo_rng = np.random.default_rng(DEMO_SEED)
    demo_image, demo_shapes = make_scene(demo_rng, min_shapes=5, max_shapes=5)
    demo_input = to_tensor(demo_image)
    with torch.no_grad():
        eager = {k: v.numpy() for k, v in model([demo_input])[0].items()}
    found, false_positives, details = judge(eager, demo_shapes)
    print(f"demo (eager): {found}/{len(demo_shapes)} found, false positives > 0.5: {false_positives}")
    for d in details:
        print("   ", json.dumps(d))
    if found != len(demo_shapes) or false_positives:
        print("FAILED the quality bar: train longer (--iterations) or simplify", file=sys.stderr)
        return 1

    os.makedirs(os.path.join(EXAMPLES, "expected"), exist_ok=True)
    onnx_path = os.path.join(EXAMPLES, "shapes_maskrcnn.onnx")
    names = list(eager.keys())
    torch.onnx.export(model, ([demo_input],), onnx_path, opset_version=OPSET, dynamo=False,
                      input_names=["image"], output_names=names, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(onnx_path))
    Image.fromarray(demo_image).save(os.path.join(EXAMPLES, "shapes.png"))
    # Read the PNG back, so the .npy is exactly what a user gets from the file.
    png = np.asarray(Image.open(os.path.join(EXAMPLES, "shapes.png")).convert("RGB"))
    assert np.array_equal(png, demo_image)
    np.save(os.path.join(EXAMPLES, "shapes_input.npy"), demo_input.numpy())
    with open(os.path.join(EXAMPLES, "classes.txt"), "w") as f:
        f.write("".join(c + "\n" for c in CLASSES))

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the paste-masks Loop's declared shape is {1,H,W}
    sess = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    ort_out = dict(zip([o.name for o in sess.get_outputs()],
                       sess.run(None, {"image": demo_input.numpy()})))
    assert list(ort_out) == names, (list(ort_out), names)
    for k, n in enumerate(names):
        np.save(os.path.join(EXAMPLES, "expected", f"out{k}.npy"), ort_out[n])
    with open(os.path.join(EXAMPLES, "expected", "names.txt"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    ort_found, ort_fp, ort_details = judge(ort_out, demo_shapes)
    with open(os.path.join(EXAMPLES, "expected", "ground_truth.json"), "w") as f:
        json.dump([{"label": l, "class": CLASSES[l], "box_xyxy": mask_box(m), "pixels": int(m.sum())}
                   for l, m in demo_shapes], f, indent=1)
        f.write("\n")

    summary = {
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "onnxruntime": ort.__version__, "parameters": n_params,
        "iterations": args.iterations, "batch_size": args.batch_size, "threads": args.threads,
        "train_seconds": round(train_seconds, 1), "state_dict_sha256": weights_hash,
        "first_log": log[0], "last_log": log[-1], "validation": validation,
        "demo_ort": {"found": ort_found, "of": len(demo_shapes), "false_positives_above_0.5": ort_fp,
                     "details": ort_details},
        "onnx_bytes": os.path.getsize(onnx_path),
    }
    print("SUMMARY", json.dumps(summary, indent=1))
    if ort_found != len(demo_shapes) or ort_fp:
        print("onnxruntime's outputs miss the quality bar", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
