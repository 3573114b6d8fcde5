"""tools/optests/gen_moreops.py: op tests for the "more ops" family (ops.def section
"more ops": extra unary math and activations, bitwise ops, cum_prod, normalizations,
grid_sample, center_crop_pad).

Run from anywhere:  /work/venv/bin/python tools/optests/gen_moreops.py
Writes tests/ops/<op>/<case>/ through common.write_case.

Expected values are computed here with NumPy from each op's definition (float math
in float64, rounded once to the output dtype; integer rules with Python integers,
wrapped to the width). grid_sample's reference is written two ways: the bilinear /
zeros case vectorized with PyTorch's four-corner formula (what detectron2 relies
on), the other modes as a per-point loop over the ONNX definition. Nothing here
calls onnx.reference or d2rt.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402

RNG = np.random.default_rng(20261127)

IR_DTYPE = {
    "float32": "f32", "float16": "f16", "float64": "f64", "int64": "i64", "int32": "i32",
    "int16": "i16", "int8": "i8", "uint8": "u8", "uint16": "u16", "uint32": "u32",
    "uint64": "u64", "bool": "bool",
}
F16_TOL = (2e-3, 1e-3)


def ir_type(a):
    return "%s[%s]" % (IR_DTYPE[a.dtype.name], ",".join(str(d) for d in a.shape))


class Const:
    """A graph constant instead of a graph input."""

    def __init__(self, array):
        self.array = np.asarray(array)


def attr_text(v):
    if isinstance(v, (list, tuple)):
        return "[%s]" % ",".join(str(int(e)) for e in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def case(op, name, args, outputs, attrs=None, tol=None):
    """Graph `%y0, ... = op(args) {attrs}`; args: arrays (inputs), Const, or None."""
    params, consts, names, inputs = [], [], [], []
    for k, arg in enumerate(args):
        if arg is None:
            names.append("_")
        elif isinstance(arg, Const):
            a = arg.array
            body = ", ".join(repr(float(v)) if a.dtype.kind == "f" else str(int(v)) for v in a.reshape(-1))
            consts.append("  %%c%d: %s = const [%s]" % (k, ir_type(a), body))
            names.append("%%c%d" % k)
        else:
            a = np.asarray(arg)
            params.append("%%x%d: %s" % (k, ir_type(a)))
            names.append("%%x%d" % k)
            inputs.append(a)
    outputs = [np.asarray(o) for o in outputs]
    outs = ", ".join("%%y%d" % i for i in range(len(outputs)))
    text = "graph main(%s) {\n" % ", ".join(params)
    text += "".join(c + "\n" for c in consts)
    at = " {%s}" % ", ".join("%s=%s" % (k, attr_text(v)) for k, v in attrs.items()) if attrs else ""
    text += "  %s = %s(%s)%s\n  return %s\n}\n" % (outs, op, ", ".join(names), at, outs)
    if tol is None and any(o.dtype == np.float16 for o in outputs):
        tol = F16_TOL
    write_case(op, name, text, inputs, outputs, tol)


def uniform(shape, lo, hi, dtype=np.float32):
    return RNG.uniform(lo, hi, size=shape).astype(dtype)


def f64(f, x, out_dtype=None):
    with np.errstate(all="ignore"):
        return np.asarray(f(np.asarray(x, dtype=np.float64))).astype(out_dtype or x.dtype)


# ---- unary float ops -------------------------------------------------------------

def softplus(x):
    return np.logaddexp(0.0, x)


UNARY = {
    "tan": (np.tan, -1.4, 1.4, {}),
    "sinh": (np.sinh, -4, 4, {}),
    "cosh": (np.cosh, -4, 4, {}),
    "asin": (np.arcsin, -1, 1, {}),
    "acos": (np.arccos, -1, 1, {}),
    "atan": (np.arctan, -10, 10, {}),
    "asinh": (np.arcsinh, -10, 10, {}),
    "acosh": (np.arccosh, 1, 10, {}),
    "atanh": (np.arctanh, -0.99, 0.99, {}),
    "mish": (lambda x: x * np.tanh(softplus(x)), -6, 6, {}),
    "celu": (lambda x: np.maximum(0, x) + np.minimum(0, 1.0 * np.expm1(x / 1.0)), -4, 4, {}),
    "thresholded_relu": (lambda x: np.where(x > 1.0, x, 0.0), -3, 3, {}),
    "shrink": (lambda x: np.where(x < -0.5, x, np.where(x > 0.5, x, 0.0)), -2, 2, {}),
    "swish": (lambda x: x / (1.0 + np.exp(-x)), -6, 6, {}),
}


def gen_unary():
    for op, (ref, lo, hi, attrs) in UNARY.items():
        x = uniform((3, 4), lo, hi)
        case(op, "f32", [x], [f64(ref, x)], attrs)
        x64 = uniform((2, 3, 2), lo, hi, np.float64)
        case(op, "f64", [x64], [f64(ref, x64)], attrs, tol=(1e-12, 1e-12))
        x16 = uniform((5,), lo, hi, np.float16)
        case(op, "f16", [x16], [f64(ref, x16)], attrs)
        xe = np.zeros((0, 3), np.float32)
        case(op, "empty", [xe], [xe.copy()], attrs)
    # Domain edges: NaN outside, infinities at the poles.
    e = np.array([-2.0, -1.0, 1.0, 2.0], np.float32)
    for op, ref in (("asin", np.arcsin), ("acos", np.arccos), ("atanh", np.arctanh), ("acosh", np.arccosh)):
        case(op, "domain_edges", [e], [f64(ref, e)])
    # Attribute values.
    x = uniform((2, 5), -4, 4)
    case("celu", "alpha2", [x], [f64(lambda v: np.maximum(0, v) + np.minimum(0, 2.0 * np.expm1(v / 2.0)), x)],
         {"alpha": 2.0})
    case("thresholded_relu", "alpha_neg", [x], [f64(lambda v: np.where(v > -0.5, v, 0.0), x)], {"alpha": -0.5})
    case("shrink", "soft", [x], [f64(lambda v: np.where(v < -1.5, v + 1.5, np.where(v > 1.5, v - 1.5, 0.0)), x)],
         {"bias": 1.5, "lambd": 1.5})
    xi = np.array([-5, -3, -2, -1, 0, 1, 2, 3, 5, 100], np.int32)
    exp_i = np.array([v + 1 if v < -2 else (v - 1 if v > 2 else 0) for v in xi.tolist()], np.int32)
    case("shrink", "i32", [xi], [exp_i], {"bias": 1.0, "lambd": 2.0})
    case("swish", "alpha", [x], [f64(lambda v: v / (1.0 + np.exp(-0.75 * v)), x)], {"alpha": 0.75})
    big = np.array([-100.0, -40.0, 40.0, 100.0], np.float32)
    case("mish", "large_magnitude", [big], [f64(lambda v: v * np.tanh(softplus(v)), big)])
    case("swish", "large_magnitude", [big], [f64(lambda v: v * 0.5 * (1 + np.tanh(v / 2)), big)])


# ---- bitwise ---------------------------------------------------------------------

def wrap(values, dtype):
    info = np.iinfo(dtype)
    out = []
    for v in values:
        v %= 1 << info.bits
        if info.min < 0 and v >= 1 << (info.bits - 1):
            v -= 1 << info.bits
        out.append(v)
    return np.array(out, dtype=dtype)


def py_binary(f, a, b, dtype):
    a2, b2 = np.broadcast_arrays(a, b)
    vals = [f(int(x), int(y)) for x, y in zip(a2.reshape(-1), b2.reshape(-1))]
    return wrap(vals, dtype).reshape(a2.shape)


def gen_bitwise():
    for dt in (np.int8, np.int32, np.int64, np.uint8, np.uint16, np.uint64):
        info = np.iinfo(dt)
        a = RNG.integers(info.min, info.max, size=(2, 3, 4), endpoint=True, dtype=dt)
        b = RNG.integers(info.min, info.max, size=(3, 1), endpoint=True, dtype=dt)
        name = np.dtype(dt).name
        case("bitwise_and", name, [a, b], [py_binary(lambda x, y: x & y, a, b, dt)])
        case("bitwise_or", name, [a, b], [py_binary(lambda x, y: x | y, a, b, dt)])
        case("bitwise_xor", name, [a, b], [py_binary(lambda x, y: x ^ y, a, b, dt)])
        case("bitwise_not", name, [a], [wrap([~int(v) for v in a.reshape(-1)], dt).reshape(a.shape)])
    e = np.zeros((0, 2), np.int32)
    case("bitwise_and", "empty", [e, np.array([3], np.int32)], [e.copy()])

    def shift(direction, bits, signed):
        def f(x, y):
            if y < 0 or y >= bits:
                return -1 if (direction == "right" and signed and x < 0) else 0
            return x << y if direction == "left" else x >> y  # Python >> is arithmetic
        return f

    for dt in (np.uint8, np.uint16, np.uint32, np.uint64, np.int32, np.int8):
        info = np.iinfo(dt)
        a = RNG.integers(info.min, info.max, size=(3, 4), endpoint=True, dtype=dt)
        b = np.array([[0, 1, info.bits - 1, info.bits]], dtype=dt)
        name = np.dtype(dt).name
        for direction in ("left", "right"):
            case("bit_shift", "%s_%s" % (direction, name), [a, b],
                 [py_binary(shift(direction, info.bits, info.min < 0), a, b, dt)], {"direction": direction})
    a = np.array([-128, -5, 5, 127], np.int8)
    b = np.array([-1, 9, 2, 1], np.int8)
    for direction in ("left", "right"):
        case("bit_shift", "%s_negative_i8" % direction, [a, b], [py_binary(shift(direction, 8, True), a, b, np.int8)],
             {"direction": direction})


# ---- cum_prod --------------------------------------------------------------------

def cumprod_ref(x, axis, exclusive=False, reverse=False):
    y = np.flip(x, axis) if reverse else x
    if x.dtype.kind == "f":
        out = np.cumprod(y, axis=axis, dtype=x.dtype)
    else:
        moved = np.moveaxis(y, axis, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        rows = []
        for r in flat:
            acc, row = 1, []
            for v in r:
                acc *= int(v)
                row.append(acc)
            rows.append(wrap(row, x.dtype))
        out = np.moveaxis(np.array(rows, dtype=x.dtype).reshape(moved.shape), -1, axis)
    if exclusive:
        out = np.concatenate([np.ones_like(np.take(out, [0], axis)), np.take(out, range(out.shape[axis] - 1), axis)],
                             axis)
    return np.flip(out, axis) if reverse else out


def gen_cum_prod():
    x = uniform((3, 4), 0.5, 1.5)
    for excl in (0, 1):
        for rev in (0, 1):
            case("cum_prod", "axis1_e%d_r%d" % (excl, rev), [x, Const(np.array(1, np.int64))],
                 [cumprod_ref(x, 1, excl, rev)], {"exclusive": excl, "reverse": rev})
    case("cum_prod", "axis_neg2", [x, Const(np.array(-2, np.int32))], [cumprod_ref(x, 0)])
    case("cum_prod", "axis_input", [x, np.array(0, np.int64)], [cumprod_ref(x, 0)])
    xi = RNG.integers(-9, 9, size=(2, 9), endpoint=True).astype(np.int32)
    case("cum_prod", "i32_wraps", [xi, Const(np.array(1, np.int64))], [cumprod_ref(xi, 1)])
    x64 = uniform((4,), -2, 2, np.float64)
    case("cum_prod", "f64_exclusive", [x64, Const(np.array(0, np.int64))], [cumprod_ref(x64, 0, True)],
         {"exclusive": 1})
    x16 = uniform((6,), 0.5, 1.5, np.float16)
    case("cum_prod", "f16", [x16, Const(np.array(0, np.int64))], [cumprod_ref(x16, 0)])
    xe = np.zeros((2, 0), np.float32)
    case("cum_prod", "empty", [xe, Const(np.array(1, np.int64))], [xe.copy()])


# ---- normalizations ----------------------------------------------------------------

def layer_norm_ref(x, scale, bias, axis, eps):
    axis = axis % x.ndim
    red = tuple(range(axis, x.ndim))
    xd = x.astype(np.float64)
    mean = xd.mean(axis=red, keepdims=True)
    var = ((xd - mean) ** 2).mean(axis=red, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    y = (xd - mean) * inv * scale.astype(np.float64)
    if bias is not None:
        y = y + bias.astype(np.float64)
    return y.astype(x.dtype), mean.astype(np.float32), inv.astype(np.float32)


def gen_layer_norm():
    x = uniform((2, 3, 4), -2, 2)
    for axis in (-1, 1, 0, -2):
        a = axis % 3
        s = uniform(x.shape[a:], 0.5, 1.5)
        b = uniform(x.shape[a:], -1, 1)
        y, m, inv = layer_norm_ref(x, s, b, axis, 1e-5)
        case("layer_norm", "axis%d" % axis if axis >= 0 else "axis_neg%d" % -axis, [x, s, b], [y, m, inv],
             {"axis": axis})
    s = uniform((4,), 0.5, 1.5)
    y, _, _ = layer_norm_ref(x, s, None, -1, 0.1)
    case("layer_norm", "no_bias_eps", [x, s], [y], {"axis": -1, "epsilon": 0.1})
    s1 = uniform((1, 4), 0.5, 1.5)
    y, _, _ = layer_norm_ref(x, s1, None, -2, 1e-5)
    case("layer_norm", "scale_broadcast", [x, s1], [y], {"axis": -2})
    x16 = uniform((3, 8), -2, 2, np.float16)
    s16 = uniform((8,), 0.5, 1.5, np.float16)
    y, m, inv = layer_norm_ref(x16, s16, None, -1, 1e-5)
    case("layer_norm", "f16_stats_f32", [x16, s16], [y, m, inv])
    x64 = uniform((2, 5), -2, 2, np.float64)
    s64 = uniform((5,), 0.5, 1.5, np.float64)
    y, m, inv = layer_norm_ref(x64, s64, None, -1, 1e-5)
    case("layer_norm", "f64_stash_f64", [x64, s64], [y, m.astype(np.float64), inv.astype(np.float64)],
         {"stash_type": "f64"}, tol=(1e-6, 1e-9))


def rms_norm_ref(x, scale, axis, eps):
    red = tuple(range(axis % x.ndim, x.ndim))
    xd = x.astype(np.float64)
    rms = np.sqrt((xd ** 2).mean(axis=red, keepdims=True) + eps)
    return (xd / rms * scale.astype(np.float64)).astype(x.dtype)


def gen_rms_norm():
    x = uniform((2, 3, 4), -2, 2)
    for axis in (-1, 1, 0):
        s = uniform(x.shape[axis % 3:], 0.5, 1.5)
        case("rms_norm", "axis%d" % axis if axis >= 0 else "axis_neg%d" % -axis, [x, s], [rms_norm_ref(x, s, axis,
                                                                                                         1e-5)],
             {"axis": axis})
    s = uniform((4,), 0.5, 1.5)
    case("rms_norm", "eps", [x, s], [rms_norm_ref(x, s, -1, 0.5)], {"epsilon": 0.5})
    x16 = uniform((3, 8), -2, 2, np.float16)
    s16 = uniform((8,), 0.5, 1.5, np.float16)
    case("rms_norm", "f16", [x16, s16], [rms_norm_ref(x16, s16, -1, 1e-5)])


def group_norm_ref(x, scale, bias, groups, eps):
    n, c = x.shape[:2]
    xd = x.astype(np.float64).reshape(n, groups, -1)
    mean = xd.mean(axis=2, keepdims=True)
    var = xd.var(axis=2, keepdims=True)
    norm = ((xd - mean) / np.sqrt(var + eps)).reshape(x.shape)
    if scale.shape[0] != c:  # per group (opset 18)
        scale = np.repeat(scale, c // groups)
        bias = np.repeat(bias, c // groups)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return (norm * scale.astype(np.float64).reshape(shape) + bias.astype(np.float64).reshape(shape)).astype(x.dtype)


def gen_group_norm():
    x = uniform((2, 6, 3, 2), -2, 2)
    for groups in (1, 2, 3, 6):
        s, b = uniform((6,), 0.5, 1.5), uniform((6,), -1, 1)
        case("group_norm", "groups%d" % groups, [x, s, b], [group_norm_ref(x, s, b, groups, 1e-5)],
             {"num_groups": groups})
    s, b = uniform((3,), 0.5, 1.5), uniform((3,), -1, 1)
    case("group_norm", "per_group_scale", [x, s, b], [group_norm_ref(x, s, b, 3, 1e-2)],
         {"num_groups": 3, "epsilon": 0.01})
    x3 = uniform((1, 4, 5), -2, 2, np.float64)
    s, b = uniform((4,), 0.5, 1.5, np.float64), uniform((4,), -1, 1, np.float64)
    case("group_norm", "f64_rank3", [x3, s, b], [group_norm_ref(x3, s, b, 2, 1e-5)], {"num_groups": 2},
         tol=(1e-10, 1e-12))


def mvn_ref(x, axes):
    xd = x.astype(np.float64)
    mean = xd.mean(axis=tuple(axes), keepdims=True)
    std = np.sqrt(((xd - mean) ** 2).mean(axis=tuple(axes), keepdims=True))
    return ((xd - mean) / (std + 1e-9)).astype(x.dtype)


def gen_mean_variance_norm():
    x = uniform((2, 3, 4, 2), -2, 2)
    case("mean_variance_norm", "default_axes", [x], [mvn_ref(x, (0, 2, 3))], {"axes": [0, 2, 3]})
    case("mean_variance_norm", "empty_attr_means_0_2_3", [x], [mvn_ref(x, (0, 2, 3))])
    case("mean_variance_norm", "last_axis", [x], [mvn_ref(x, (3,))], {"axes": [-1]})
    case("mean_variance_norm", "axes_1_2", [x], [mvn_ref(x, (1, 2))], {"axes": [1, 2]})
    x64 = uniform((3, 5), -2, 2, np.float64)
    case("mean_variance_norm", "f64_all", [x64], [mvn_ref(x64, (0, 1))], {"axes": [0, 1]}, tol=(1e-10, 1e-12))


def lp_norm_ref(x, axis, p):
    xd = x.astype(np.float64)
    norm = np.abs(xd).sum(axis=axis, keepdims=True) if p == 1 else np.sqrt((xd * xd).sum(axis=axis, keepdims=True))
    with np.errstate(all="ignore"):
        return np.where(norm == 0, 0.0, xd / norm).astype(x.dtype)


def gen_lp_norm():
    x = uniform((2, 3, 4), -2, 2)
    x[0, 1, :] = 0.0  # a zero norm along the last axis
    case("lp_norm", "default_p2_last", [x], [lp_norm_ref(x, -1, 2)], {"axis": -1, "p": 2})
    case("lp_norm", "p1_axis1", [x], [lp_norm_ref(x, 1, 1)], {"axis": 1, "p": 1})
    case("lp_norm", "p2_axis0", [x], [lp_norm_ref(x, 0, 2)], {"axis": 0})
    x16 = uniform((3, 4), -2, 2, np.float16)
    case("lp_norm", "f16", [x16], [lp_norm_ref(x16, -1, 2)])


# ---- grid_sample -------------------------------------------------------------------

def denorm32(g, size, align):
    """Normalized -> pixel coordinate with every step in float32 (PyTorch, ONNX)."""
    g = np.float32(g)
    one, two = np.float32(1), np.float32(2)
    if align:
        return np.float32(np.float32((g + one) / two) * np.float32(size - 1))
    return np.float32(np.float32(np.float32(g + one) * np.float32(size) - one) / two)


def grid_sample_bilinear_zeros(x, grid, align):
    """PyTorch's bilinear/zeros formula, vectorized (4-D only)."""
    n, c, h, w = x.shape
    gx = np.vectorize(lambda g: denorm32(g, w, align))(grid[..., 0]).astype(np.float64)
    gy = np.vectorize(lambda g: denorm32(g, h, align))(grid[..., 1]).astype(np.float64)
    x0, y0 = np.floor(gx), np.floor(gy)
    out = np.zeros((n, c) + grid.shape[1:3])
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wgt = (1 - np.abs(gx - xi)) * (1 - np.abs(gy - yi))
            valid = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            xc, yc = np.clip(xi, 0, w - 1).astype(int), np.clip(yi, 0, h - 1).astype(int)
            for b in range(n):
                vals = x[b][:, yc[b], xc[b]].astype(np.float64)  # [c, ho, wo]
                out[b] += np.where(valid[b], wgt[b], 0.0) * vals
    return out.astype(x.dtype)


