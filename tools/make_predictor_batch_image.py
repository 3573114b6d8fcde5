"""tools/make_predictor_batch_image.py: a second image for the predictor batch test
(tests/e2e_predictor.sh).

Batching pads every image to the largest one, so `d2rt run` only batches images whose
padded model input has the same size. To exercise a real batch of two *different* images
with the shared fixtures, this writes grace_hopper mirrored left-right and halved (2x2
box average of the decoded pixels): 300 x 256, which ResizeShortestEdge(320, 512) scales
to 375 x 320 like grace_hopper itself. The expected answer is the same image run alone,
so no reference values are stored.

Usage: /work/venv/bin/python tools/make_predictor_batch_image.py [SHARED_DIR]
"""
import os
import sys

import numpy as np
from PIL import Image

shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared")
bgr = np.load(os.path.join(shared, "fixtures/predictor/images/grace_hopper.decoded_bgr_uint8.npy"))
h, w = bgr.shape[0] // 2 * 2, bgr.shape[1] // 2 * 2
x = bgr[:h, :w].astype(np.uint32)
half = (x[0::2, 0::2] + x[0::2, 1::2] + x[1::2, 0::2] + x[1::2, 1::2] + 2) // 4
rgb = half[:, ::-1, ::-1].astype(np.uint8)  # mirror left-right, BGR -> RGB
out = os.path.join(os.path.dirname(__file__), "..", "tests/data/predictor/grace_hopper_half_mirror.png")
Image.fromarray(np.ascontiguousarray(rgb)).save(out, optimize=True)
print(out, rgb.shape)
