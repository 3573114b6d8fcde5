#!/usr/bin/env python3
"""tools/bench_peers.py: d2rt against onnxruntime and PyTorch eager on full-size
torchvision detectors, in one run, on the same machine with the same threads.

Run from the repo root with the torch venv (read-only; never pip install into it):
    /work/venv-torch/bin/python tools/bench_peers.py [--threads 2] [--iters 5]
        [--warmup 1] [--rounds 1] [--models mask_rcnn,retinanet] [--skip-export]
        [--d2rt build/d2rt] [--d2rt-input ir|onnx] [--runtimes d2rt,ort,torch] [--json F]

Models: torchvision Mask R-CNN R50-FPN and RetinaNet R50-FPN, full size, random
weights (torch.manual_seed(0), weights=None, weights_backbone=None), one fixed
3x800x1216 input in 0..1. min_size=800, max_size=1333, so the graph's internal
resize is the identity (scale 1.0) for 800x1216 and 800x1216 is already a multiple
of 32: no resize or padding cost is hidden from any runtime.

Random torchvision weights are degenerate (the heads start at std 0.01, so every
objectness and class score ties). Before export each model is calibrated on the
input image in ONE forward pass (see calibrate_one_pass): every Conv/Linear is
rescaled as it runs so its output has std 1 (the decoded heads get the output
targets of tools/make_rcnn_fixtures.py), and every BatchNorm gets the statistics of
its actual input. The final score threshold is then put in a gap of the sorted
scores so that the model returns about TARGET_DETECTIONS detections whose scores
are distinct and away from the threshold (the mask head therefore runs on a
realistic ~100 detections, as on a COCO evaluation image).

Files (regenerated unless --skip-export; never committed) under build/bench/:
    <model>.onnx   opset 17, TorchScript-based exporter (dynamo=False)
    <model>.ir     `d2rt compile --batch 1 --size 800x1216` of the ONNX file
    <model>.pt     the calibrated state_dict, <model>.json its thresholds
    input.npy      the image, float32 [3, 800, 1216]
    out/<model>_<runtime>/out<k>.npy   each runtime's outputs (graph order)

Measurement: each runtime runs in its own child process (so each peak RSS, read
with os.wait4's rusage, belongs to that runtime alone): `d2rt bench` (its own
min/median, parsed), onnxruntime (intra_op_num_threads=T, inter_op_num_threads=1,
ORT_ENABLE_ALL, sequential) and PyTorch eager (torch.set_num_threads(T),
set_num_interop_threads(1), inference_mode), each with W warm-up runs then N timed
runs; with --rounds R the three take turns R times (a busy spell on a shared
machine then hits all of them) and the table keeps the best min and the median of
the rounds' medians. Python children also report the RSS high-water mark right after their
imports (the interpreter and library baseline). Outputs are compared with PyTorch
eager as the reference: a detection matches when one of the same class has
IoU >= 0.999 (greedy, one to one); score and mask differences of matched pairs are
reported.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BENCH_DIR = os.path.join(REPO, "build", "bench")
MODELS = ["mask_rcnn", "retinanet"]
IMAGE_HW = (800, 1216)
IMAGE_SEED = 2024
OPSET = 17
TARGET_DETECTIONS = 100   # COCO eval images usually reach the 100-detection cap
MIN_SCORE_GAP = 1e-3      # no kept score within this of the threshold
IOU_MATCH = 0.999
LOW_THRESH = 1e-3         # threshold of the pass that lists every candidate score


# ----------------------------------------------------------------------------- model
def make_image(seed=IMAGE_SEED):
    """A smooth synthetic picture (gradient, soft blobs, rectangles, mild noise),
    float32 [3, 800, 1216] in 0..1."""
    rng = np.random.default_rng(seed)
    h, w = IMAGE_HW
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.3 + 0.3 * xx / w, 0.4 * yy / h + 0.2, np.full((h, w), 0.5, np.float32)])
    for _ in range(12):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(40, 160)
        color = rng.uniform(0, 1, 3).astype(np.float32)
        alpha = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img = img * (1 - alpha) + color[:, None, None] * alpha
    for _ in range(10):
        y0, x0 = rng.integers(0, h - 100), rng.integers(0, w - 100)
        hh, ww = rng.integers(40, 300), rng.integers(40, 400)
        img[:, y0:y0 + hh, x0:x0 + ww] = rng.uniform(0, 1, (3, 1, 1))
    img += rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def build_model(name, meta=None):
    """The eval-mode torchvision model with random (seeded) weights; meta (thresholds
    from calibration) sets the postprocessing, else the calibration settings."""
    import torch
    from torchvision.models import detection
    torch.manual_seed(0)
    common = dict(weights=None, weights_backbone=None, min_size=IMAGE_HW[0], max_size=1333)
    if name == "mask_rcnn":
        model = detection.maskrcnn_resnet50_fpn(**common)
    elif name == "retinanet":
        model = detection.retinanet_resnet50_fpn(**common)
    else:
        raise ValueError(name)
    if meta is not None:
        set_score_thresh(model, meta["score_thresh"], meta["detections_per_img"])
    return model.eval()


def set_score_thresh(model, thresh, limit):
    from torchvision.models.detection import RetinaNet
    if isinstance(model, RetinaNet):
        model.score_thresh, model.detections_per_img = thresh, limit
    else:
        model.roi_heads.score_thresh, model.roi_heads.detections_per_img = thresh, limit


def output_layer_targets(model):
    """layer -> (std, per-channel?, centre) for the layers whose outputs are decoded,
    as in tools/make_rcnn_fixtures.py: box deltas of a few tenths, logits spread by a
    few units (per channel, so no class dominates), RetinaNet logits centred at -3 so
    only the tail of the sigmoid scores high."""
    from torchvision.models.detection import RetinaNet
    if isinstance(model, RetinaNet):
        # 16.6M sigmoid logits (anchors x classes) with heavy tails: a std target
        # leaves the top scores all at 0.99999. Map tail quantiles instead (the 2000th
        # largest logit -> -1, score 0.27; the 20th largest -> 3, score 0.95), after
        # standardising each channel.
        return {model.head.regression_head.bbox_reg: (0.15, False, 0.0),
                model.head.classification_head.cls_logits: (1.0, True, 0.0, ((2000, -1.0), (20, 3.0)))}
    heads = model.roi_heads
    return {model.rpn.head.cls_logits: (2.0, True, 0.0),
            model.rpn.head.bbox_pred: (0.15, False, 0.0),
            heads.box_predictor.bbox_pred: (0.15, False, 0.0),
            heads.box_predictor.cls_score: (1.2, True, 0.0),
            heads.mask_predictor.mask_fcn_logits: (3.0, False, 0.0)}


def calibrate_one_pass(model, image):
    """Data-dependent scaling (in the spirit of LSUV initialisation) done in a single
    forward pass: a forward hook on every Conv/Linear rescales the layer's weights the
    first time it runs and returns the rescaled output, so every later layer already
    sees calibrated inputs; a pre-hook gives every BatchNorm the mean and variance of
    its first input. A head shared by the FPN levels is calibrated on the first level
    it sees. BatchNorm affine parameters are randomised first (seeded)."""
    import torch
    from torch import nn
    targets = output_layer_targets(model)
    gen = torch.Generator().manual_seed(1)
    done = set()

    def channels_last(t, layer):
        dim = 1 if t.dim() == 4 else -1
        return t.movedim(dim, -1).reshape(-1, t.shape[dim]).double()

    def bn_pre_hook(layer, inputs):
        if layer in done:
            return None
        done.add(layer)
        x = channels_last(inputs[0], layer)
        layer.running_mean.copy_(x.mean(0).float())
        layer.running_var.copy_(x.var(0).float())
        return None

    def linear_hook(layer, inputs, output):
        if layer in done:
            return None
        done.add(layer)
        out = channels_last(output, layer)
        std, per_channel, centre, *tail = targets.get(layer, (1.0, False, 0.0))
        if per_channel:
            scale = std / out.std(0).clamp_min(1e-12)
            shift = out.mean(0) * scale - centre
            if tail:  # then z -> a z + b, fixing two tail quantiles
                (count_lo, logit_lo), (count_hi, logit_hi) = tail[0]
                z = (out * scale - shift).numpy().ravel()
                z_lo = np.partition(z, z.size - count_lo)[z.size - count_lo]
                z_hi = np.partition(z, z.size - count_hi)[z.size - count_hi]
                a = (logit_hi - logit_lo) / (z_hi - z_lo)
                scale, shift = scale * a, shift * a - (logit_lo - a * z_lo)
        else:
            scale = torch.full((out.shape[1],), std / max(float(out.std()), 1e-12), dtype=torch.float64)
            shift = torch.zeros(out.shape[1], dtype=torch.float64)
        scale, shift = scale.float(), shift.float()
        out_dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0  # output channels
        shape = [1] * layer.weight.dim()
        shape[out_dim] = -1
        layer.weight.mul_(scale.reshape(shape))
        if layer.bias is not None:
            layer.bias.mul_(scale).sub_(shift)
        view = [1] * output.dim()
        view[1 if output.dim() == 4 else -1] = -1
        return output * scale.reshape(view) - shift.reshape(view)

    hooks = []
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=gen))
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                hooks.append(m.register_forward_pre_hook(bn_pre_hook))
            elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                hooks.append(m.register_forward_hook(linear_hook))
        # The mask head sees only detections: calibrate it on the top 100.
        set_score_thresh(model, 0.0, TARGET_DETECTIONS)
        model([image])
    for h in hooks:
        h.remove()


def choose_threshold(model, image):
    """One pass at a low threshold and no detection cap lists every kept score: the
    score filter, the small-box filter and (greedy, by score) NMS commute with
    raising the threshold, so the detections at threshold t are exactly those with a
    kept score above t. Pick the largest count <= TARGET_DETECTIONS that ends at a
    gap >= 2 * MIN_SCORE_GAP and put the threshold mid-gap."""
    import torch
    from torchvision.models.detection import RetinaNet
    set_score_thresh(model, LOW_THRESH, 1000000)
    # Without a cap there are thousands of detections: leave the mask head out of
    # this pass (its pasted 800x1216 masks would take tens of GB).
    heads = None if isinstance(model, RetinaNet) else model.roi_heads
    saved = heads.mask_roi_pool if heads is not None else None
    if heads is not None:
        heads.mask_roi_pool = None
    with torch.no_grad():
        scores = np.sort(model([image])[0]["scores"].numpy())[::-1]
    if heads is not None:
        heads.mask_roi_pool = saved
    best = None
    for n in range(1, min(TARGET_DETECTIONS, len(scores) - 1) + 1):
        if scores[n - 1] - scores[n] >= 2 * MIN_SCORE_GAP:
            best = n
    if best is None:
        raise RuntimeError("calibration found no score gap: the model is degenerate")
    return float((scores[best - 1] + scores[best]) / 2), best


def export_model(name, image_np):
    """Build, calibrate, export; returns the meta dict."""
    import warnings

    import onnx
    import torch
    warnings.filterwarnings("ignore")  # the TorchScript exporter's tracer warnings
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    image = torch.from_numpy(image_np)
    t0 = time.time()
    model = build_model(name)
    calibrate_one_pass(model, image)
    thresh, count = choose_threshold(model, image)
    limit = 100 if name == "mask_rcnn" else 300  # torchvision's defaults; above `count`
    set_score_thresh(model, thresh, limit)
    with torch.no_grad():
        names = list(model([image])[0].keys())
    meta = {"model": name, "score_thresh": thresh, "detections_per_img": limit,
            "expected_detections": count, "output_names": names,
            "parameters": int(sum(p.numel() for p in model.parameters()))}
    torch.save(model.state_dict(), os.path.join(BENCH_DIR, name + ".pt"))
    path = os.path.join(BENCH_DIR, name + ".onnx")
    torch.onnx.export(model, ([image],), path, opset_version=OPSET, dynamo=False,
                      input_names=["image"], output_names=names, do_constant_folding=True)
    onnx.checker.check_model(path)
    meta["onnx_bytes"] = os.path.getsize(path)
    with open(os.path.join(BENCH_DIR, name + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"[export] {name}: {count} detections at score_thresh {thresh:.6f}, "
          f"{meta['parameters']:,} parameters, {meta['onnx_bytes'] / 1e6:.1f} MB ONNX "
          f"({time.time() - t0:.0f} s)", flush=True)
    return meta


# ---------------------------------------------------------------------------- workers
def max_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_runs(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def worker_ort(args):
    import onnxruntime as ort
    baseline = max_rss_mb()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # the paste-masks Loop's declared shape warns each iteration
    sess = ort.InferenceSession(os.path.join(BENCH_DIR, args.model + ".onnx"), opts,
                                providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: np.load(os.path.join(BENCH_DIR, "input.npy"))}
    last = {}

    def run():
        last["out"] = sess.run(None, feed)
    times = time_runs(run, args.warmup, args.iters)
    return times, last["out"], baseline, ort.__version__


def worker_torch(args):
    import torch
    import torchvision  # noqa: F401 (version below)
    baseline = max_rss_mb()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    with open(os.path.join(BENCH_DIR, args.model + ".json")) as f:
        meta = json.load(f)
    model = build_model(args.model, meta)
    model.load_state_dict(torch.load(os.path.join(BENCH_DIR, args.model + ".pt")))
    image = torch.from_numpy(np.load(os.path.join(BENCH_DIR, "input.npy")))
    last = {}

    def run():
        with torch.inference_mode():
            last["out"] = model([image])[0]
    times = time_runs(run, args.warmup, args.iters)
    outs = [last["out"][k].numpy() for k in meta["output_names"]]
    return times, outs, baseline, f"torch {torch.__version__}, torchvision {torchvision.__version__}"


def worker_main(args):
    fn = {"ort": worker_ort, "torch": worker_torch}[args.worker]
    times, outs, baseline, version = fn(args)
    os.makedirs(args.out, exist_ok=True)
    for k, o in enumerate(outs):
        np.save(os.path.join(args.out, f"out{k}.npy"), np.asarray(o))
    print(json.dumps({"times": times, "baseline_rss_mb": baseline, "version": version}))
    return 0


# ----------------------------------------------------------------------------- parent
# Linux carries a process's RSS high-water mark across exec, and a child forked
# from this (large, after an export) process starts with all of its pages mapped:
# the child's ru_maxrss would then be at least this process's RSS. So every
# measured command is forked from a small launcher (python -S, ~10 MB), which
# reports the ru_maxrss that os.wait4 gives for exactly that command.
RSS_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
sys.stderr.write("\\n@@maxrss_kb %d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(cmd, env=None):
    """Runs cmd through RSS_LAUNCHER; returns (exit status, stdout text, peak RSS in
    MB of that command alone, wall seconds)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.time()
        rc = subprocess.call([sys.executable, "-S", "-c", RSS_LAUNCHER] + cmd,
                             stdout=out, stderr=err, env=env, cwd=REPO)
        wall = time.time() - t0
        out.seek(0)
        err.seek(0)
        text, errtext = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    m = re.search(r"@@maxrss_kb ([0-9]+)", errtext)
    rss = int(m.group(1)) / 1024.0 if m else float("nan")
    if rc != 0:
        sys.stderr.write(f"command failed ({rc}): {' '.join(cmd)}\n{errtext[-3000:]}\n")
    return rc, text, rss, wall


