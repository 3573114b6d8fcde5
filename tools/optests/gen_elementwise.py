"""tools/optests/gen_elementwise.py: op tests for the elementwise family
(ops.def "elementwise unary" and "elementwise binary and variadic").

Run from anywhere:  /work/venv/bin/python tools/optests/gen_elementwise.py
Writes tests/ops/<op>/<case>/ through common.write_case.

Expected values are computed here with NumPy, written out from each op's definition
(float math in float64, then rounded once to the output dtype), or, for integer
rules NumPy does not share (ONNX's truncating division, exact integer powers with
negative exponents, wrapping of INT_MIN / -1), with Python's arbitrary-precision
integers, wrapped to the output width. Nothing here calls onnx.reference or d2rt.
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402

RNG = np.random.default_rng(20261125)

IR_DTYPE = {
    "float32": "f32", "float16": "f16", "float64": "f64", "int64": "i64", "int32": "i32",
    "int16": "i16", "int8": "i8", "uint8": "u8", "uint16": "u16", "uint32": "u32",
    "uint64": "u64", "bool": "bool",
}
F16_TOL = (2e-3, 1e-3)  # f16 results may differ from NumPy's by an ulp of rounding


# ---- graph text ---------------------------------------------------------------

def ir_type(a):
    a = np.asarray(a)
    return "%s[%s]" % (IR_DTYPE[a.dtype.name], ",".join(str(d) for d in a.shape))


def literal(v, dtype):
    if dtype.kind == "f":
        return repr(float(v))
    if dtype.kind == "b":
        return "1" if v else "0"
    return str(int(v))


class Const:
    """A graph constant (known at compile time) instead of a graph input."""

    def __init__(self, array):
        self.array = np.asarray(array)


def make_graph(op, args, attrs=None):
    """Graph text for `%y = op(args) {attrs}`. args: arrays (graph inputs), Const
    (constants) or None (omitted optional input). Returns (text, input arrays)."""
    params, consts, names, inputs = [], [], [], []
    for k, arg in enumerate(args):
        if arg is None:
            names.append("_")
        elif isinstance(arg, Const):
            a = arg.array
            body = ", ".join(literal(v, a.dtype) for v in a.reshape(-1))
            consts.append("  %%c%d: %s = const [%s]" % (k, ir_type(a), body))
            names.append("%%c%d" % k)
        else:
            a = np.asarray(arg)
            params.append("%%x%d: %s" % (k, ir_type(a)))
            names.append("%%x%d" % k)
            inputs.append(a)
    attr_text = ""
    if attrs:
        attr_text = " {%s}" % ", ".join("%s=%s" % kv for kv in attrs.items())
    lines = ["graph main(%s) {" % ", ".join(params)]
    lines += consts
    lines.append("  %%y = %s(%s)%s" % (op, ", ".join(names), attr_text))
    lines.append("  return %y")
    lines.append("}")
    return "\n".join(lines) + "\n", inputs


def case(op, name, args, expected, attrs=None, tol=None):
    text, inputs = make_graph(op, args, attrs)
    expected = np.asarray(expected)
    if tol is None and expected.dtype == np.float16:
        tol = F16_TOL
    write_case(op, name, text, inputs, [expected], tol)


# ---- data helpers ----------------------------------------------------------------

def uniform(shape, lo, hi, dtype=np.float32):
    return RNG.uniform(lo, hi, size=shape).astype(dtype)


def ints(shape, lo, hi, dtype):
    return RNG.integers(lo, hi, size=shape, endpoint=True).astype(dtype)


def wrap(values, dtype):
    """Python ints wrapped (two's complement) into dtype, as an array of that dtype."""
    info = np.iinfo(dtype)
    bits = info.bits
    out = []
    for v in values:
        v %= 1 << bits
        if info.min < 0 and v >= 1 << (bits - 1):
            v -= 1 << bits
        out.append(v)
    return np.array(out, dtype=dtype)


def elementwise_py(f, dtype, *arrays):
    """Apply f to Python-int elements of broadcast arrays; wrap into dtype."""
    b = np.broadcast_arrays(*[np.asarray(a) for a in arrays])
    vals = [f(*(int(x) for x in items)) for items in zip(*(a.reshape(-1) for a in b))]
    return wrap(vals, dtype).reshape(b[0].shape)


def f64_math(f, x, out_dtype=None):
    """f evaluated in float64 on x, rounded once to out_dtype (default: x's dtype)."""
    out_dtype = out_dtype or x.dtype
    with np.errstate(all="ignore"):
        return np.asarray(f(np.asarray(x, dtype=np.float64))).astype(out_dtype)


# ---- unary float ops ---------------------------------------------------------------

def erf(x):
    return np.vectorize(math.erf)(x)


UNARY_FLOAT = {
    # op: (reference in float64, input low, input high)
    "exp": (np.exp, -5, 5),
    "log": (np.log, 0.01, 20),
    "sqrt": (np.sqrt, 0, 50),
    "reciprocal": (lambda x: 1.0 / x, 0.5, 4),  # sign flipped on half the elements below
    "sigmoid": (lambda x: 1.0 / (1.0 + np.exp(-x)), -8, 8),
    "tanh": (np.tanh, -4, 4),
    "erf": (erf, -3, 3),
    "sin": (np.sin, -6, 6),
    "cos": (np.cos, -6, 6),
    "floor": (np.floor, -10, 10),
    "ceil": (np.ceil, -10, 10),
    "softsign": (lambda x: x / (1.0 + np.abs(x)), -6, 6),
    "softplus": (lambda x: np.log1p(np.exp(x)), -10, 10),
    "hard_swish": (lambda x: x * np.clip(x / 6.0 + 0.5, 0, 1), -5, 5),
    "abs": (np.abs, -5, 5),
    "neg": (np.negative, -5, 5),
    "relu": (lambda x: np.maximum(x, 0), -5, 5),
    "sign": (np.sign, -3, 3),
}


def gen_unary_float():
    for op, (ref, lo, hi) in UNARY_FLOAT.items():
        x = uniform((3, 4), lo, hi)
        if op == "reciprocal":
            x[::2] = -x[::2]
        if op in ("floor", "ceil", "sign", "relu", "abs"):
            x.reshape(-1)[:4] = [0.0, -0.0, 2.0, -3.0]  # exact integers and zeros
        case(op, "f32", [x], f64_math(ref, x))
        x64 = uniform((2, 3, 2), lo, hi, np.float64)
        case(op, "f64", [x64], f64_math(ref, x64))
        x16 = uniform((5,), lo, hi, np.float16)
        case(op, "f16", [x16], f64_math(ref, x16))
        xs = np.array(uniform((), lo, hi))
        case(op, "scalar", [xs], f64_math(ref, xs))
        xe = np.zeros((0, 3), np.float32)
        case(op, "empty", [xe], xe.copy())
    # Softplus/sigmoid far out: no overflow to inf or nan.
    big = np.array([-100.0, -30.0, 30.0, 100.0], np.float32)
    case("softplus", "large_magnitude", [big], f64_math(lambda x: np.logaddexp(0, x), big))
    case("sigmoid", "large_magnitude", [big], f64_math(lambda x: 0.5 * (1 + np.tanh(x / 2)), big))
    # floor/ceil of values that are not representable as int64 stay unchanged.
    huge = np.array([1e30, -1e30, 2.5e15 + 0.5, -7.5], np.float64)
    case("floor", "huge", [huge], np.floor(huge))
    case("ceil", "huge", [huge], np.ceil(huge))


def gen_round():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.49999997, -0.49999997, 2.6, -2.6, 7.0,
                  1e20, -0.0, 0.0, 1023.5], np.float32)
    case("round", "half_to_even_f32", [x], np.round(x.astype(np.float64)).astype(np.float32))
    x64 = np.array([4503599627370495.5, -4503599627370495.5, 0.5000000000000001, 2.5, -3.5, 1e300],
                   np.float64)
    case("round", "half_to_even_f64", [x64], np.round(x64))
    x16 = np.array([0.5, 1.5, 2.5, -2.5, 3.25, 100.5], np.float16)
    case("round", "f16", [x16], np.round(x16.astype(np.float64)).astype(np.float16))
    xe = np.zeros((2, 0), np.float32)
    case("round", "empty", [xe], xe.copy())


