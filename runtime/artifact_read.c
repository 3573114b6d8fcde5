/* runtime/artifact_read.c: parses and validates a model.ir file (docs/FORMAT.md)
 * into a d2_graph.
 *
 * Contract: the input is untrusted. Every offset, size, count and id is checked
 * before use, every checksum before parsing, and no allocation is sized by a count
 * that has not first been checked against the bytes that must back it. Malformed
 * input gives D2_ERR_PARSE (unknown op/attribute/enum: D2_ERR_UNSUPPORTED) with a
 * one-line message and never a crash or an out-of-bounds read.
 *
 * Zero copy: constant tensors borrow their bytes from the input (owns_data = false)
 * and names and string attributes point at the input's string table, which is
 * NUL-terminated in the file. The caller keeps the input alive as long as the graph
 * (d2_artifact_load_file makes the graph own its mmap).
 *
 * Order of checks: magic, major version (before the checksum, because a newer major
 * version may lay out the header differently), header checksum, file size, flags,
 * section table checksum, section bounds, zero padding between sections, section
 * checksums; then the sections are parsed. */
#include "artifact_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct section {
    const uint8_t *data;
    uint64_t size;
    bool present;
};

struct reader {
    const uint8_t *base;
    size_t size;
    const struct d2_allocator *alloc;
    struct d2_error *err;
    struct section strings, graph, constants, metadata, memory_plan; /* memory_plan optional (1.1) */
    uint32_t num_strings;
    const uint8_t *string_ends;  /* u32 end offset of each string in the blob */
    const char *string_blob;
    uint32_t num_tensors;
    uint32_t num_graphs;         /* graphs created so far, bounded by D2_AF_MAX_GRAPHS */
    bool region_named;           /* the error message already names a region */
};

/* A bounded read position inside one section. Reads past the end set `ok` false
 * (and the error, once); callers check `ok` before using what they read. */
struct cursor {
    struct reader *r;
    const char *section;  /* name for messages */
    const uint8_t *data;
    uint64_t size, pos;
    bool ok;
};

