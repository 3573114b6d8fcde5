/* frontend/torchscript/ts_module.c: the module tree of a TorchScript archive.
 *
 * Contract (ts_archive.h, ts_archive_module): data.pkl gives every module as an object
 * of a __torch__ class whose state dict holds all its attributes, but it does not say
 * which tensors are parameters and which are buffers. The class source does: each
 * module class body starts with
 *     __parameters__ = ["weight", "bias", ]
 *     __buffers__ = []
 * so the roles are read from there. A submodule is an attribute that is itself a
 * module object (a __torch__ object whose class is declared `class X(Module):`).
 * `training` comes from the state, or from `training : Final[bool] = False` in the
 * class body when the module was scripted as a constant.
 * A module object reached twice (shared submodule) gets one ts_module (its path is the
 * first one found); a module that contains itself, or nesting deeper than
 * TS_PICKLE_MAX_DEPTH, is a D2_ERR_PARSE.
 */
#include <string.h>

#include "frontend/torchscript/ts_archive_internal.h"

struct built {
    const struct ts_value *object;
    struct ts_module *module; /* NULL while under construction */
};

struct tree_ctx {
    struct ts_archive *archive;
    struct d2_error *err;
    struct built *built;
    uint32_t num_built, cap_built;
};

/* A candidate module: an object of a __torch__ class with an attribute dict. Whether
 * the class is a module is decided by its source (class X(Module):). */
static bool is_torch_object(const struct ts_value *v)
{
    return v && v->kind == TS_OBJECT && strncmp(v->u.object.class_name, "__torch__.", 10) == 0 &&
           v->u.object.state && v->u.object.state->kind == TS_DICT;
}