def child_env(threads):
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def d2rt_supports(d2rt, word):
    r = subprocess.run([d2rt, "bench", "--help"], capture_output=True, text=True)
    return word in (r.stdout + r.stderr)


def bench_d2rt(args, name, model_path, want_outputs=True):
    """`d2rt bench` (timed runs, per-op table) then `d2rt run --out` (outputs)."""
    inp = os.path.join(BENCH_DIR, "input.npy")
    cmd = [args.d2rt, "bench", model_path, inp, "--iters", str(args.iters),
           "--warmup", str(args.warmup), "--threads", str(args.threads)]
    if d2rt_supports(args.d2rt, "--profile"):
        cmd.append("--profile")
    rc, text, rss, _ = run_child(cmd, child_env(args.threads))
    if rc != 0:
        return None
    m = re.search(r"latency: min ([0-9.]+) ms, median ([0-9.]+) ms", text)
    if not m:
        sys.stderr.write(f"cannot parse d2rt bench output:\n{text}\n")
        return None
    g = re.search(r"\(([0-9.]+) GFLOP per run\)", text)
    out_dir = os.path.join(BENCH_DIR, "out", f"{name}_d2rt")
    rc2 = 1
    if want_outputs:
        os.makedirs(out_dir, exist_ok=True)
        rc2, _, _, _ = run_child([args.d2rt, "run", model_path, inp, "--out", out_dir,
                                  "--threads", str(args.threads)], child_env(args.threads))
    return {"min_ms": float(m.group(1)), "median_ms": float(m.group(2)), "peak_rss_mb": rss,
            "baseline_rss_mb": None, "out_dir": out_dir if rc2 == 0 else None,
            "profile": parse_op_table(text), "bench_text": text,
            "gflop_per_run": float(g.group(1)) if g else None}


