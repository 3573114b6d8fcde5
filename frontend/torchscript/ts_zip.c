/* frontend/torchscript/ts_zip.c: a read-only zip reader for torch's archives.
 *
 * Contract (see ts_archive.h): ts_zip_open parses the end-of-central-directory
 * record (zip64 when present: torch 2.x always writes the zip64 records, and large
 * archives need them), then every central directory entry and its local header, so
 * that every entry's data range is known to lie inside the image before anything
 * reads it. ts_zip_read returns stored entries in place and inflates deflated ones
 * with zlib; both are CRC32-checked.
 *
 * Not supported (refused with D2_ERR_UNSUPPORTED): encryption, multi-disk archives,
 * compression methods other than stored/deflate. Data prepended before the first
 * entry (self-extracting archives) is not looked for: offsets are taken as written.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "frontend/torchscript/ts_archive.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_EOCD64_LOCATOR 0x07064b50u
#define EOCD_SIZE 22u
#define EOCD64_LOCATOR_SIZE 20u
#define EOCD64_MIN_SIZE 56u
#define CENTRAL_SIZE 46u
#define LOCAL_SIZE 30u
#define ZIP64_EXTRA_ID 0x0001u
/* Deflate cannot expand data by more than about 1032:1; anything claiming more is a bomb. */
#define DEFLATE_MAX_RATIO 1032u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

/* True when [offset, offset + len) lies inside [0, size). */
static bool in_bounds(uint64_t offset, uint64_t len, uint64_t size)
{
    return offset <= size && len <= size - offset;
}

/* Locate the end-of-central-directory record: scan back over a possible comment. */
static bool find_eocd(const uint8_t *data, size_t size, size_t *pos)
{
    if (size < EOCD_SIZE)
        return false;
    size_t lowest = size - EOCD_SIZE > 0xFFFFu ? size - EOCD_SIZE - 0xFFFFu : 0;
    for (size_t p = size - EOCD_SIZE + 1; p-- > lowest;) {
        if (rd32(data + p) == SIG_EOCD && p + EOCD_SIZE + rd16(data + p + 20) <= size) {
            *pos = p;
            return true;
        }
    }
    return false;
}

struct cd_location {
    uint64_t count, offset, size;
};

static enum d2_status read_end_records(const uint8_t *data, size_t size, struct cd_location *cd,
                                       struct d2_error *err)
{
    size_t eocd;
    if (!find_eocd(data, size, &eocd))
        return d2_errorf(err, D2_ERR_PARSE, "zip: no end-of-central-directory record (not a zip archive%s)",
                         size >= 2 && data[0] == 0x80 && data[1] <= 5 ? "; a legacy torch.save pickle?" : "");
    const uint8_t *e = data + eocd;
    if (rd16(e + 4) != 0 || rd16(e + 6) != 0)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "zip: multi-disk archives are not supported");
    cd->count = rd16(e + 10);
    cd->size = rd32(e + 12);
    cd->offset = rd32(e + 16);
    /* A zip64 locator sits right before the classic record when the writer used zip64. */
    if (eocd >= EOCD64_LOCATOR_SIZE && rd32(data + eocd - EOCD64_LOCATOR_SIZE) == SIG_EOCD64_LOCATOR) {
        const uint8_t *loc = data + eocd - EOCD64_LOCATOR_SIZE;
        uint64_t off64 = rd64(loc + 8);
        if (!in_bounds(off64, EOCD64_MIN_SIZE, eocd - EOCD64_LOCATOR_SIZE) || rd32(data + off64) != SIG_EOCD64)
            return d2_errorf(err, D2_ERR_PARSE, "zip: zip64 locator points to no zip64 end record (offset %llu)",
                             (unsigned long long)off64);
        const uint8_t *z = data + off64;
        if (rd32(z + 16) != 0 || rd32(z + 20) != 0)
            return d2_errorf(err, D2_ERR_UNSUPPORTED, "zip: multi-disk archives are not supported");
        cd->count = rd64(z + 32);
        cd->size = rd64(z + 40);
        cd->offset = rd64(z + 48);
    } else if (cd->count == 0xFFFFu || cd->size == 0xFFFFFFFFu || cd->offset == 0xFFFFFFFFu) {
        return d2_errorf(err, D2_ERR_PARSE, "zip: zip64 values without a zip64 end record");
    }
    if (!in_bounds(cd->offset, cd->size, eocd))
        return d2_errorf(err, D2_ERR_PARSE, "zip: central directory (offset %llu, %llu bytes) outside the file",
                         (unsigned long long)cd->offset, (unsigned long long)cd->size);
    if (cd->count > TS_ZIP_MAX_ENTRIES || cd->count > cd->size / CENTRAL_SIZE)
        return d2_errorf(err, D2_ERR_PARSE, "zip: %llu entries do not fit a %llu-byte central directory",
                         (unsigned long long)cd->count, (unsigned long long)cd->size);
    return D2_OK;
}

