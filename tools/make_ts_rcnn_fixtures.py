#!/usr/bin/env python3
"""tools/make_ts_rcnn_fixtures.py: held-out TorchScript exports of torchvision's detection
models (Faster/Mask/Keypoint R-CNN, RetinaNet), with PyTorch reference outputs.

The models are the small calibrated random-weight ones of tools/make_rcnn_fixtures.py
(same builders, seeds and input image). Each is saved with torch.jit.script
(torchvision's detectors are scriptable; forward(images: List[Tensor]) returns
(losses, detections)) and, where tracing works, torch.jit.trace of a wrapper taking
one image and returning the first image's detection dict. Writes
tests/data/torchscript_models/tv_<model>_<script|trace>/:
    model.ts        the saved module
    input_0.npy     the image, float32 [3, H, W] in 0..1
    ref_<field>.npy the saved module's outputs (run by torch.jit.load on the image):
                    boxes, labels, scores (+ masks | keypoints, keypoints_scores)
    names.txt       the field names in the module's output order
tests/e2e_torchscript.sh runs each with `d2rt run` and matches detections.
Run: /work/venv-torch/bin/python tools/make_ts_rcnn_fixtures.py [model ...]
"""
import os
import shutil
import sys
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_rcnn_fixtures as rf  # noqa: E402

OUT_ROOT = os.path.join(rf.REPO, "tests", "data", "torchscript_models")


class OneImage(torch.nn.Module):
    """Traceable wrapper: one image in, the first detection dict's tensors out."""

    def __init__(self, model, names):
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, image):
        det = self.model([image])[0]
        return tuple(det[k] for k in self.names)


def save(name, kind, module, image, names, run):
    d = os.path.join(OUT_ROOT, f"tv_{name}_{kind}")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    path = os.path.join(d, "model.ts")
    module.save(path)
    loaded = torch.jit.load(path)
    with torch.no_grad():
        outs = run(loaded)
    np.save(os.path.join(d, "input_0.npy"), image.numpy())
    for k, v in zip(names, outs):
        np.save(os.path.join(d, f"ref_{k}.npy"), v.numpy())
    with open(os.path.join(d, "names.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print("wrote", d, {k: tuple(v.shape) for k, v in zip(names, outs)}, "%.0f KB" % (os.path.getsize(path) / 1024))


def main():
    wanted = sys.argv[1:] or rf.MODELS
    torch.set_num_threads(1)
    for idx, name in enumerate(rf.MODELS):
        if name not in wanted:
            continue
        model, image, _, _ = rf.prepare_model(name, 1000 + 10 * idx)
        with torch.no_grad():
            names = list(model([image])[0].keys())
        scripted = torch.jit.script(model)
        save(name, "script", scripted, image, names,
             lambda m: [m([image])[1][0][k] for k in names])
        try:
            with torch.no_grad():
                traced = torch.jit.trace(OneImage(model, names), (image,), check_trace=False)
        except Exception as e:  # noqa: BLE001
            print(f"{name}: torch.jit.trace failed: {str(e).splitlines()[0]}")
            continue
        save(name, "trace", traced, image, names, lambda m: list(m(image)))


if __name__ == "__main__":
    sys.exit(main())
