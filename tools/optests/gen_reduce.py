"""tools/optests/gen_reduce.py: op tests of the reductions and search ops.

reduce_max/min/sum/mean/prod/l1/l2/sum_square/log_sum/log_sum_exp, argmax, argmin,
topk, non_zero, cum_sum. Expected outputs are computed here with NumPy (the math
written out, not onnx.reference). Run from anywhere:
    /work/venv/bin/python tools/optests/gen_reduce.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402

RNG = np.random.default_rng(20240601)
DTYPE_NAMES = {np.float32: "f32", np.float16: "f16", np.float64: "f64", np.int64: "i64",
               np.int32: "i32", np.int16: "i16", np.int8: "i8", np.uint8: "u8",
               np.uint64: "u64", np.bool_: "bool"}


def tname(a):
    """IR type of array a, e.g. f32[2,3]."""
    return "%s[%s]" % (DTYPE_NAMES[a.dtype.type], ",".join(str(d) for d in a.shape))


def attrs_text(attrs):
    if not attrs:
        return ""
    return " {" + ", ".join("%s=%s" % (k, v) for k, v in attrs.items()) + "}"


def const_text(name, a):
    vals = ", ".join(repr(int(v)) for v in a.reshape(-1))
    return "  %%%s: %s = const [%s]\n" % (name, tname(a), vals)


# ---- reductions -------------------------------------------------------------

def np_reduce(kind, x, axes, keepdims):
    """NumPy reference of reduce_<kind> over axes (tuple), computed in float64 for
    floats (exact int64 for the integer-exact kinds)."""
    is_int = np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_
    exact = is_int and kind in ("max", "min", "sum", "prod", "l1", "sum_square")
    if exact:
        v = x.astype(np.int64) if x.dtype != np.uint64 else x
    else:
        v = x.astype(np.float64)
    empty = any(x.shape[a] == 0 for a in axes)
    if kind == "max":
        if x.dtype == np.bool_:
            r = np.max(v, axis=axes, keepdims=keepdims, initial=0)
        elif exact:
            r = np.max(v, axis=axes, keepdims=keepdims, initial=np.iinfo(x.dtype).min)
        else:
            r = np.max(v, axis=axes, keepdims=keepdims, initial=-np.inf)
    elif kind == "min":
        if x.dtype == np.bool_:
            r = np.min(v, axis=axes, keepdims=keepdims, initial=1)
        elif exact:
            r = np.min(v, axis=axes, keepdims=keepdims, initial=np.iinfo(x.dtype).max)
        else:
            r = np.min(v, axis=axes, keepdims=keepdims, initial=np.inf)
    elif kind == "sum":
        r = np.sum(v, axis=axes, keepdims=keepdims)
    elif kind == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.sum(v, axis=axes, keepdims=keepdims) / (np.prod([x.shape[a] for a in axes]) if axes else 1)
        if is_int:
            r = np.trunc(r)
    elif kind == "prod":
        r = np.prod(v, axis=axes, keepdims=keepdims)
    elif kind == "l1":
        r = np.sum(np.abs(v), axis=axes, keepdims=keepdims)
    elif kind == "l2":
        r = np.sqrt(np.sum(v * v, axis=axes, keepdims=keepdims))
    elif kind == "sum_square":
        r = np.sum(v * v, axis=axes, keepdims=keepdims)
    elif kind == "log_sum":
        with np.errstate(divide="ignore"):
            r = np.log(np.sum(v, axis=axes, keepdims=keepdims))
    elif kind == "log_sum_exp":
        # Stable form m + log(sum e^(x-m)); rows that are all -inf (or empty) give -inf.
        m = np.max(v, axis=axes, keepdims=True, initial=-np.inf)
        safe_m = np.where(np.isfinite(m), m, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.log(np.sum(np.exp(v - safe_m), axis=axes, keepdims=True)) + safe_m
        r = np.where(np.isneginf(m), -np.inf, r)
        if not keepdims:
            r = np.squeeze(r, axis=axes)
    else:
        raise ValueError(kind)
    del empty
    return np.asarray(r).astype(x.dtype)


KINDS = ["max", "min", "sum", "mean", "prod", "l1", "l2", "sum_square", "log_sum", "log_sum_exp"]


def reduce_input(kind, shape, dtype=np.float32):
    if kind in ("log_sum",):
        x = RNG.uniform(0.5, 2.0, shape)
    elif kind == "prod":
        x = RNG.uniform(0.5, 1.5, shape) * RNG.choice([-1, 1], shape)
    else:
        x = RNG.uniform(-2.0, 2.0, shape)
    return x.astype(dtype)


def reduce_case(kind, case, x, axes, keepdims=1, axes_mode="const", noop=0, tol=None):
    """axes_mode: 'const' (constant input), 'input' (graph input), 'absent'."""
    op = "reduce_" + kind
    attrs = {}
    if keepdims != 1:
        attrs["keepdims"] = keepdims
    if noop:
        attrs["noop_with_empty_axes"] = 1
    inputs = [x]
    if axes_mode == "absent":
        head = "graph main(%%x: %s) {\n" % tname(x)
        call = "(%x)"
    elif axes_mode == "const":
        ax = np.array(axes, dtype=np.int64)
        head = "graph main(%%x: %s) {\n" % tname(x) + const_text("axes", ax)
        call = "(%x, %axes)"
    else:
        ax = np.array(axes, dtype=np.int64)
        head = "graph main(%%x: %s, %%axes: %s) {\n" % (tname(x), tname(ax))
        inputs.append(ax)
        call = "(%x, %axes)"
    text = head + "  %%y = %s%s%s\n  return %%y\n}\n" % (op, call, attrs_text(attrs))
    if noop and len(axes) == 0:
        expected = x.copy()
    else:
        norm = tuple(sorted(a % x.ndim for a in axes)) if axes else tuple(range(x.ndim))
        expected = np_reduce(kind, x, norm, bool(keepdims))
    write_case(op, case, text, inputs, [expected], tol)


def gen_reductions():
    for kind in KINDS:
        reduce_case(kind, "axis1_keepdims", reduce_input(kind, (3, 4, 5)), [1])
        reduce_case(kind, "neg_axes_no_keepdims", reduce_input(kind, (3, 4, 5)), [-1, 0], keepdims=0)
        reduce_case(kind, "all_axes_absent", reduce_input(kind, (2, 3, 4)), [], keepdims=0, axes_mode="absent")
        reduce_case(kind, "all_axes_keepdims", reduce_input(kind, (2, 3)), [], keepdims=1, axes_mode="absent")
        reduce_case(kind, "axes_runtime_input", reduce_input(kind, (2, 3, 4)), [2, 0], axes_mode="input")
        reduce_case(kind, "empty_axes_input_all", reduce_input(kind, (2, 3)), [], keepdims=0, axes_mode="input")
        reduce_case(kind, "noop_empty_axes", reduce_input(kind, (2, 3)), [], axes_mode="input", noop=1)
        reduce_case(kind, "f64", reduce_input(kind, (4, 3), np.float64), [0])
        reduce_case(kind, "f16", reduce_input(kind, (4, 6), np.float16), [1], keepdims=0, tol=(2e-3, 2e-3))
        reduce_case(kind, "empty_set", np.zeros((2, 0, 3), np.float32), [1])
        reduce_case(kind, "nonreduced_zero_dim", np.zeros((0, 3), np.float32), [1], keepdims=0)
        reduce_case(kind, "rank1", reduce_input(kind, (7,)), [0], keepdims=0)
    # Integers: exact arithmetic where ONNX allows integer reductions.
    for kind in ("max", "min", "sum", "prod", "l1", "sum_square", "mean"):
        x = RNG.integers(-9, 10, (3, 4)).astype(np.int32)
        reduce_case(kind, "i32", x, [1])
        x = RNG.integers(-(1 << 40), 1 << 40, (2, 5)).astype(np.int64)
        if kind in ("max", "min", "sum", "mean"):
            reduce_case(kind, "i64_big", x, [0], keepdims=0)
    reduce_case("max", "u8", RNG.integers(0, 256, (3, 5)).astype(np.uint8), [1])
    reduce_case("min", "u8", RNG.integers(0, 256, (3, 5)).astype(np.uint8), [0])
    reduce_case("max", "i32_empty_set", np.zeros((2, 0), np.int32), [1])
    reduce_case("min", "i32_empty_set", np.zeros((2, 0), np.int32), [1])
    reduce_case("max", "bool", RNG.integers(0, 2, (3, 4)).astype(np.bool_), [1])
    reduce_case("min", "bool", RNG.integers(0, 2, (3, 4)).astype(np.bool_), [1])
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, -1.0]], np.float32)
    reduce_case("max", "nan_propagates", x, [1])
    reduce_case("min", "nan_propagates", x, [1])
    x = np.array([[1000.0, 1001.0, 999.0], [-np.inf, -np.inf, -np.inf]], np.float64)
    reduce_case("log_sum_exp", "large_and_neg_inf", x, [1])


# ---- argmax / argmin --------------------------------------------------------

def np_arg(x, axis, want_max, keepdims, last):
    """numpy argmax/argmin; select_last_index via flipping."""
    fn = np.argmax if want_max else np.argmin
    if last:
        flipped = np.flip(x, axis=axis)
        r = x.shape[axis] - 1 - fn(flipped, axis=axis)
    else:
        r = fn(x, axis=axis)
    if keepdims:
        r = np.expand_dims(r, axis)
    return r.astype(np.int64)


def arg_case(op, case, x, axis=0, keepdims=1, last=0):
    attrs = {}
    if axis != 0:
        attrs["axis"] = axis
    if keepdims != 1:
        attrs["keepdims"] = keepdims
    if last:
        attrs["select_last_index"] = 1
    text = "graph main(%%x: %s) {\n  %%y = %s(%%x)%s\n  return %%y\n}\n" % (tname(x), op, attrs_text(attrs))
    write_case(op, case, text, [x], [np_arg(x, axis, op == "argmax", keepdims, last)])


def gen_arg():
    for op in ("argmax", "argmin"):
        arg_case(op, "default_axis", RNG.standard_normal((3, 4)).astype(np.float32))
        arg_case(op, "axis1_no_keepdims", RNG.standard_normal((2, 3, 4)).astype(np.float32), axis=1, keepdims=0)
        arg_case(op, "negative_axis", RNG.standard_normal((2, 3, 4)).astype(np.float32), axis=-1)
        ties = RNG.integers(0, 3, (4, 6)).astype(np.int32)
        arg_case(op, "ties_first", ties, axis=1)
        arg_case(op, "ties_last", ties, axis=1, last=1)
        arg_case(op, "ties_last_axis0", ties, axis=0, keepdims=0, last=1)
        arg_case(op, "f64", RNG.standard_normal((5,)).astype(np.float64))
        arg_case(op, "f16", RNG.standard_normal((3, 5)).astype(np.float16), axis=1)
        arg_case(op, "i64", RNG.integers(-(1 << 50), 1 << 50, (3, 4)).astype(np.int64), axis=1)
        arg_case(op, "u8", RNG.integers(0, 256, (4, 3)).astype(np.uint8), axis=0)
        arg_case(op, "nan_wins", np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 0.0, -1.0, 5.0]], np.float32), axis=1)
        arg_case(op, "zero_size_outer", np.zeros((0, 3), np.float32), axis=1)


# ---- topk ---------------------------------------------------------------------

def np_topk(x, k, axis, largest):
    """Stable: among equal values the lower index first (both directions)."""
    keys = -x.astype(np.float64) if largest else x.astype(np.float64)
    order = np.argsort(keys, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis=axis), idx.astype(np.int64)


def topk_case(case, x, k, axis=-1, largest=1, k_input=False):
    attrs = {}
    if axis != -1:
        attrs["axis"] = axis
    if not largest:
        attrs["largest"] = 0
    kk = np.array([k], dtype=np.int64)
    if k_input:
        head = "graph main(%%x: %s, %%k: i64[1]) {\n" % tname(x)
        inputs = [x, kk]
    else:
        head = "graph main(%%x: %s) {\n" % tname(x) + const_text("k", kk)
        inputs = [x]
    text = head + "  %%v, %%i = topk(%%x, %%k)%s\n  return %%v, %%i\n}\n" % attrs_text(attrs)
    write_case("topk", case, text, inputs, list(np_topk(x, k, axis, largest)))


def gen_topk():
    topk_case("largest_last_axis", RNG.standard_normal((3, 6)).astype(np.float32), 3)
    topk_case("smallest_last_axis", RNG.standard_normal((3, 6)).astype(np.float32), 2, largest=0)
    topk_case("axis0", RNG.standard_normal((5, 3, 2)).astype(np.float32), 4, axis=0)
    topk_case("negative_axis_middle", RNG.standard_normal((2, 5, 3)).astype(np.float32), 2, axis=-2)
    ties = RNG.integers(0, 3, (3, 8)).astype(np.float32)
    topk_case("ties_largest", ties, 5)
    topk_case("ties_smallest", ties, 5, largest=0)
    topk_case("k_equals_dim", RNG.standard_normal((2, 4)).astype(np.float32), 4)
    topk_case("k_zero", RNG.standard_normal((2, 4)).astype(np.float32), 0)
    topk_case("k_runtime_input", RNG.standard_normal((3, 7)).astype(np.float32), 3, k_input=True)
    topk_case("f64", RNG.standard_normal((9,)).astype(np.float64), 4)
    topk_case("f16", RNG.standard_normal((2, 6)).astype(np.float16), 3)
    topk_case("i64_ties", RNG.integers(-3, 3, (2, 9)).astype(np.int64), 6)
    topk_case("i32_smallest", RNG.integers(-100, 100, (4, 5)).astype(np.int32), 3, largest=0)


# ---- non_zero -----------------------------------------------------------------

def nz_case(case, x):
    expected = np.array(np.nonzero(np.atleast_1d(x)), dtype=np.int64).reshape(max(x.ndim, 1), -1)
    text = "graph main(%%x: %s) {\n  %%y = non_zero(%%x)\n  return %%y\n}\n" % tname(x)
    write_case("non_zero", case, text, [x], [expected])


def gen_non_zero():
    nz_case("f32_2d", (RNG.integers(0, 3, (3, 4)) * RNG.standard_normal((3, 4))).astype(np.float32))
    nz_case("bool_3d", RNG.integers(0, 2, (2, 3, 4)).astype(np.bool_))
    nz_case("i32_1d", np.array([0, 3, 0, -1, 5, 0], np.int32))
    nz_case("all_zero", np.zeros((2, 3), np.float32))
    nz_case("empty_input", np.zeros((0, 4), np.int64))
    nz_case("scalar_nonzero", np.array(2.5, np.float32))
    nz_case("nan_is_nonzero", np.array([0.0, np.nan, -0.0, 1.0], np.float32))
    nz_case("u8_4d", RNG.integers(0, 2, (2, 2, 2, 3)).astype(np.uint8))


# ---- cum_sum ------------------------------------------------------------------

def np_cumsum(x, axis, exclusive, reverse):
    v = x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x.astype(np.int64)
    if reverse:
        v = np.flip(v, axis)
    r = np.cumsum(v, axis=axis)
    if exclusive:
        r = r - v
    if reverse:
        r = np.flip(r, axis)
    return r.astype(x.dtype)


def cumsum_case(case, x, axis, exclusive=0, reverse=0, axis_dtype=np.int64, axis_input=False):
    attrs = {}
    if exclusive:
        attrs["exclusive"] = 1
    if reverse:
        attrs["reverse"] = 1
    ax = np.array(axis, dtype=axis_dtype)
    if axis_input:
        head = "graph main(%%x: %s, %%axis: %s) {\n" % (tname(x), tname(ax))
        inputs = [x, ax]
    else:
        head = "graph main(%%x: %s) {\n" % tname(x) + const_text("axis", ax)
        inputs = [x]
    text = head + "  %%y = cum_sum(%%x, %%axis)%s\n  return %%y\n}\n" % attrs_text(attrs)
    write_case("cum_sum", case, text, inputs, [np_cumsum(x, axis, exclusive, reverse)])


def gen_cum_sum():
    v = np.arange(1, 6, dtype=np.float32)
    cumsum_case("1d", v, 0)
    cumsum_case("1d_exclusive", v, 0, exclusive=1)
    cumsum_case("1d_reverse", v, 0, reverse=1)
    cumsum_case("1d_reverse_exclusive", v, 0, exclusive=1, reverse=1)
    m = RNG.standard_normal((3, 4)).astype(np.float32)
    cumsum_case("2d_axis0", m, 0)
    cumsum_case("2d_axis1", m, 1)
    cumsum_case("2d_negative_axis_i32", m, -1, axis_dtype=np.int32)
    cumsum_case("3d_axis1_runtime_axis", RNG.standard_normal((2, 3, 4)).astype(np.float32), 1, axis_input=True)
    cumsum_case("i32", RNG.integers(-5, 5, (2, 5)).astype(np.int32), 1, exclusive=1)
    cumsum_case("i64_reverse", RNG.integers(-(1 << 40), 1 << 40, (6,)).astype(np.int64), 0, reverse=1)
    cumsum_case("f64", RNG.standard_normal((4, 2)).astype(np.float64), 0, reverse=1, exclusive=1)
    cumsum_case("f16", RNG.standard_normal((8,)).astype(np.float16), 0)
    cumsum_case("zero_size", np.zeros((0, 3), np.float32), 1)


def main():
    gen_reductions()
    gen_arg()
    gen_topk()
    gen_non_zero()
    gen_cum_sum()


if __name__ == "__main__":
    main()
