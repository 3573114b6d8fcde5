/* frontend/detect.c: which model format a buffer holds, from its content alone.
 *
 *   - model.ir artifact: not here (runtime/load.c checks the runtime's own magic first);
 *   - TorchScript: a zip archive ("PK\3\4") with a data.pkl entry (torch.jit.save puts
 *     it beside code/; a zip that cannot be read still counts, so that the importer
 *     reports the precise problem); other zips are unknown;
 *   - IR text: after blanks and '#' comment lines, the word `graph` or `meta`;
 *   - ONNX ModelProto vs Caffe2 NetDef: both are protobuf. The top-level fields are
 *     walked and checked against each message's field numbers and wire types. ONNX
 *     files begin with ir_version (field 1, a varint) where a NetDef has its name
 *     (field 1, a string); NetDef's op list (field 2) is messages where ONNX has
 *     producer_name. A buffer that fits only one schema is that format; one that fits
 *     both is ONNX when it has ir_version or opset_import-shaped entries, else Caffe2.
 * A truncated ONNX file whose first field is ir_version still counts as ONNX, so that
 * the importer can report the precise problem.
 */
#include "frontend/frontend.h"
#include "frontend/torchscript/ts_archive.h"

#include <string.h>

static bool varint(const uint8_t *p, size_t size, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= size)
            return false;
        uint8_t b = p[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static bool looks_like_ir_text(const uint8_t *p, size_t size)
{
    size_t i = 0;
    for (;;) {
        while (i < size && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
            i++;
        if (i < size && p[i] == '#') {
            while (i < size && p[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    return (size - i >= 5 && memcmp(p + i, "graph", 5) == 0) || (size - i >= 4 && memcmp(p + i, "meta", 4) == 0);
}

/* Wire type each top-level field must have; -1: not a field of the message. */
static int onnx_wire(uint64_t field)
{
    switch (field) {
    case 1: case 5: return 0;                                   /* ir_version, model_version */
    case 2: case 3: case 4: case 6: case 7: case 8: case 14: case 20: case 25: case 26: return 2;
    default: return -1;
    }
}

static int netdef_wire(uint64_t field)
{
    switch (field) {
    case 4: return 0;                                            /* num_workers */
    case 1: case 2: case 3: case 5: case 6: case 7: case 8: return 2;
    default: return -1;
    }
}

/* An OperatorSetIdProto: only fields 1 (string) and 2 (varint). */
static bool opset_shaped(const uint8_t *p, size_t size)
{
    size_t pos = 0;
    uint64_t key, v;
    while (pos < size) {
        if (!varint(p, size, &pos, &key))
            return false;
        if (key == (1 << 3 | 2)) {
            if (!varint(p, size, &pos, &v) || v > size - pos)
                return false;
            pos += v;
        } else if (key == (2 << 3 | 0)) {
            if (!varint(p, size, &pos, &v))
                return false;
        } else {
            return false;
        }
    }
    return true;
}

static enum d2_model_format protobuf_kind(const uint8_t *p, size_t size)
{
    bool fits_onnx = true, fits_netdef = true, onnx_evidence = false;
    size_t pos = 0;
    if (size >= 2 && p[0] == 0x08)
        return D2_FORMAT_ONNX; /* ir_version first: how every ONNX writer starts */
    while (pos < size && (fits_onnx || fits_netdef)) {
        uint64_t key, v;
        if (!varint(p, size, &pos, &key))
            return D2_FORMAT_UNKNOWN;
        uint64_t field = key >> 3;
        int wire = (int)(key & 7);
        if (wire == 0) {
            if (!varint(p, size, &pos, &v))
                return D2_FORMAT_UNKNOWN;
        } else if (wire == 2) {
            if (!varint(p, size, &pos, &v) || v > size - pos)
                return D2_FORMAT_UNKNOWN;
            if (field == 8 && v > 0 && opset_shaped(p + pos, (size_t)v))
                onnx_evidence = true;
            pos += (size_t)v;
        } else {
            return D2_FORMAT_UNKNOWN;
        }
        fits_onnx = fits_onnx && onnx_wire(field) == wire;
        fits_netdef = fits_netdef && netdef_wire(field) == wire;
        if (fits_onnx && field == 1)
            onnx_evidence = true;
    }
    if (fits_onnx && (onnx_evidence || !fits_netdef))
        return D2_FORMAT_ONNX;
    if (fits_netdef)
        return D2_FORMAT_CAFFE2;
    return D2_FORMAT_UNKNOWN;
}

/* A zip: TorchScript (or torch.save) when an entry is named data.pkl or ends in
 * /data.pkl. */
static enum d2_model_format zip_kind(const void *data, size_t size)
{
    struct ts_zip zip;
    struct d2_error err = { D2_OK, "" };
    bool found = false;
    if (ts_zip_open(&zip, data, size, d2_allocator_default(), &err) != D2_OK)
        return D2_FORMAT_TORCHSCRIPT;
    for (uint32_t i = 0; i < zip.num_entries && !found; i++) {
        const char *name = zip.entries[i].name;
        size_t n = strlen(name);
        found = (n >= 8 && strcmp(name + n - 8, "data.pkl") == 0 && (n == 8 || name[n - 9] == '/'));
    }
    ts_zip_close(&zip);
    return found ? D2_FORMAT_TORCHSCRIPT : D2_FORMAT_UNKNOWN;
}

enum d2_model_format d2_detect_format(const void *data, size_t size)
{
    const uint8_t *p = data;
    if (!data || size == 0)
        return D2_FORMAT_UNKNOWN;
    if (size >= 4 && memcmp(p, "PK\3\4", 4) == 0)
        return zip_kind(data, size);
    if (looks_like_ir_text(p, size))
        return D2_FORMAT_IR_TEXT;
    return protobuf_kind(p, size);
}