def parse_op_table(text):
    """(op, count, ms/run, %, GFLOP/s or '') rows of d2rt bench's per-op table."""
    rows = []
    table = False
    for line in text.splitlines():
        if re.match(r"^op\s+count\s+ms/run", line):
            table = True
            continue
        if table:
            f = line.split()
            if len(f) >= 4 and f[0] != "all" and re.match(r"^[0-9]+$", f[1]):
                rows.append((f[0], int(f[1]), float(f[2]), f[3], f[4] if len(f) > 4 else ""))
            elif f and f[0] == "all":
                table = False
    return sorted(rows, key=lambda r: -r[2])


def merge_rounds(acc, res):
    """Rounds run the runtimes in turn, so a busy spell of a shared machine hits all
    of them: keep the best min, the median of the rounds' medians, the largest peak
    RSS, and the first round's outputs and profile."""
    if acc is None or res is None:
        return acc or res
    acc.setdefault("round_medians", [acc["median_ms"]]).append(res["median_ms"])
    acc.setdefault("round_mins", [acc["min_ms"]]).append(res["min_ms"])
    acc["min_ms"] = min(acc["round_mins"])
    acc["median_ms"] = float(np.median(acc["round_medians"]))
    acc["peak_rss_mb"] = max(acc["peak_rss_mb"], res["peak_rss_mb"])
    if res.get("profile") and res["min_ms"] <= acc["min_ms"]:
        acc["profile"] = res["profile"]  # the per-op table of the fastest round
    return acc


