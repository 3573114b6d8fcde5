#!/usr/bin/env python3
"""tools/make_image_fixtures.py: test data for runtime/image*.c (tests/unit/test_image.c).

The reference is Pillow 9.4 (what detectron2's fixtures were made with), used the way
detectron2 uses it:
  read_image(path, "BGR")  = Image.open -> _apply_exif_orientation -> convert("RGB") -> [:, :, ::-1]
  ResizeTransform          = Image.fromarray(u8).resize((new_w, new_h), Image.BILINEAR)
  ResizeShortestEdge       = get_output_shape below (augmentation_impl.py), in double
  normalisation            = (x - mean) / std in float32, then zero... pad_value padding

Writes tests/data/images/: small input files, the expected arrays as .npy, and cases.txt,
one case per line:
  decode <file> <expected.npy>                 decode as BGR, must equal exactly
  accept <file> <ranges>                       truncated to each length 0..len: decoding succeeds
                                               exactly for the lengths in <ranges> ("a-b,c")
  exif <hex> <orientation>                     EXIF block (APP1 payload) -> applied orientation 1..8
  resize <in.npy> <new_h> <new_w> <expected.npy>   Pillow BILINEAR
  size <h> <w> <min> <max> <new_h> <new_w>     ResizeShortestEdge output size
  chw <in.npy> <div> <pad> <m0> <m1> <m2> <s0> <s1> <s2> <expected.npy>

Usage: /work/venv/bin/python tools/make_image_fixtures.py   (needs numpy and pillow==9.4.0)
"""
import io
import os
import struct
import sys
import warnings
import zlib

import numpy as np
import PIL
from PIL import Image, PngImagePlugin

warnings.simplefilter("ignore")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "images")
CASES = []

if PIL.__version__ != "9.4.0":
    sys.exit(f"need Pillow 9.4.0 (detectron2's fixtures were made with it), found {PIL.__version__}")

# ---- detectron2's behaviour, restated (detection_utils.py, augmentation_impl.py) ----------

_EXIF_ORIENT = 274


def apply_exif_orientation(image):
    """detectron2.data.detection_utils._apply_exif_orientation."""
    if not hasattr(image, "getexif"):
        return image
    try:
        exif = image.getexif()
    except Exception:
        exif = None
    if exif is None:
        return image
    orientation = exif.get(_EXIF_ORIENT)
    method = {
        2: Image.FLIP_LEFT_RIGHT, 3: Image.ROTATE_180, 4: Image.FLIP_TOP_BOTTOM, 5: Image.TRANSPOSE,
        6: Image.ROTATE_270, 7: Image.TRANSVERSE, 8: Image.ROTATE_90,
    }.get(orientation)
    return image.transpose(method) if method is not None else image


def applied_orientation(image):
    """Which transpose detectron2 applies (1 = none), with its dict lookup semantics."""
    try:
        exif = image.getexif()
    except Exception:
        return 1
    try:
        o = exif.get(_EXIF_ORIENT)
        return {2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8}.get(o, 1)
    except Exception:
        return 1


def read_image_bgr(data):
    image = Image.open(io.BytesIO(data))
    image = apply_exif_orientation(image)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def output_shape(oldh, oldw, short_edge_length, max_size):
    """ResizeShortestEdge.get_output_shape."""
    h, w = oldh, oldw
    size = short_edge_length * 1.0
    scale = size / min(h, w)
    if h < w:
        newh, neww = size, scale * w
    else:
        newh, neww = scale * h, size
    if max(newh, neww) > max_size:
        scale = max_size * 1.0 / max(newh, neww)
        newh = newh * scale
        neww = neww * scale
    neww = int(neww + 0.5)
    newh = int(newh + 0.5)
    return (newh, neww)


# ---- helpers ---------------------------------------------------------------------------------

def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def save_npy(name, arr):
    np.save(os.path.join(OUT, name), arr)