/* The text of `class <short_name>(...` up to the next top-level statement. */
static bool class_block(const char *source, const char *short_name, const char **begin, const char **end)
{
    size_t n = strlen(short_name);
    for (const char *p = source; p && *p;) {
        if (strncmp(p, "class ", 6) == 0 && strncmp(p + 6, short_name, n) == 0 && (p[6 + n] == '(' || p[6 + n] == ':')) {
            *begin = p;
            const char *q = strchr(p, '\n');
            while (q && q[1] && (q[1] == ' ' || q[1] == '\t' || q[1] == '\n'))
                q = strchr(q + 1, '\n');
            *end = q ? q + 1 : p + strlen(p);
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

/* Whether `field = [...]` in [begin, end) lists the quoted name `attr`. */
static bool declared_in(const char *begin, const char *end, const char *field, const char *attr)
{
    size_t fl = strlen(field), al = strlen(attr);
    for (const char *p = begin; p < end; p++) {
        if (*p != '\n' || (size_t)(end - p) < fl + 3)
            continue;
        const char *q = p + 1;
        while (q < end && *q == ' ')
            q++;
        if ((size_t)(end - q) < fl || strncmp(q, field, fl) != 0)
            continue;
        q += fl;
        while (q < end && *q != '[' && *q != '\n')
            q++;
        for (; q < end && *q != ']' && *q != '\n'; q++) {
            if (*q != '"' && *q != '\'')
                continue;
            const char quote = *q++;
            const char *s = q;
            while (q < end && *q != quote && *q != '\n')
                q++;
            if (q >= end || *q != quote)
                return false;
            if ((size_t)(q - s) == al && strncmp(s, attr, al) == 0)
                return true;
        }
        return false;
    }
    return false;
}

static enum d2_status build(struct tree_ctx *ctx, const struct ts_value *object, const char *path, uint32_t depth,
                            struct ts_module **out);

/* The class body of a __torch__ object, and whether the class derives from Module. */
static enum d2_status find_class(struct tree_ctx *ctx, const struct ts_value *object, const char *path,
                                 const char **begin, const char **end, bool *is_module)
{
    const char *source;
    size_t len;
    enum d2_status st = ts_archive_source(ctx->archive, object->u.object.class_name, &source, &len, NULL, ctx->err);
    if (st != D2_OK) {
        d2_error_prefix(ctx->err, "module '%.200s': ", path[0] ? path : "<root>");
        return st;
    }
    if (!class_block(source, ts_object_short_name(object), begin, end))
        return d2_errorf(ctx->err, D2_ERR_PARSE, "torchscript: module '%.200s': source has no class %.200s",
                         path[0] ? path : "<root>", ts_object_short_name(object));
    const char *header_end = memchr(*begin, '\n', (size_t)(*end - *begin));
    size_t header_len = header_end ? (size_t)(header_end - *begin) : (size_t)(*end - *begin);
    *is_module = false;
    for (size_t i = 0; i + 8 <= header_len; i++)
        if (memcmp(*begin + i, "(Module)", 8) == 0)
            *is_module = true;
    return D2_OK;
}

/* `name : Final[bool] = True` in a class body (a constant attribute, not in the state). */
static bool final_bool(const char *begin, const char *end, const char *name, bool *value)
{
    size_t n = strlen(name);
    for (const char *p = begin; p < end; p++) {
        if (*p != '\n')
            continue;
        const char *q = p + 1;
        while (q < end && *q == ' ')
            q++;
        if ((size_t)(end - q) > n + 20 && strncmp(q, name, n) == 0 && strncmp(q + n, " : Final[bool] = ", 17) == 0) {
            *value = strncmp(q + n + 17, "True", 4) == 0;
            return true;
        }
    }
    return false;
}

static enum d2_status remember(struct tree_ctx *ctx, const struct ts_value *object, uint32_t *slot)
{
    if (ctx->num_built == ctx->cap_built) {
        uint32_t cap = ctx->cap_built ? ctx->cap_built * 2 : 64;
        struct built *n = d2_arena_alloc(&ctx->archive->arena, (size_t)cap * sizeof *n);
        if (!n)
            return d2_errorf(ctx->err, D2_ERR_NOMEM, "torchscript: out of memory");
        if (ctx->num_built)
            memcpy(n, ctx->built, (size_t)ctx->num_built * sizeof *n);
        ctx->built = n;
        ctx->cap_built = cap;
    }
    *slot = ctx->num_built++;
    ctx->built[*slot].object = object;
    ctx->built[*slot].module = NULL;
    return D2_OK;
}

static enum d2_status fill_attrs(struct tree_ctx *ctx, struct ts_module *m, const char *block_begin,
                                 const char *block_end, uint32_t depth)
{
    const struct ts_dict *state = &m->object->u.object.state->u.dict;
    m->attrs = d2_arena_alloc(&ctx->archive->arena, (size_t)(state->count ? state->count : 1) * sizeof *m->attrs);
    if (!m->attrs)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "torchscript: out of memory");
    for (uint32_t i = 0; i < state->count; i++) {
        const struct ts_value *key = state->keys[i], *value = state->values[i];
        if (key->kind != TS_STRING)
            return d2_errorf(ctx->err, D2_ERR_PARSE, "torchscript: module '%s' (%s) has a %s attribute name", m->path,
                             m->class_name, ts_kind_name(key->kind));
        struct ts_module_attr *attr = &m->attrs[m->num_attrs++];
        attr->name = key->u.str.data;
        attr->value = value;
        attr->role = TS_ATTR_OTHER;
        if (declared_in(block_begin, block_end, "__parameters__", attr->name))
            attr->role = TS_ATTR_PARAMETER;
        else if (declared_in(block_begin, block_end, "__buffers__", attr->name))
            attr->role = TS_ATTR_BUFFER;
        else if (is_torch_object(value)) {
            const char *b, *e;
            bool is_module;
            enum d2_status st = find_class(ctx, value, m->path, &b, &e, &is_module);
            if (st != D2_OK)
                return st;
            if (is_module)
                attr->role = TS_ATTR_SUBMODULE;
        }
        if ((attr->role == TS_ATTR_PARAMETER || attr->role == TS_ATTR_BUFFER) && value->kind != TS_TENSOR &&
            value->kind != TS_NONE)
            return d2_errorf(ctx->err, D2_ERR_PARSE, "torchscript: module '%s' (%s): %s '%s' is a %s, not a tensor",
                             m->path, m->class_name, attr->role == TS_ATTR_PARAMETER ? "parameter" : "buffer",
                             attr->name, ts_kind_name(value->kind));
        if (attr->role == TS_ATTR_SUBMODULE) {
            size_t pl = strlen(m->path), nl = strlen(attr->name);
            char *child_path = d2_arena_alloc(&ctx->archive->arena, pl + nl + 2);
            if (!child_path)
                return d2_errorf(ctx->err, D2_ERR_NOMEM, "torchscript: out of memory");
            if (pl) {
                memcpy(child_path, m->path, pl);
                child_path[pl++] = '.';
            }
            memcpy(child_path + pl, attr->name, nl + 1);
            enum d2_status st = build(ctx, value, child_path, depth + 1, &attr->submodule);
            if (st != D2_OK)
                return st;
        }
    }
    return D2_OK;
}

static enum d2_status build(struct tree_ctx *ctx, const struct ts_value *object, const char *path, uint32_t depth,
                            struct ts_module **out)
{
    if (depth > TS_PICKLE_MAX_DEPTH)
        return d2_errorf(ctx->err, D2_ERR_PARSE, "torchscript: modules nested deeper than %d (at '%.200s')",
                         TS_PICKLE_MAX_DEPTH, path);
    for (uint32_t i = 0; i < ctx->num_built; i++)
        if (ctx->built[i].object == object) {
            if (!ctx->built[i].module)
                return d2_errorf(ctx->err, D2_ERR_PARSE, "torchscript: module '%.200s' contains itself", path);
            *out = ctx->built[i].module;
            return D2_OK;
        }
    uint32_t slot = 0;
    enum d2_status st = remember(ctx, object, &slot);
    if (st != D2_OK)
        return st;
    struct ts_module *m = d2_arena_alloc(&ctx->archive->arena, sizeof *m);
    if (!m)
        return d2_errorf(ctx->err, D2_ERR_NOMEM, "torchscript: out of memory");
    m->class_name = object->u.object.class_name;
    m->path = path;
    m->object = object;
    const char *begin, *end;
    bool is_module;
    if ((st = find_class(ctx, object, path, &begin, &end, &is_module)) != D2_OK)
        return st;
    const struct ts_value *training = ts_object_attr(object, "training");
    if (training && training->kind == TS_BOOL)
        m->training = training->u.b;
    else
        (void)final_bool(begin, end, "training", &m->training);
    if ((st = fill_attrs(ctx, m, begin, end, depth)) != D2_OK)
        return st;
    ctx->built[slot].module = m;
    *out = m;
    return D2_OK;
}

enum d2_status ts_archive_module(struct ts_archive *a, const struct ts_module **root, struct d2_error *err)
{
    if (!a->module_root) {
        const struct ts_value *data;
        enum d2_status st = ts_archive_data(a, &data, err);
        if (st != D2_OK)
            return st;
        const char *begin, *end;
        bool is_module = false;
        struct tree_ctx ctx = { a, err, NULL, 0, 0 };
        if (is_torch_object(data) && (st = find_class(&ctx, data, "", &begin, &end, &is_module)) != D2_OK)
            return st;
        if (!is_module)
            return d2_errorf(err, D2_ERR_PARSE, "torchscript: data.pkl holds a %s, not a TorchScript module",
                             data->kind == TS_OBJECT ? data->u.object.class_name : ts_kind_name(data->kind));
        if ((st = build(&ctx, data, "", 0, &a->module_root)) != D2_OK) {
            a->module_root = NULL;
            return st;
        }
    }
    *root = a->module_root;
    return D2_OK;
}

const struct ts_module_attr *ts_module_attr(const struct ts_module *m, const char *name)
{
    for (uint32_t i = 0; m && i < m->num_attrs; i++)
        if (strcmp(m->attrs[i].name, name) == 0)
            return &m->attrs[i];
    return NULL;
}

const struct ts_module *ts_module_find(const struct ts_module *root, const char *path)
{
    const struct ts_module *m = root;
    char part[512];
    while (m && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        const struct ts_module_attr *attr = ts_module_attr(m, part);
        m = attr ? attr->submodule : NULL;
        path = dot ? dot + 1 : path + n;
    }
    return m;
}
