/* runtime/artifact_write.c: serializes a d2_graph into the model.ir format
 * (docs/FORMAT.md).
 *
 * Plan, then emit: the small sections (strings, metadata, graph, constant descriptors)
 * are built in memory first, every checksum is computed (constant data is hashed in
 * place, by streaming), and only then are the bytes handed to the sink in file order.
 * So a file sink never needs the constants copied, and a memory sink learns the exact
 * size before the first byte.
 *
 * The writer checks what it needs to produce a file the reader accepts (ranks, dtypes,
 * enum values, constant sizes, region depth) and reports D2_ERR_INVALID_ARG otherwise;
 * it does not run the IR verifier. */
#include "artifact_internal.h"

#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack: no allocation outside d2_allocator */
#include <xxhash.h>

/* ---- growable byte buffer with a sticky failure flag ------------------------ */

struct bytes {
    const struct d2_allocator *alloc;
    uint8_t *data;
    size_t size, cap;
    bool failed; /* an allocation failed; later puts are ignored */
};

static void bytes_put(struct bytes *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (n > b->cap - b->size) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *grown;
        while (cap - b->size < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        grown = d2_realloc(b->alloc, b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void put_u8(struct bytes *b, uint8_t v) { bytes_put(b, &v, 1); }
static void put_u32(struct bytes *b, uint32_t v)
{
    uint8_t tmp[4];
    d2_af_put_u32(tmp, v);
    bytes_put(b, tmp, 4);
}
static void put_u64(struct bytes *b, uint64_t v)
{
    uint8_t tmp[8];
    d2_af_put_u64(tmp, v);
    bytes_put(b, tmp, 8);
}
static void put_i32(struct bytes *b, int32_t v) { put_u32(b, (uint32_t)v); }
static void put_i64(struct bytes *b, int64_t v) { put_u64(b, (uint64_t)v); }
static void put_f64(struct bytes *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u64(b, bits);
}

/* ---- writer state ------------------------------------------------------------- */

struct writer {
    const struct d2_allocator *alloc;
    struct d2_error *err;
    /* string table: strings in id order, and an open-addressing index over them */
    const char **strings;
    uint32_t num_strings, cap_strings;
    uint32_t *index;      /* string id + 1, 0 = empty slot */
    uint32_t index_cap;   /* power of two */
    /* constants in global (file) order */
    const struct d2_tensor **tensors;
    uint32_t num_tensors, cap_tensors;
    uint32_t num_graphs;
    bool region_named;    /* the error message already names a region */
    struct bytes graph;
};

static enum d2_status writer_nomem(struct writer *w)
{
    return d2_errorf(w->err, D2_ERR_NOMEM, "out of memory writing model.ir");
}

static bool grow(struct writer *w, void **array, uint32_t *cap, uint32_t need, size_t elem)
{
    uint32_t new_cap = *cap ? *cap : 16;
    void *p;
    if (need <= *cap)
        return true;
    while (new_cap < need) {
        if (new_cap > UINT32_MAX / 2)
            return false;
        new_cap *= 2;
    }
    if ((size_t)new_cap > SIZE_MAX / elem)
        return false;
    p = d2_realloc(w->alloc, *array, (size_t)new_cap * elem);
    if (!p)
        return false;
    *array = p;
    *cap = new_cap;
    return true;
}

static bool rebuild_index(struct writer *w, uint32_t cap)
{
    uint32_t *index = d2_calloc(w->alloc, cap, sizeof *index);
    if (!index)
        return false;
    for (uint32_t id = 0; id < w->num_strings; id++) {
        uint32_t slot = (uint32_t)d2_af_hash(w->strings[id], strlen(w->strings[id])) & (cap - 1);
        while (index[slot])
            slot = (slot + 1) & (cap - 1);
        index[slot] = id + 1;
    }
    d2_free(w->alloc, w->index);
    w->index = index;
    w->index_cap = cap;
    return true;
}

/* Id of string s in the table (added on first use); NULL maps to D2_AF_NO_STRING.
 * Returns false on allocation failure (error set). */
static bool string_id(struct writer *w, const char *s, uint32_t *id)
{
    uint32_t slot;
    size_t len;
    if (!s) {
        *id = D2_AF_NO_STRING;
        return true;
    }
    /* Keep the index at most half full so probes stay short. */
    if ((w->num_strings + 1) * 2 > w->index_cap) {
        if (w->index_cap > UINT32_MAX / 2 || !rebuild_index(w, w->index_cap ? w->index_cap * 2 : 256)) {
            writer_nomem(w);
            return false;
        }
    }
    len = strlen(s);
    slot = (uint32_t)d2_af_hash(s, len) & (w->index_cap - 1);
    while (w->index[slot]) {
        if (strcmp(w->strings[w->index[slot] - 1], s) == 0) {
            *id = w->index[slot] - 1;
            return true;
        }
        slot = (slot + 1) & (w->index_cap - 1);
    }
    if (w->num_strings >= D2_AF_NO_STRING - 1 ||
        !grow(w, (void **)&w->strings, &w->cap_strings, w->num_strings + 1, sizeof *w->strings)) {
        writer_nomem(w);
        return false;
    }
    w->strings[w->num_strings] = s;
    w->index[slot] = w->num_strings + 1;
    *id = w->num_strings++;
    return true;
}

static bool put_string(struct writer *w, struct bytes *b, const char *s)
{
    uint32_t id;
    if (!string_id(w, s, &id))
        return false;
    put_u32(b, id);
    return true;
}

/* ---- graph section -------------------------------------------------------------- */

static enum d2_status write_type(struct writer *w, const struct d2_type *t, const char *value_name)
{
    uint32_t code;
    if (!d2_af_dtype_to_code(t->dtype, &code))
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "value '%s' has invalid dtype %d", value_name,
                         (int)t->dtype);
    if (t->rank < D2_RANK_UNKNOWN || t->rank > D2_MAX_RANK)
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "value '%s' has invalid rank %d", value_name,
                         (int)t->rank);
    put_u32(&w->graph, code);
    put_i32(&w->graph, t->rank);
    for (int32_t i = 0; i < t->rank; i++) {
        put_i64(&w->graph, t->dims[i]);
        put_i64(&w->graph, t->upper_bounds[i]);
        if (!put_string(w, &w->graph, t->symbols[i]))
            return D2_ERR_NOMEM;
    }
    return D2_OK;
}

static enum d2_status write_attrs(struct writer *w, const struct d2_node *node)
{
    const struct d2_op_info *info = d2_op_info(node->op);
    const struct d2_attr_schema *schema = d2_attr_schema_get(info->attrs);
    struct bytes *b = &w->graph;
    put_u32(b, schema->num_fields);
    for (uint32_t i = 0; i < schema->num_fields; i++) {
        const struct d2_attr_field *f = &schema->fields[i];
        const char *p = (const char *)node->attrs + f->offset;
        if (!put_string(w, b, f->name))
            return D2_ERR_NOMEM;
        put_u8(b, d2_af_field_kind_code(f->kind));
        switch (f->kind) {
        case D2_FIELD_INT: { int64_t v; memcpy(&v, p, sizeof v); put_i64(b, v); break; }
        case D2_FIELD_FLOAT: { double v; memcpy(&v, p, sizeof v); put_f64(b, v); break; }
        case D2_FIELD_INTS: {
            struct d2_ints v;
            memcpy(&v, p, sizeof v);
            put_u32(b, v.count);
            for (uint32_t k = 0; k < v.count; k++)
                put_i64(b, v.data[k]);
            break;
        }
        case D2_FIELD_FLOATS: {
            struct d2_floats v;
            memcpy(&v, p, sizeof v);
            put_u32(b, v.count);
            for (uint32_t k = 0; k < v.count; k++)
                put_f64(b, v.data[k]);
            break;
        }
        case D2_FIELD_STRING: {
            const char *v;
            memcpy(&v, p, sizeof v);
            if (!put_string(w, b, v))
                return D2_ERR_NOMEM;
            break;
        }
        case D2_FIELD_ENUM: {
            int32_t v;
            const char *text;
            memcpy(&v, p, sizeof v);
            text = d2_attr_enum_name(f, v);
            if (!text)
                return d2_errorf(w->err, D2_ERR_INVALID_ARG, "node '%s' (%s): attribute %s has invalid value %d",
                                 node->name, info->name, f->name, (int)v);
            if (!put_string(w, b, text))
                return D2_ERR_NOMEM;
            break;
        }
        case D2_FIELD_DTYPE: {
            enum d2_dtype v;
            uint32_t code;
            memcpy(&v, p, sizeof v);
            if (!d2_af_dtype_to_code(v, &code))
                return d2_errorf(w->err, D2_ERR_INVALID_ARG, "node '%s' (%s): attribute %s has invalid dtype %d",
                                 node->name, info->name, f->name, (int)v);
            put_u32(b, code);
            break;
        }
        }
    }
    return D2_OK;
}

static enum d2_status write_graph(struct writer *w, const struct d2_graph *g, int depth);

static enum d2_status write_node(struct writer *w, const struct d2_node *node, int depth)
{
    const struct d2_op_info *info = d2_op_info(node->op);
    struct bytes *b = &w->graph;
    enum d2_status st;
    if (!info)
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "node '%s' has invalid op %d",
                         node->name ? node->name : "", (int)node->op);
    if (!put_string(w, b, node->name ? node->name : "") || !put_string(w, b, info->name))
        return D2_ERR_NOMEM;
    put_u32(b, node->num_inputs);
    for (uint32_t i = 0; i < node->num_inputs; i++)
        put_u32(b, node->inputs[i]);
    put_u32(b, node->num_outputs);
    for (uint32_t i = 0; i < node->num_outputs; i++)
        put_u32(b, node->outputs[i]);
    st = write_attrs(w, node);
    if (st != D2_OK)
        return st;
    put_u32(b, node->num_regions);
    for (uint32_t r = 0; r < node->num_regions; r++) {
        st = write_graph(w, node->regions[r], depth + 1);
        if (st != D2_OK) {
            if (!w->region_named) { /* innermost region only */
                d2_error_prefix(w->err, "node '%s' (%s), region %u: ", node->name, info->name, r);
                w->region_named = true;
            }
            return st;
        }
    }
    return D2_OK;
}

