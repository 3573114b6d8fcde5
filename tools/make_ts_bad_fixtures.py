#!/usr/bin/env python3
"""tools/make_ts_bad_fixtures.py: malformed TorchScript archives for tests/cli.sh.

Each is tests/data/torchscript_ops/linear_trace/model.ts (a real torch.jit.trace
archive) with one entry edited, so only the intended defect differs:
    unknown_global.ts          data.pkl's GLOBAL torch._utils._rebuild_tensor_v2 is
                               replaced by os.system (a global the pickle VM must
                               refuse by name, never resolve)
    unsupported_construct.ts   forward() uses a lambda, outside the TorchScript subset
                               the parser accepts
The corrupt and truncated archives of tests/cli.sh are cut from the same file at test
time (head -c, dd), so they need no fixture. Standard library only.
Run: python3 tools/make_ts_bad_fixtures.py
"""
import os
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(REPO, "tests", "data", "torchscript_ops", "linear_trace", "model.ts")
OUT = os.path.join(REPO, "tests", "data", "torchscript_bad")


def rewrite(name, edit_entry, old, new):
    with zipfile.ZipFile(SRC) as src:
        infos = src.infolist()
        blobs = {i.filename: src.read(i.filename) for i in infos}
    target = next(i.filename for i in infos if i.filename.endswith(edit_entry))
    assert old in blobs[target], (target, old)
    blobs[target] = blobs[target].replace(old, new, 1)
    path = os.path.join(OUT, name)
    with zipfile.ZipFile(path, "w") as dst:
        for i in infos:
            info = zipfile.ZipInfo(i.filename, date_time=i.date_time)
            info.compress_type = i.compress_type
            dst.writestr(info, blobs[i.filename])
    print("wrote", path, os.path.getsize(path), "bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    rewrite("unknown_global.ts", "/data.pkl", b"ctorch._utils\n_rebuild_tensor_v2\n", b"cos\nsystem\n")
    rewrite("unsupported_construct.ts", "/code/__torch__.py",
            b"_5 = torch.leaky_relu(_0, 0.10000000000000001)", b"_5 = (lambda t: t)(_0)")


if __name__ == "__main__":
    main()
