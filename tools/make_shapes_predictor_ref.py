"""tools/make_shapes_predictor_ref.py: the demo model's expected `d2rt run` answer in the
layout of ../shared/fixtures/predictor/<model>/<stem>/, for tests/e2e_predictor.sh.

Source: examples/expected/out<k>.npy, onnxruntime's outputs of examples/shapes_maskrcnn.onnx
on examples/shapes_input.npy (= shapes.png's RGB bytes / 255, tools/train_demo_model.py).
The torchvision graph works in the picture's own frame, so the predictor answer is these
outputs with label - 1 as the class (label 0 is the background) and the pasted mask
probabilities thresholded at >= 0.5.

Writes tests/data/predictor/shapes/{boxes,scores,classes,masks_packed}.npy, masks_shape.json.
Usage: /work/venv/bin/python tools/make_shapes_predictor_ref.py
"""
import json
import os

import numpy as np

repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
exp = os.path.join(repo, "examples", "expected")
names = open(os.path.join(exp, "names.txt")).read().split()
out = {name: np.load(os.path.join(exp, "out%d.npy" % k)) for k, name in enumerate(names)}
dst = os.path.join(repo, "tests", "data", "predictor", "shapes")
os.makedirs(dst, exist_ok=True)
np.save(os.path.join(dst, "boxes.npy"), out["boxes"].astype(np.float32))
np.save(os.path.join(dst, "scores.npy"), out["scores"].astype(np.float32))
np.save(os.path.join(dst, "classes.npy"), (out["labels"] - 1).astype(np.int64))
masks = out["masks"][:, 0] >= 0.5
np.save(os.path.join(dst, "masks_packed.npy"), np.packbits(masks, axis=-1))
with open(os.path.join(dst, "masks_shape.json"), "w") as f:
    json.dump({"shape": list(masks.shape), "dtype": "bool", "true_pixels": int(masks.sum()),
               "pixels_within_1e-4_of_threshold": int((np.abs(out["masks"] - 0.5) < 1e-4).sum())}, f, indent=1)
print(dst, masks.shape, int(masks.sum()))
