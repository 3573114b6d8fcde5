/* frontend/onnx/onnx_wire.c: protobuf-level guards and glue for the ONNX importer.
 *
 * protobuf-c unpacks nested messages recursively without a depth limit, so a crafted
 * file with thousands of nested If bodies would overflow the stack. Before unpacking,
 * onnx_wire_check_model walks the raw wire format along the only recursive path of
 * onnx.proto (ModelProto.graph -> GraphProto.node -> NodeProto.attribute ->
 * AttributeProto.g / .graphs -> GraphProto ...) and rejects nesting deeper than
 * ONNX_MAX_GRAPH_DEPTH. Everything else is left to protobuf-c's own validation.
 */
#include "frontend/onnx/onnx_internal.h"

enum wire_msg { WIRE_MODEL, WIRE_GRAPH, WIRE_NODE, WIRE_ATTRIBUTE };

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Which field of `kind` holds a message on the recursive path, and of which kind. */
static bool nested_kind(enum wire_msg kind, uint64_t field, enum wire_msg *child)
{
    switch (kind) {
    case WIRE_MODEL: if (field == 7) { *child = WIRE_GRAPH; return true; } break;
    case WIRE_GRAPH: if (field == 1) { *child = WIRE_NODE; return true; } break;
    case WIRE_NODE: if (field == 5) { *child = WIRE_ATTRIBUTE; return true; } break;
    case WIRE_ATTRIBUTE: if (field == 6 || field == 11) { *child = WIRE_GRAPH; return true; } break;
    }
    return false;
}

static enum d2_status walk(const uint8_t *p, const uint8_t *end, enum wire_msg kind, uint32_t graph_depth,
                           struct d2_error *err)
{
    while (p < end) {
        uint64_t key, len, skip;
        enum wire_msg child;
        if (!read_varint(&p, end, &key))
            return d2_errorf(err, D2_ERR_PARSE, "ONNX model is not valid protobuf (truncated field key)");
        switch (key & 7) {
        case 0: /* varint */
            if (!read_varint(&p, end, &skip))
                return d2_errorf(err, D2_ERR_PARSE, "ONNX model is not valid protobuf (truncated varint)");
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return d2_errorf(err, D2_ERR_PARSE, "ONNX model is not valid protobuf (truncated fixed64)");
            p += 8;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return d2_errorf(err, D2_ERR_PARSE, "ONNX model is not valid protobuf (truncated fixed32)");
            p += 4;
            break;
        case 2: /* length-delimited */
            if (!read_varint(&p, end, &len) || len > (uint64_t)(end - p))
                return d2_errorf(err, D2_ERR_PARSE,
                                 "ONNX model is not valid protobuf (field length past the end)");
            if (nested_kind(kind, key >> 3, &child)) {
                uint32_t depth = graph_depth + (child == WIRE_GRAPH ? 1u : 0u);
                if (depth > ONNX_MAX_GRAPH_DEPTH)
                    return d2_errorf(err, D2_ERR_UNSUPPORTED,
                                     "ONNX model nests subgraphs more than %d deep", ONNX_MAX_GRAPH_DEPTH);
                enum d2_status st = walk(p, p + len, child, depth, err);
                if (st != D2_OK)
                    return st;
            }
            p += len;
            break;
        default:
            return d2_errorf(err, D2_ERR_PARSE, "ONNX model is not valid protobuf (wire type %u)",
                             (unsigned)(key & 7));
        }
    }
    return D2_OK;
}

enum d2_status onnx_wire_check_model(const uint8_t *data, size_t size, struct d2_error *err)
{
    return walk(data, data + size, WIRE_MODEL, 0, err);
}

/* ---- protobuf-c allocator over a d2_allocator ---- */

static void *pb_alloc(void *user, size_t size)
{
    return d2_alloc(user, size ? size : 1);
}

static void pb_free(void *user, void *ptr)
{
    d2_free(user, ptr);
}

void onnx_pb_allocator(ProtobufCAllocator *out, const struct d2_allocator *alloc)
{
    out->alloc = pb_alloc;
    out->free = pb_free;
    out->allocator_data = (void *)alloc;
}