def gen_unary_int():
    big = np.array([2**62 + 1, -(2**62) - 3, 2**53 + 1, -(2**53) - 1, 0, 7, -(2**63), 2**63 - 1], np.int64)
    for op, f in (("abs", abs), ("neg", lambda v: -v), ("sign", lambda v: (v > 0) - (v < 0)),
                  ("relu", lambda v: max(v, 0))):
        case(op, "i64", [big], elementwise_py(f, np.int64, big))
        x32 = np.array([[-(2**31), -5, 0], [3, 2**31 - 1, -1]], np.int32)
        case(op, "i32", [x32], elementwise_py(f, np.int32, x32))
        x8 = np.array([-128, -1, 0, 1, 127], np.int8)
        case(op, "i8", [x8], elementwise_py(f, np.int8, x8))
    xu = np.array([0, 1, 200, 255], np.uint8)
    for op, f in (("abs", abs), ("sign", lambda v: (v > 0) - (v < 0)), ("relu", lambda v: max(v, 0))):
        case(op, "u8", [xu], elementwise_py(f, np.uint8, xu))
    xu64 = np.array([0, 1, 2**63 + 5, 2**64 - 1], np.uint64)
    case("sign", "u64", [xu64], np.array([0, 1, 1, 1], np.uint64))
    case("relu", "u64", [xu64], xu64.copy())
    case("neg", "u8_wraps", [xu], elementwise_py(lambda v: -v, np.uint8, xu))