/* Replace 0xFFFFFFFF fields of a central entry with its zip64 extra field's values. */
static enum d2_status apply_zip64_extra(const uint8_t *extra, uint32_t extra_len, struct ts_zip_entry *e,
                                        bool need_size, bool need_csize, bool need_offset,
                                        struct d2_error *err)
{
    uint32_t p = 0;
    while (p + 4 <= extra_len) {
        uint16_t id = rd16(extra + p), len = rd16(extra + p + 2);
        if (p + 4u + len > extra_len)
            break;
        if (id == ZIP64_EXTRA_ID) {
            const uint8_t *f = extra + p + 4;
            uint32_t have = len, at = 0;
            if (need_size) {
                if (at + 8 > have) goto short_field;
                e->size = rd64(f + at);
                at += 8;
            }
            if (need_csize) {
                if (at + 8 > have) goto short_field;
                e->compressed_size = rd64(f + at);
                at += 8;
            }
            if (need_offset) {
                if (at + 8 > have) goto short_field;
                e->header_offset = rd64(f + at);
            }
            return D2_OK;
        }
        p += 4u + len;
    }
    if (!need_size && !need_csize && !need_offset)
        return D2_OK;
    return d2_errorf(err, D2_ERR_PARSE, "zip: entry '%s' needs a zip64 extra field and has none", e->name);
short_field:
    return d2_errorf(err, D2_ERR_PARSE, "zip: entry '%s': zip64 extra field too short", e->name);
}

static enum d2_status check_local_header(const struct ts_zip *zip, struct ts_zip_entry *e, uint64_t cd_offset,
                                         struct d2_error *err)
{
    if (!in_bounds(e->header_offset, LOCAL_SIZE, cd_offset) || rd32(zip->data + e->header_offset) != SIG_LOCAL)
        return d2_errorf(err, D2_ERR_PARSE, "zip: entry '%s': no local header at offset %llu", e->name,
                         (unsigned long long)e->header_offset);
    const uint8_t *h = zip->data + e->header_offset;
    uint16_t name_len = rd16(h + 26), extra_len = rd16(h + 28);
    size_t cd_name_len = strlen(e->name);
    if (name_len != cd_name_len || !in_bounds(e->header_offset + LOCAL_SIZE, name_len, cd_offset) ||
        memcmp(h + LOCAL_SIZE, e->name, name_len) != 0)
        return d2_errorf(err, D2_ERR_PARSE, "zip: entry '%s': local header names another file", e->name);
    e->data_offset = e->header_offset + LOCAL_SIZE + name_len + extra_len;
    if (!in_bounds(e->data_offset, e->compressed_size, cd_offset))
        return d2_errorf(err, D2_ERR_PARSE, "zip: entry '%s': %llu bytes of data run past the end of the entries",
                         e->name, (unsigned long long)e->compressed_size);
    if (rd16(h + 6) & 1u)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "zip: entry '%s' is encrypted", e->name);
    return D2_OK;
}