static enum d2_status check_constant(struct writer *w, const struct d2_tensor *t, uint32_t index)
{
    int64_t numel;
    size_t esize = d2_dtype_size(t->dtype);
    uint32_t code;
    if (!d2_af_dtype_to_code(t->dtype, &code) || esize == 0)
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "constant %u has invalid dtype %d", index, (int)t->dtype);
    if (t->rank < 0 || t->rank > D2_MAX_RANK)
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "constant %u has invalid rank %d", index, (int)t->rank);
    numel = d2_dims_numel(t->rank, t->dims);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX / esize || (size_t)numel * esize != t->nbytes)
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "constant %u: %zu bytes do not match its dims and dtype %s",
                         index, t->nbytes, d2_dtype_name(t->dtype));
    if (t->nbytes && !t->data)
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "constant %u has no data", index);
    return D2_OK;
}

static enum d2_status write_graph(struct writer *w, const struct d2_graph *g, int depth)
{
    struct bytes *b = &w->graph;
    enum d2_status st;
    if (depth > D2_AF_MAX_REGION_DEPTH)
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "regions nest deeper than %d levels", D2_AF_MAX_REGION_DEPTH);
    if (++w->num_graphs > D2_AF_MAX_GRAPHS)
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "graph has more than %d regions", D2_AF_MAX_GRAPHS - 1);
    if (depth > 0 && g->num_metadata)
        return d2_errorf(w->err, D2_ERR_INVALID_ARG, "metadata on a region graph cannot be stored in model.ir");
    /* constants: indices into the file's tensor table */
    put_u32(b, g->num_constants);
    for (uint32_t c = 0; c < g->num_constants; c++) {
        st = check_constant(w, &g->constants[c], c);
        if (st != D2_OK)
            return st;
        if (!grow(w, (void **)&w->tensors, &w->cap_tensors, w->num_tensors + 1, sizeof *w->tensors))
            return writer_nomem(w);
        w->tensors[w->num_tensors] = &g->constants[c];
        put_u32(b, w->num_tensors++);
    }
    /* values, in id order so ids survive the round trip */
    put_u32(b, g->num_values);
    for (uint32_t v = 0; v < g->num_values; v++) {
        const struct d2_value *val = &g->values[v];
        const char *name = val->name ? val->name : "";
        if (!put_string(w, b, name))
            return D2_ERR_NOMEM;
        st = write_type(w, &val->type, name);
        if (st != D2_OK)
            return st;
        put_u32(b, val->constant >= 0 ? (uint32_t)val->constant : D2_AF_NO_CONSTANT);
    }
    put_u32(b, g->next_auto_name);
    put_u32(b, g->num_inputs);
    for (uint32_t i = 0; i < g->num_inputs; i++)
        put_u32(b, g->inputs[i]);
    put_u32(b, g->num_nodes);
    for (uint32_t n = 0; n < g->num_nodes; n++) {
        st = write_node(w, &g->nodes[n], depth);
        if (st != D2_OK)
            return st;
    }
    put_u32(b, g->num_outputs);
    for (uint32_t i = 0; i < g->num_outputs; i++)
        put_u32(b, g->outputs[i]);
    return b->failed ? writer_nomem(w) : D2_OK;
}