def bench_python(args, name, which, want_outputs=True):
    out_dir = os.path.join(BENCH_DIR, "out", f"{name}_{which}")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", which, "--model", name,
           "--threads", str(args.threads), "--iters", str(args.iters), "--warmup", str(args.warmup),
           "--out", out_dir]
    rc, text, rss, _ = run_child(cmd, child_env(args.threads))
    if rc != 0:
        return None
    res = json.loads(text.strip().splitlines()[-1])
    times = sorted(t * 1e3 for t in res["times"])
    return {"min_ms": times[0], "median_ms": float(np.median(times)), "peak_rss_mb": rss,
            "baseline_rss_mb": res["baseline_rss_mb"], "out_dir": out_dir, "version": res["version"]}


# ---------------------------------------------------------------------------- compare
def load_outputs(out_dir, names):
    return {n: np.load(os.path.join(out_dir, f"out{k}.npy")) for k, n in enumerate(names)}


def box_iou(a, b):
    a = a.astype(np.float64)[:, None, :]
    b = b.astype(np.float64)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def compare(ref, got):
    """Greedy one-to-one matching (in reference order) of same-class detections with
    IoU >= IOU_MATCH; returns a summary dict."""
    iou = box_iou(ref["boxes"], got["boxes"])
    used, pairs = set(), []
    for i in range(len(ref["scores"])):
        cands = [j for j in range(len(got["scores"]))
                 if j not in used and got["labels"][j] == ref["labels"][i] and iou[i, j] >= IOU_MATCH]
        if cands:
            j = max(cands, key=lambda j: iou[i, j])
            used.add(j)
            pairs.append((i, j))
    res = {"ref": len(ref["scores"]), "got": len(got["scores"]), "matched": len(pairs)}
    if pairs:
        ri, gi = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        res["min_iou"] = float(iou[ri, gi].min())
        res["max_score_diff"] = float(np.abs(ref["scores"][ri] - got["scores"][gi]).max())
        if "masks" in ref:
            d = np.abs(ref["masks"][ri].astype(np.float64) - got["masks"][gi].astype(np.float64))
            res["max_mask_diff"] = float(d.max()) if d.size else 0.0
            res["mask_pixels_differing_at_0.5"] = int(((ref["masks"][ri] > 0.5) != (got["masks"][gi] > 0.5)).sum())
    res["same"] = res["matched"] == res["ref"] == res["got"]
    return res


