#!/usr/bin/env python3
"""tools/optests/gen_nn.py: op tests of the "neural network" family (ir/ops.def).

Writes tests/ops/<op>/<case>/ for conv, conv_transpose, batch_norm, instance_norm,
lrn, max_pool, average_pool, lp_pool, global_average_pool, global_max_pool, matmul,
gemm, softmax, log_softmax and hardmax. Expected outputs are computed here with NumPy
in float64, written from the ONNX operator definitions (not from d2rt and not with
onnx.reference): convolutions as sums of shifted slices of a zero-padded input, pools
as stacks of window taps over a padded input, and so on.

Run from anywhere: /work/venv/bin/python tools/optests/gen_nn.py
"""
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402

RNG = np.random.default_rng(20240611)
DT = {np.float32: "f32", np.float64: "f64", np.float16: "f16", np.int32: "i32", np.int64: "i64",
      np.uint8: "u8", np.int8: "i8", np.uint32: "u32", np.uint64: "u64"}
F16_TOL = (2e-3, 2e-3)


def rand(shape, dtype=np.float32, low=-1.0, high=1.0):
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(int(low), int(high), size=shape).astype(dtype)
    return RNG.uniform(low, high, size=shape).astype(dtype)


def ir_type(a, dims=None):
    """IR type text of array a; dims overrides the printed dims (e.g. '?n' symbols)."""
    dims = dims if dims is not None else [str(d) for d in a.shape]
    return "%s[%s]" % (DT[a.dtype.type], ",".join(str(d) for d in dims))


