"""tools/make_postproc_data.py: test data of tests/unit/test_postprocess.c (tests/data/postproc/).

Run: /work/venv/bin/python tools/make_postproc_data.py   (needs numpy and pycocotools;
reads the shared fixtures in ../shared/fixtures or $D2_SHARED_FIXTURES)

  mask_rcnn_eager_{boxes,scores,classes,mask_probs}.npy
      detectron2 eager Mask R-CNN outputs for grace_hopper in the model-input frame (375 x 320),
      copied from fixtures/detectron2/mask_rcnn/tracing_onnx/ref/eager__0_instances_*.npy
  predictor_{boxes,scores,classes}.npy
      DefaultPredictor's answer for the same image (original frame 600 x 512), copied from
      fixtures/predictor/mask_rcnn/grace_hopper/
  predictor_masks_rle.txt
      the predictor's masks bool [100, 600, 512] (from masks_packed.npy), one pycocotools
      compressed RLE string per line (column-major runs); the test decodes them itself
  rle_<k>.npy, rle_strings.txt
      small bool masks and pycocotools' mask.encode(...)["counts"] for each (line k)
  kp_{boxes,keypoints}.npy, kp_expected_{boxes,keypoints,keep}.npy
      a keypoint detector_postprocess case: input frame 50 x 40 -> output 125 x 90, keypoints
      scaled in float32 by (90/40, 125/50), boxes scaled, clipped and empty ones dropped
"""
import json
import os

import numpy as np
from pycocotools import mask as mask_util

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(ROOT, "tests", "data", "postproc")
FIX = os.environ.get("D2_SHARED_FIXTURES", os.path.join(ROOT, "..", "shared", "fixtures"))
RNG = np.random.default_rng(5)


def save(name, a):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(a))


def fixture_case():
    ref = os.path.join(FIX, "detectron2", "mask_rcnn", "tracing_onnx", "ref")
    pred = os.path.join(FIX, "predictor", "mask_rcnn", "grace_hopper")
    for src, dst in [("boxes", "pred_boxes"), ("scores", "scores"), ("classes", "pred_classes"),
                     ("mask_probs", "pred_masks")]:
        save("mask_rcnn_eager_%s.npy" % src, np.load(os.path.join(ref, "eager__0_instances_%s.npy" % dst)))
    size = np.load(os.path.join(ref, "eager__0_instances_image_size.npy"))
    assert list(size) == [375, 320], size
    for name in ("boxes", "scores", "classes"):
        save("predictor_%s.npy" % name, np.load(os.path.join(pred, "%s.npy" % name)))
    shape = json.load(open(os.path.join(pred, "masks_shape.json")))["shape"]
    masks = np.unpackbits(np.load(os.path.join(pred, "masks_packed.npy")), axis=-1, count=shape[2]).astype(bool)
    assert list(masks.shape) == shape
    with open(os.path.join(OUT, "predictor_masks_rle.txt"), "w") as f:
        for m in masks:
            rle = mask_util.encode(np.asfortranarray(m[:, :, None].astype(np.uint8)))[0]
            assert (mask_util.decode(rle) == m).all()
            f.write(rle["counts"].decode("ascii") + "\n")


def rle_cases():
    masks = [
        np.zeros((3, 4), bool),
        np.ones((2, 5), bool),
        RNG.random((7, 9)) > 0.5,
        np.pad(np.ones((20, 25), bool), ((5, 8), (3, 40))),  # long runs: multi-character counts
        RNG.random((1, 1)) > 2.0,
        (np.add.outer(np.arange(40), np.arange(33)) % 7) < 3,
    ]
    big = np.zeros((60, 600), bool)
    big[10:50, 560:590] = True  # first run 33610 zeros
    big[20:30, 570:575] = False
    masks.append(big)  # counts above 2^15: deltas with several 5-bit groups, negative deltas
    lines = []
    for k, m in enumerate(masks):
        save("rle_%d.npy" % k, m)
        rle = mask_util.encode(np.asfortranarray(m[:, :, None].astype(np.uint8)))[0]
        lines.append(rle["counts"].decode("ascii"))
    with open(os.path.join(OUT, "rle_strings.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def keypoint_case():
    n, K = 5, 17
    boxes = np.array([[1.5, 2.0, 30.0, 45.0], [10.0, 10.0, 10.0, 20.0], [-3.0, 5.0, 20.0, 60.0],
                      [39.5, 1.0, 45.0, 9.0], [0.25, 0.5, 39.75, 49.5]], np.float32)
    kps = np.stack([RNG.uniform(0, 40, (n, K)), RNG.uniform(0, 50, (n, K)), RNG.uniform(0, 1, (n, K))],
                   axis=2).astype(np.float32)
    save("kp_boxes.npy", boxes)
    save("kp_keypoints.npy", kps)
    sx, sy = np.float32(90 / 40), np.float32(125 / 50)
    b = boxes.copy()
    b[:, 0::2] *= sx
    b[:, 1::2] *= sy
    b[:, 0::2] = np.clip(b[:, 0::2], 0, 90)
    b[:, 1::2] = np.clip(b[:, 1::2], 0, 125)
    keep = ((b[:, 2] - b[:, 0]) > 0) & ((b[:, 3] - b[:, 1]) > 0)
    k = kps.copy()
    k[:, :, 0] *= sx
    k[:, :, 1] *= sy
    save("kp_expected_boxes.npy", b[keep])
    save("kp_expected_keypoints.npy", k[keep])
    save("kp_expected_keep.npy", keep)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    fixture_case()
    rle_cases()
    keypoint_case()
    print("wrote", OUT)