def gen_activations():
    x = uniform((2, 3, 4), -4, 4)
    x.reshape(-1)[:2] = [0.0, -0.0]
    for alpha in (None, 0.2):
        a = 0.01 if alpha is None else alpha
        name = "default_alpha" if alpha is None else "alpha_0.2"
        attrs = None if alpha is None else {"alpha": alpha}
        case("leaky_relu", name, [x], f64_math(lambda v: np.where(v >= 0, v, a * v), x), attrs)
    case("leaky_relu", "f16", [x.astype(np.float16)],
         f64_math(lambda v: np.where(v >= 0, v, 0.01 * v), x.astype(np.float16)))
    case("leaky_relu", "f64", [x.astype(np.float64)],
         f64_math(lambda v: np.where(v >= 0, v, 0.01 * v), x.astype(np.float64)))
    for alpha in (1.0, 0.5):
        case("elu", "alpha_%g" % alpha, [x], f64_math(lambda v: np.where(v >= 0, v, alpha * (np.exp(v) - 1)), x),
             {"alpha": alpha})
    case("elu", "ir_default_alpha", [x], f64_math(lambda v: np.where(v >= 0, v, 0.01 * (np.exp(v) - 1)), x))
    case("elu", "f64", [x.astype(np.float64)],
         f64_math(lambda v: np.where(v >= 0, v, np.exp(v) - 1), x.astype(np.float64)), {"alpha": 1.0})
    # selu defaults are float32 values of ONNX's constants (attrs.def).
    sa, sg = float(np.float32(1.67326319217681884765625)), float(np.float32(1.05070102214813232421875))
    case("selu", "default", [x], f64_math(lambda v: sg * np.where(v > 0, v, sa * (np.exp(v) - 1)), x))
    case("selu", "custom", [x], f64_math(lambda v: 3.0 * np.where(v > 0, v, 2.0 * (np.exp(v) - 1)), x),
         {"alpha": 2.0, "gamma": 3.0})
    case("selu", "f16", [x.astype(np.float16)],
         f64_math(lambda v: sg * np.where(v > 0, v, sa * (np.exp(v) - 1)), x.astype(np.float16)))
    case("hard_sigmoid", "default", [x], f64_math(lambda v: np.clip(0.2 * v + 0.5, 0, 1), x))
    case("hard_sigmoid", "custom", [x], f64_math(lambda v: np.clip(0.5 * v + 0.6, 0, 1), x),
         {"alpha": 0.5, "beta": 0.6})
    case("hard_sigmoid", "f64", [x.astype(np.float64)],
         f64_math(lambda v: np.clip(0.2 * v + 0.5, 0, 1), x.astype(np.float64)))
    xg = uniform((3, 5), -5, 5)
    exact = lambda v: 0.5 * v * (1 + erf(v / np.sqrt(2.0)))  # noqa: E731
    approx = lambda v: 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v ** 3)))  # noqa: E731
    case("gelu", "exact", [xg], f64_math(exact, xg))
    case("gelu", "tanh", [xg], f64_math(approx, xg), {"approximate": "tanh"})
    case("gelu", "exact_f64", [xg.astype(np.float64)], f64_math(exact, xg.astype(np.float64)))
    case("gelu", "tanh_f16", [xg.astype(np.float16)], f64_math(approx, xg.astype(np.float16)),
         {"approximate": "tanh"})
    xe = np.zeros((0,), np.float32)
    for op in ("leaky_relu", "elu", "selu", "hard_sigmoid", "gelu"):
        case(op, "empty", [xe], xe.copy())


def gen_predicates():
    b = RNG.random((2, 3, 4)) > 0.5
    case("not", "3d", [b], ~b)
    case("not", "scalar", [np.array(True)], np.array(False))
    case("not", "empty", [np.zeros((0, 2), bool)], np.zeros((0, 2), bool))
    specials = np.array([[1.0, np.nan, np.inf], [-np.inf, 0.0, -2.5]], np.float32)
    case("is_nan", "f32", [specials], np.isnan(specials))
    case("is_nan", "f16", [specials.astype(np.float16)], np.isnan(specials))
    case("is_nan", "f64", [specials.astype(np.float64)], np.isnan(specials))
    case("is_inf", "default", [specials], np.isinf(specials))
    case("is_inf", "f16", [specials.astype(np.float16)], np.isinf(specials))
    case("is_inf", "f64", [specials.astype(np.float64)], np.isinf(specials))
    case("is_inf", "negative_only", [specials], np.isneginf(specials), {"detect_positive": 0})
    case("is_inf", "positive_only", [specials], np.isposinf(specials), {"detect_negative": 0})
    case("is_inf", "neither", [specials], np.zeros(specials.shape, bool),
         {"detect_negative": 0, "detect_positive": 0})


def gen_identity():
    for name, x in (("f32", uniform((2, 3), -1, 1)), ("f16", uniform((4,), -1, 1, np.float16)),
                    ("i64", np.array([2**62 + 1, -5], np.int64)), ("u8", np.array([[0, 255]], np.uint8)),
                    ("bool", np.array([True, False, True])), ("scalar", np.array(3.5, np.float64)),
                    ("empty", np.zeros((3, 0, 2), np.int32))):
        case("identity", name, [x], x.copy())