def agreement_text(c):
    if c is None:
        return "n/a"
    s = f"{c['matched']}/{c['ref']} matched ({c['got']} returned)"
    if c["matched"]:
        s += f", min IoU {c['min_iou']:.6f}, max |dscore| {c['max_score_diff']:.1e}"
        if "max_mask_diff" in c:
            s += f", max |dmask| {c['max_mask_diff']:.1e}, {c['mask_pixels_differing_at_0.5']} mask px differ at 0.5"
    return s


# ------------------------------------------------------------------------------- main
def machine_facts():
    facts = {}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key in ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache"):
            m = re.search(rf"^{re.escape(key)}:\s*(.+)$", lscpu, re.M)
            if m:
                facts[key] = m.group(1).strip()
    except OSError:
        pass
    facts["loadavg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return facts


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, of " + ", ".join(MODELS))
    p.add_argument("--skip-export", action="store_true", help="reuse build/bench/<model>.{onnx,pt,json,ir}")
    p.add_argument("--d2rt", default=os.path.join(REPO, "build", "d2rt"), help="the d2rt binary")
    p.add_argument("--d2rt-input", choices=["ir", "onnx"], default="ir",
                   help="what d2rt bench loads: the compiled model.ir (default) or the ONNX file")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat the d2rt/ort/torch sequence R times (min over rounds, median of medians)")
    p.add_argument("--runtimes", default="d2rt,ort,torch", help="comma-separated subset of d2rt,ort,torch")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--profile-rows", type=int, default=12, help="d2rt per-op rows to print")
    # internal: a measuring child
    p.add_argument("--worker", choices=["ort", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker_main(args)

    models = [m for m in args.models.split(",") if m]
    unknown = set(models) - set(MODELS)
    if unknown:
        p.error(f"unknown model(s) {sorted(unknown)}; choose from {MODELS}")
    runtimes = [r for r in args.runtimes.split(",") if r]
    os.makedirs(BENCH_DIR, exist_ok=True)
    inp = os.path.join(BENCH_DIR, "input.npy")
    if not args.skip_export or not os.path.exists(inp):
        np.save(inp, make_image())
    facts = machine_facts()
    print(f"machine: {facts}; threads {args.threads}, {args.iters} timed runs after {args.warmup} warm-up", flush=True)

    results = {}
    for name in models:
        meta_path = os.path.join(BENCH_DIR, name + ".json")
        if args.skip_export and os.path.exists(meta_path):
            with open(meta_path) as f:
                meta = json.load(f)
        else:
            meta = export_model(name, np.load(inp))
        onnx_path = os.path.join(BENCH_DIR, name + ".onnx")
        ir_path = os.path.join(BENCH_DIR, name + ".ir")
        model_path = onnx_path
        if "d2rt" in runtimes and args.d2rt_input == "ir":
            if not (args.skip_export and os.path.exists(ir_path)):
                rc, _, _, wall = run_child([args.d2rt, "compile", onnx_path, "-o", ir_path, "--batch", "1",
                                            "--size", f"{IMAGE_HW[0]}x{IMAGE_HW[1]}"])
                if rc != 0:
                    return 1
                print(f"[compile] {name}: d2rt compile {wall:.1f} s", flush=True)
            model_path = ir_path
        r = {"meta": meta}
        for round_index in range(args.rounds):
            for rt in runtimes:
                print(f"[run] {name}: {rt}, round {round_index + 1}/{args.rounds} "
                      f"(load {' '.join(f'{x:.1f}' for x in os.getloadavg())})", flush=True)
                first = round_index == 0
                res = (bench_d2rt(args, name, model_path, first) if rt == "d2rt"
                       else bench_python(args, name, rt, first))
                r[rt] = res if first else merge_rounds(r.get(rt), res)
        names = meta["output_names"]
        ref = load_outputs(r["torch"]["out_dir"], names) if r.get("torch") else None
        for rt in runtimes:
            if rt != "torch" and r.get(rt) and r[rt]["out_dir"] and ref is not None:
                r[rt]["vs_torch"] = compare(ref, load_outputs(r[rt]["out_dir"], names))
        results[name] = r
    facts["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print_report(args, facts, results, runtimes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "machine": facts,
                       "results": {m: {k: ({kk: vv for kk, vv in v.items() if kk != "bench_text"}
                                           if isinstance(v, dict) else v) for k, v in r.items()}
                                   for m, r in results.items()}}, f, indent=1)
    return 0


def print_report(args, facts, results, runtimes):
    print()
    print(f"threads {args.threads}, iters {args.iters}, warmup {args.warmup}, rounds {args.rounds}; "
          f"load average {facts['loadavg']} at start, {facts['loadavg_end']} at end")
    print()
    print("| model | runtime | min ms | median ms | d2rt/this (min) | d2rt/this (median) "
          "| peak RSS MB | RSS after imports MB | outputs vs PyTorch eager |")
    print("|---|---|---|---|---|---|---|---|---|")
    label = {"d2rt": "d2rt", "ort": "onnxruntime", "torch": "PyTorch eager"}
    for name, r in results.items():
        d = r.get("d2rt")
        for rt in runtimes:
            x = r.get(rt)
            if x is None:
                print(f"| {name} | {label[rt]} | failed | | | | | | |")
                continue
            ratio_min = f"{d['min_ms'] / x['min_ms']:.2f}" if d and rt != "d2rt" else ""
            ratio_med = f"{d['median_ms'] / x['median_ms']:.2f}" if d and rt != "d2rt" else ""
            base = f"{x['baseline_rss_mb']:.0f}" if x.get("baseline_rss_mb") else ""
            agree = "reference" if rt == "torch" else agreement_text(x.get("vs_torch"))
            print(f"| {name} | {label[rt]} | {x['min_ms']:.0f} | {x['median_ms']:.0f} | {ratio_min} | {ratio_med} "
                  f"| {x['peak_rss_mb']:.0f} | {base} | {agree} |")
    for rt in ("ort", "torch"):
        for r in results.values():
            if r.get(rt) and r[rt].get("version"):
                print(f"{label[rt]}: {r[rt]['version']}")
                break
    for name, r in results.items():
        d = r.get("d2rt")
        if d and d["profile"]:
            print(f"\nd2rt per-op profile, {name} (top {args.profile_rows} by ms/run; convolutions and "
                  f"GEMMs: {d.get('gflop_per_run') or 0:.1f} GFLOP per run):")
            print("| op | count | ms/run | % | GFLOP/s |")
            print("|---|---|---|---|---|")
            for op, count, ms, pct, gf in d["profile"][:args.profile_rows]:
                print(f"| {op} | {count} | {ms:.1f} | {pct} | {gf} |")


if __name__ == "__main__":
    sys.exit(main())
