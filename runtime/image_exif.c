/* runtime/image_exif.c: the EXIF orientation tag (0x0112), read the way PIL 9.4 reads it.
 *
 * detectron2 (detection_utils._apply_exif_orientation) asks PIL's Image.getexif() for tag
 * 0x0112 and transposes when the answer equals 2..8. PIL parses the EXIF block as a TIFF
 * structure and only IFD0 matters here. What PIL does with odd input, and what this parser
 * therefore does (each rule was checked against Pillow 9.4, tools/make_image_fixtures.py):
 *   - header: "II*\0", "MM\0*" and the swapped "II\0*", "MM*\0" are accepted; anything else,
 *     BigTIFF, or fewer than 8 bytes: getexif() fails, no orientation;
 *   - entries are read in order; an entry with an unknown type or a count of 0 is skipped;
 *     an entry whose value (> 4 bytes) lies outside the block ends the directory (PIL's
 *     short read aborts the loop, keeping what it has); a truncated entry ends it too;
 *   - a later entry for the same tag replaces an earlier one;
 *   - the value is the first element; numbers (integers, rationals, floats) count when
 *     they equal an integer, but BYTE / ASCII / UNDEFINED values come back as bytes or str
 *     and never match.
 * Every read is bounds-checked against `size`; nothing here allocates. */
#include <math.h>
#include <string.h>

#include "image_internal.h"

enum tiff_type {
    TIFF_BYTE = 1, TIFF_ASCII = 2, TIFF_SHORT = 3, TIFF_LONG = 4, TIFF_RATIONAL = 5,
    TIFF_SBYTE = 6, TIFF_UNDEFINED = 7, TIFF_SSHORT = 8, TIFF_SLONG = 9, TIFF_SRATIONAL = 10,
    TIFF_FLOAT = 11, TIFF_DOUBLE = 12, TIFF_IFD = 13, TIFF_LONG8 = 16,
};

struct tiff_reader {
    const uint8_t *data;
    size_t size;
    bool little_endian;
};

static uint32_t read_u16(const struct tiff_reader *r, size_t off)
{
    const uint8_t *p = r->data + off;
    return r->little_endian ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | p[1];
}