# ---- cast ----------------------------------------------------------------------

def f32_to_bf16_to_f32(x):
    """Round float32 values to bfloat16 (nearest, ties to even) and back, bitwise."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return (rounded << 16).astype(np.uint32).view(np.float32)


def int_to_f32(v):
    """The float32 nearest to Python int v (ties to even), from exact comparisons."""
    c = np.float32(float(v))
    candidates = [np.nextafter(c, np.float32(-np.inf)), c, np.nextafter(c, np.float32(np.inf))]
    best = min(candidates, key=lambda f: (abs(int(f) - v), int(np.array(f).view(np.uint32)) & 1))
    return best


def gen_cast():
    xf = np.array([[-3.7, -1.0, -0.5, 0.0], [0.5, 1.9, 100.25, 126.99]], np.float32)
    pairs = [
        ("f32_to_f16", xf, np.float16), ("f32_to_f64", xf, np.float64), ("f32_to_i32", xf, np.int32),
        ("f32_to_i64", xf, np.int64), ("f32_to_i8", xf, np.int8), ("f32_to_bool", xf, np.bool_),
        ("f16_to_f32", xf.astype(np.float16), np.float32), ("f16_to_i64", xf.astype(np.float16), np.int64),
        ("f64_to_f32", np.array([1 / 3, 1e-40, -2.5e38, 1e39], np.float64), np.float32),
        ("i32_to_f32", np.array([-7, 0, 16777217, 2**31 - 1], np.int32), np.float32),
        ("i32_to_i64", np.array([-(2**31), 5], np.int32), np.int64),
        ("i64_to_i32_wraps", np.array([2**40 + 5, -(2**33) - 1, 7], np.int64), np.int32),
        ("i8_to_u8_wraps", np.array([-1, -128, 127, 0], np.int8), np.uint8),
        ("u16_to_i16_wraps", np.array([65535, 32768, 1], np.uint16), np.int16),
        ("u64_to_f64", np.array([2**64 - 1, 2**63 + 2**11, 3], np.uint64), np.float64),
        ("i64_to_bool", np.array([0, 1, -(2**63), 2**40], np.int64), np.bool_),
        ("bool_to_f32", np.array([True, False, True]), np.float32),
        ("bool_to_i64", np.array([[True], [False]]), np.int64),
        ("u8_to_f16", np.array([0, 1, 255], np.uint8), np.float16),
        ("f16_to_f64", np.array([65504, -6e-8, 0.1], np.float16), np.float64),
    ]
    for name, x, to in pairs:
        if np.dtype(to).kind == "b":
            expected = x != 0
        elif np.dtype(to).kind in "iu" and x.dtype.kind == "f":
            expected = np.trunc(x.astype(np.float64)).astype(to)  # in range by construction
        elif np.dtype(to).kind in "iu":
            expected = wrap([int(v) for v in x.reshape(-1)], to).reshape(x.shape)
        else:
            expected = x.astype(to)
        case("cast", name, [x], expected, {"to": IR_DTYPE[np.dtype(to).name]})
    # int64 -> f32 rounds once (2^60 + 2^36 + 1 lies just above a tie).
    xi = np.array([2**60 + 2**36 + 1, -(2**60) - 2**36 - 1, 2**53 + 1, 12345], np.int64)
    case("cast", "i64_to_f32_rounds_once", [xi], np.array([int_to_f32(int(v)) for v in xi], np.float32),
         {"to": "f32"}, tol=(0, 0))
    # f64 -> f16 rounds once: 1 + 2^-11 + 2^-40 lies just above a tie of f16.
    xd = np.array([1 + 2.0**-11 + 2.0**-40, 1 + 2.0**-11, 70000.0, 1e-9, -2.0**-25 * 1.5], np.float64)
    case("cast", "f64_to_f16_rounds_once", [xd], xd.astype(np.float16), {"to": "f16"}, tol=(0, 0))
    # NaN and infinities keep their meaning between float types, and NaN is true.
    xs = np.array([np.inf, -np.inf, np.nan], np.float32)
    case("cast", "f32_to_bool_specials", [xs], np.array([True, True, True]), {"to": "bool"})
    case("cast", "same_dtype", [xf], xf.copy(), {"to": "f32"})
    case("cast", "empty", [np.zeros((0, 4), np.float32)], np.zeros((0, 4), np.int64), {"to": "i64"})
    # bf16 has no NumPy dtype: cast f32 -> bf16 -> f32 in one graph.
    xb = np.array([1.0, 1.00390625, 1.01171875, 3.14159265, -1e-3, 65504.0, 1e38], np.float32)
    text = ("graph main(%%x: %s) {\n  %%b = cast(%%x) {to=bf16}\n  %%y = cast(%%b) {to=f32}\n"
            "  return %%y\n}\n" % ir_type(xb))
    write_case("cast", "f32_bf16_roundtrip", text, [xb], [f32_to_bf16_to_f32(xb)], (0, 0))


# ---- clip ------------------------------------------------------------------------

def gen_clip():
    x = uniform((3, 4), -3, 3)
    lo, hi = np.array(-1.0, np.float32), np.array(1.5, np.float32)
    case("clip", "both", [x, lo, hi], np.minimum(np.maximum(x, lo), hi))
    case("clip", "min_only", [x, lo], np.maximum(x, lo))
    case("clip", "max_only", [x, None, hi], np.minimum(x, hi))
    case("clip", "no_bounds", [x], x.copy())
    case("clip", "no_bounds_omitted", [x, None, None], x.copy())
    case("clip", "const_bounds", [x, Const(lo), Const(hi)], np.minimum(np.maximum(x, lo), hi))
    case("clip", "min_greater_than_max", [x, np.array(2.0, np.float32), np.array(-2.0, np.float32)],
         np.full(x.shape, -2.0, np.float32))
    case("clip", "bound_shape_1", [x, lo.reshape(1), hi.reshape(1)], np.minimum(np.maximum(x, lo), hi))
    x16 = x.astype(np.float16)
    case("clip", "f16", [x16, lo.astype(np.float16), hi.astype(np.float16)],
         np.minimum(np.maximum(x16, np.float16(-1.0)), np.float16(1.5)))
    x8 = np.array([-128, -5, 0, 5, 127], np.int8)
    case("clip", "i8", [x8, np.array(-10, np.int8), np.array(100, np.int8)], np.clip(x8, -10, 100))
    x64 = np.array([2**53 + 1, 2**53 + 3, -(2**62), 0], np.int64)
    case("clip", "i64_exact", [x64, np.array(-(2**61), np.int64), np.array(2**53 + 2, np.int64)],
         np.array([2**53 + 1, 2**53 + 2, -(2**61), 0], np.int64))
    xu = np.array([0, 2**63, 2**64 - 1, 5], np.uint64)
    case("clip", "u64", [xu, np.array(3, np.uint64), np.array(2**63 + 1, np.uint64)],
         np.array([3, 2**63, 2**63 + 1, 5], np.uint64))
    case("clip", "empty", [np.zeros((0,), np.float32), lo, hi], np.zeros((0,), np.float32))


# ---- binary arithmetic -------------------------------------------------------------

def trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def c_rem(a, b):
    return a - b * trunc_div(a, b)


ARITH = {
    # op: (float reference, Python-int reference)
    "add": (np.add, lambda a, b: a + b),
    "sub": (np.subtract, lambda a, b: a - b),
    "mul": (np.multiply, lambda a, b: a * b),
    "div": (np.divide, trunc_div),
    "mod": (np.mod, lambda a, b: a % b),
    "fmod": (np.fmod, c_rem),
}


def nonzero(a):
    a = np.asarray(a).copy()
    a[a == 0] = 1
    return a


def gen_arith():
    for op, (fref, iref) in ARITH.items():
        divides = op in ("div", "mod", "fmod")
        a = uniform((2, 3, 4), -5, 5)
        b = uniform((2, 3, 4), -5, 5)
        if divides:
            b = np.where(np.abs(b) < 0.25, 1.5, b).astype(np.float32)
        case(op, "f32", [a, b], f64_math(lambda _: fref(a.astype(np.float64), b.astype(np.float64)), a))
        bb = uniform((4,), 0.5, 3) * np.array([1, -1, 1, -1], np.float32)
        case(op, "bcast_trailing", [a, bb], f64_math(lambda _: fref(a.astype(np.float64), bb.astype(np.float64)), a))
        c1, c2 = uniform((3, 1), 1, 4), uniform((1, 4), 1, 4) * np.array([1, -1, 1, -1], np.float32)
        case(op, "bcast_both", [c1, c2], f64_math(lambda _: fref(c1.astype(np.float64), c2.astype(np.float64)),
                                                   np.zeros((3, 4), np.float32)))
        s = np.array(2.5, np.float32)
        case(op, "scalar_rhs", [a, s], f64_math(lambda _: fref(a.astype(np.float64), 2.5), a))
        case(op, "scalar_lhs_const", [Const(s), bb],
             f64_math(lambda _: fref(2.5, bb.astype(np.float64)), bb))
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        case(op, "f64", [a64, b64], fref(a64, b64))
        a16, b16 = a[0].astype(np.float16), b[0].astype(np.float16)
        case(op, "f16", [a16, b16], f64_math(lambda _: fref(a16.astype(np.float64), b16.astype(np.float64)), a16))
        case(op, "empty_bcast", [np.zeros((0, 3), np.float32), np.ones((1, 3), np.float32)],
             np.zeros((0, 3), np.float32))
        # Integers: mixed signs, exact beyond 2^53, wrapping where the dtype overflows.
        ia = np.array([[7, -7, 7, -7, 0, 2**53 + 1], [2**62, -(2**62), 9, -9, 1, -(2**63)]], np.int64)
        ib = np.array([[2, 2, -2, -2, 3, 3], [3, 5, -4, 4, 2**53, -1]], np.int64)
        case(op, "i64", [ia, ib], elementwise_py(iref, np.int64, ia, ib))
        ia32 = np.array([-(2**31), 2**31 - 1, -13, 13, 100000, -100000], np.int32)
        ib32 = np.array([-1, 2, 4, -4, 70000, 3], np.int32)
        case(op, "i32", [ia32, ib32], elementwise_py(iref, np.int32, ia32, ib32))
        ia8 = np.array([[-128, 127, -7], [100, -100, 5]], np.int8)
        ib8 = np.array([3, -1, 2], np.int8)
        case(op, "i8_bcast", [ia8, ib8], elementwise_py(iref, np.int8, ia8, ib8))
        iu8, ju8 = np.array([250, 3, 17, 0], np.uint8), np.array([10, 5, 4, 7], np.uint8)
        case(op, "u8", [iu8, ju8], elementwise_py(iref, np.uint8, iu8, ju8))
        iu64 = np.array([2**64 - 1, 2**63 + 7, 5, 2**63], np.uint64)
        ju64 = np.array([2, 2**62, 3, 2**63 + 1], np.uint64)
        case(op, "u64", [iu64, ju64], elementwise_py(iref, np.uint64, iu64, ju64))
        iu16, ju16 = ints((2, 3), 0, 65535, np.uint16), nonzero(ints((3,), 0, 300, np.uint16))
        case(op, "u16_bcast", [iu16, ju16], elementwise_py(iref, np.uint16, iu16, ju16))
        i16a, i16b = ints((4,), -32768, 32767, np.int16), nonzero(ints((4,), -200, 200, np.int16))
        case(op, "i16", [i16a, i16b], elementwise_py(iref, np.int16, i16a, i16b))
        u32a, u32b = ints((4,), 0, 2**32 - 1, np.uint32), nonzero(ints((4,), 0, 2**20, np.uint32))
        case(op, "u32", [u32a, u32b], elementwise_py(iref, np.uint32, u32a, u32b))


def gen_mod_floats():
    # The sign rules on exact values: Python % (sign of divisor) vs C fmod (sign of dividend).
    a = np.array([5.5, -5.5, 5.5, -5.5, 6.0, -6.0, 0.0, 1e-3], np.float32)
    b = np.array([2.0, 2.0, -2.0, -2.0, 3.0, -3.0, 4.0, 7.0], np.float32)
    case("mod", "float_signs", [a, b], np.mod(a, b))
    case("fmod", "float_signs", [a, b], np.fmod(a, b))


def gen_pow():
    a = uniform((2, 3), 0.1, 3)
    b = uniform((2, 3), -2, 2)
    case("pow", "f32", [a, b], f64_math(lambda _: np.power(a.astype(np.float64), b.astype(np.float64)), a))
    case("pow", "f32_bcast_scalar", [a, np.array(2.0, np.float32)], f64_math(lambda v: v ** 2.0, a))
    neg = np.array([-2.0, -1.5, 0.0, 3.0], np.float32)
    ei = np.array([3, 2, 0, -1], np.int64)
    case("pow", "f32_base_i64_exponent", [neg, ei], f64_math(lambda v: np.power(v, ei.astype(np.float64)), neg))
    case("pow", "f64", [a.astype(np.float64), b.astype(np.float64)],
         np.power(a.astype(np.float64), b.astype(np.float64)))
    a16 = a.astype(np.float16)
    case("pow", "f16_i32_exponent", [a16, np.array([1, 2, 3], np.int32)],
         f64_math(lambda v: v ** np.array([1.0, 2.0, 3.0]), a16))
    base = np.array([3, -3, 2, 7, -1, -1, 1, 5, 0], np.int64)
    expo = np.array([39, 39, 62, 25, 7, -3, -5, -2, 0], np.int64)

    def int_pow(x, e):
        if e < 0:
            return 1 if x == 1 else ((-1) ** (-e) if x == -1 else 0)
        return x ** e
    case("pow", "i64_exact", [base, expo], elementwise_py(int_pow, np.int64, base, expo))
    b32 = np.array([[2, -3, 10], [0, 1, 7]], np.int32)
    e32 = np.array([31, 3, 10], np.int32)
    case("pow", "i32_wraps_bcast", [b32, e32], elementwise_py(int_pow, np.int32, b32, e32))
    bi = np.array([1, 2, 3, 2], np.int32)
    ef = np.array([4.0, 5.0, 0.5, -1.0], np.float32)
    case("pow", "i32_base_f32_exponent", [bi, ef],
         np.trunc(np.power(bi.astype(np.float64), ef.astype(np.float64))).astype(np.int32))
    bu = np.array([2, 3], np.uint64)
    eu = np.array([63, 40], np.uint64)
    case("pow", "u64", [bu, eu], elementwise_py(int_pow, np.uint64, bu, eu))


def gen_prelu():
    x = uniform((2, 3, 4), -3, 3)
    ref = lambda v, s: np.where(v >= 0, v, s * v)  # noqa: E731
    s4 = uniform((4,), 0, 1)
    case("prelu", "slope_trailing", [x, s4], f64_math(lambda _: ref(x.astype(np.float64), s4.astype(np.float64)), x))
    s31 = uniform((3, 1), 0, 1)
    case("prelu", "slope_channel", [x, s31], f64_math(lambda _: ref(x.astype(np.float64), s31.astype(np.float64)), x))
    sfull = uniform((2, 3, 4), 0, 1)
    case("prelu", "slope_full", [x, sfull],
         f64_math(lambda _: ref(x.astype(np.float64), sfull.astype(np.float64)), x))
    case("prelu", "slope_scalar_const", [x, Const(np.array(0.25, np.float32))],
         f64_math(lambda v: ref(v, 0.25), x))
    case("prelu", "f64", [x.astype(np.float64), s4.astype(np.float64)],
         ref(x.astype(np.float64), s4.astype(np.float64)))
    xi = np.array([[-4, 3, -2], [5, -6, 0]], np.int32)
    si = np.array([2, 3, -1], np.int32)
    case("prelu", "i32", [xi, si], np.where(xi >= 0, xi, si * xi).astype(np.int32))


# ---- comparisons and logic ----------------------------------------------------------

COMPARE = {"equal": np.equal, "greater": np.greater, "less": np.less,
           "greater_equal": np.greater_equal, "less_equal": np.less_equal}


def gen_compare():
    for op, f in COMPARE.items():
        a = np.round(uniform((3, 4), -2, 2))
        b = np.round(uniform((4,), -2, 2))
        case(op, "f32_bcast", [a, b], f(a, b))
        a64, b64 = a.astype(np.float64), np.array([[0.5], [-1.0], [2.0]])
        case(op, "f64_bcast_both", [a64, b64], f(a64, b64))
        a16 = a.astype(np.float16)
        case(op, "f16", [a16, a16[::-1].copy()], f(a16, a16[::-1]))
        # int64 values that are equal as doubles but not as integers.
        ia = np.array([2**53, 2**53 + 1, -(2**63), 5, 2**62], np.int64)
        ib = np.array([2**53 + 1, 2**53, 2**63 - 1, 5, 2**62], np.int64)
        case(op, "i64_exact", [ia, ib], f(ia, ib))
        ua = np.array([2**63, 1, 2**64 - 1, 0], np.uint64)
        ub = np.array([1, 2**63, 2**64 - 1, 2**63], np.uint64)
        case(op, "u64", [ua, ub], f(ua, ub))
        i8a, i8b = ints((2, 3), -128, 127, np.int8), ints((2, 1), -128, 127, np.int8)
        case(op, "i8_bcast", [i8a, i8b], f(i8a, i8b))
        u16a, u16b = ints((4,), 0, 3, np.uint16), np.array(2, np.uint16)
        case(op, "u16_scalar", [u16a, u16b], f(u16a, u16b))
        i32a, i32b = ints((2, 2), -3, 3, np.int32), ints((2, 2), -3, 3, np.int32)
        case(op, "i32", [i32a, i32b], f(i32a, i32b))
        case(op, "empty", [np.zeros((0, 2), np.float32), np.zeros((2,), np.float32)], np.zeros((0, 2), bool))
    ba, bb = np.array([True, False, True, False]), np.array([True, True, False, False])
    case("equal", "bool", [ba, bb], ba == bb)
    nan = np.array([np.nan, 1.0, np.nan], np.float32)
    one = np.array([np.nan, np.nan, 1.0], np.float32)
    for op, f in COMPARE.items():
        case(op, "nan", [nan, one], f(nan, one))


def gen_logic():
    for op, f in (("and", np.logical_and), ("or", np.logical_or), ("xor", np.logical_xor)):
        a, b = RNG.random((2, 3, 4)) > 0.5, RNG.random((2, 3, 4)) > 0.5
        case(op, "3d", [a, b], f(a, b))
        b1 = RNG.random((4,)) > 0.5
        case(op, "bcast_3v1", [a, b1], f(a, b1))
        b2 = RNG.random((3, 1)) > 0.5
        case(op, "bcast_3v2", [a, b2], f(a, b2))
        tt = np.array([True, True, False, False])
        tf = np.array([True, False, True, False])
        case(op, "truth_table", [tt, tf], f(tt, tf))
        case(op, "scalar_const", [a, Const(np.array(True))], f(a, True))


# ---- variadic --------------------------------------------------------------------------

def gen_variadic():
    folds = {"max": np.maximum, "min": np.minimum, "sum": np.add}
    a = uniform((2, 3), -3, 3)
    b = uniform((3,), -3, 3)
    c = uniform((2, 1), -3, 3)
    for op, f in folds.items():
        case(op, "one_input", [a], a.copy())
        case(op, "two_inputs", [a, a[::-1].copy()], f(a, a[::-1]))
        case(op, "three_bcast", [a, b, c], f(f(a, b), c))  # float32 numpy: rounds per step
        case(op, "f64", [a.astype(np.float64), b.astype(np.float64)], f(a.astype(np.float64), b.astype(np.float64)))
        a16, b16 = a.astype(np.float16), b.astype(np.float16)
        case(op, "f16", [a16, b16], f(a16, b16))
        ia = np.array([2**62, -(2**62), 2**53 + 1, 7], np.int64)
        ib = np.array([2**62, -(2**62) - 1, 1, -7], np.int64)
        case(op, "i64", [ia, ib], elementwise_py({"max": max, "min": min, "sum": lambda x, y: x + y}[op],
                                                 np.int64, ia, ib))
        ua = np.array([2**63, 1, 5], np.uint64)
        ub = np.array([1, 2**63 + 3, 5], np.uint64)
        case(op, "u64", [ua, ub], elementwise_py({"max": max, "min": min, "sum": lambda x, y: x + y}[op],
                                                 np.uint64, ua, ub))
        i8s = [ints((3,), -128, 127, np.int8) for _ in range(4)]
        ref = {"max": max, "min": min, "sum": lambda *v: sum(v)}[op]
        case(op, "i8_four", i8s, elementwise_py(lambda *v: ref(*v) if op == "sum" else ref(v), np.int8, *i8s))
        case(op, "empty", [np.zeros((0, 3), np.float32), b], np.zeros((0, 3), np.float32))
    # NaN propagates through max/min (numpy's maximum/minimum); checked through is_nan
    # so that no NaN has to be compared.
    nan_a = np.array([np.nan, 1.0, 2.0, np.nan], np.float32)
    nan_b = np.array([0.0, np.nan, 1.0, np.nan], np.float32)
    for op, f in (("max", np.maximum), ("min", np.minimum)):
        text = ("graph main(%%a: f32[4], %%b: f32[4]) {\n  %%m = %s(%%a, %%b)\n  %%y = is_nan(%%m)\n"
                "  return %%y\n}\n" % op)
        write_case(op, "nan_propagates", text, [nan_a, nan_b], [np.isnan(f(nan_a, nan_b))])
    fin = np.array([1.0, 5.0, np.inf], np.float32)
    case("max", "infinities", [fin, -fin], np.maximum(fin, -fin))
    case("min", "infinities", [fin, -fin], np.minimum(fin, -fin))
    case("mean", "one_input", [a], a.copy())
    case("mean", "two_inputs", [a, a[::-1].copy()], (a + a[::-1]) / np.float32(2))
    case("mean", "three_bcast", [a, b, c], ((a + b) + c) / np.float32(3))
    case("mean", "f64", [a.astype(np.float64), c.astype(np.float64)], (a.astype(np.float64) + c) / 2)
    case("mean", "f16", [a.astype(np.float16), b.astype(np.float16)],
         (a.astype(np.float16) + b.astype(np.float16)) / np.float16(2))
    case("mean", "empty", [np.zeros((2, 0), np.float32)], np.zeros((2, 0), np.float32))


def gen_where():
    cond = np.array([[True], [False]])
    a = uniform((1, 3), -1, 1)
    b = np.array(7.0, np.float32)
    case("where", "bcast_three", [cond, a, b], np.where(cond, a, b))
    c3 = RNG.random((2, 3, 4)) > 0.5
    x, y = uniform((2, 3, 4), -1, 1), uniform((3, 4), -1, 1)
    case("where", "f32", [c3, x, y], np.where(c3, x, y))
    ia, ib = np.array([2**62 + 1, -3], np.int64), np.array([[5], [2**53 + 1]], np.int64)
    cb = np.array([True, False])
    case("where", "i64", [cb, ia, ib], np.where(cb, ia, ib))
    case("where", "bool", [cb, np.array([False, False]), np.array([True, True])], np.array([False, True]))
    u8a = ints((2, 3, 4), 0, 255, np.uint8)
    case("where", "u8", [c3, u8a, np.array(9, np.uint8)], np.where(c3, u8a, np.uint8(9)))
    h = uniform((4,), -1, 1, np.float16)
    case("where", "f16_const_cond", [Const(np.array([True, False, False, True])), h, -h], np.where(
        [True, False, False, True], h, -h))
    case("where", "empty", [np.zeros((0, 1), bool), a, b], np.zeros((0, 3), np.float32))


def main():
    # Some casts overflow on purpose (1e39 -> f32 inf, 70000 -> f16 inf).
    np.seterr(over="ignore")
    gen_unary_float()
    gen_round()
    gen_unary_int()
    gen_activations()
    gen_predicates()
    gen_identity()
    gen_cast()
    gen_clip()
    gen_arith()
    gen_mod_floats()
    gen_pow()
    gen_prelu()
    gen_compare()
    gen_logic()
    gen_variadic()
    gen_where()


if __name__ == "__main__":
    main()