def ir_attr(value):
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(ir_attr(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def graph(op, inputs, attrs=None, num_outputs=1, input_dims=None, omitted=()):
    """IR text of a one-node graph: inputs are (name, array) pairs; omitted lists
    input positions passed as `_`."""
    params, args = [], []
    k = 0
    for pos in range(len(inputs) + len(omitted)):
        if pos in omitted:
            args.append("_")
            continue
        name, a = inputs[k]
        dims = input_dims[k] if input_dims and input_dims[k] is not None else None
        params.append("%%%s: %s" % (name, ir_type(a, dims)))
        args.append("%" + name)
        k += 1
    outs = ["%%y%d" % i for i in range(num_outputs)]
    attr_text = ""
    if attrs:
        attr_text = " {" + ", ".join("%s=%s" % (k2, ir_attr(v)) for k2, v in attrs.items()) + "}"
    return "graph main(%s) {\n  %s = %s(%s)%s\n  return %s\n}\n" % (
        ", ".join(params), ", ".join(outs), op, ", ".join(args), attr_text, ", ".join(outs))


def case(op, name, inputs, outputs, attrs=None, tol=None, input_dims=None, omitted=()):
    text = graph(op, inputs, attrs, len(outputs), input_dims, omitted)
    write_case(op, name, text, [a for _, a in inputs], outputs, tol)


# ---------------------------------------------------------------------------
# Window geometry (ONNX formulas), shared by the conv and pool references
# ---------------------------------------------------------------------------

def resolve_window(in_sizes, kernel, strides, dilations, pads, auto_pad="notset", ceil_mode=False):
    """Output sizes and (begin, end) pads per spatial dim for conv and pools."""
    n = len(in_sizes)
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    pads = pads or [0] * (2 * n)
    out, pb, pe = [], [], []
    for i in range(n):
        size, s, dk = in_sizes[i], strides[i], (kernel[i] - 1) * dilations[i] + 1
        if auto_pad in ("same_upper", "same_lower"):
            o = -(-size // s)
            total = max(0, (o - 1) * s + dk - size)
            small, big = total // 2, total - total // 2
            b, e = (small, big) if auto_pad == "same_upper" else (big, small)
        else:
            b, e = (0, 0) if auto_pad == "valid" else (pads[i], pads[n + i])
            span = size + b + e - dk
            o = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (o - 1) * s >= size + b:
                o -= 1
        out.append(o)
        pb.append(b)
        pe.append(e)
    return out, pb, pe, strides, dilations


def window_slices(k, d, s, count):
    """Slice of a padded axis that kernel tap k reads for `count` outputs."""
    return slice(k * d, k * d + (count - 1) * s + 1, s)


# ---------------------------------------------------------------------------
# conv, conv_transpose
# ---------------------------------------------------------------------------

def conv_ref(x, w, b=None, strides=None, pads=None, dilations=None, group=1, auto_pad="notset"):
    sp = x.ndim - 2
    kernel = list(w.shape[2:])
    out, pb, pe, strides, dilations = resolve_window(list(x.shape[2:]), kernel, strides, dilations, pads, auto_pad)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(pb[i], pe[i]) for i in range(sp)])
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // group, m // group
    y = np.zeros([n, m] + out)
    w64 = w.astype(np.float64)
    for g in range(group):
        xg = xp[:, g * cg:(g + 1) * cg]
        for tap in itertools.product(*[range(k) for k in kernel]):
            sl = tuple(window_slices(tap[i], dilations[i], strides[i], out[i]) for i in range(sp))
            patch = xg[(slice(None), slice(None)) + sl]
            wt = w64[(slice(g * mg, (g + 1) * mg), slice(None)) + tap]  # [mg, cg]
            y[:, g * mg:(g + 1) * mg] += np.einsum("nc...,mc->nm...", patch, wt)
    if b is not None:
        y += b.astype(np.float64).reshape([1, m] + [1] * sp)
    return y.astype(x.dtype)


def conv_transpose_ref(x, w, b=None, strides=None, pads=None, dilations=None, group=1, output_padding=None,
                       output_shape=None, auto_pad="notset"):
    sp = x.ndim - 2
    in_sizes, kernel = list(x.shape[2:]), list(w.shape[2:])
    strides = strides or [1] * sp
    dilations = dilations or [1] * sp
    output_padding = output_padding or [0] * sp
    pads = pads or [0] * (2 * sp)
    full = [strides[i] * (in_sizes[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1
            for i in range(sp)]
    pb, out = [], []
    for i in range(sp):
        if output_shape is not None or auto_pad in ("same_upper", "same_lower"):
            target = output_shape[i] if output_shape is not None else in_sizes[i] * strides[i]
            total = max(0, full[i] - target)  # a larger target adds positions at the end
            pb.append(total // 2 if auto_pad == "same_upper" else total - total // 2)
            out.append(target)
        else:
            pb.append(pads[i])
            out.append(full[i] - pads[i] - pads[sp + i])
    n, c = x.shape[:2]
    mg = w.shape[1]
    cg = c // group
    y_full = np.zeros([n, mg * group] + [max(full[i], pb[i] + out[i]) for i in range(sp)])
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    for g in range(group):
        xg = x64[:, g * cg:(g + 1) * cg]
        for tap in itertools.product(*[range(k) for k in kernel]):
            wt = w64[(slice(g * cg, (g + 1) * cg), slice(None)) + tap]  # [cg, mg]
            contrib = np.einsum("nc...,cm->nm...", xg, wt)
            sl = tuple(window_slices(tap[i], dilations[i], strides[i], in_sizes[i]) for i in range(sp))
            y_full[(slice(None), slice(g * mg, (g + 1) * mg)) + sl] += contrib
    y = y_full[(slice(None), slice(None)) + tuple(slice(pb[i], pb[i] + out[i]) for i in range(sp))]
    if b is not None:
        y = y + b.astype(np.float64).reshape([1, -1] + [1] * sp)
    return y.astype(x.dtype)


def gen_conv():
    x = rand([1, 3, 7, 7]); w = rand([4, 3, 3, 3]); b = rand([4])
    case("conv", "basic_pads", [("x", x), ("w", w), ("b", b)], [conv_ref(x, w, b, pads=[1, 1, 1, 1])],
         {"pads": [1, 1, 1, 1]})
    case("conv", "no_bias_no_pads", [("x", x), ("w", w)], [conv_ref(x, w)])
    x = rand([2, 3, 9, 8]); w = rand([5, 3, 3, 2]); b = rand([5])
    a = dict(strides=[2, 1], pads=[1, 0, 2, 1], dilations=[1, 2])
    case("conv", "strides_asym_pads_dilations", [("x", x), ("w", w), ("b", b)], [conv_ref(x, w, b, **a)], a)
    x = rand([2, 4, 5, 6]); w = rand([6, 2, 3, 3]); b = rand([6])
    case("conv", "group2", [("x", x), ("w", w), ("b", b)], [conv_ref(x, w, b, pads=[1] * 4, group=2)],
         {"pads": [1] * 4, "group": 2})
    x = rand([1, 4, 6, 6]); w = rand([8, 1, 3, 3])
    case("conv", "depthwise_multiplier2", [("x", x), ("w", w)], [conv_ref(x, w, strides=[2, 2], group=4)],
         {"strides": [2, 2], "group": 4})
    x = rand([2, 3, 11]); w = rand([5, 3, 3]); b = rand([5])
    a = dict(strides=[2], pads=[1, 2], dilations=[2])
    case("conv", "conv1d", [("x", x), ("w", w), ("b", b)], [conv_ref(x, w, b, **a)], a)
    x = rand([1, 2, 4, 5, 5]); w = rand([3, 2, 2, 3, 3]); b = rand([3])
    case("conv", "conv3d", [("x", x), ("w", w), ("b", b)], [conv_ref(x, w, b, pads=[1] * 6, strides=[1, 2, 1])],
         {"pads": [1] * 6, "strides": [1, 2, 1]})
    x = rand([1, 2, 6, 7]); w = rand([3, 2, 4, 4])
    for mode in ("same_upper", "same_lower", "valid"):
        case("conv", "auto_pad_" + mode, [("x", x), ("w", w)],
             [conv_ref(x, w, strides=[2, 2], auto_pad=mode)], {"strides": [2, 2], "auto_pad": mode})
    x = rand([1, 3, 5, 5]); w = rand([2, 3, 3, 3])
    case("conv", "explicit_kernel_shape", [("x", x), ("w", w)], [conv_ref(x, w)], {"kernel_shape": [3, 3]})
    x = rand([1, 8, 4, 4]); w = rand([16, 8, 1, 1]); b = rand([16])
    case("conv", "pointwise_1x1", [("x", x), ("w", w), ("b", b)], [conv_ref(x, w, b)])
    x = rand([2, 3, 5, 6]); w = rand([4, 3, 3, 3]); b = rand([4])
    case("conv", "unknown_dims", [("x", x), ("w", w), ("b", b)], [conv_ref(x, w, b, pads=[1] * 4)],
         {"pads": [1] * 4}, input_dims=[["?n", 3, "?h", "?w"], None, None])
    x = rand([0, 3, 5, 5]); w = rand([2, 3, 3, 3])
    case("conv", "zero_batch", [("x", x), ("w", w)], [conv_ref(x, w)])
    x = rand([1, 2, 5, 5], np.float64); w = rand([3, 2, 3, 3], np.float64); b = rand([3], np.float64)
    case("conv", "f64", [("x", x), ("w", w), ("b", b)], [conv_ref(x, w, b, pads=[1] * 4)], {"pads": [1] * 4},
         tol=(1e-12, 1e-12))
    x = rand([1, 2, 5, 5], np.float16); w = rand([3, 2, 3, 3], np.float16); b = rand([3], np.float16)
    case("conv", "f16", [("x", x), ("w", w), ("b", b)], [conv_ref(x, w, b, pads=[1] * 4)], {"pads": [1] * 4},
         tol=F16_TOL)


def gen_conv_transpose():
    x = rand([1, 2, 3, 3]); w = rand([2, 3, 3, 3]); b = rand([3])
    case("conv_transpose", "basic", [("x", x), ("w", w), ("b", b)], [conv_transpose_ref(x, w, b)])
    a = dict(strides=[2, 2], pads=[1, 0, 1, 1])
    case("conv_transpose", "strides_pads", [("x", x), ("w", w)], [conv_transpose_ref(x, w, **a)], a)
    a = dict(strides=[3, 2], output_padding=[1, 1], dilations=[1, 2])
    case("conv_transpose", "output_padding_dilations", [("x", x), ("w", w), ("b", b)],
         [conv_transpose_ref(x, w, b, **a)], a)
    a = dict(strides=[2, 2], output_shape=[6, 7])
    case("conv_transpose", "output_shape", [("x", x), ("w", w)], [conv_transpose_ref(x, w, **a)], a)
    a = dict(strides=[2, 2], output_shape=[9, 8])
    case("conv_transpose", "output_shape_larger_than_full", [("x", x), ("w", w), ("b", b)],
         [conv_transpose_ref(x, w, b, **a)], a)
    for mode in ("same_upper", "same_lower"):
        a = dict(strides=[2, 2], auto_pad=mode)
        case("conv_transpose", "auto_pad_" + mode, [("x", x), ("w", w)], [conv_transpose_ref(x, w, **a)], a)
    x = rand([2, 4, 3, 4]); w = rand([4, 3, 2, 2]); b = rand([6])
    a = dict(strides=[2, 1], group=2)
    case("conv_transpose", "group2", [("x", x), ("w", w), ("b", b)], [conv_transpose_ref(x, w, b, **a)], a)
    x = rand([2, 3, 5]); w = rand([3, 2, 3])
    a = dict(strides=[2], pads=[1, 0])
    case("conv_transpose", "conv1d", [("x", x), ("w", w)], [conv_transpose_ref(x, w, **a)], a)
    x = rand([1, 2, 2, 3, 3]); w = rand([2, 2, 2, 2, 3]); b = rand([2])
    a = dict(strides=[2, 1, 2], pads=[0, 1, 0, 1, 0, 1])
    case("conv_transpose", "conv3d", [("x", x), ("w", w), ("b", b)], [conv_transpose_ref(x, w, b, **a)], a)
    x = rand([1, 2, 3, 3], np.float64); w = rand([2, 2, 3, 3], np.float64)
    case("conv_transpose", "f64", [("x", x), ("w", w)], [conv_transpose_ref(x, w, strides=[2, 2])],
         {"strides": [2, 2]}, tol=(1e-12, 1e-12))
    x = rand([1, 2, 3, 3], np.float16); w = rand([2, 2, 3, 3], np.float16)
    case("conv_transpose", "f16", [("x", x), ("w", w)], [conv_transpose_ref(x, w)], tol=F16_TOL)
    x = rand([2, 2, 3, 4]); w = rand([2, 3, 3, 3])
    case("conv_transpose", "unknown_dims", [("x", x), ("w", w)], [conv_transpose_ref(x, w, strides=[2, 2])],
         {"strides": [2, 2]}, input_dims=[["?n", 2, "?h", "?w"], None])


# ---------------------------------------------------------------------------
# Normalizations
# ---------------------------------------------------------------------------

def channel_shape(x):
    return [1, x.shape[1]] + [1] * (x.ndim - 2)


def batch_norm_ref(x, scale, bias, mean, var, eps=1e-5):
    r = lambda a: a.astype(np.float64).reshape(channel_shape(x))  # noqa: E731
    y = r(scale) * (x.astype(np.float64) - r(mean)) / np.sqrt(r(var) + eps) + r(bias)
    return y.astype(x.dtype)


def instance_norm_ref(x, scale, bias, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
    r = lambda a: a.astype(np.float64).reshape(channel_shape(x))  # noqa: E731
    return (r(scale) * (x64 - mean) / np.sqrt(var + eps) + r(bias)).astype(x.dtype)


def lrn_ref(x, size, alpha=1e-4, beta=0.75, bias=1.0):
    x64 = x.astype(np.float64)
    c = x.shape[1]
    sq = np.zeros_like(x64)
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    for ch in range(c):
        lo, hi = max(0, ch - before), min(c - 1, ch + after)
        sq[:, ch] = (x64[:, lo:hi + 1] ** 2).sum(axis=1)
    return (x64 / (bias + alpha / size * sq) ** beta).astype(x.dtype)


def gen_norms():
    for name, shape, dt in (("nchw", [2, 3, 4, 5], np.float32), ("nc", [4, 3], np.float32),
                            ("ncl_f64", [2, 3, 4], np.float64), ("f16", [1, 3, 2, 2], np.float16)):
        x = rand(shape, dt); c = shape[1]
        s, b, m, v = rand([c], dt), rand([c], dt), rand([c], dt), rand([c], dt, 0.1, 2.0)
        tol = F16_TOL if dt == np.float16 else ((1e-12, 1e-12) if dt == np.float64 else None)
        case("batch_norm", name, [("x", x), ("s", s), ("b", b), ("m", m), ("v", v)],
             [batch_norm_ref(x, s, b, m, v)], tol=tol)
    x = rand([2, 3, 4, 5]); c = 3
    s, b, m, v = rand([c]), rand([c]), rand([c]), rand([c], np.float32, 0.0, 0.01)
    case("batch_norm", "epsilon", [("x", x), ("s", s), ("b", b), ("m", m), ("v", v)],
         [batch_norm_ref(x, s, b, m, v, 0.01)], {"epsilon": 0.01})

    for name, shape in (("nchw", [2, 3, 4, 5]), ("ncl", [2, 4, 6]), ("ncdhw", [1, 2, 3, 3, 2])):
        x = rand(shape, np.float32, -3, 5); s, b = rand([shape[1]]), rand([shape[1]])
        case("instance_norm", name, [("x", x), ("s", s), ("b", b)], [instance_norm_ref(x, s, b)])
    x = rand([2, 3, 4, 5]); s, b = rand([3]), rand([3])
    case("instance_norm", "epsilon", [("x", x), ("s", s), ("b", b)], [instance_norm_ref(x, s, b, 0.3)],
         {"epsilon": 0.3})
    x = rand([1, 2, 3, 3], np.float64); s, b = rand([2], np.float64), rand([2], np.float64)
    case("instance_norm", "f64", [("x", x), ("s", s), ("b", b)], [instance_norm_ref(x, s, b)], tol=(1e-12, 1e-12))

    x = rand([2, 5, 3, 3], np.float32, -2, 2)
    case("lrn", "size3", [("x", x)], [lrn_ref(x, 3)], {"size": 3})
    case("lrn", "size4_attrs", [("x", x)], [lrn_ref(x, 4, 0.02, 0.5, 2.0)],
         {"size": 4, "alpha": 0.02, "beta": 0.5, "bias": 2.0})
    x = rand([1, 3, 4], np.float64)
    case("lrn", "size1_f64", [("x", x)], [lrn_ref(x, 1, 0.5)], {"size": 1, "alpha": 0.5}, tol=(1e-12, 1e-12))


# ---------------------------------------------------------------------------
# Pools
# ---------------------------------------------------------------------------

def pool_windows(x, kernel, strides, pads, dilations, auto_pad, ceil_mode, fill):
    """Stack of window taps: array [N, C, out..., taps] of float64 (fill outside the
    input), plus the flat input index of each tap (-1 outside) and the geometry."""
    sp = x.ndim - 2
    out, pb, pe, strides, dilations = resolve_window(list(x.shape[2:]), kernel, strides, dilations, pads,
                                                     auto_pad, ceil_mode)
    # Pad enough on the right for every window (ceil_mode may overhang the end pads).
    right = [max(pe[i], (out[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - x.shape[2 + i] - pb[i])
             for i in range(sp)]
    widths = [(0, 0), (0, 0)] + [(pb[i], right[i]) for i in range(sp)]
    xp = np.pad(x.astype(np.float64), widths, constant_values=fill)
    idx = np.pad(np.arange(x.size).reshape(x.shape), widths, constant_values=-1)
    # Which padded positions count for count_include_pad: inside [-pb, in + pe).
    inside_pads = np.pad(np.ones(x.shape), [(0, 0), (0, 0)] + [(pb[i], pe[i]) for i in range(sp)],
                         constant_values=1.0)
    inside_pads = np.pad(inside_pads, [(0, 0), (0, 0)] + [(0, right[i] - pe[i]) for i in range(sp)])
    taps, tap_idx, tap_pad = [], [], []
    for tap in itertools.product(*[range(k) for k in kernel]):
        sl = (slice(None), slice(None)) + tuple(window_slices(tap[i], dilations[i], strides[i], out[i])
                                                for i in range(sp))
        taps.append(xp[sl]); tap_idx.append(idx[sl]); tap_pad.append(inside_pads[sl])
    return np.stack(taps, -1), np.stack(tap_idx, -1), np.stack(tap_pad, -1)


def max_pool_ref(x, kernel, strides=None, pads=None, dilations=None, auto_pad="notset", ceil_mode=False,
                 storage_order=0):
    taps, idx, _ = pool_windows(x, kernel, strides, pads, dilations, auto_pad, ceil_mode, -np.inf)
    best = np.argmax(taps, axis=-1)  # first maximum in row-major tap order
    y = np.take_along_axis(taps, best[..., None], -1)[..., 0]
    flat = np.take_along_axis(idx, best[..., None], -1)[..., 0]
    if storage_order == 1:  # column-major over the spatial dims of each (n, c) plane
        plane = int(np.prod(x.shape[2:]))
        coords = np.unravel_index(flat % plane, x.shape[2:])
        flat = flat - flat % plane + np.ravel_multi_index(coords, x.shape[2:], order="F")
    return y.astype(x.dtype), flat.astype(np.int64)


def average_pool_ref(x, kernel, strides=None, pads=None, dilations=None, auto_pad="notset", ceil_mode=False,
                     count_include_pad=0):
    taps, idx, inside = pool_windows(x, kernel, strides, pads, dilations, auto_pad, ceil_mode, 0.0)
    count = inside.sum(-1) if count_include_pad else (idx >= 0).sum(-1)
    return (taps.sum(-1) / count).astype(x.dtype)


def lp_pool_ref(x, kernel, p=2, strides=None, pads=None, dilations=None, auto_pad="notset", ceil_mode=False):
    taps, _, _ = pool_windows(x, kernel, strides, pads, dilations, auto_pad, ceil_mode, 0.0)
    return ((np.abs(taps) ** p).sum(-1) ** (1.0 / p)).astype(x.dtype)


def pool_attrs(kernel, **kw):
    a = {"kernel_shape": kernel}
    for k, v in kw.items():
        if k == "ceil_mode":
            a[k] = int(v)
        elif v is not None:
            a[k] = v
    return a


def gen_pools():
    x = rand([2, 3, 7, 8])
    variants = [
        ("default_2d", [3, 3], {}),
        ("strides", [3, 2], dict(strides=[2, 3])),
        ("pads", [3, 3], dict(pads=[1, 2, 2, 1])),
        ("ceil_mode", [3, 3], dict(strides=[2, 2], ceil_mode=True)),
        ("ceil_last_window_starts_on_pad", [3, 3], dict(strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=True)),
        ("dilations", [2, 3], dict(dilations=[2, 2], pads=[1, 1, 0, 1])),
        ("same_upper", [3, 2], dict(strides=[2, 2], auto_pad="same_upper")),
        ("same_lower", [3, 2], dict(strides=[2, 2], auto_pad="same_lower")),
        ("valid", [3, 2], dict(strides=[2, 3], auto_pad="valid")),
    ]
    for name, kernel, kw in variants:
        a = pool_attrs(kernel, **kw)
        case("max_pool", name, [("x", x)], [max_pool_ref(x, kernel, **kw)[0]], a)
        case("average_pool", name, [("x", x)], [average_pool_ref(x, kernel, **kw)], a)
        case("lp_pool", name, [("x", x)], [lp_pool_ref(x, kernel, **kw)], a)
    for name, kernel, kw in (("pads_count_include_pad", [3, 3], dict(pads=[1, 2, 2, 1])),
                             ("ceil_count_include_pad", [3, 3], dict(strides=[2, 2], pads=[1, 1, 1, 1],
                                                                     ceil_mode=True)),
                             ("dilations_count_include_pad", [2, 2], dict(dilations=[2, 3], pads=[1, 1, 1, 1],
                                                                          ceil_mode=True))):
        case("average_pool", name, [("x", x)], [average_pool_ref(x, kernel, count_include_pad=1, **kw)],
             dict(pool_attrs(kernel, **kw), count_include_pad=1))
    # 1-D and 3-D
    x1 = rand([2, 3, 10]); x3 = rand([1, 2, 4, 5, 6])
    for name, xx, kernel, kw in (("pool1d", x1, [3], dict(strides=[2], pads=[1, 1])),
                                 ("pool3d", x3, [2, 3, 2], dict(strides=[1, 2, 2], pads=[0, 1, 1, 1, 1, 0]))):
        a = pool_attrs(kernel, **kw)
        case("max_pool", name, [("x", xx)], [max_pool_ref(xx, kernel, **kw)[0]], a)
        case("average_pool", name, [("x", xx)], [average_pool_ref(xx, kernel, **kw)], a)
        case("lp_pool", name, [("x", xx)], [lp_pool_ref(xx, kernel, **kw)], a)
    # max_pool Indices, both storage orders
    for so in (0, 1):
        kw = dict(strides=[2, 2], pads=[1, 1, 1, 1])
        y, idx = max_pool_ref(x, [3, 3], storage_order=so, **kw)
        case("max_pool", "indices_storage_order%d" % so, [("x", x)], [y, idx],
             dict(pool_attrs([3, 3], **kw), storage_order=so))
    y, idx = max_pool_ref(x3, [2, 2, 2], strides=[2, 2, 2], storage_order=1)
    case("max_pool", "indices_3d_storage_order1", [("x", x3)], [y, idx],
         {"kernel_shape": [2, 2, 2], "strides": [2, 2, 2], "storage_order": 1})
    # dtypes
    xu = RNG.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6).astype(np.uint8)  # distinct values: no ties
    case("max_pool", "u8", [("x", xu)], [max_pool_ref(xu, [2, 2], strides=[2, 2])[0]],
         {"kernel_shape": [2, 2], "strides": [2, 2]})
    xi = (RNG.permutation(1 * 2 * 5 * 5) - 25).reshape(1, 2, 5, 5).astype(np.int8)
    case("max_pool", "i8_pads", [("x", xi)], [max_pool_ref(xi, [3, 3], pads=[1, 1, 1, 1])[0]],
         {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
    xh = rand([1, 2, 5, 5], np.float16)
    case("max_pool", "f16", [("x", xh)], [max_pool_ref(xh, [2, 2])[0]], {"kernel_shape": [2, 2]})
    case("average_pool", "f16", [("x", xh)], [average_pool_ref(xh, [2, 2])], {"kernel_shape": [2, 2]},
         tol=F16_TOL)
    xd = rand([1, 2, 5, 5], np.float64)
    case("average_pool", "f64", [("x", xd)], [average_pool_ref(xd, [3, 3], pads=[1] * 4)],
         {"kernel_shape": [3, 3], "pads": [1] * 4}, tol=(1e-12, 1e-12))
    for p in (1, 3):
        case("lp_pool", "p%d" % p, [("x", x)], [lp_pool_ref(x, [2, 2], p=p, strides=[2, 2])],
             {"kernel_shape": [2, 2], "strides": [2, 2], "p": p})
    xs = rand([2, 3, 6, 7])
    case("max_pool", "unknown_dims", [("x", xs)], [max_pool_ref(xs, [3, 3], strides=[2, 2])[0]],
         {"kernel_shape": [3, 3], "strides": [2, 2]}, input_dims=[["?n", 3, "?h", "?w"]])

    for name, shape, dt in (("nchw", [2, 3, 4, 5], np.float32), ("ncl", [2, 3, 7], np.float32),
                            ("ncdhw", [1, 2, 2, 3, 4], np.float32), ("f64", [2, 2, 3, 3], np.float64),
                            ("f16", [1, 2, 3, 3], np.float16)):
        xg = rand(shape, dt)
        axes = tuple(range(2, xg.ndim))
        tol = F16_TOL if dt == np.float16 else None
        case("global_average_pool", name, [("x", xg)],
             [xg.astype(np.float64).mean(axis=axes, keepdims=True).astype(dt)], tol=tol)
        case("global_max_pool", name, [("x", xg)], [xg.max(axis=axes, keepdims=True)])


# ---------------------------------------------------------------------------
# matmul, gemm
# ---------------------------------------------------------------------------

def matmul_ref(a, b):
    if np.issubdtype(a.dtype, np.integer):
        return np.matmul(a.astype(np.int64), b.astype(np.int64)).astype(a.dtype)
    return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)


def gen_matmul():
    shapes = [("2d", [3, 4], [4, 5]), ("1d_1d", [4], [4]), ("1d_3d", [4], [2, 4, 3]), ("3d_1d", [2, 3, 4], [4]),
              ("2d_1d", [3, 4], [4]), ("batch_broadcast", [2, 1, 3, 4], [5, 4, 2]),
              ("batch_2d_x_3d", [3, 4], [2, 4, 5]), ("4d", [2, 3, 2, 4], [2, 3, 4, 3]),
              ("zero_inner", [3, 0], [0, 2]), ("zero_batch", [0, 3, 4], [4, 2])]
    for name, sa, sb in shapes:
        a, b = rand(sa), rand(sb)
        case("matmul", name, [("a", a), ("b", b)], [matmul_ref(a, b)])
    for dt, name in ((np.int32, "i32"), (np.int64, "i64"), (np.uint8, "u8")):
        a, b = rand([2, 3, 4], dt, 0, 10), rand([4, 3], dt, 0, 10)
        case("matmul", name, [("a", a), ("b", b)], [matmul_ref(a, b)])
    a, b = rand([3, 5], np.float64), rand([5, 2], np.float64)
    case("matmul", "f64", [("a", a), ("b", b)], [matmul_ref(a, b)], tol=(1e-12, 1e-12))
    a, b = rand([3, 5], np.float16), rand([5, 2], np.float16)
    case("matmul", "f16", [("a", a), ("b", b)], [matmul_ref(a, b)], tol=F16_TOL)
    a, b = rand([2, 3, 4]), rand([4, 5])
    case("matmul", "unknown_dims", [("a", a), ("b", b)], [matmul_ref(a, b)],
         input_dims=[["?n", "?m", 4], None])


def gemm_ref(a, b, c=None, alpha=1.0, beta=1.0, trans_a=0, trans_b=0):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    y = alpha * ((a64.T if trans_a else a64) @ (b64.T if trans_b else b64))
    if c is not None:
        y = y + beta * c.astype(np.float64)
    return y.astype(a.dtype)


def gen_gemm():
    a, b, c = rand([3, 4]), rand([4, 5]), rand([3, 5])
    case("gemm", "default_matrix_c", [("a", a), ("b", b), ("c", c)], [gemm_ref(a, b, c)])
    case("gemm", "no_c", [("a", a), ("b", b)], [gemm_ref(a, b)])
    at, bt = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
    case("gemm", "trans_a", [("a", at), ("b", b), ("c", c)], [gemm_ref(at, b, c, trans_a=1)], {"trans_a": 1})
    case("gemm", "trans_b", [("a", a), ("b", bt), ("c", c)], [gemm_ref(a, bt, c, trans_b=1)], {"trans_b": 1})
    cv = rand([5])
    case("gemm", "all_attrs", [("a", at), ("b", bt), ("c", cv)],
         [gemm_ref(at, bt, cv, 0.25, 0.35, 1, 1)], {"alpha": 0.25, "beta": 0.35, "trans_a": 1, "trans_b": 1})
    for name, cshape in (("c_scalar", []), ("c_single", [1]), ("c_column", [3, 1]), ("c_row", [1, 5]),
                         ("c_vector", [5])):
        cc = rand(cshape)
        case("gemm", name, [("a", a), ("b", b), ("c", cc)], [gemm_ref(a, b, cc, beta=2.0)], {"beta": 2.0})
    a64, b64, c64 = rand([2, 3], np.float64), rand([3, 2], np.float64), rand([2, 2], np.float64)
    case("gemm", "f64", [("a", a64), ("b", b64), ("c", c64)], [gemm_ref(a64, b64, c64, alpha=-1.5)],
         {"alpha": -1.5}, tol=(1e-12, 1e-12))
    ai, bi, ci = rand([3, 4], np.int32, -5, 5), rand([4, 2], np.int32, -5, 5), rand([2], np.int32, -5, 5)
    case("gemm", "i32", [("a", ai), ("b", bi), ("c", ci)],
         [(ai.astype(np.int64) @ bi.astype(np.int64) + ci).astype(np.int32)])
    ah, bh = rand([2, 3], np.float16), rand([3, 4], np.float16)
    case("gemm", "f16", [("a", ah), ("b", bh)], [gemm_ref(ah, bh, alpha=0.5)], {"alpha": 0.5}, tol=F16_TOL)


# ---------------------------------------------------------------------------
# softmax, log_softmax, hardmax
# ---------------------------------------------------------------------------

def softmax_ref(x, axis, log=False):
    x64 = x.astype(np.float64)
    shifted = x64 - x64.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return (shifted - lse if log else np.exp(shifted - lse)).astype(x.dtype)


def hardmax_ref(x, axis):
    first = np.argmax(x, axis=axis)  # numpy: first occurrence of the maximum
    y = np.zeros(x.shape, dtype=x.dtype)
    np.put_along_axis(y, np.expand_dims(first, axis), 1, axis=axis)
    return y


def gen_softmax():
    x = rand([2, 3, 4], np.float32, -3, 3)
    for axis in (0, 1, 2, -1, -2):
        name = "axis_%s" % (str(axis) if axis >= 0 else "neg%d" % -axis)
        case("softmax", name, [("x", x)], [softmax_ref(x, axis)], {"axis": axis})
        case("log_softmax", name, [("x", x)], [softmax_ref(x, axis, log=True)], {"axis": axis})
        case("hardmax", name, [("x", x)], [hardmax_ref(x, axis)], {"axis": axis})
    big = np.array([[0, 1, 2, 3], [10000, 10001, 10002, 10003]], dtype=np.float32)
    case("softmax", "large_numbers", [("x", big)], [softmax_ref(big, -1)], {"axis": -1})
    case("log_softmax", "large_numbers", [("x", big)], [softmax_ref(big, -1, log=True)], {"axis": -1})
    ties = np.array([[1, 3, 3, 0], [2, 2, 2, 2], [0, -1, 5, 5]], dtype=np.float32)
    case("hardmax", "ties_first_wins", [("x", ties)], [hardmax_ref(ties, 1)], {"axis": 1})
    xd = rand([3, 5], np.float64, -5, 5)
    case("softmax", "f64", [("x", xd)], [softmax_ref(xd, 1)], {"axis": 1}, tol=(1e-12, 1e-14))
    case("log_softmax", "f64", [("x", xd)], [softmax_ref(xd, 1, log=True)], {"axis": 1}, tol=(1e-12, 1e-12))
    xh = rand([2, 6], np.float16, -4, 4)
    case("softmax", "f16", [("x", xh)], [softmax_ref(xh, -1)], {"axis": -1}, tol=F16_TOL)
    case("log_softmax", "f16", [("x", xh)], [softmax_ref(xh, -1, log=True)], {"axis": -1}, tol=F16_TOL)
    case("hardmax", "f16", [("x", xh)], [hardmax_ref(xh, -1)], {"axis": -1})
    x1 = rand([7])
    case("softmax", "rank1", [("x", x1)], [softmax_ref(x1, 0)], {"axis": 0})
    xz = rand([0, 4])
    case("softmax", "zero_rows", [("x", xz)], [softmax_ref(xz, 1)], {"axis": 1})
    xs = rand([3, 4])
    case("softmax", "unknown_dims", [("x", xs)], [softmax_ref(xs, -1)], {"axis": -1}, input_dims=[["?n", 4]])


def main():
    gen_conv()
    gen_conv_transpose()
    gen_norms()
    gen_pools()
    gen_matmul()
    gen_gemm()
    gen_softmax()


if __name__ == "__main__":
    main()