static uint32_t read_u32(const struct tiff_reader *r, size_t off)
{
    const uint8_t *p = r->data + off;
    if (r->little_endian)
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t read_u64(const struct tiff_reader *r, size_t off)
{
    uint64_t a = read_u32(r, off), b = read_u32(r, off + 4);
    return r->little_endian ? (b << 32 | a) : (a << 32 | b);
}

/* Bytes per element of a type PIL can load; 0 for the types PIL skips. */
static unsigned type_unit_size(uint32_t type)
{
    switch (type) {
    case TIFF_BYTE: case TIFF_ASCII: case TIFF_SBYTE: case TIFF_UNDEFINED: return 1;
    case TIFF_SHORT: case TIFF_SSHORT: return 2;
    case TIFF_LONG: case TIFF_SLONG: case TIFF_FLOAT: case TIFF_IFD: return 4;
    case TIFF_RATIONAL: case TIFF_SRATIONAL: case TIFF_DOUBLE: case TIFF_LONG8: return 8;
    default: return 0;
    }
}

/* The orientation that PIL's first value of type `type` at `off` amounts to. */
static int orientation_value(const struct tiff_reader *r, uint32_t type, size_t off)
{
    double v;
    switch (type) {
    case TIFF_SHORT: v = read_u16(r, off); break;
    case TIFF_SSHORT: v = (int16_t)read_u16(r, off); break;
    case TIFF_LONG: case TIFF_IFD: v = read_u32(r, off); break;
    case TIFF_SLONG: v = (int32_t)read_u32(r, off); break;
    case TIFF_SBYTE: v = (int8_t)r->data[off]; break;
    case TIFF_LONG8: v = (double)read_u64(r, off); break;
    case TIFF_RATIONAL: {
        uint32_t num = read_u32(r, off), den = read_u32(r, off + 4);
        v = den ? (double)num / den : NAN;
        break;
    }
    case TIFF_SRATIONAL: {
        int32_t num = (int32_t)read_u32(r, off), den = (int32_t)read_u32(r, off + 4);
        v = den ? (double)num / den : NAN;
        break;
    }
    case TIFF_FLOAT: {
        uint32_t bits = read_u32(r, off);
        float f;
        memcpy(&f, &bits, sizeof f);
        v = f;
        break;
    }
    case TIFF_DOUBLE: {
        uint64_t bits = read_u64(r, off);
        memcpy(&v, &bits, sizeof v);
        break;
    }
    default: /* BYTE, ASCII, UNDEFINED: PIL returns bytes / str, never equal to a number */
        return D2_EXIF_OTHER;
    }
    for (int o = 1; o <= 8; o++)
        if (v == (double)o)
            return o;
    return D2_EXIF_OTHER;
}

int d2_exif_orientation(const uint8_t *tiff, size_t size)
{
    struct tiff_reader r = {tiff, size, false};
    int orientation = D2_EXIF_ABSENT;
    if (size == 0)
        return D2_EXIF_ABSENT; /* PIL: empty EXIF is "no EXIF", not an error */
    if (size < 8)
        return D2_EXIF_INVALID;
    if (memcmp(tiff, "II\x2a\0", 4) == 0 || memcmp(tiff, "II\0\x2a", 4) == 0)
        r.little_endian = true;
    else if (memcmp(tiff, "MM\0\x2a", 4) == 0 || memcmp(tiff, "MM\x2a\0", 4) == 0)
        r.little_endian = false;
    else
        return D2_EXIF_INVALID;

    uint64_t ifd = read_u32(&r, 4);
    if (ifd + 2 > size)
        return D2_EXIF_ABSENT;
    uint32_t count = read_u16(&r, (size_t)ifd);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t entry = ifd + 2 + (uint64_t)i * 12;
        if (entry + 12 > size)
            break; /* truncated directory: PIL stops here, keeping earlier entries */
        uint32_t tag = read_u16(&r, (size_t)entry);
        uint32_t type = read_u16(&r, (size_t)entry + 2);
        uint64_t n = read_u32(&r, (size_t)entry + 4);
        unsigned unit = type_unit_size(type);
        if (unit == 0 || n == 0)
            continue; /* PIL skips unknown types and empty values */
        uint64_t value_size = n * unit;
        uint64_t value_off = entry + 8;
        if (value_size > 4) {
            value_off = read_u32(&r, (size_t)entry + 8);
            if (value_off + value_size > size)
                break; /* PIL's short read of an out-of-range value aborts the directory */
        }
        if (tag == 0x0112)
            orientation = orientation_value(&r, type, (size_t)value_off);
    }
    return orientation;
}

int d2_exif_block_orientation(const uint8_t *data, size_t size)
{
    if (size >= 6 && memcmp(data, "Exif\0\0", 6) == 0) {
        data += 6;
        size -= 6;
    }
    return d2_exif_orientation(data, size);
}

int d2_xmp_orientation(const char *xmp, size_t len)
{
    static const char key[] = "tiff:Orientation";
    const size_t key_len = sizeof key - 1;
    for (size_t i = 0; i + key_len < len; i++) {
        if (memcmp(xmp + i, key, key_len) != 0)
            continue;
        size_t p = i + key_len;
        if (p + 2 < len && xmp[p] == '=' && xmp[p + 1] == '"' && xmp[p + 2] >= '0' && xmp[p + 2] <= '9')
            return xmp[p + 2] - '0';
        if (p + 1 < len && xmp[p] == '>' && xmp[p + 1] >= '0' && xmp[p + 1] <= '9')
            return xmp[p + 1] - '0';
    }
    return -1;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int64_t d2_raw_profile_decode(const char *text, size_t len, uint8_t *dst, size_t cap)
{
    size_t p = 0;
    int64_t out = 0;
    for (int line = 0; line < 3; line++) { /* skip three lines; fewer lines leave nothing */
        while (p < len && text[p] != '\n')
            p++;
        if (p == len)
            return 0;
        p++;
    }
    int high = -1; /* first digit of a pair, -1 between pairs */
    for (; p < len; p++) {
        char c = text[p];
        if (c == '\n')
            continue; /* the lines are joined */
        if (high < 0 && is_ascii_space(c))
            continue;
        int d = hex_digit(c);
        if (d < 0)
            return -1;
        if (high < 0) {
            high = d;
        } else {
            if ((size_t)out < cap)
                dst[out] = (uint8_t)(high << 4 | d);
            out++;
            high = -1;
        }
    }
    return high < 0 ? out : -1;
}