/* ---- small sections -------------------------------------------------------------- */

static enum d2_status build_strings(struct writer *w, struct bytes *out)
{
    uint64_t offset = 0;
    put_u32(out, w->num_strings);
    put_u32(out, 0);
    for (uint32_t i = 0; i < w->num_strings; i++) {
        offset += strlen(w->strings[i]) + 1;
        if (offset > UINT32_MAX)
            return d2_errorf(w->err, D2_ERR_INVALID_ARG, "string table exceeds 4 GiB");
        put_u32(out, (uint32_t)offset);
    }
    for (uint32_t i = 0; i < w->num_strings; i++)
        bytes_put(out, w->strings[i], strlen(w->strings[i]) + 1);
    return out->failed ? writer_nomem(w) : D2_OK;
}

static enum d2_status build_metadata(struct writer *w, const struct d2_graph *g, struct bytes *out)
{
    put_u32(out, g->num_metadata);
    for (uint32_t i = 0; i < g->num_metadata; i++)
        if (!put_string(w, out, g->metadata[i].key ? g->metadata[i].key : "") ||
            !put_string(w, out, g->metadata[i].value ? g->metadata[i].value : ""))
            return D2_ERR_NOMEM;
    return out->failed ? writer_nomem(w) : D2_OK;
}

/* Descriptor table of the constants section; data offsets are relative to the
 * section's start and multiples of D2_AF_ALIGN. Sets *section_size. */