static enum d2_status read_central_entry(struct ts_zip *zip, const uint8_t *c, uint64_t avail, char **name_cursor,
                                         struct ts_zip_entry *e, struct d2_error *err)
{
    if (avail < CENTRAL_SIZE || rd32(c) != SIG_CENTRAL)
        return d2_errorf(err, D2_ERR_PARSE, "zip: central directory entry %u is malformed", zip->num_entries);
    uint16_t name_len = rd16(c + 28), extra_len = rd16(c + 30), comment_len = rd16(c + 32);
    if ((uint64_t)CENTRAL_SIZE + name_len + extra_len + comment_len > avail)
        return d2_errorf(err, D2_ERR_PARSE, "zip: central directory entry %u runs past the directory",
                         zip->num_entries);
    if (name_len == 0 || memchr(c + CENTRAL_SIZE, 0, name_len))
        return d2_errorf(err, D2_ERR_PARSE, "zip: central directory entry %u has an empty or invalid name",
                         zip->num_entries);
    memcpy(*name_cursor, c + CENTRAL_SIZE, name_len);
    (*name_cursor)[name_len] = '\0';
    e->name = *name_cursor;
    *name_cursor += name_len + 1u;
    e->method = rd16(c + 10);
    e->crc32 = rd32(c + 16);
    e->compressed_size = rd32(c + 20);
    e->size = rd32(c + 24);
    e->header_offset = rd32(c + 42);
    if (rd16(c + 8) & 1u)
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "zip: entry '%s' is encrypted", e->name);
    return apply_zip64_extra(c + CENTRAL_SIZE + name_len, extra_len, e, e->size == 0xFFFFFFFFu,
                             e->compressed_size == 0xFFFFFFFFu, e->header_offset == 0xFFFFFFFFu, err);
}

enum d2_status ts_zip_open(struct ts_zip *zip, const void *data, size_t size, const struct d2_allocator *alloc,
                           struct d2_error *err)
{
    struct cd_location cd = { 0, 0, 0 };
    enum d2_status st;
    memset(zip, 0, sizeof *zip);
    zip->alloc = alloc ? alloc : d2_allocator_default();
    zip->data = data;
    zip->size = size;
    if (!data && size)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "zip: NULL data");
    if ((st = read_end_records(zip->data, size, &cd, err)) != D2_OK)
        return st;
    zip->entries = d2_calloc(zip->alloc, cd.count ? cd.count : 1, sizeof *zip->entries);
    /* Names are shorter than the directory holding them, plus one NUL each. */
    zip->names = d2_alloc(zip->alloc, (size_t)cd.size + (size_t)cd.count + 1);
    if (!zip->entries || !zip->names) {
        ts_zip_close(zip);
        return d2_errorf(err, D2_ERR_NOMEM, "zip: out of memory for %llu entries", (unsigned long long)cd.count);
    }
    const uint8_t *c = zip->data + cd.offset;
    uint64_t left = cd.size;
    char *name_cursor = zip->names;
    for (uint64_t i = 0; i < cd.count; i++) {
        struct ts_zip_entry *e = &zip->entries[zip->num_entries];
        st = read_central_entry(zip, c, left, &name_cursor, e, err);
        if (st == D2_OK)
            st = check_local_header(zip, e, cd.offset, err);
        if (st != D2_OK) {
            ts_zip_close(zip);
            return st;
        }
        uint64_t used = CENTRAL_SIZE + (uint64_t)rd16(c + 28) + rd16(c + 30) + rd16(c + 32);
        c += used;
        left -= used;
        zip->num_entries++;
    }
    return D2_OK;
}

void ts_zip_close(struct ts_zip *zip)
{
    if (!zip || !zip->alloc)
        return;
    d2_free(zip->alloc, zip->entries);
    d2_free(zip->alloc, zip->names);
    zip->entries = NULL;
    zip->names = NULL;
    zip->num_entries = 0;
}

int64_t ts_zip_find(const struct ts_zip *zip, const char *name)
{
    for (uint32_t i = 0; i < zip->num_entries; i++)
        if (strcmp(zip->entries[i].name, name) == 0)
            return i;
    return -1;
}

/* zlib's crc32 takes a uInt length: feed large buffers in pieces. */
static uint32_t crc32_of(const uint8_t *data, uint64_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt piece = size > (1u << 30) ? (1u << 30) : (uInt)size;
        crc = crc32(crc, data, piece);
        data += piece;
        size -= piece;
    }
    return (uint32_t)crc;
}

