"""tools/optests/gen_tensor.py: op tests for the "shape and data movement" family
(concat ... eye_like, see ir/ops.def), written to tests/ops/<op>/<case>/.

Run from anywhere: /work/venv/bin/python tools/optests/gen_tensor.py

Expected outputs are computed here with NumPy, with the op's rule written out
(index arithmetic, np.pad, np.take...), never by running d2rt. Shape-like inputs
(reshape's shape, slice's starts/ends, pads, axes, repeats) appear both as graph
constants (the compile-time static-shape path) and as graph inputs (the
run-time path) in different cases.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import write_case  # noqa: E402

RNG = np.random.default_rng(20240611)
I64_MAX = np.iinfo(np.int64).max
I64_MIN = np.iinfo(np.int64).min

D2_DTYPE = {"float32": "f32", "float16": "f16", "float64": "f64", "int64": "i64", "int32": "i32",
            "int16": "i16", "int8": "i8", "uint8": "u8", "uint16": "u16", "uint32": "u32",
            "uint64": "u64", "bool": "bool"}


def ty(a):
    """IR type text of an array: f32[2,3]."""
    return "%s[%s]" % (D2_DTYPE[a.dtype.name], ",".join(str(d) for d in a.shape))


def fmt(v, dtype):
    if dtype == np.bool_:
        return "1" if v else "0"
    if np.issubdtype(dtype, np.integer):
        return str(int(v))
    return repr(float(v))


def graph(inputs, nodes, outs, consts=()):
    """IR text: inputs [(name, array)], consts [(name, array)], node lines, output names."""
    lines = ["graph main(%s) {" % ", ".join("%%%s: %s" % (n, ty(a)) for n, a in inputs)]
    for n, a in consts:
        a = np.asarray(a)
        lines.append("  %%%s: %s = const [%s]" % (n, ty(a), ", ".join(fmt(v, a.dtype) for v in a.flatten())))
    lines += ["  " + line for line in nodes]
    lines.append("  return " + ", ".join("%" + o for o in outs))
    lines.append("}")
    return "\n".join(lines)


def rand(shape, dtype=np.float32):
    if dtype == np.bool_:
        return RNG.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(-50 if np.issubdtype(dtype, np.signedinteger) else 0, 50, size=shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def i64(values):
    return np.array(values, dtype=np.int64)


def case(op, name, inputs, nodes, outputs, consts=()):
    """inputs: [(name, array)]; outputs: [(name, expected array)]."""
    text = graph(inputs, nodes, [n for n, _ in outputs], consts)
    write_case(op, name, text, [a for _, a in inputs], [a for _, a in outputs])


# ---------------------------------------------------------------------------
# concat, split, slice
# ---------------------------------------------------------------------------

def gen_concat():
    a, b, c = rand((2, 3)), rand((2, 1)), rand((2, 4))
    case("concat", "axis1_three_inputs", [("a", a), ("b", b), ("c", c)], ["%y = concat(%a, %b, %c) {axis=1}"],
         [("y", np.concatenate([a, b, c], axis=1))])
    a, b = rand((2, 2, 3), np.int64), rand((2, 3, 3), np.int64)
    case("concat", "negative_axis_i64", [("a", a), ("b", b)], ["%y = concat(%a, %b) {axis=-2}"],
         [("y", np.concatenate([a, b], axis=1))])
    a, b = rand((0, 3)), rand((2, 3))
    case("concat", "zero_size_input", [("a", a), ("b", b)], ["%y = concat(%a, %b)"],
         [("y", np.concatenate([a, b], axis=0))])
    a, b = rand((3,), np.bool_), rand((2,), np.bool_)
    case("concat", "bool_rank1", [("a", a), ("b", b)], ["%y = concat(%a, %b)"], [("y", np.concatenate([a, b]))])
    a, b = rand((1, 2, 2), np.float16), rand((2, 2, 2), np.float16)
    case("concat", "f16_axis0", [("a", a), ("b", b)], ["%y = concat(%a, %b) {axis=0}"],
         [("y", np.concatenate([a, b], axis=0))])


def even_split_sizes(dim, n):
    chunk = -(-dim // n)
    return [chunk] * (n - 1) + [dim - chunk * (n - 1)]


def split_case(name, x, axis, sizes, nodes, inputs, consts=()):
    bounds = np.cumsum([0] + list(sizes))
    parts = [np.take(x, np.arange(bounds[i], bounds[i + 1]), axis=axis) for i in range(len(sizes))]
    outs = [("y%d" % i, p) for i, p in enumerate(parts)]
    case("split", name, inputs, nodes, outs, consts)


def gen_split():
    x = rand((2, 6, 2))
    split_case("sizes_const_axis1", x, 1, [1, 3, 2], ["%y0, %y1, %y2 = split(%x, %s) {axis=1}"], [("x", x)],
               [("s", i64([1, 3, 2]))])
    x = rand((6, 2), np.int32)
    split_case("even_default_outputs", x, 0, [2, 2, 2], ["%y0, %y1, %y2 = split(%x)"], [("x", x)])
    x = rand((2, 7))
    split_case("uneven_num_outputs", x, 1, even_split_sizes(7, 3),
               ["%y0, %y1, %y2 = split(%x) {axis=-1, num_outputs=3}"], [("x", x)])
    x = rand((5, 3), np.float16)
    s = i64([0, 5])
    split_case("sizes_input_zero_chunk", x, 0, [0, 5], ["%y0, %y1 = split(%x, %s)"], [("x", x), ("s", s)])
    x = rand((4,), np.bool_)
    split_case("bool_rank1", x, 0, [2, 2], ["%y0, %y1 = split(%x) {num_outputs=2}"], [("x", x)])


def np_slice(x, starts, ends, axes=None, steps=None):
    """The ONNX Slice rule written out: clamp per axis, then index with a Python slice."""
    if axes is None:
        axes = list(range(len(starts)))
    if steps is None:
        steps = [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = a + x.ndim if a < 0 else a
        dim = x.shape[a]
        s = s + dim if s < 0 else s
        e = e + dim if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), dim), min(max(e, 0), dim)
            index[a] = slice(s, e, st)
        else:
            s, e = min(max(s, 0), dim - 1), min(max(e, -1), dim - 1)
            if s < 0:  # nothing to take
                index[a] = slice(0, 0)
            else:
                index[a] = slice(s, e if e >= 0 else None, st)
    return x[tuple(index)]


def gen_slice():
    x = rand((4, 5, 6))
    st, en, ax, sp = [1, 0], [3, -1], [0, 2], [1, 2]
    case("slice", "const_axes_steps", [("x", x)], ["%y = slice(%x, %st, %en, %ax, %sp)"],
         [("y", np_slice(x, st, en, ax, sp))], [("st", i64(st)), ("en", i64(en)), ("ax", i64(ax)), ("sp", i64(sp))])
    st, en, sp = [-1, 4], [I64_MIN, 0], [-1, -2]
    case("slice", "negative_steps_int64_min", [("x", x)], ["%y = slice(%x, %st, %en, _, %sp)"],
         [("y", np_slice(x, st, en, None, sp))], [("st", i64(st)), ("en", i64(en)), ("sp", i64(sp))])
    st, en, ax = [2, -100], [I64_MAX, 100], [-1, 1]
    case("slice", "clamped_ends_negative_axes", [("x", x)], ["%y = slice(%x, %st, %en, %ax)"],
         [("y", np_slice(x, st, en, ax))], [("st", i64(st)), ("en", i64(en)), ("ax", i64(ax))])
    st, en = [1], [3]
    case("slice", "runtime_starts_ends", [("x", x), ("st", i64(st)), ("en", i64(en))],
         ["%y = slice(%x, %st, %en)"], [("y", np_slice(x, st, en))])
    x16 = rand((3, 4), np.float16)
    st, en, ax, sp = [3, 0], [0, 4], [1, 0], [-1, 2]
    case("slice", "f16_runtime_all", [("x", x16), ("st", i64(st)), ("en", i64(en)), ("ax", i64(ax)), ("sp", i64(sp))],
         ["%y = slice(%x, %st, %en, %ax, %sp)"], [("y", np_slice(x16, st, en, ax, sp))])
    xi = rand((5,), np.int64)
    st, en = [3], [1]
    case("slice", "empty_result", [("x", xi)], ["%y = slice(%x, %st, %en)"], [("y", np_slice(xi, st, en))],
         [("st", i64(st)), ("en", i64(en))])


# ---------------------------------------------------------------------------
# reshape, flatten, transpose, squeeze, unsqueeze
# ---------------------------------------------------------------------------

def gen_reshape():
    x = rand((2, 3, 4))
    case("reshape", "zero_copies_and_minus_one", [("x", x)], ["%y = reshape(%x, %s)"], [("y", x.reshape(2, 4, 3))],
         [("s", i64([0, -1, 3]))])
    case("reshape", "runtime_shape", [("x", x), ("s", i64([-1, 6]))], ["%y = reshape(%x, %s)"],
         [("y", x.reshape(-1, 6))])
    z = rand((0, 3))
    case("reshape", "allowzero_empty", [("x", z)], ["%y = reshape(%x, %s) {allowzero=1}"], [("y", z.reshape(3, 0))],
         [("s", i64([3, 0]))])
    b = rand((2, 2), np.bool_)
    case("reshape", "bool_to_rank1", [("x", b)], ["%y = reshape(%x, %s)"], [("y", b.reshape(4))], [("s", i64([4]))])
    s = rand((1,), np.int32)
    case("reshape", "to_scalar", [("x", s)], ["%y = reshape(%x, %s)"], [("y", s.reshape(()))],
         [("s", np.zeros((0,), np.int64))])


def gen_flatten():
    x = rand((2, 3, 4))
    case("flatten", "axis1_default", [("x", x)], ["%y = flatten(%x) {axis=1}"], [("y", x.reshape(2, 12))])
    case("flatten", "axis0", [("x", x)], ["%y = flatten(%x)"], [("y", x.reshape(1, 24))])
    xi = rand((2, 3, 4), np.int64)
    case("flatten", "negative_axis_i64", [("x", xi)], ["%y = flatten(%x) {axis=-1}"], [("y", xi.reshape(6, 4))])
    case("flatten", "axis_rank", [("x", x)], ["%y = flatten(%x) {axis=3}"], [("y", x.reshape(24, 1))])


def gen_transpose():
    x = rand((2, 3, 4))
    case("transpose", "default_reverse", [("x", x)], ["%y = transpose(%x)"], [("y", np.transpose(x))])
    case("transpose", "perm", [("x", x)], ["%y = transpose(%x) {perm=[1, 2, 0]}"],
         [("y", np.transpose(x, (1, 2, 0)))])
    x4 = rand((2, 3, 2, 5), np.float16)
    case("transpose", "rank4_f16", [("x", x4)], ["%y = transpose(%x) {perm=[0, 2, 3, 1]}"],
         [("y", np.transpose(x4, (0, 2, 3, 1)))])
    xb = rand((3, 1), np.bool_)
    case("transpose", "bool_2d", [("x", xb)], ["%y = transpose(%x) {perm=[1, 0]}"], [("y", xb.T)])


def gen_squeeze():
    x = rand((1, 3, 1, 2))
    case("squeeze", "axes_negative", [("x", x)], ["%y = squeeze(%x, %a)"], [("y", x.reshape(1, 3, 2))],
         [("a", i64([-2]))])
    case("squeeze", "no_axes", [("x", x)], ["%y = squeeze(%x)"], [("y", x.reshape(3, 2))])
    xi = rand((1, 1), np.int8)
    case("squeeze", "runtime_axes_to_scalar", [("x", xi), ("a", i64([0, 1]))], ["%y = squeeze(%x, %a)"],
         [("y", xi.reshape(()))])


def gen_unsqueeze():
    x = rand((3, 4))
    case("unsqueeze", "axes_negative", [("x", x)], ["%y = unsqueeze(%x, %a)"], [("y", x.reshape(1, 3, 4, 1))],
         [("a", i64([0, -1]))])
    s = np.array(2.5, dtype=np.float64)
    case("unsqueeze", "scalar", [("x", s)], ["%y = unsqueeze(%x, %a)"], [("y", s.reshape(1))], [("a", i64([0]))])
    xb = rand((2,), np.bool_)
    case("unsqueeze", "runtime_axes_unsorted", [("x", xb), ("a", i64([2, 0]))], ["%y = unsqueeze(%x, %a)"],
         [("y", xb.reshape(1, 2, 1))])


# ---------------------------------------------------------------------------
# expand, tile, pad
# ---------------------------------------------------------------------------

def gen_expand():
    x = rand((3, 1))
    case("expand", "bidirectional", [("x", x)], ["%y = expand(%x, %s)"],
         [("y", x * np.ones((2, 1, 4), np.float32))], [("s", i64([2, 1, 4]))])
    x = rand((2, 3), np.int64)
    case("expand", "shape_smaller_rank", [("x", x)], ["%y = expand(%x, %s)"], [("y", x.copy())], [("s", i64([1, 3]))])
    xb = rand((1, 2), np.bool_)
    case("expand", "runtime_shape_bool", [("x", xb), ("s", i64([3, 1]))], ["%y = expand(%x, %s)"],
         [("y", np.broadcast_to(xb, (3, 2)).copy())])
    x16 = rand((4,), np.float16)
    case("expand", "f16_to_zero_rows", [("x", x16)], ["%y = expand(%x, %s)"],
         [("y", np.broadcast_to(x16, (0, 4)).copy())], [("s", i64([0, 4]))])


def gen_tile():
    x = rand((2, 3))
    case("tile", "basic", [("x", x)], ["%y = tile(%x, %r)"], [("y", np.tile(x, (2, 3)))], [("r", i64([2, 3]))])
    xi = rand((2, 2), np.int64)
    case("tile", "runtime_repeats_zero", [("x", xi), ("r", i64([0, 2]))], ["%y = tile(%x, %r)"],
         [("y", np.tile(xi, (0, 2)))])
    xb = rand((3,), np.bool_)
    case("tile", "bool_rank1", [("x", xb)], ["%y = tile(%x, %r)"], [("y", np.tile(xb, 2))], [("r", i64([2]))])


def np_pad(x, begins, ends, mode, value=0):
    """ONNX Pad: first pad the positive amounts with np.pad's matching mode, then crop
    the negative ones."""
    pos = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
    if mode == "constant":
        y = np.pad(x, pos, mode="constant", constant_values=value)
    else:
        y = np.pad(x, pos, mode=mode)
    index = tuple(slice(-min(b, 0), y.shape[i] + min(e, 0)) for i, (b, e) in enumerate(zip(begins, ends)))
    return y[index]


def gen_pad():
    x = rand((2, 3))
    pads = [1, 2, 0, 1]  # begins (dim0, dim1), ends (dim0, dim1)
    v = np.array(1.5, np.float32)
    case("pad", "constant_value", [("x", x)], ["%y = pad(%x, %p, %v)"],
         [("y", np_pad(x, [1, 2], [0, 1], "constant", 1.5))], [("p", i64(pads)), ("v", v)])
    for mode in ("reflect", "edge", "wrap"):
        x = rand((3, 4))
        case("pad", mode, [("x", x)], ["%%y = pad(%%x, %%p) {mode=%s}" % mode],
             [("y", np_pad(x, [2, 1], [1, 3], mode))], [("p", i64([2, 1, 1, 3]))])
    x = rand((3, 4), np.int64)
    case("pad", "negative_crops", [("x", x)], ["%y = pad(%x, %p)"], [("y", np_pad(x, [-1, 2], [1, -3], "constant"))],
         [("p", i64([-1, 2, 1, -3]))])
    x = rand((2, 3, 2), np.float16)
    case("pad", "axes_input_negative", [("x", x)], ["%y = pad(%x, %p, _, %a)"],
         [("y", np_pad(x, [0, 0, 1], [0, 0, 2], "constant"))], [("p", i64([1, 2])), ("a", i64([-1]))])
    x = rand((2, 2), np.int32)
    case("pad", "runtime_pads_edge", [("x", x), ("p", i64([0, 1, 2, 0]))], ["%y = pad(%x, %p) {mode=edge}"],
         [("y", np_pad(x, [0, 1], [2, 0], "edge"))])
    x = rand((0, 2))
    case("pad", "empty_input_constant", [("x", x)], ["%y = pad(%x, %p)"], [("y", np_pad(x, [1, 0], [1, 0], "constant"))],
         [("p", i64([1, 0, 1, 0]))])


# ---------------------------------------------------------------------------
# gather family
# ---------------------------------------------------------------------------

def gen_gather():
    x = rand((4, 3))
    idx = i64([[0, 3], [-1, 1]])
    case("gather", "axis0_2d_negative", [("x", x), ("i", idx)], ["%y = gather(%x, %i)"],
         [("y", np.take(x, idx % 4, axis=0))])
    x = rand((2, 5, 3), np.int64)
    idx = np.array([4, 0, -5], np.int32)
    case("gather", "axis1_i32_indices", [("x", x), ("i", idx)], ["%y = gather(%x, %i) {axis=1}"],
         [("y", np.take(x, idx % 5, axis=1))])
    x = rand((3, 4), np.float16)
    idx = np.array(-1, np.int64)
    case("gather", "scalar_index_negative_axis", [("x", x), ("i", idx)], ["%y = gather(%x, %i) {axis=-1}"],
         [("y", np.take(x, 3, axis=1))])
    xb = rand((5,), np.bool_)
    idx = np.zeros((0,), np.int64)
    case("gather", "empty_indices_bool", [("x", xb), ("i", idx)], ["%y = gather(%x, %i)"], [("y", xb[:0])])


def np_gather_elements(x, idx, axis):
    idx = np.where(idx < 0, idx + x.shape[axis], idx)
    return np.take_along_axis(x, idx, axis=axis)


def gen_gather_elements():
    x = rand((3, 3))
    idx = i64([[1, 2, 0], [2, 0, 0]])
    case("gather_elements", "axis0", [("x", x), ("i", idx)], ["%y = gather_elements(%x, %i)"],
         [("y", np_gather_elements(x, idx, 0))])
    x = rand((2, 4), np.int32)
    idx = i64([[-1, 0, 3], [1, -4, 2]])
    case("gather_elements", "axis1_negative", [("x", x), ("i", idx)], ["%y = gather_elements(%x, %i) {axis=-1}"],
         [("y", np_gather_elements(x, idx, 1))])
    x = rand((2, 3, 2), np.float16)
    idx = RNG.integers(0, 3, size=(2, 2, 2)).astype(np.int64)
    case("gather_elements", "rank3_axis1_f16", [("x", x), ("i", idx)], ["%y = gather_elements(%x, %i) {axis=1}"],
         [("y", np_gather_elements(x, idx, 1))])


def np_gather_nd(x, idx, b):
    batch_shape = idx.shape[:b]
    k = idx.shape[-1]
    out = []
    xb = x.reshape((-1,) + x.shape[b:])
    ib = idx.reshape((-1,) + idx.shape[b:])
    for n in range(xb.shape[0]):
        tuples = ib[n].reshape(-1, k)
        rows = [xb[n][tuple(int(t[j]) for j in range(k))] for t in tuples]
        out.append(np.array(rows).reshape(ib[n].shape[:-1] + x.shape[b + k:]))
    return np.array(out, dtype=x.dtype).reshape(batch_shape + idx.shape[b:-1] + x.shape[b + k:])


def gen_gather_nd():
    x = rand((2, 3, 4))
    idx = i64([[0, 1, 2], [1, -1, 0]])
    case("gather_nd", "full_tuples", [("x", x), ("i", idx)], ["%y = gather_nd(%x, %i)"],
         [("y", np_gather_nd(x, np.where(idx < 0, idx + np.array([2, 3, 4]), idx), 0))])
    idx = i64([[[1], [0]]])
    case("gather_nd", "partial_tuples_slices", [("x", x), ("i", idx)], ["%y = gather_nd(%x, %i)"],
         [("y", np_gather_nd(x, idx, 0))])
    xi = rand((2, 3, 2), np.int64)
    idx = i64([[[2], [0]], [[1], [1]]])
    case("gather_nd", "batch_dims1", [("x", xi), ("i", idx)], ["%y = gather_nd(%x, %i) {batch_dims=1}"],
         [("y", np_gather_nd(xi, idx, 1))])


def gen_scatter_nd():
    x = rand((4, 3))
    idx = i64([[1], [3]])
    upd = rand((2, 3))
    y = x.copy()
    y[1], y[3] = upd[0], upd[1]
    case("scatter_nd", "rows_none", [("x", x), ("i", idx), ("u", upd)], ["%y = scatter_nd(%x, %i, %u)"], [("y", y)])
    ops = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}
    for name, fn in ops.items():
        x = rand((2, 3), np.int64 if name == "mul" else np.float32)
        idx = i64([[0, 1], [1, 2], [0, 1], [-1, -3]])
        upd = rand((4,), x.dtype)
        y = x.copy()
        for t, u in zip(idx, upd):
            y[tuple(t)] = fn(y[tuple(t)], u)
        case("scatter_nd", "reduction_" + name, [("x", x), ("i", idx), ("u", upd)],
             ["%%y = scatter_nd(%%x, %%i, %%u) {reduction=%s}" % name], [("y", y)])


def gen_scatter_elements():
    x = rand((3, 3))
    idx = i64([[1, 0, 2], [0, 2, 1]])
    upd = rand((2, 3))
    y = x.copy()
    for i in range(2):
        for j in range(3):
            y[idx[i, j], j] = upd[i, j]
    case("scatter_elements", "axis0_none", [("x", x), ("i", idx), ("u", upd)], ["%y = scatter_elements(%x, %i, %u)"],
         [("y", y)])
    ops = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}
    for name, fn in ops.items():
        x = rand((2, 4), np.int32 if name == "add" else np.float32)
        idx = i64([[1, 1, -1], [0, 3, 0]])
        upd = rand((2, 3), x.dtype)
        y = x.copy()
        for i in range(2):
            for j in range(3):
                c = idx[i, j] % 4
                y[i, c] = fn(y[i, c], upd[i, j])
        case("scatter_elements", "axis1_dup_" + name, [("x", x), ("i", idx), ("u", upd)],
             ["%%y = scatter_elements(%%x, %%i, %%u) {axis=-1, reduction=%s}" % name], [("y", y)])


# ---------------------------------------------------------------------------
# shape, size, constant_of_shape, range
# ---------------------------------------------------------------------------

def np_shape(x, start=0, end=None):
    r = x.ndim
    end = r if end is None else end
    start = start + r if start < 0 else start
    end = end + r if end < 0 else end
    start, end = min(max(start, 0), r), min(max(end, 0), r)
    return i64(list(x.shape[start:end]))


def gen_shape():
    x = rand((2, 3, 0, 5))
    case("shape", "all_dims", [("x", x)], ["%y = shape(%x)"], [("y", np_shape(x))])
    case("shape", "start_end", [("x", x)], ["%y = shape(%x) {start=1, end=3}"], [("y", np_shape(x, 1, 3))])
    case("shape", "negative_start", [("x", x)], ["%y = shape(%x) {start=-2}"], [("y", np_shape(x, -2))])
    case("shape", "clamped_empty", [("x", x)], ["%y = shape(%x) {start=10, end=-10}"], [("y", np_shape(x, 10, -10))])
    s = np.array(1, np.bool_)
    case("shape", "scalar", [("x", s)], ["%y = shape(%x)"], [("y", np_shape(s))])


def gen_size():
    x = rand((2, 3, 4), np.float16)
    case("size", "basic", [("x", x)], ["%y = size(%x)"], [("y", np.array(24, np.int64))])
    x = rand((3, 0), np.int8)
    case("size", "empty", [("x", x)], ["%y = size(%x)"], [("y", np.array(0, np.int64))])


def gen_constant_of_shape():
    case("constant_of_shape", "default_f32_zero", [], ["%y = constant_of_shape(%s)"],
         [("y", np.zeros((2, 3), np.float32))], [("s", i64([2, 3]))])
    case("constant_of_shape", "i64_value_runtime", [("s", i64([3, 1, 2]))],
         ["%y = constant_of_shape(%s) {dtype=i64, value=7.0}"], [("y", np.full((3, 1, 2), 7, np.int64))])
    case("constant_of_shape", "empty_shape_scalar", [], ["%y = constant_of_shape(%s) {dtype=f16, value=-2.5}"],
         [("y", np.array(-2.5, np.float16))], [("s", np.zeros((0,), np.int64))])
    case("constant_of_shape", "bool_zero_dim", [("s", i64([2, 0]))],
         ["%y = constant_of_shape(%s) {dtype=bool, value=1.0}"], [("y", np.ones((2, 0), np.bool_))])


def np_range(start, limit, delta, dtype):
    """ONNX Range: n = max(ceil((limit - start) / delta), 0), y[i] = start + i*delta
    computed in the input dtype."""
    start, limit, delta = dtype(start), dtype(limit), dtype(delta)
    if np.issubdtype(dtype, np.integer):
        n = max(-(-(int(limit) - int(start)) // int(delta)), 0)
        return (int(start) + np.arange(n, dtype=np.int64) * int(delta)).astype(dtype)
    n = max(int(np.ceil(float(limit - start) / float(delta))), 0)
    return (start + np.arange(n).astype(dtype) * delta).astype(dtype)


def gen_range():
    for name, (s, l, d, dt) in {
        "i64_basic": (1, 10, 3, np.int64),
        "i32_negative_delta": (5, -4, -2, np.int32),
        "f32_fraction": (0.5, 2.3, 0.3, np.float32),
        "f64_negative": (1.0, -1.0, -0.25, np.float64),
        "empty": (3, 3, 1, np.int64),
        "f32_wrong_direction": (0.0, 5.0, -1.0, np.float32),
    }.items():
        sa, la, da = np.array(s, dt), np.array(l, dt), np.array(d, dt)
        case("range", name, [("s", sa), ("l", la), ("d", da)], ["%y = range(%s, %l, %d)"],
             [("y", np_range(s, l, d, dt))])
    # constant inputs: the output length is known at compile time
    case("range", "const_inputs_i64", [], ["%y = range(%s, %l, %d)"], [("y", np_range(-3, 4, 2, np.int64))],
         [("s", np.array(-3, np.int64)), ("l", np.array(4, np.int64)), ("d", np.array(2, np.int64))])


# ---------------------------------------------------------------------------
# depth_to_space, space_to_depth, trilu, one_hot, eye_like
# ---------------------------------------------------------------------------

def np_depth_to_space(x, b, mode):
    n, c, h, w = x.shape
    if mode == "dcr":
        t = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        t = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return t.reshape(n, c // (b * b), h * b, w * b)


def np_space_to_depth(x, b, mode):
    n, c, h, w = x.shape
    t = x.reshape(n, c, h // b, b, w // b, b)
    if mode == "dcr":  # ONNX SpaceToDepth
        t = t.transpose(0, 3, 5, 1, 2, 4)
    else:  # the inverse of DepthToSpace CRD
        t = t.transpose(0, 1, 3, 5, 2, 4)
    return t.reshape(n, c * b * b, h // b, w // b)


def gen_depth_space():
    x = rand((1, 8, 2, 3))
    case("depth_to_space", "dcr", [("x", x)], ["%y = depth_to_space(%x) {blocksize=2}"],
         [("y", np_depth_to_space(x, 2, "dcr"))])
    case("depth_to_space", "crd", [("x", x)], ["%y = depth_to_space(%x) {blocksize=2, mode=crd}"],
         [("y", np_depth_to_space(x, 2, "crd"))])
    xi = rand((2, 9, 1, 2), np.int64)
    case("depth_to_space", "blocksize3_i64", [("x", xi)], ["%y = depth_to_space(%x) {blocksize=3}"],
         [("y", np_depth_to_space(xi, 3, "dcr"))])
    x = rand((1, 2, 4, 6))
    case("space_to_depth", "dcr", [("x", x)], ["%y = space_to_depth(%x) {blocksize=2}"],
         [("y", np_space_to_depth(x, 2, "dcr"))])
    y = np_space_to_depth(x, 2, "crd")
    assert np.array_equal(np_depth_to_space(y, 2, "crd"), x)
    case("space_to_depth", "crd_inverse", [("x", x)], ["%y = space_to_depth(%x) {blocksize=2, mode=crd}"],
         [("y", y)])
    x16 = rand((2, 1, 3, 3), np.float16)
    case("space_to_depth", "blocksize3_f16", [("x", x16)], ["%y = space_to_depth(%x) {blocksize=3}"],
         [("y", np_space_to_depth(x16, 3, "dcr"))])


def gen_trilu():
    x = rand((4, 5))
    case("trilu", "upper_default", [("x", x)], ["%y = trilu(%x)"], [("y", np.triu(x))])
    case("trilu", "lower", [("x", x)], ["%y = trilu(%x) {upper=0}"], [("y", np.tril(x))])
    xi = rand((2, 3, 4), np.int32)
    case("trilu", "upper_k_const_batched", [("x", xi)], ["%y = trilu(%x, %k)"], [("y", np.triu(xi, 2))],
         [("k", np.array(2, np.int64))])
    x16 = rand((3, 3), np.float16)
    case("trilu", "lower_negative_k_runtime", [("x", x16), ("k", np.array(-1, np.int64))],
         ["%y = trilu(%x, %k) {upper=0}"], [("y", np.tril(x16, -1))])
    xb = rand((2, 0, 3), np.bool_)
    case("trilu", "empty_bool", [("x", xb)], ["%y = trilu(%x)"], [("y", xb.copy())])


def np_one_hot(idx, depth, values, axis):
    idx = np.asarray(idx).astype(np.int64)
    wrapped = np.where(idx < 0, idx + depth, idx)
    classes = np.arange(depth).reshape([depth] + [1] * idx.ndim)
    hot = classes == wrapped[None]  # [depth, *idx.shape]; out of range: all off
    out = np.where(hot, values[1], values[0]).astype(values.dtype)
    axis = axis + idx.ndim + 1 if axis < 0 else axis
    return np.moveaxis(out, 0, axis)


def gen_one_hot():
    idx = i64([[0, 2], [-1, 5]])
    values = np.array([0.0, 1.0], np.float32)
    case("one_hot", "last_axis_negative_and_out_of_range", [("i", idx), ("v", values)],
         ["%y = one_hot(%i, %d, %v)"], [("y", np_one_hot(idx, 3, values, -1))], [("d", np.array(3, np.int64))])
    idx = np.array([1, 0, 3], np.int32)
    values = i64([-1, 7])
    case("one_hot", "axis0_i64_values_runtime_depth", [("i", idx), ("d", np.array([4], np.int64)), ("v", values)],
         ["%y = one_hot(%i, %d, %v) {axis=0}"], [("y", np_one_hot(idx, 4, values, 0))])
    idx = np.array([[1.0, 2.0]], np.float32)
    values = np.array([2.5, -3.0], np.float16)
    case("one_hot", "float_indices_depth_axis1", [("i", idx), ("d", np.array(3.0, np.float32)), ("v", values)],
         ["%y = one_hot(%i, %d, %v) {axis=1}"], [("y", np_one_hot(idx, 3, values, 1))])


def gen_eye_like():
    x = rand((3, 3))
    case("eye_like", "square", [("x", x)], ["%y = eye_like(%x)"], [("y", np.eye(3, dtype=np.float32))])
    x = rand((3, 5), np.int32)
    case("eye_like", "wide_k2", [("x", x)], ["%y = eye_like(%x) {k=2}"], [("y", np.eye(3, 5, 2, dtype=np.int32))])
    x = rand((4, 2))
    case("eye_like", "tall_negative_k_dtype", [("x", x)], ["%y = eye_like(%x) {dtype=i64, k=-1}"],
         [("y", np.eye(4, 2, -1, dtype=np.int64))])
    x = rand((2, 2), np.bool_)
    case("eye_like", "bool_k_out_of_range", [("x", x)], ["%y = eye_like(%x) {k=5}"], [("y", np.eye(2, 2, 5, dtype=np.bool_))])


def main():
    for gen in (gen_concat, gen_split, gen_slice, gen_reshape, gen_flatten, gen_transpose, gen_squeeze,
                gen_unsqueeze, gen_expand, gen_tile, gen_pad, gen_gather, gen_gather_elements, gen_gather_nd,
                gen_scatter_nd, gen_scatter_elements, gen_shape, gen_size, gen_constant_of_shape, gen_range,
                gen_depth_space, gen_trilu, gen_one_hot, gen_eye_like):
        gen()


if __name__ == "__main__":
    main()