def smooth_image(h, w, seed, channels=3):
    """Gradients plus noise: chroma detail for the JPEG upsampler, no flat areas."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    planes = []
    for c in range(channels):
        base = 128 + 90 * np.sin((xx * (c + 1) + yy * (3 - c)) / 5.0 + c)
        planes.append(base + rng.normal(0, 20, (h, w)))
    return np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)


def add_decode_case(name, data):
    write(name, data)
    expected = read_image_bgr(data)
    stem = name.rsplit(".", 1)[0]
    save_npy(stem + ".bgr.npy", expected)
    CASES.append(f"decode {name} {stem}.bgr.npy")


def ranges(lengths):
    out, start, prev = [], None, None
    for n in lengths:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}")
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}")
    return ",".join(out) if out else "none"


def add_accept_case(name, data):
    ok = []
    for n in range(len(data) + 1):
        try:
            im = Image.open(io.BytesIO(data[:n]))
            im.load()
            ok.append(n)
        except Exception:
            pass
    CASES.append(f"accept {name} {ranges(ok)}")


# ---- PNG writer (any bit depth / colour type, optional Adam7, extra chunks) ----------------

def chunk(ctype, payload):
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def pack_row(samples, bit_depth):
    """samples: 1-D ints, MSB first for sub-byte depths, big-endian for 16 bit."""
    if bit_depth == 16:
        return np.asarray(samples, dtype=">u2").tobytes()
    if bit_depth == 8:
        return np.asarray(samples, dtype=np.uint8).tobytes()
    per = 8 // bit_depth
    out = bytearray()
    for i in range(0, len(samples), per):
        byte = 0
        for j in range(per):
            v = int(samples[i + j]) if i + j < len(samples) else 0
            byte |= v << (8 - bit_depth * (j + 1))
        out.append(byte)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def make_png(pixels, bit_depth, color_type, plte=None, trns=None, interlace=False, before=b"", after=b""):
    """pixels: [H, W, samples-per-pixel] integer array (raw sample values)."""
    h, w = pixels.shape[:2]
    flat = pixels.reshape(h, w, -1)
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = flat[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        for row in sub:
            raw += b"\0" + pack_row(row.reshape(-1), bit_depth)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + before
    if plte is not None:
        out += chunk(b"PLTE", bytes(plte))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    return out + after + chunk(b"IEND", b"")


# ---- EXIF blocks -----------------------------------------------------------------------------

def tiff(entries, big_endian=False, ifd_offset=8, tail=b""):
    """entries: (tag, type, count, 4-byte value field) tuples."""
    e = ">" if big_endian else "<"
    head = (b"MM\0*" if big_endian else b"II*\0") + struct.pack(e + "I", ifd_offset)
    body = struct.pack(e + "H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack(e + "HHI", tag, typ, count) + value
    return head + body + b"\0\0\0\0" + tail


def short_value(v, big_endian=False):
    return struct.pack((">" if big_endian else "<") + "HH", v, 0)


def exif_orientation_block(o, big_endian=False):
    return b"Exif\0\0" + tiff([(0x0112, 3, 1, short_value(o, big_endian))], big_endian)


def jpeg_bytes(arr, **kw):
    b = io.BytesIO()
    Image.fromarray(arr).save(b, "JPEG", **kw)
    return b.getvalue()


# ---- the cases -------------------------------------------------------------------------------

def jpeg_cases():
    rgb = smooth_image(23, 37, 1)
    add_decode_case("jpeg_420.jpg", jpeg_bytes(rgb, quality=90, subsampling=2))
    add_decode_case("jpeg_422.jpg", jpeg_bytes(rgb, quality=85, subsampling=1))
    add_decode_case("jpeg_444.jpg", jpeg_bytes(rgb, quality=95, subsampling=0))
    add_decode_case("jpeg_progressive.jpg", jpeg_bytes(rgb, quality=80, progressive=True))
    add_decode_case("jpeg_gray.jpg", jpeg_bytes(smooth_image(17, 29, 2, 1)[:, :, 0], quality=90))
    cmyk = Image.fromarray(smooth_image(13, 21, 3, 4), "CMYK")
    b = io.BytesIO()
    cmyk.save(b, "JPEG", quality=90)
    add_decode_case("jpeg_cmyk.jpg", b.getvalue())
    # EXIF orientations 1..8, little- and big-endian; non-square so transposes show.
    small = smooth_image(11, 19, 4)
    for o in range(1, 9):
        add_decode_case(f"jpeg_orient{o}.jpg", jpeg_bytes(small, quality=90, exif=exif_orientation_block(o, o % 2 == 0)))
    # Malformed EXIF must not break decoding (orientation ignored as PIL does).
    add_decode_case("jpeg_exif_badheader.jpg", jpeg_bytes(small, quality=90, exif=b"Exif\0\0XX*\0\x08\0\0\0"))
    add_decode_case("jpeg_exif_badoffset.jpg",
                    jpeg_bytes(small, quality=90, exif=b"Exif\0\0" + tiff([(0x0112, 3, 1, short_value(6))], ifd_offset=5000)))
    # Truncation: the lengths PIL accepts.
    base = jpeg_bytes(smooth_image(9, 13, 5), quality=75)
    write("trunc_baseline.jpg", base)
    add_accept_case("trunc_baseline.jpg", base)
    prog = jpeg_bytes(smooth_image(9, 13, 6), quality=75, progressive=True)
    write("trunc_progressive.jpg", prog)
    add_accept_case("trunc_progressive.jpg", prog)


def png_cases():
    rng = np.random.default_rng(7)
    h, w = 9, 14
    def samples(depth, n):
        return rng.integers(0, 1 << depth, size=(h, w, n), dtype=np.int64)
    for depth in (1, 2, 4, 8, 16):
        add_decode_case(f"png_gray{depth}.png", make_png(samples(depth, 1), depth, 0))
    for depth in (8, 16):
        add_decode_case(f"png_gray_alpha{depth}.png", make_png(samples(depth, 2), depth, 4))
        add_decode_case(f"png_rgb{depth}.png", make_png(samples(depth, 3), depth, 2))
        add_decode_case(f"png_rgba{depth}.png", make_png(samples(depth, 4), depth, 6))
    # 16-bit gray with small values: PIL clips at 255 instead of taking the high byte.
    add_decode_case("png_gray16_small.png", make_png(rng.integers(0, 600, size=(h, w, 1)), 16, 0))
    for depth in (1, 2, 4, 8):
        n_entries = max(1, (1 << depth) - 1)  # one index past the palette: PIL's gray default
        plte = rng.integers(0, 256, size=3 * n_entries).tolist()
        add_decode_case(f"png_palette{depth}.png", make_png(samples(depth, 1), depth, 3, plte=plte))
    plte = rng.integers(0, 256, size=3 * 16).tolist()
    add_decode_case("png_palette_trns.png", make_png(samples(4, 1), 4, 3, plte=plte, trns=bytes([0, 128, 255])))
    add_decode_case("png_gray_trns.png", make_png(samples(8, 1), 8, 0, trns=struct.pack(">H", 17)))
    add_decode_case("png_rgb_trns.png", make_png(samples(8, 3), 8, 2, trns=struct.pack(">HHH", 1, 2, 3)))
    add_decode_case("png_interlaced_rgb8.png", make_png(samples(8, 3), 8, 2, interlace=True))
    add_decode_case("png_interlaced_gray2.png", make_png(samples(2, 1), 2, 0, interlace=True))
    add_decode_case("png_interlaced_rgba16.png", make_png(samples(16, 4), 16, 6, interlace=True))

    # Orientation sources (PIL 9.4's PngImageFile.getexif precedence).
    px = samples(8, 3)
    def exif_chunk(o, big=False):
        return chunk(b"eXIf", tiff([(0x0112, 3, 1, short_value(o, big))], big))
    def text_chunk(key, text):
        return chunk(b"tEXt", key.encode("latin-1") + b"\0" + text.encode("latin-1"))
    def ztext_chunk(key, text):
        return chunk(b"zTXt", key.encode("latin-1") + b"\0\0" + zlib.compress(text.encode("latin-1")))
    def itext_chunk(key, text):
        return chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8"))
    def raw_profile(block):
        hexs = block.hex()
        lines = [hexs[i:i + 72] for i in range(0, len(hexs), 72)]
        return "\nexif\n" + f"{len(block):8d}" + "\n" + "\n".join(lines) + "\n"
    def xmp(o, attr=True):
        inner = f'tiff:Orientation="{o}"' if attr else f"<tiff:Orientation>{o}</tiff:Orientation>"
        return f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description {inner}/></x:xmpmeta>'
    for o in (3, 6, 8):
        add_decode_case(f"png_exif_before{o}.png", make_png(px, 8, 2, before=exif_chunk(o, o == 6)))
    add_decode_case("png_exif_after5.png", make_png(px, 8, 2, after=exif_chunk(5)))
    add_decode_case("png_exif_before_and_after.png", make_png(px, 8, 2, before=exif_chunk(2), after=exif_chunk(7)))
    add_decode_case("png_exif_two_before.png", make_png(px, 8, 2, before=exif_chunk(2) + exif_chunk(4)))
    block = exif_orientation_block(6)
    add_decode_case("png_raw_profile_text.png", make_png(px, 8, 2, before=text_chunk("Raw profile type exif", raw_profile(block))))
    add_decode_case("png_raw_profile_ztxt_after.png", make_png(px, 8, 2, after=ztext_chunk("Raw profile type exif", raw_profile(exif_orientation_block(7)))))
    add_decode_case("png_raw_profile_badhex.png", make_png(px, 8, 2, before=text_chunk("Raw profile type exif", "\nexif\n 4\nzz12\n")))
    add_decode_case("png_xmp_attr.png", make_png(px, 8, 2, before=itext_chunk("XML:com.adobe.xmp", xmp(8))))
    add_decode_case("png_xmp_element_after.png", make_png(px, 8, 2, after=itext_chunk("XML:com.adobe.xmp", xmp(6, attr=False))))
    add_decode_case("png_xmp_and_exif.png", make_png(px, 8, 2, before=exif_chunk(3) + itext_chunk("XML:com.adobe.xmp", xmp(8))))
    no_orientation = chunk(b"eXIf", tiff([(0x0100, 3, 1, short_value(5))]))
    add_decode_case("png_xmp_exif_without_tag.png", make_png(px, 8, 2, before=no_orientation + itext_chunk("XML:com.adobe.xmp", xmp(5))))
    add_decode_case("png_xmp_bad_exif.png", make_png(px, 8, 2, before=chunk(b"eXIf", b"MX*\0\x08\0\0\0") + itext_chunk("XML:com.adobe.xmp", xmp(5))))
    # PIL itself writes eXIf with exif=...
    b = io.BytesIO()
    Image.fromarray(smooth_image(7, 12, 8)).save(b, "PNG", exif=exif_orientation_block(6)[6:])
    add_decode_case("png_pil_exif6.png", b.getvalue())

    trunc = make_png(samples(8, 3)[:5, :6], 8, 2)
    write("trunc.png", trunc)
    add_accept_case("trunc.png", trunc)


def exif_cases():
    def orientation_via_pil(block):
        data = jpeg_bytes(np.zeros((2, 2, 3), np.uint8), exif=block)
        try:
            return applied_orientation(Image.open(io.BytesIO(data)))
        except Exception:
            return None  # PIL cannot even open the file; nothing to compare
    le, be = False, True
    blocks = []
    for o in range(0, 11):
        blocks.append(exif_orientation_block(o))
    for typ in range(0, 18):
        for big in (le, be):
            e = ">" if big else "<"
            blocks.append(b"Exif\0\0" + tiff([(0x0112, typ, 1, struct.pack(e + "I", 6) if typ in (4, 9, 13) else
                                                struct.pack(e + "HH", 6, 0) if typ in (3, 8) else
                                                struct.pack(e + "f", 6.0) if typ == 11 else bytes([6, 0, 0, 0]))], big))
    # values stored outside the entry
    tail_off = 8 + 2 + 12 + 4
    for typ, payload in ((5, struct.pack("<II", 12, 2)), (10, struct.pack("<ii", -12, -2)), (5, struct.pack("<II", 12, 0)),
                         (12, struct.pack("<d", 6.0)), (16, struct.pack("<Q", 8)), (4, struct.pack("<II", 3, 9)),
                         (3, struct.pack("<HHH", 5, 6, 7)), (5, struct.pack("<II", 13, 2))):
        count = 2 if typ == 4 else 3 if typ == 3 and len(payload) == 6 else 1
        blocks.append(b"Exif\0\0" + tiff([(0x0112, typ, count, struct.pack("<I", tail_off))], tail=payload))
        blocks.append(b"Exif\0\0" + tiff([(0x0112, typ, count, struct.pack("<I", 4000))], tail=payload))
    # count 0, several entries, duplicates, a bad entry aborting the directory
    blocks.append(b"Exif\0\0" + tiff([(0x0112, 3, 0, short_value(6))]))
    blocks.append(b"Exif\0\0" + tiff([(0x0100, 3, 1, short_value(9)), (0x0112, 3, 1, short_value(8))]))
    blocks.append(b"Exif\0\0" + tiff([(0x0112, 3, 1, short_value(8)), (0x0112, 3, 1, short_value(3))]))
    blocks.append(b"Exif\0\0" + tiff([(0x0112, 3, 1, short_value(8)), (0x0112, 99, 1, short_value(3))]))
    blocks.append(b"Exif\0\0" + tiff([(0x0112, 3, 1, short_value(8)), (0x0132, 2, 20, struct.pack("<I", 999)),
                                      (0x0112, 3, 1, short_value(3))]))
    blocks.append(b"Exif\0\0" + tiff([(0x0112, 3, 1, short_value(2))], big_endian=False).replace(b"II*\0", b"II\0*"))
    blocks.append(b"Exif\0\0" + tiff([(0x0112, 3, 1, short_value(4, True))], big_endian=True).replace(b"MM\0*", b"MM*\0"))
    blocks.append(b"Exif\0\0" + b"II+\0\x08\0\0\0")  # BigTIFF
    blocks.append(b"Exif\0\0" + b"II*\0\x08\0\0\0\x05\0")  # truncated directory
    full = exif_orientation_block(6)
    for n in range(6, len(full) + 1):
        blocks.append(full[:n])
    blocks.append(b"Exif\0\1" + full[6:])
    for block in blocks:
        o = orientation_via_pil(block)
        if o is not None:
            CASES.append(f"exif {block.hex()} {o}")


def resize_cases():
    def add(name, arr, new_h, new_w):
        mode = "L" if arr.shape[2] == 1 else "RGB"
        src = arr[:, :, 0] if mode == "L" else arr
        out = np.asarray(Image.fromarray(src, mode).resize((new_w, new_h), Image.BILINEAR))
        out = out.reshape(new_h, new_w, arr.shape[2])
        stem = f"{name}_to_{new_h}x{new_w}"
        save_npy(f"resize_{stem}.npy", np.ascontiguousarray(out))
        CASES.append(f"resize resize_{name}.npy {new_h} {new_w} resize_{stem}.npy")
    rgb = smooth_image(17, 23, 11)
    save_npy("resize_rgb17x23.npy", rgb)
    for nh, nw in ((40, 57), (50, 23), (17, 61), (9, 11), (5, 3), (1, 1), (17, 23), (31, 12), (16, 22), (18, 24), (3, 70)):
        add("rgb17x23", rgb, nh, nw)
    big = smooth_image(150, 110, 12, 1)
    save_npy("resize_gray150x110.npy", big)
    for nh, nw in ((7, 5), (9, 110), (150, 4), (61, 47), (149, 109), (320, 17)):
        add("gray150x110", big, nh, nw)
    for h, w in ((600, 512), (512, 600), (375, 320), (480, 640), (1, 1000), (1000, 3), (333, 333), (799, 1201),
                 (427, 640), (640, 427), (481, 640), (1080, 1920), (2448, 3264), (7, 13)):
        for short, long_ in ((320, 512), (800, 1333), (640, 1000), (288, 480), (1, 2), (512, 320), (800, 100000)):
            nh, nw = output_shape(h, w, short, long_)
            CASES.append(f"size {h} {w} {short} {long_} {nh} {nw}")


def chw_cases():
    img = smooth_image(5, 7, 13)
    save_npy("chw_in5x7.npy", img)
    for div, pad, mean, std in ((4, 0.0, (103.53, 116.28, 123.675), (1.0, 1.0, 1.0)),
                                (32, -1.5, (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)),
                                (0, 0.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))):
        m = np.asarray(mean, np.float32)
        s = np.asarray(std, np.float32)
        x = (img.astype(np.float32) - m) / s  # float32 throughout, as torch
        x = x.transpose(2, 0, 1)
        ph = -(-5 // div) * div if div > 1 else 5
        pw = -(-7 // div) * div if div > 1 else 7
        out = np.full((3, ph, pw), np.float32(pad), np.float32)
        out[:, :5, :7] = x
        name = f"chw_out_div{div}.npy"
        save_npy(name, out)
        CASES.append("chw chw_in5x7.npy {} {!r} {} {} {}".format(
            div, float(np.float32(pad)), " ".join(repr(float(v)) for v in m), " ".join(repr(float(v)) for v in s), name))


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    jpeg_cases()
    png_cases()
    exif_cases()
    resize_cases()
    chw_cases()
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("# made by tools/make_image_fixtures.py with Pillow %s; see its docstring\n" % PIL.__version__)
        f.write("\n".join(CASES) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(CASES)} cases, {len(os.listdir(OUT))} files, {total} bytes in {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
