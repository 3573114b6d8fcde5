"""tools/gen_npy_testdata.py: writes tests/data/npy/, the reference .npy files that
tests/unit/test_npy.c reads and compares runtime/npy.c's writer against.

Run: /work/venv/bin/python tools/gen_npy_testdata.py   (any working directory)

Every array holds element i = i (bool: i % 2 == 1), so the C test knows the values
without a second copy. Files:
  <descr>_2x3.npy          one per supported dtype, shape (2, 3), numpy.save (v1.0)
  f8_scalar.npy            shape ()
  f4_0x3.npy               zero-size, shape (0, 3)
  i8_5.npy                 shape (5,)
  u1_2x1x1x1x1x1x1x3.npy   rank 8
  v2_i4_2x3.npy, v3_f2_2x3.npy   format versions 2.0 and 3.0
  bad_big_endian.npy, bad_fortran.npy, bad_unicode.npy, bad_rank9.npy   rejected
"""
import os

import numpy as np
from numpy.lib import format as npformat

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "npy")

DTYPES = ["<f4", "<f2", "<f8", "<i8", "<i4", "<i2", "|i1", "|u1", "<u2", "<u4", "<u8", "|b1"]


def counting(shape, dtype):
    n = int(np.prod(shape)) if shape else 1
    if np.dtype(dtype) == np.bool_:
        return (np.arange(n) % 2 == 1).reshape(shape)
    return np.arange(n).astype(dtype).reshape(shape)


def save(name, array):
    np.save(os.path.join(OUT, name), array)


def save_version(name, array, version):
    with open(os.path.join(OUT, name), "wb") as f:
        npformat.write_array(f, array, version=version)


def main():
    os.makedirs(OUT, exist_ok=True)
    for d in DTYPES:
        save("%s_2x3.npy" % d[1:], counting((2, 3), d))
    save("f8_scalar.npy", counting((), "<f8"))
    save("f4_0x3.npy", counting((0, 3), "<f4"))
    save("i8_5.npy", counting((5,), "<i8"))
    save("u1_2x1x1x1x1x1x1x3.npy", counting((2, 1, 1, 1, 1, 1, 1, 3), "|u1"))
    save_version("v2_i4_2x3.npy", counting((2, 3), "<i4"), (2, 0))
    save_version("v3_f2_2x3.npy", counting((2, 3), "<f2"), (3, 0))
    save("bad_big_endian.npy", counting((2, 3), ">f4"))
    save("bad_fortran.npy", np.asfortranarray(counting((2, 3), "<f4")))
    save("bad_unicode.npy", np.array(["ab", "cd"]))
    save("bad_rank9.npy", counting((1,) * 9, "<f4"))


if __name__ == "__main__":
    main()