def reflect(v, lo, hi):
    rng = hi - lo
    if rng <= 0:
        return lo
    if v < lo:
        d = lo - v
        k, r = int(d // rng), d % rng
        return lo + r if k % 2 == 0 else hi - r
    if v > hi:
        d = v - hi
        k, r = int(d // rng), d % rng
        return hi - r if k % 2 == 0 else lo + r
    return v


def cubic_w(t):
    a = -0.75

    def near(s):  # |s| <= 1
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s):  # 1 < |s| < 2
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def grid_sample_loop(x, grid, mode, padding, align):
    """Per-point ONNX GridSample, any spatial rank."""
    n, c = x.shape[:2]
    dims = x.shape[2:]
    r = len(dims)
    out_sp = grid.shape[1:-1]
    out = np.zeros((n, c) + out_sp)
    for b in range(n):
        for pos in np.ndindex(*out_sp):
            g = grid[(b,) + pos][::-1]  # component 0 is the last spatial dim
            coords = []
            for k in range(r):
                v = float(denorm32(g[k], dims[k], align))
                if mode == "nearest":
                    v = float(np.rint(v))
                lo, hi = (0.0, dims[k] - 1.0) if align else (-0.5, dims[k] - 0.5)
                if v < lo or v > hi:
                    if padding == "border":
                        v = min(max(v, 0.0), dims[k] - 1.0)
                    elif padding == "reflection":
                        v = reflect(v, lo, hi)
                coords.append(v)

            def tap(k, i):
                d = dims[k]
                if 0 <= i < d:
                    return i
                if padding == "zeros":
                    return None
                if padding == "border":
                    return min(max(i, 0), d - 1)
                lo, hi = (0.0, d - 1.0) if align else (-0.5, d - 0.5)
                return int(reflect(float(i), lo, hi))

            if mode == "nearest":
                taps = [[(int(cv), 1.0)] for cv in coords]
            elif mode == "linear":
                taps = [[(int(np.floor(cv)), 1 - (cv - np.floor(cv))), (int(np.floor(cv)) + 1, cv - np.floor(cv))]
                        for cv in coords]
            else:
                taps = [[(int(np.floor(cv)) - 1 + j, wj) for j, wj in enumerate(cubic_w(cv - np.floor(cv)))]
                        for cv in coords]
            for combo in np.ndindex(*[len(t) for t in taps]):
                wgt, idx = 1.0, []
                for k, j in enumerate(combo):
                    i, wk = taps[k][j]
                    wgt *= wk
                    idx.append(tap(k, i))
                if any(i is None for i in idx):
                    continue
                out[(b, slice(None)) + pos] += wgt * x[(b, slice(None)) + tuple(idx)].astype(np.float64)
    return out.astype(x.dtype)


def gen_grid_sample():
    x = uniform((2, 3, 5, 6), -2, 2)
    grid = uniform((2, 4, 7, 2), -1.3, 1.3)
    grid[0, 0, :4] = [[-1, -1], [1, 1], [0, 0], [1, -1]]  # corners and center exactly
    for align in (0, 1):
        case("grid_sample", "bilinear_zeros_align%d" % align, [x, grid],
             [grid_sample_bilinear_zeros(x, grid, align)], {"align_corners": align})
    for mode in ("linear", "nearest", "cubic"):
        for padding in ("zeros", "border", "reflection"):
            for align in (0, 1):
                name = "%s_%s_align%d" % (mode, padding, align)
                g = uniform((1, 3, 4, 2), -1.8, 1.8)
                xs = x[:1, :2]
                case("grid_sample", name, [xs, g], [grid_sample_loop(xs, g, mode, padding, align)],
                     {"mode": mode, "padding_mode": padding, "align_corners": align})
    # Nearest ties: coordinates exactly half-way round to even.
    xt = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)
    gt = np.array([[[[(-1.0 + (i + 1.0) / 8.0), 0.0] for i in range(-1, 8)]]], np.float32)
    case("grid_sample", "nearest_ties_even", [xt, gt], [grid_sample_loop(xt, gt, "nearest", "zeros", 0)],
         {"mode": "nearest"})
    # 5-D (volumetric) and 3-D (one spatial dim).
    x5 = uniform((1, 2, 3, 4, 5), -2, 2)
    g5 = uniform((1, 2, 3, 2, 3), -1.2, 1.2)
    for mode in ("linear", "nearest"):
        case("grid_sample", "volumetric_%s" % mode, [x5, g5], [grid_sample_loop(x5, g5, mode, "zeros", 0)],
             {"mode": mode})
    x3 = uniform((2, 2, 6), -2, 2)
    g3 = uniform((2, 5, 1), -1.2, 1.2)
    case("grid_sample", "one_spatial_dim", [x3, g3], [grid_sample_loop(x3, g3, "linear", "border", 1)],
         {"padding_mode": "border", "align_corners": 1})
    x64 = uniform((1, 1, 4, 4), -2, 2, np.float64)
    g64 = uniform((1, 3, 3, 2), -1, 1).astype(np.float64)  # f32-exact values: same coordinates in f64
    case("grid_sample", "f64", [x64, g64], [grid_sample_bilinear_zeros(x64, g64, 0)], tol=(1e-5, 1e-6))
    x16 = uniform((1, 2, 4, 4), -2, 2, np.float16)
    g16 = uniform((1, 3, 3, 2), -1, 1, np.float16)
    case("grid_sample", "f16", [x16, g16], [grid_sample_bilinear_zeros(x16, g16.astype(np.float32), 0)])
    ge = np.zeros((2, 0, 3, 2), np.float32)
    case("grid_sample", "empty_grid", [x, ge], [np.zeros((2, 3, 0, 3), np.float32)])