static enum d2_status parse_error(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum d2_status parse_error(struct reader *r, const char *fmt, ...)
{
    char message[D2_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return d2_errorf(r->err, D2_ERR_PARSE, "%s", message);
}

static enum d2_status nomem(struct reader *r)
{
    return d2_errorf(r->err, D2_ERR_NOMEM, "out of memory loading the graph");
}

static uint64_t remaining(const struct cursor *c) { return c->size - c->pos; }

static const uint8_t *take(struct cursor *c, uint64_t n)
{
    const uint8_t *p;
    if (!c->ok)
        return NULL;
    if (n > remaining(c)) {
        parse_error(c->r, "%s section is truncated (needs %" PRIu64 " more bytes at offset %" PRIu64
                    " of %" PRIu64 ")", c->section, n, c->pos, c->size);
        c->ok = false;
        return NULL;
    }
    p = c->data + c->pos;
    c->pos += n;
    return p;
}

static uint8_t read_u8(struct cursor *c)
{
    const uint8_t *p = take(c, 1);
    return p ? p[0] : 0;
}
static uint32_t read_u32(struct cursor *c)
{
    const uint8_t *p = take(c, 4);
    return p ? d2_af_get_u32(p) : 0;
}
static uint64_t read_u64(struct cursor *c)
{
    const uint8_t *p = take(c, 8);
    return p ? d2_af_get_u64(p) : 0;
}
static int32_t read_i32(struct cursor *c) { return (int32_t)read_u32(c); }
static int64_t read_i64(struct cursor *c) { return (int64_t)read_u64(c); }
static double read_f64(struct cursor *c)
{
    uint64_t bits = read_u64(c);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* Reads a count of items that take at least min_item_bytes each in the rest of the
 * section; rejects counts the section cannot hold, so allocations sized by the
 * count stay proportional to the input size. */
static uint32_t read_count(struct cursor *c, uint64_t min_item_bytes, const char *what)
{
    uint32_t n = read_u32(c);
    if (c->ok && (uint64_t)n * min_item_bytes > remaining(c)) {
        parse_error(c->r, "%s section: %s count %u does not fit in the %" PRIu64 " remaining bytes",
                    c->section, what, n, remaining(c));
        c->ok = false;
        return 0;
    }
    return c->ok ? n : 0;
}

/* ---- strings ------------------------------------------------------------------- */

static enum d2_status check_strings(struct reader *r)
{
    struct cursor c = { r, "strings", r->strings.data, r->strings.size, 0, true };
    uint64_t blob_size;
    uint32_t start = 0;
    r->num_strings = read_count(&c, 5, "string"); /* 4-byte end offset + at least a NUL */
    read_u32(&c); /* reserved */
    if (!c.ok)
        return D2_ERR_PARSE;
    r->string_ends = take(&c, (uint64_t)r->num_strings * 4);
    if (!c.ok)
        return D2_ERR_PARSE;
    blob_size = remaining(&c);
    r->string_blob = (const char *)c.data + c.pos;
    for (uint32_t i = 0; i < r->num_strings; i++) {
        uint32_t end = d2_af_get_u32(r->string_ends + (size_t)i * 4);
        if (end <= start || end > blob_size)
            return parse_error(r, "strings section: string %u has invalid end offset %u", i, end);
        /* Exactly one NUL, at the end: then the bytes are a valid C string in place. */
        if (r->string_blob[end - 1] != '\0' || memchr(r->string_blob + start, '\0', end - 1 - start))
            return parse_error(r, "strings section: string %u is not NUL-terminated", i);
        start = end;
    }
    if (start != blob_size)
        return parse_error(r, "strings section: %" PRIu64 " bytes after the last string", blob_size - start);
    return D2_OK;
}

/* A string id from the cursor: a C string in the input, or NULL for D2_AF_NO_STRING
 * when allow_null. Sets c->ok false on a bad id. */
static const char *read_string(struct cursor *c, bool allow_null, const char *what)
{
    uint32_t id = read_u32(c);
    if (!c->ok)
        return NULL;
    if (id == D2_AF_NO_STRING && allow_null)
        return NULL;
    if (id >= c->r->num_strings) {
        parse_error(c->r, "%s section: %s refers to string %u of %u", c->section, what, id, c->r->num_strings);
        c->ok = false;
        return NULL;
    }
    return c->r->string_blob + (id ? d2_af_get_u32(c->r->string_ends + (size_t)(id - 1) * 4) : 0);
}

/* ---- constants -------------------------------------------------------------------- */

/* Validates every tensor descriptor once, so building a tensor later cannot fail. */
static enum d2_status check_constants(struct reader *r)
{
    struct cursor c = { r, "constants", r->constants.data, r->constants.size, 0, true };
    uint64_t table_end;
    r->num_tensors = read_count(&c, D2_AF_TENSOR_DESC_SIZE, "tensor");
    read_u32(&c);
    if (!c.ok)
        return D2_ERR_PARSE;
    table_end = 8 + (uint64_t)r->num_tensors * D2_AF_TENSOR_DESC_SIZE;
    for (uint32_t i = 0; i < r->num_tensors; i++) {
        uint32_t code = read_u32(&c);
        int32_t rank = read_i32(&c);
        int64_t dims[D2_MAX_RANK];
        uint64_t offset, nbytes;
        enum d2_dtype dtype = D2_DTYPE_UNDEFINED;
        int64_t numel;
        size_t esize;
        for (int d = 0; d < D2_MAX_RANK; d++)
            dims[d] = read_i64(&c);
        offset = read_u64(&c);
        nbytes = read_u64(&c);
        if (!c.ok)
            return D2_ERR_PARSE;
        if (!d2_af_dtype_from_code(code, &dtype) || dtype == D2_DTYPE_UNDEFINED)
            return parse_error(r, "constant tensor %u has invalid dtype code %u", i, code);
        if (rank < 0 || rank > D2_MAX_RANK)
            return parse_error(r, "constant tensor %u has rank %d (limit D2_MAX_RANK=%d)", i, (int)rank, D2_MAX_RANK);
        esize = d2_dtype_size(dtype);
        numel = d2_dims_numel(rank, dims);
        if (numel < 0 || (uint64_t)numel > UINT64_MAX / esize || (uint64_t)numel * esize != nbytes)
            return parse_error(r, "constant tensor %u: %" PRIu64 " bytes do not match its dims and dtype %s",
                               i, nbytes, d2_dtype_name(dtype));
        if (offset % D2_AF_ALIGN != 0 || offset < table_end || offset > r->constants.size ||
            nbytes > r->constants.size - offset)
            return parse_error(r, "constant tensor %u: data at offset %" PRIu64 " (%" PRIu64
                               " bytes) is misaligned or outside the constants section", i, offset, nbytes);
        if (nbytes > SIZE_MAX)
            return d2_errorf(r->err, D2_ERR_UNSUPPORTED, "constant tensor %u is too large", i);
        /* load_buffer callers may hand in a buffer that is not 64-byte aligned; kernels
         * still need each element naturally aligned. */
        if ((uintptr_t)(r->constants.data + offset) % esize != 0)
            return d2_errorf(r->err, D2_ERR_INVALID_ARG,
                             "constant tensor %u would be misaligned in memory: load the artifact "
                             "from a %d-byte aligned buffer", i, D2_AF_ALIGN);
    }
    return D2_OK;
}

/* Tensor `index` of the file, borrowing its bytes (descriptors already validated). */
static void borrow_tensor(struct reader *r, uint32_t index, struct d2_tensor *t)
{
    const uint8_t *desc = r->constants.data + 8 + (size_t)index * D2_AF_TENSOR_DESC_SIZE;
    enum d2_dtype dtype = D2_DTYPE_UNDEFINED;
    memset(t, 0, sizeof *t);
    d2_af_dtype_from_code(d2_af_get_u32(desc), &dtype);
    t->dtype = dtype;
    t->rank = (int32_t)d2_af_get_u32(desc + 4);
    for (int32_t d = 0; d < t->rank; d++)
        t->dims[d] = (int64_t)d2_af_get_u64(desc + 8 + (size_t)d * 8);
    /* Zero-size tensors still get a valid (never dereferenced) pointer. */
    t->data = (void *)(uintptr_t)(r->constants.data + d2_af_get_u64(desc + 72));
    t->nbytes = (size_t)d2_af_get_u64(desc + 80);
    t->owns_data = false;
}

/* ---- graph ---------------------------------------------------------------------- */

static enum d2_status read_graph(struct reader *r, struct cursor *c, struct d2_graph *g, int depth);

static bool value_is_defined(const struct d2_value *v)
{
    return v->producer >= 0 || v->constant >= 0 || v->input_index >= 0;
}

static void read_type(struct cursor *c, struct d2_type *t, const char *value_name)
{
    uint32_t code = read_u32(c);
    int32_t rank = read_i32(c);
    enum d2_dtype dtype = D2_DTYPE_UNDEFINED;
    d2_type_init_unknown(t);
    if (!c->ok)
        return;
    if (!d2_af_dtype_from_code(code, &dtype)) {
        parse_error(c->r, "value '%s' has invalid dtype code %u", value_name, code);
        c->ok = false;
        return;
    }
    if (rank < D2_RANK_UNKNOWN || rank > D2_MAX_RANK) {
        parse_error(c->r, "value '%s' has rank %d (limit D2_MAX_RANK=%d)", value_name, (int)rank, D2_MAX_RANK);
        c->ok = false;
        return;
    }
    t->dtype = dtype;
    t->rank = rank;
    for (int32_t i = 0; i < rank && c->ok; i++) {
        t->dims[i] = read_i64(c);
        t->upper_bounds[i] = read_i64(c);
        t->symbols[i] = read_string(c, true, "a dim symbol");
        if (c->ok && (t->dims[i] < D2_DIM_UNKNOWN || t->upper_bounds[i] < -1)) {
            parse_error(c->r, "value '%s' has invalid dim %d", value_name, (int)i);
            c->ok = false;
        }
    }
}

static const struct d2_attr_field *find_field(const struct d2_attr_schema *schema, const char *name)
{
    for (uint32_t i = 0; i < schema->num_fields; i++)
        if (strcmp(schema->fields[i].name, name) == 0)
            return &schema->fields[i];
    return NULL;
}

/* Attribute fields are stored by name, so files survive reordering of attrs.def;
 * fields the file lacks keep their defaults (set by the caller). */
static enum d2_status read_attrs(struct cursor *c, struct d2_graph *g, struct d2_node *node,
                                 const struct d2_op_info *info)
{
    struct reader *r = c->r;
    const struct d2_attr_schema *schema = d2_attr_schema_get(info->attrs);
    uint32_t num_fields = read_count(c, 5, "attribute");
    for (uint32_t i = 0; i < num_fields && c->ok; i++) {
        const char *name = read_string(c, false, "an attribute name");
        uint8_t kind = read_u8(c);
        const struct d2_attr_field *f;
        char *p;
        if (!c->ok)
            break;
        f = find_field(schema, name);
        if (!f)
            return d2_errorf(r->err, D2_ERR_UNSUPPORTED,
                             "node '%s' (%s): unknown attribute '%s' (this d2rt does not have it)",
                             node->name, info->name, name);
        if (kind != d2_af_field_kind_code(f->kind))
            return parse_error(r, "node '%s' (%s): attribute '%s' has kind %u in the file but %u in this d2rt",
                               node->name, info->name, name, kind, d2_af_field_kind_code(f->kind));
        p = (char *)node->attrs + f->offset;
        switch (f->kind) {
        case D2_FIELD_INT: { int64_t v = read_i64(c); memcpy(p, &v, sizeof v); break; }
        case D2_FIELD_FLOAT: { double v = read_f64(c); memcpy(p, &v, sizeof v); break; }
        case D2_FIELD_INTS: {
            struct d2_ints v = { NULL, read_count(c, 8, "ints") };
            if (!c->ok)
                break;
            v.data = d2_arena_alloc(&g->arena, sizeof(int64_t) * (v.count ? v.count : 1));
            if (!v.data)
                return nomem(r);
            for (uint32_t k = 0; k < v.count; k++)
                v.data[k] = read_i64(c);
            memcpy(p, &v, sizeof v);
            break;
        }
        case D2_FIELD_FLOATS: {
            struct d2_floats v = { NULL, read_count(c, 8, "floats") };
            if (!c->ok)
                break;
            v.data = d2_arena_alloc(&g->arena, sizeof(double) * (v.count ? v.count : 1));
            if (!v.data)
                return nomem(r);
            for (uint32_t k = 0; k < v.count; k++)
                v.data[k] = read_f64(c);
            memcpy(p, &v, sizeof v);
            break;
        }
        case D2_FIELD_STRING: {
            const char *v = read_string(c, true, "a string attribute");
            memcpy(p, &v, sizeof v);
            break;
        }
        case D2_FIELD_ENUM: {
            const char *text = read_string(c, false, "an enum attribute");
            int32_t v;
            if (!c->ok)
                break;
            v = d2_attr_enum_from_name(f, text);
            if (v < 0)
                return d2_errorf(r->err, D2_ERR_UNSUPPORTED,
                                 "node '%s' (%s): attribute '%s' has unknown value '%s'",
                                 node->name, info->name, name, text);
            memcpy(p, &v, sizeof v);
            break;
        }
        case D2_FIELD_DTYPE: {
            uint32_t code = read_u32(c);
            enum d2_dtype v = D2_DTYPE_UNDEFINED;
            if (c->ok && !d2_af_dtype_from_code(code, &v))
                return parse_error(r, "node '%s' (%s): attribute '%s' has invalid dtype code %u",
                                   node->name, info->name, name, code);
            memcpy(p, &v, sizeof v);
            break;
        }
        }
    }
    return c->ok ? D2_OK : D2_ERR_PARSE;
}

/* Reads node g->nodes[index] (zeroed by the caller, not yet counted in g->num_nodes). */
static enum d2_status read_node(struct reader *r, struct cursor *c, struct d2_graph *g, uint32_t index, int depth)
{
    struct d2_node *node = &g->nodes[index];
    const char *name = read_string(c, false, "a node name");
    const char *op_name = read_string(c, false, "an op name");
    const struct d2_op_info *info;
    const struct d2_attr_schema *schema;
    enum d2_op op;
    uint32_t num_regions;
    enum d2_status st;
    if (!c->ok)
        return D2_ERR_PARSE;
    node->name = name;
    if (!d2_op_from_name(op_name, &op))
        return d2_errorf(r->err, D2_ERR_UNSUPPORTED, "node '%s': unknown op '%s' (this d2rt does not have it)",
                         name, op_name);
    info = d2_op_info(op);
    node->op = op;

    node->num_inputs = read_count(c, 4, "node input");
    node->inputs = d2_arena_alloc(&g->arena, sizeof(d2_value_id) * (node->num_inputs ? node->num_inputs : 1));
    if (!node->inputs)
        return nomem(r);
    for (uint32_t i = 0; i < node->num_inputs && c->ok; i++) {
        d2_value_id v = read_u32(c);
        if (c->ok && v != D2_NO_VALUE && v >= g->num_values)
            return parse_error(r, "node '%s' (%s): input %u refers to value %u of %u", name, op_name, i, v, g->num_values);
        node->inputs[i] = v;
    }
    node->num_outputs = read_count(c, 4, "node output");
    node->outputs = d2_arena_alloc(&g->arena, sizeof(d2_value_id) * (node->num_outputs ? node->num_outputs : 1));
    if (!node->outputs)
        return nomem(r);
    for (uint32_t i = 0; i < node->num_outputs && c->ok; i++) {
        d2_value_id v = read_u32(c);
        if (!c->ok)
            break;
        if (v >= g->num_values)
            return parse_error(r, "node '%s' (%s): output %u refers to value %u of %u", name, op_name, i, v, g->num_values);
        if (value_is_defined(&g->values[v]))
            return parse_error(r, "node '%s' (%s): output value '%s' is already defined", name, op_name,
                               g->values[v].name);
        g->values[v].producer = (int32_t)index;
        g->values[v].producer_output = i;
        node->outputs[i] = v;
    }
    if (!c->ok)
        return D2_ERR_PARSE;

    schema = d2_attr_schema_get(info->attrs);
    node->attrs = d2_arena_alloc(&g->arena, schema->size);
    if (!node->attrs)
        return nomem(r);
    d2_attrs_set_defaults(info->attrs, node->attrs);
    st = read_attrs(c, g, node, info);
    if (st != D2_OK)
        return st;

    num_regions = read_u32(c);
    if (!c->ok)
        return D2_ERR_PARSE;
    if (num_regions != info->num_regions)
        return parse_error(r, "node '%s' (%s) has %u regions; the op has %u", name, op_name, num_regions,
                           (unsigned)info->num_regions);
    node->regions = d2_arena_alloc(&g->arena, sizeof(struct d2_graph *) * (num_regions + 1u));
    if (!node->regions)
        return nomem(r);
    node->num_regions = num_regions; /* regions[] starts NULL: d2_graph_free skips those */
    for (uint32_t k = 0; k < num_regions; k++) {
        struct d2_graph *region;
        if (++r->num_graphs > D2_AF_MAX_GRAPHS)
            return parse_error(r, "more than %d graphs (regions included)", D2_AF_MAX_GRAPHS);
        region = d2_graph_new(r->alloc, r->err);
        if (!region)
            return D2_ERR_NOMEM;
        region->parent = g;
        node->regions[k] = region;
        st = read_graph(r, c, region, depth + 1);
        if (st != D2_OK) {
            /* Name the innermost region only: outer ones would repeat for every level. */
            if (!r->region_named) {
                d2_error_prefix(r->err, "node '%s' (%s), region %u: ", name, op_name, k);
                r->region_named = true;
            }
            return st;
        }
    }
    return D2_OK;
}

/* Allocates a zeroed array of n elements for a graph's heap arrays (NULL when n = 0). */
static bool alloc_array(struct reader *r, void **out, uint32_t n, size_t elem)
{
    *out = NULL;
    if (n == 0)
        return true;
    *out = d2_calloc(r->alloc, n, elem);
    if (!*out) {
        nomem(r);
        return false;
    }
    return true;
}

/* Graph record (FORMAT.md "Graph record"). On failure g holds whatever was read and
 * stays safe to free with d2_graph_free. */
static enum d2_status read_graph(struct reader *r, struct cursor *c, struct d2_graph *g, int depth)
{
    uint32_t n;
    enum d2_status st;
    if (depth > D2_AF_MAX_REGION_DEPTH)
        return parse_error(r, "regions nest deeper than %d levels", D2_AF_MAX_REGION_DEPTH);

    /* constants */
    n = read_count(c, 4, "constant");
    if (!c->ok || !alloc_array(r, (void **)&g->constants, n, sizeof *g->constants))
        return c->ok ? D2_ERR_NOMEM : D2_ERR_PARSE;
    g->cap_constants = n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t tensor = read_u32(c);
        if (!c->ok)
            return D2_ERR_PARSE;
        if (tensor >= r->num_tensors)
            return parse_error(r, "graph constant %u refers to tensor %u of %u", i, tensor, r->num_tensors);
        borrow_tensor(r, tensor, &g->constants[i]);
        g->num_constants = i + 1;
    }

    /* values: name, type, constant index; at least 16 bytes each */
    n = read_count(c, 16, "value");
    if (!c->ok || !alloc_array(r, (void **)&g->values, n, sizeof *g->values))
        return c->ok ? D2_ERR_NOMEM : D2_ERR_PARSE;
    g->cap_values = n;
    for (uint32_t i = 0; i < n; i++) {
        struct d2_value *v = &g->values[i];
        uint32_t constant;
        v->name = read_string(c, false, "a value name");
        read_type(c, &v->type, v->name ? v->name : "");
        constant = read_u32(c);
        if (!c->ok)
            return D2_ERR_PARSE;
        v->producer = -1;
        v->input_index = -1;
        v->constant = -1;
        if (constant != D2_AF_NO_CONSTANT) {
            if (constant >= g->num_constants)
                return parse_error(r, "value '%s' refers to constant %u of %u", v->name, constant, g->num_constants);
            v->constant = (int32_t)constant;
        }
        g->num_values = i + 1;
    }
    g->next_auto_name = read_u32(c);

    /* inputs */
    n = read_count(c, 4, "graph input");
    if (!c->ok || !alloc_array(r, (void **)&g->inputs, n, sizeof *g->inputs))
        return c->ok ? D2_ERR_NOMEM : D2_ERR_PARSE;
    g->cap_inputs = n;
    for (uint32_t i = 0; i < n; i++) {
        d2_value_id v = read_u32(c);
        if (!c->ok)
            return D2_ERR_PARSE;
        if (v >= g->num_values)
            return parse_error(r, "graph input %u refers to value %u of %u", i, v, g->num_values);
        if (value_is_defined(&g->values[v]))
            return parse_error(r, "graph input '%s' is already defined", g->values[v].name);
        g->values[v].input_index = (int32_t)i;
        g->inputs[i] = v;
        g->num_inputs = i + 1;
    }

    /* nodes: at least 24 bytes each (name, op, three counts, region count) */
    n = read_count(c, 24, "node");
    if (!c->ok || !alloc_array(r, (void **)&g->nodes, n, sizeof *g->nodes))
        return c->ok ? D2_ERR_NOMEM : D2_ERR_PARSE;
    g->cap_nodes = n;
    for (uint32_t i = 0; i < n; i++) {
        /* Count the node first: whatever it holds (regions) is then freed with g. */
        g->num_nodes = i + 1;
        st = read_node(r, c, g, i, depth);
        if (st != D2_OK)
            return st;
    }

    /* outputs */
    n = read_count(c, 4, "graph output");
    if (!c->ok || !alloc_array(r, (void **)&g->outputs, n, sizeof *g->outputs))
        return c->ok ? D2_ERR_NOMEM : D2_ERR_PARSE;
    g->cap_outputs = n;
    for (uint32_t i = 0; i < n; i++) {
        d2_value_id v = read_u32(c);
        if (!c->ok)
            return D2_ERR_PARSE;
        if (v >= g->num_values)
            return parse_error(r, "graph output %u refers to value %u of %u", i, v, g->num_values);
        g->outputs[i] = v;
        g->num_outputs = i + 1;
    }
    return D2_OK;
}

static enum d2_status read_metadata(struct reader *r, struct d2_graph *g)
{
    struct cursor c = { r, "metadata", r->metadata.data, r->metadata.size, 0, true };
    uint32_t n = read_count(&c, 8, "metadata entry");
    if (!c.ok)
        return D2_ERR_PARSE;
    if (!alloc_array(r, (void **)&g->metadata, n, sizeof *g->metadata))
        return D2_ERR_NOMEM;
    g->cap_metadata = n;
    for (uint32_t i = 0; i < n; i++) {
        const char *key = read_string(&c, false, "a metadata key");
        const char *value = read_string(&c, false, "a metadata value");
        if (!c.ok)
            return D2_ERR_PARSE;
        g->metadata[i].key = key;
        g->metadata[i].value = value;
        g->num_metadata = i + 1;
    }
    if (remaining(&c))
        return parse_error(r, "metadata section has %" PRIu64 " trailing bytes", remaining(&c));
    return D2_OK;
}

/* ---- header and section table -------------------------------------------------- */

static enum d2_status check_header(struct reader *r, uint32_t *section_count)
{
    const uint8_t *h = r->base;
    uint16_t major, minor;
    uint64_t file_size;
    uint32_t flags;
    size_t magic_bytes = r->size < D2_AF_MAGIC_SIZE ? r->size : D2_AF_MAGIC_SIZE;
    if (r->size == 0)
        return parse_error(r, "file is empty");
    if (memcmp(h, D2_AF_MAGIC, magic_bytes) != 0)
        return parse_error(r, "not a model.ir file (wrong magic)");
    if (r->size < D2_AF_HEADER_SIZE)
        return parse_error(r, "file is truncated: %zu bytes, shorter than the %d-byte header", r->size,
                           D2_AF_HEADER_SIZE);
    major = d2_af_get_u16(h + D2_AF_OFF_VERSION_MAJOR);
    minor = d2_af_get_u16(h + D2_AF_OFF_VERSION_MINOR);
    if (major > D2_AF_VERSION_MAJOR)
        return d2_errorf(r->err, D2_ERR_PARSE,
                         "model.ir format version %u.%u is newer than this d2rt (%d.%d); recompile the model or "
                         "upgrade d2rt", major, minor, D2_AF_VERSION_MAJOR, D2_AF_VERSION_MINOR);
    if (major == 0)
        return parse_error(r, "invalid format version %u.%u", major, minor);
    if (d2_af_hash(h, D2_AF_OFF_HEADER_CHECKSUM) != d2_af_get_u64(h + D2_AF_OFF_HEADER_CHECKSUM))
        return parse_error(r, "header checksum mismatch (the file is corrupt)");
    file_size = d2_af_get_u64(h + D2_AF_OFF_FILE_SIZE);
    if (file_size > r->size)
        return parse_error(r, "file is truncated: %zu bytes of %" PRIu64, r->size, file_size);
    if (file_size < r->size)
        return parse_error(r, "%" PRIu64 " unexpected bytes after the end of the file", (uint64_t)r->size - file_size);
    flags = d2_af_get_u32(h + D2_AF_OFF_FLAGS);
    if (flags & D2_AF_FLAGS_REQUIRED_MASK & ~D2_AF_FLAGS_KNOWN)
        return d2_errorf(r->err, D2_ERR_UNSUPPORTED, "file requires features this d2rt lacks (flags 0x%x)",
                         flags);
    *section_count = d2_af_get_u32(h + D2_AF_OFF_SECTION_COUNT);
    if (*section_count > D2_AF_MAX_SECTIONS)
        return parse_error(r, "%u sections (at most %d)", *section_count, D2_AF_MAX_SECTIONS);
    if ((uint64_t)D2_AF_HEADER_SIZE + (uint64_t)*section_count * D2_AF_SECTION_ENTRY_SIZE > r->size)
        return parse_error(r, "file is truncated inside the section table");
    if (d2_af_hash(h + D2_AF_HEADER_SIZE, (size_t)*section_count * D2_AF_SECTION_ENTRY_SIZE) !=
        d2_af_get_u64(h + D2_AF_OFF_TABLE_CHECKSUM))
        return parse_error(r, "section table checksum mismatch (the file is corrupt)");
    return D2_OK;
}

static const char *section_name(uint32_t kind)
{
    switch (kind) {
    case D2_AF_SECTION_STRINGS: return "strings";
    case D2_AF_SECTION_GRAPH: return "graph";
    case D2_AF_SECTION_CONSTANTS: return "constants";
    case D2_AF_SECTION_METADATA: return "metadata";
    case D2_AF_SECTION_MEMORY_PLAN: return "memory plan";
    default: return "unknown";
    }
}

static bool all_zero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static enum d2_status check_sections(struct reader *r, uint32_t count)
{
    const uint8_t *table = r->base + D2_AF_HEADER_SIZE;
    uint64_t covered = D2_AF_HEADER_SIZE + (uint64_t)count * D2_AF_SECTION_ENTRY_SIZE;
    for (uint32_t s = 0; s < count; s++) {
        const uint8_t *e = table + (size_t)s * D2_AF_SECTION_ENTRY_SIZE;
        uint32_t kind = d2_af_get_u32(e), flags = d2_af_get_u32(e + 4);
        uint64_t offset = d2_af_get_u64(e + 8), size = d2_af_get_u64(e + 16), sum = d2_af_get_u64(e + 24);
        struct section *sec = NULL;
        const char *name = section_name(kind);
        /* Sections lie in file order, each aligned, after the previous one. */
        if (offset % D2_AF_ALIGN != 0 || offset < covered || offset > r->size || size > r->size - offset)
            return parse_error(r, "section %u (%s) at offset %" PRIu64 " size %" PRIu64
                               " is misaligned, overlapping or outside the file", s, name, offset, size);
        if (!all_zero(r->base + covered, offset - covered))
            return parse_error(r, "nonzero padding before section %u (%s) (the file is corrupt)", s, name);
        if (flags != 0)
            return parse_error(r, "section %u (%s) has unknown flags 0x%x", s, name, flags);
        if (d2_af_hash(r->base + offset, (size_t)size) != sum)
            return parse_error(r, "%s section checksum mismatch (the file is corrupt)", name);
        covered = offset + size;
        switch (kind) {
        case D2_AF_SECTION_STRINGS: sec = &r->strings; break;
        case D2_AF_SECTION_GRAPH: sec = &r->graph; break;
        case D2_AF_SECTION_CONSTANTS: sec = &r->constants; break;
        case D2_AF_SECTION_METADATA: sec = &r->metadata; break;
        case D2_AF_SECTION_MEMORY_PLAN: sec = &r->memory_plan; break;
        default: break; /* unknown kinds are optional additions of a newer minor version */
        }
        if (sec) {
            if (sec->present)
                return parse_error(r, "duplicate %s section", name);
            sec->present = true;
            sec->data = r->base + offset;
            sec->size = size;
        }
    }
    if (covered != r->size)
        return parse_error(r, "%" PRIu64 " bytes after the last section", (uint64_t)r->size - covered);
    if (!r->strings.present || !r->graph.present || !r->constants.present || !r->metadata.present)
        return parse_error(r, "missing %s section",
                           !r->strings.present ? "strings" : !r->graph.present ? "graph"
                           : !r->constants.present ? "constants" : "metadata");
    return D2_OK;
}

/* Messages name the format once, in front ("model.ir: node 'x' (if), region 0: ...");
 * the version message already starts with "model.ir format version". Names quoted
 * from the file may hold any byte but NUL: control characters become '?' so the
 * message stays one line. */
static void finish_error(struct d2_error *err)
{
    if (!err || err->code == D2_OK)
        return;
    if (strncmp(err->message, "model.ir", 8) != 0)
        d2_error_prefix(err, "model.ir: ");
    d2_af_one_line(err);
}

struct d2_graph *d2_af_load(const uint8_t *data, size_t size, const struct d2_allocator *alloc,
                            struct d2_error *err)
{
    struct reader r;
    struct cursor c;
    struct d2_graph *g;
    uint32_t section_count = 0;
    enum d2_status st;
    memset(&r, 0, sizeof r);
    r.base = data;
    r.size = size;
    r.alloc = alloc;
    r.err = err;
    st = check_header(&r, &section_count);
    if (st == D2_OK)
        st = check_sections(&r, section_count);
    if (st == D2_OK)
        st = check_strings(&r);
    if (st == D2_OK)
        st = check_constants(&r);
    if (st != D2_OK) {
        finish_error(err);
        return NULL;
    }
    g = d2_graph_new(alloc, err);
    if (!g)
        return NULL;
    r.num_graphs = 1;
    c = (struct cursor){ &r, "graph", r.graph.data, r.graph.size, 0, true };
    st = read_graph(&r, &c, g, 0);
    if (st == D2_OK && remaining(&c))
        st = parse_error(&r, "graph section has %" PRIu64 " trailing bytes", remaining(&c));
    if (st == D2_OK)
        st = read_metadata(&r, g);
    if (st == D2_OK && r.memory_plan.present)
        st = d2_af_decode_plan(r.memory_plan.data, r.memory_plan.size, g, err);
    if (st != D2_OK) {
        d2_graph_free(g);
        finish_error(err);
        return NULL;
    }
    return g;
}