static enum d2_status inflate_entry(const struct ts_zip *zip, const struct ts_zip_entry *e, uint8_t **out,
                                    struct d2_error *err)
{
    if (e->size > TS_ZIP_MAX_INFLATED || e->size > (uint64_t)e->compressed_size * DEFLATE_MAX_RATIO + 1024u ||
        e->size > (uint64_t)SIZE_MAX - 1)
        return d2_errorf(err, D2_ERR_PARSE,
                         "zip: entry '%s' declares %llu bytes from %llu compressed (refused as a zip bomb)", e->name,
                         (unsigned long long)e->size, (unsigned long long)e->compressed_size);
    /* One spare byte: output that does not stop at the declared size is detected. */
    uint8_t *buf = d2_alloc(zip->alloc, (size_t)e->size + 1);
    if (!buf)
        return d2_errorf(err, D2_ERR_NOMEM, "zip: out of memory inflating '%s' (%llu bytes)", e->name,
                         (unsigned long long)e->size);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        d2_free(zip->alloc, buf);
        return d2_errorf(err, D2_ERR_NOMEM, "zip: cannot initialize zlib for '%s'", e->name);
    }
    const uint8_t *src = zip->data + e->data_offset;
    uint64_t src_left = e->compressed_size, dst_left = e->size + 1;
    uint8_t *dst = buf;
    int rc = Z_OK;
    while (rc == Z_OK) {
        uInt in_piece = src_left > (1u << 30) ? (1u << 30) : (uInt)src_left;
        uInt out_piece = dst_left > (1u << 30) ? (1u << 30) : (uInt)dst_left;
        zs.next_in = (Bytef *)(uintptr_t)src;
        zs.avail_in = in_piece;
        zs.next_out = dst;
        zs.avail_out = out_piece;
        rc = inflate(&zs, Z_NO_FLUSH);
        src += in_piece - zs.avail_in;
        src_left -= in_piece - zs.avail_in;
        dst += out_piece - zs.avail_out;
        dst_left -= out_piece - zs.avail_out;
        if (rc == Z_OK && (dst_left == 0 || (src_left == 0 && zs.avail_out != 0)))
            break; /* out of room, or out of input: neither ended the stream */
    }
    uint64_t produced = e->size + 1 - dst_left;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != e->size) {
        d2_free(zip->alloc, buf);
        if (rc == Z_STREAM_END || dst_left == 0)
            return d2_errorf(err, D2_ERR_PARSE, "zip: entry '%s' inflates to %s%llu bytes, not the declared %llu",
                             e->name, dst_left == 0 ? "more than " : "", (unsigned long long)produced,
                             (unsigned long long)e->size);
        return d2_errorf(err, D2_ERR_PARSE, "zip: entry '%s': corrupt deflate stream (%s)", e->name,
                         zs.msg ? zs.msg : rc == Z_OK || rc == Z_BUF_ERROR ? "truncated" : "bad data");
    }
    *out = buf;
    return D2_OK;
}

enum d2_status ts_zip_read(const struct ts_zip *zip, uint32_t index, const uint8_t **out, size_t *out_size,
                           bool *owned, struct d2_error *err)
{
    if (index >= zip->num_entries)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "zip: entry index %u out of range", index);
    const struct ts_zip_entry *e = &zip->entries[index];
    const uint8_t *bytes;
    bool is_owned = false;
    if (e->method == TS_ZIP_STORED) {
        if (e->size != e->compressed_size)
            return d2_errorf(err, D2_ERR_PARSE, "zip: stored entry '%s' has size %llu but %llu stored bytes",
                             e->name, (unsigned long long)e->size, (unsigned long long)e->compressed_size);
        bytes = zip->data + e->data_offset;
    } else if (e->method == TS_ZIP_DEFLATED) {
        uint8_t *buf = NULL;
        enum d2_status st = inflate_entry(zip, e, &buf, err);
        if (st != D2_OK)
            return st;
        bytes = buf;
        is_owned = true;
    } else {
        return d2_errorf(err, D2_ERR_UNSUPPORTED, "zip: entry '%s' uses compression method %u (only stored and deflate)",
                         e->name, e->method);
    }
    uint32_t crc = crc32_of(bytes, e->size);
    if (crc != e->crc32) {
        if (is_owned)
            d2_free(zip->alloc, (void *)(uintptr_t)bytes);
        return d2_errorf(err, D2_ERR_PARSE, "zip: entry '%s': CRC32 %08x does not match the recorded %08x", e->name,
                         crc, e->crc32);
    }
    *out = bytes;
    *out_size = (size_t)e->size;
    *owned = is_owned;
    return D2_OK;
}