# ---- center_crop_pad ----------------------------------------------------------------

def center_crop_pad_ref(x, shape, axes):
    """Crop with numpy slicing, then pad with np.pad; the begin side gets floor(diff/2)."""
    axes = [a % x.ndim for a in axes]
    crop = [slice(None)] * x.ndim
    pads = [(0, 0)] * x.ndim
    for a, want in zip(axes, shape):
        have = x.shape[a]
        if want < have:
            begin = (have - want) // 2
            crop[a] = slice(begin, begin + want)
        elif want > have:
            begin = (want - have) // 2
            pads[a] = (begin, want - have - begin)
    return np.pad(x[tuple(crop)], pads)


def gen_center_crop_pad():
    x = uniform((7, 6, 3), -2, 2)
    for name, shape, axes in (("crop_all", [4, 3, 3], None), ("pad_all", [10, 9, 5], None),
                              ("crop_and_pad", [5, 9, 3], None), ("axes_hw", [3, 8], [0, 1]),
                              ("negative_axes", [8, 2], [-3, -2]), ("to_zero", [0, 6], [0, 1])):
        attrs = {"axes": axes} if axes else None
        sh = np.array(shape, np.int64)
        exp = center_crop_pad_ref(x, shape, axes if axes else range(x.ndim))
        case("center_crop_pad", name, [x, sh], [exp], attrs)
    case("center_crop_pad", "const_shape", [x, Const(np.array([5, 5], np.int64))],
         [center_crop_pad_ref(x, [5, 5], [1, 2])], {"axes": [1, 2]})
    xi = np.arange(24, dtype=np.int32).reshape(4, 6)
    case("center_crop_pad", "i32_odd_diffs", [xi, np.array([1, 9], np.int64)], [center_crop_pad_ref(xi, [1, 9], [0, 1])])
    xb = RNG.integers(0, 1, size=(3, 3), endpoint=True).astype(bool)
    case("center_crop_pad", "bool", [xb, np.array([5, 2], np.int64)], [center_crop_pad_ref(xb, [5, 2], [0, 1])])


def main():
    gen_unary()
    gen_bitwise()
    gen_cum_prod()
    gen_layer_norm()
    gen_rms_norm()
    gen_group_norm()
    gen_mean_variance_norm()
    gen_lp_norm()
    gen_grid_sample()
    gen_center_crop_pad()


if __name__ == "__main__":
    main()
