#!/usr/bin/env python3
"""PyTorch references for a batch of two images through detectron2's scripted Mask R-CNN.

The export (../shared/fixtures/detectron2/mask_rcnn/scripting_torchscript/model.ts) has
forward(inputs: Tuple[Dict[str, Tensor]]): TorchScript fixes that tuple at one image,
so torch itself cannot call it with two. The model underneath (GeneralizedRCNN.inference)
takes a list, which is what detectron2's adapter means; this script scripts a small
wrapper that calls the loaded model's inference([{"image": a}, {"image": b}], None, False)
and returns get_fields() of each Instances, i.e. what `d2rt run model.ts a.npy b.npy`
computes. detectron2 pads both images into one ImageList of the larger size, so the
smaller image's results differ (slightly, ~1e-3 in scores) from running it alone; the
larger image's results equal its single-image ones. Writes
tests/data/torchscript_models/d2_mask_rcnn_scripting_batch2/batch2_<k>__<field>.npy
for k = 0, 1 (input_image.npy, input_image_alt.npy) and checks image 0 against the
fixture's eager__ references.

Usage: /work/venv-torch/bin/python tools/make_ts_batch_refs.py [SHARED_DIR]
"""
import os
import sys
from typing import Dict, List

import numpy as np
import torch
import torchvision  # noqa: F401  (registers torchvision::nms, roi_align for the archive)

shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared")
fixture = os.path.join(shared, "fixtures", "detectron2", "mask_rcnn", "scripting_torchscript")
out_dir = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "torchscript_models",
                       "d2_mask_rcnn_scripting_batch2")


class Batch2(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> List[Dict[str, torch.Tensor]]:
        instances = self.model.inference([a, b], None, False)
        return [i.get_fields() for i in instances]


def main():
    scripted = torch.jit.load(os.path.join(fixture, "model.ts"))
    wrapper = torch.jit.script(Batch2(scripted.model))
    images = [torch.from_numpy(np.load(os.path.join(fixture, "ref", n)))
              for n in ("input_image.npy", "input_image_alt.npy")]
    with torch.no_grad():
        results = wrapper({"image": images[0]}, {"image": images[1]})
    os.makedirs(out_dir, exist_ok=True)
    for k, fields in enumerate(results):
        for name, value in fields.items():
            np.save(os.path.join(out_dir, f"batch2_{k}__{name}.npy"), value.numpy())
    # image 0 (the larger) is padded as when alone: its answers equal the eager ones
    for name in ("pred_boxes", "scores"):
        ref = np.load(os.path.join(fixture, "ref", f"eager__{name}.npy"))
        diff = np.abs(results[0][name].numpy() - ref).max()
        print(f"image 0 {name}: max |batch - eager single| = {diff:.3g}")
        assert diff < 1e-3
    ref = np.load(os.path.join(fixture, "ref", "eager_alt__scores.npy"))
    print("image 1 scores: max |sorted batch - sorted eager single| = %.3g"
          % np.abs(np.sort(results[1]["scores"].numpy()) - np.sort(ref)).max())


if __name__ == "__main__":
    main()