static enum d2_status build_constant_descriptors(struct writer *w, struct bytes *out, uint64_t *section_size)
{
    uint64_t data_offset, end = 8;
    put_u32(out, w->num_tensors);
    put_u32(out, 0);
    data_offset = d2_af_align_up(8 + (uint64_t)w->num_tensors * D2_AF_TENSOR_DESC_SIZE);
    for (uint32_t i = 0; i < w->num_tensors; i++) {
        const struct d2_tensor *t = w->tensors[i];
        uint32_t code = 0;
        d2_af_dtype_to_code(t->dtype, &code); /* checked by check_constant */
        put_u32(out, code);
        put_i32(out, t->rank);
        for (int d = 0; d < D2_MAX_RANK; d++)
            put_i64(out, d < t->rank ? t->dims[d] : 0);
        put_u64(out, data_offset);
        put_u64(out, t->nbytes);
        end = data_offset + t->nbytes;
        data_offset = d2_af_align_up(end);
    }
    /* The section ends right after the last tensor's bytes (no trailing padding). */
    *section_size = w->num_tensors ? end : 8;
    return out->failed ? writer_nomem(w) : D2_OK;
}

static const uint8_t zero_pad[D2_AF_ALIGN];

/* Emits the constants section (descriptors, then each tensor's bytes at its aligned
 * offset), or, with sink NULL, feeds the same bytes to the hash state. */
