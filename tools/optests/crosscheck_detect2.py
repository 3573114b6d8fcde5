"""tools/optests/crosscheck_detect2.py: checks the expected outputs of the
box_roi_align, box_nms and box_batched_nms op tests (written by gen_detect2.py from
NumPy implementations) against torchvision.ops, and runs extra random trials of the
NumPy references against torchvision. Writes tools/optests/detect2_crosscheck.txt.

Needs a Python with torch and torchvision (never used by `make test`):
    /work/venv-torch/bin/python tools/optests/crosscheck_detect2.py
"""
import json
import os
import re
import sys

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_detect2  # noqa: E402
from gen_detect2_rest import np_roi_align  # noqa: E402

OPS = os.path.join(HERE, "..", "..", "tests", "ops")


def load_case(op, case):
    d = os.path.join(OPS, op, case)
    n_in = len(re.findall(r"%\w+:", open(os.path.join(d, "graph.d2ir")).read().split(")")[0]))
    ins = [np.load(os.path.join(d, "in%d.npy" % i)) for i in range(n_in)]
    return ins, np.load(os.path.join(d, "out0.npy"))


def tv_roi_align(x, rois, bidx, c):
    if rois.shape[1] == 4:
        b = bidx if bidx is not None else np.zeros(rois.shape[0])
        rois = np.concatenate([b.reshape(-1, 1).astype(rois.dtype), rois], 1)
    y = torchvision.ops.roi_align(torch.from_numpy(x), torch.from_numpy(rois), (c["pooled_h"], c["pooled_w"]),
                                  c["spatial_scale"], c["sampling_ratio"], bool(c["aligned"]))
    return y.numpy()


def main():
    lines = ["torch %s, torchvision %s" % (torch.__version__, torchvision.__version__)]
    failures = 0
    cases = json.load(open(os.path.join(HERE, "detect2_crosscheck.json")))
    for c in cases:
        ins, want = load_case(c["op"], c["case"])
        if c["op"] == "box_roi_align":
            got = tv_roi_align(ins[0], ins[1], ins[2] if len(ins) > 2 else None, c)
            err = float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0
            ok = got.shape == want.shape and err <= 1e-5
            detail = "max |diff| %.3g" % err
        else:
            t = [torch.from_numpy(a) for a in ins]
            if c["op"] == "box_nms":
                got = torchvision.ops.nms(t[0], t[1], c["iou_threshold"]).numpy()
            else:
                got = torchvision.ops.batched_nms(t[0], t[1], t[2], c["iou_threshold"]).numpy()
            ok = got.tolist() == want.tolist()
            detail = "%d kept" % len(want)
        failures += not ok
        lines.append("%s %s/%s: %s" % ("ok  " if ok else "FAIL", c["op"], c["case"], detail))

    # Random trials of the NumPy references (the generators' expected values).
    rng = np.random.default_rng(5)
    bad = 0
    for trial in range(300):
        n = int(rng.integers(0, 60))
        b = gen_detect2.clustered_boxes(n, clusters=int(rng.integers(1, 6)))
        s = rng.integers(0, 6, n).astype(np.float32) / 5 if trial % 3 == 0 else rng.uniform(0, 1, n).astype(np.float32)
        ids = rng.integers(0, 4, n).astype(np.int64)
        thr = float(rng.choice([0.3, 0.5, 0.7]))
        want = gen_detect2.np_nms(b, s, thr)
        got = torchvision.ops.nms(torch.from_numpy(b), torch.from_numpy(s), thr).tolist()
        want_b = gen_detect2.np_nms(b, s, thr, ids=ids)
        got_b = torchvision.ops.batched_nms(torch.from_numpy(b), torch.from_numpy(s), torch.from_numpy(ids), thr)
        bad += (got != want) + (got_b.tolist() != want_b)
    failures += bad
    lines.append("%s random nms + batched_nms trials (300 each, 1/3 with score ties): %d mismatches"
                 % ("ok  " if bad == 0 else "FAIL", bad))
    worst, bad = 0.0, 0
    for trial in range(40):
        x = rng.standard_normal((2, 2, int(rng.integers(3, 12)), int(rng.integers(3, 12)))).astype(np.float32)
        r = int(rng.integers(1, 6))
        xy = rng.uniform(-10, 50, (r, 2))
        rois = np.concatenate([rng.integers(0, 2, (r, 1)), xy, xy + rng.uniform(0, 40, (r, 2))], 1).astype(np.float32)
        c = {"pooled_h": int(rng.integers(1, 5)), "pooled_w": int(rng.integers(1, 5)),
             "spatial_scale": float(rng.choice([0.25, 0.5, 1.0])), "sampling_ratio": int(rng.integers(0, 3)),
             "aligned": int(rng.integers(0, 2))}
        want = np_roi_align(x, rois, None, c["pooled_h"], c["pooled_w"], c["spatial_scale"], c["sampling_ratio"],
                            c["aligned"], "avg")
        err = float(np.max(np.abs(tv_roi_align(x, rois, None, c) - want)))
        worst = max(worst, err)
        bad += err > 1e-5
    failures += bad
    lines.append("%s random roi_align trials (40): max |diff| %.3g, %d over 1e-5" % ("ok  " if bad == 0 else "FAIL",
                                                                                   worst, bad))
    lines.append("total failures: %d" % failures)
    with open(os.path.join(HERE, "detect2_crosscheck.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