static enum d2_status emit_constants(struct writer *w, const struct bytes *desc, struct d2_af_sink *sink,
                                     XXH64_state_t *hash)
{
    uint64_t pos = 0;
    enum d2_status st = D2_OK;
#define EMIT(ptr, n)                                                                       \
    do {                                                                                   \
        if (sink)                                                                          \
            st = sink->write(sink, (ptr), (n), w->err);                                    \
        else                                                                               \
            XXH64_update(hash, (ptr), (n));                                                \
        if (st != D2_OK)                                                                   \
            return st;                                                                     \
        pos += (n);                                                                        \
    } while (0)
    EMIT(desc->data, desc->size);
    for (uint32_t i = 0; i < w->num_tensors; i++) {
        const struct d2_tensor *t = w->tensors[i];
        uint64_t target = d2_af_get_u64(desc->data + 8 + (size_t)i * D2_AF_TENSOR_DESC_SIZE + 72);
        while (pos < target) {
            size_t n = (size_t)(target - pos < D2_AF_ALIGN ? target - pos : D2_AF_ALIGN);
            EMIT(zero_pad, n);
        }
        if (t->nbytes)
            EMIT(t->data, t->nbytes);
    }
#undef EMIT
    return D2_OK;
}

/* ---- assembling the file ------------------------------------------------------------ */

struct section_plan {
    uint32_t kind;
    uint64_t offset, size, checksum;
    const struct bytes *bytes; /* NULL for the constants section */
};

static void writer_free(struct writer *w)
{
    d2_free(w->alloc, w->strings);
    d2_free(w->alloc, w->index);
    d2_free(w->alloc, w->tensors);
    d2_free(w->alloc, w->graph.data);
}

static enum d2_status emit_padding(struct d2_af_sink *sink, uint64_t *pos, uint64_t target, struct d2_error *err)
{
    while (*pos < target) {
        size_t n = (size_t)(target - *pos < D2_AF_ALIGN ? target - *pos : D2_AF_ALIGN);
        enum d2_status st = sink->write(sink, zero_pad, n, err);
        if (st != D2_OK)
            return st;
        *pos += n;
    }
    return D2_OK;
}

/* memory_plan: the optional memory plan section (kind 5, before the constants), or
 * NULL; with it the file is version 1.1, without it 1.0 as before. */
static enum d2_status assemble(struct writer *w, struct bytes *strings, struct bytes *metadata,
                               struct bytes *desc, uint64_t constants_size, const struct bytes *memory_plan,
                               struct d2_af_sink *sink)
{
    enum { MAX_SECTIONS = 5 };
    struct section_plan plan[MAX_SECTIONS] = {
        { D2_AF_SECTION_STRINGS, 0, strings->size, 0, strings },
        { D2_AF_SECTION_METADATA, 0, metadata->size, 0, metadata },
        { D2_AF_SECTION_GRAPH, 0, w->graph.size, 0, &w->graph },
        { D2_AF_SECTION_CONSTANTS, 0, constants_size, 0, NULL },
    };
    const int NUM_SECTIONS = memory_plan ? 5 : 4;
    uint8_t header[D2_AF_HEADER_SIZE];
    uint8_t table[MAX_SECTIONS * D2_AF_SECTION_ENTRY_SIZE];
    const size_t table_size = (size_t)NUM_SECTIONS * D2_AF_SECTION_ENTRY_SIZE;
    uint64_t pos = D2_AF_HEADER_SIZE + table_size;
    enum d2_status st;
    XXH64_state_t hash;

    if (memory_plan) { /* small: before the constants, which stay last */
        plan[4] = plan[3];
        plan[3] = (struct section_plan){ D2_AF_SECTION_MEMORY_PLAN, 0, memory_plan->size, 0, memory_plan };
    }
    for (int s = 0; s < NUM_SECTIONS; s++) {
        pos = d2_af_align_up(pos);
        plan[s].offset = pos;
        pos += plan[s].size;
        if (plan[s].bytes) {
            plan[s].checksum = d2_af_hash(plan[s].bytes->data, plan[s].bytes->size);
        } else {
            XXH64_reset(&hash, 0);
            st = emit_constants(w, desc, NULL, &hash);
            plan[s].checksum = XXH64_digest(&hash);
            if (st != D2_OK)
                return st;
        }
    }
    memset(table, 0, sizeof table);
    for (int s = 0; s < NUM_SECTIONS; s++) {
        uint8_t *e = table + s * D2_AF_SECTION_ENTRY_SIZE;
        d2_af_put_u32(e + 0, plan[s].kind);
        d2_af_put_u32(e + 4, 0);
        d2_af_put_u64(e + 8, plan[s].offset);
        d2_af_put_u64(e + 16, plan[s].size);
        d2_af_put_u64(e + 24, plan[s].checksum);
    }
    memset(header, 0, sizeof header);
    memcpy(header + D2_AF_OFF_MAGIC, D2_AF_MAGIC, D2_AF_MAGIC_SIZE);
    d2_af_put_u16(header + D2_AF_OFF_VERSION_MAJOR, D2_AF_VERSION_MAJOR);
    d2_af_put_u16(header + D2_AF_OFF_VERSION_MINOR, memory_plan ? D2_AF_VERSION_MINOR_PLAN : D2_AF_VERSION_MINOR);
    d2_af_put_u32(header + D2_AF_OFF_FLAGS, 0);
    d2_af_put_u64(header + D2_AF_OFF_FILE_SIZE, pos);
    d2_af_put_u32(header + D2_AF_OFF_SECTION_COUNT, NUM_SECTIONS);
    d2_af_put_u64(header + D2_AF_OFF_TABLE_CHECKSUM, d2_af_hash(table, table_size));
    d2_af_put_u64(header + D2_AF_OFF_HEADER_CHECKSUM, d2_af_hash(header, D2_AF_OFF_HEADER_CHECKSUM));

    st = sink->begin(sink, pos, w->err);
    if (st == D2_OK)
        st = sink->write(sink, header, sizeof header, w->err);
    if (st == D2_OK)
        st = sink->write(sink, table, table_size, w->err);
    pos = D2_AF_HEADER_SIZE + table_size;
    for (int s = 0; s < NUM_SECTIONS && st == D2_OK; s++) {
        st = emit_padding(sink, &pos, plan[s].offset, w->err);
        if (st != D2_OK)
            break;
        if (plan[s].bytes)
            st = sink->write(sink, plan[s].bytes->data, plan[s].bytes->size, w->err);
        else
            st = emit_constants(w, desc, sink, NULL);
        pos += plan[s].size;
    }
    return st;
}

enum d2_status d2_af_write(const struct d2_graph *g, const struct d2_allocator *alloc,
                           struct d2_af_sink *sink, struct d2_error *err)
{
    struct writer w;
    struct bytes strings, metadata, desc, plan_bytes;
    uint64_t constants_size = 0;
    enum d2_status st;
    if (!g)
        return d2_errorf(err, D2_ERR_INVALID_ARG, "no graph to write");
    memset(&w, 0, sizeof w);
    w.alloc = alloc;
    w.err = err;
    w.graph.alloc = alloc;
    memset(&strings, 0, sizeof strings);
    memset(&metadata, 0, sizeof metadata);
    memset(&desc, 0, sizeof desc);
    memset(&plan_bytes, 0, sizeof plan_bytes);
    strings.alloc = metadata.alloc = desc.alloc = alloc;

    st = write_graph(&w, g, 0);
    if (st == D2_OK)
        st = build_metadata(&w, g, &metadata);
    if (st == D2_OK) /* after everything that adds strings */
        st = build_strings(&w, &strings);
    if (st == D2_OK)
        st = build_constant_descriptors(&w, &desc, &constants_size);
    if (st == D2_OK)
        st = d2_af_encode_plan(g, alloc, &plan_bytes.data, &plan_bytes.size, err);
    if (st == D2_OK)
        st = assemble(&w, &strings, &metadata, &desc, constants_size, plan_bytes.data ? &plan_bytes : NULL, sink);
    if (st != D2_OK) {
        d2_error_prefix(err, "writing model.ir: ");
        d2_af_one_line(err);
    }
    d2_free(alloc, strings.data);
    d2_free(alloc, metadata.data);
    d2_free(alloc, desc.data);
    d2_free(alloc, plan_bytes.data);
    writer_free(&w);
    return st;
}
