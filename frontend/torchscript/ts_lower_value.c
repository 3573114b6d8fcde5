/* frontend/torchscript/ts_lower_value.c: lowering values (struct tsv), objects,
 * environments and error messages (contracts in ts_lower.h). Everything is allocated
 * from the lowering arena and freed at once when the import ends. */
#include "frontend/torchscript/ts_lower.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum d2_status ts_fail(struct ts_lower *L, enum d2_status code, const char *fmt, ...)
{
    char msg[D2_ERROR_MESSAGE_MAX];
    va_list ap;
    if (L->err && L->err->code != D2_OK)
        return code; /* the first error is the root cause */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (L->file)
        return d2_errorf(L->err, code, "%s:%u:%u: %s", L->file, L->line, L->col, msg);
    return d2_errorf(L->err, code, "%s", msg);
}

const char *tsv_kind_name(enum tsv_kind k)
{
    static const char *const names[] = {
        "None", "bool", "int", "float", "str", "Device", "number", "Tensor", "tuple", "list", "dict",
        "module", "object", "name", "uninitialized", "slot",
        "list (run-time length)", "list (being grown by a run-time loop)",
    };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

const char *tsv_describe(const struct tsv *v)
{
    if (!v)
        return "nothing";
    if (v->kind == TSV_SCALAR)
        return v->u.scalar.type == TS_PY_INT ? "int (run-time)" : v->u.scalar.type == TS_PY_FLOAT ? "float (run-time)"
                                                                                               : "bool (run-time)";
    if (v->kind == TSV_QUALNAME || v->kind == TSV_STR)
        return v->u.s;
    if (v->kind == TSV_OBJECT)
        return v->u.object->class_name;
    if (v->kind == TSV_MODULE)
        return v->u.module->class_name;
    return tsv_kind_name(v->kind);
}

struct tsv *tsv_new(struct ts_lower *L, enum tsv_kind kind)
{
    struct tsv *v = d2_arena_alloc(&L->arena, sizeof *v);
    if (!v) {
        ts_fail(L, D2_ERR_NOMEM, "out of memory");
        return NULL;
    }
    v->kind = kind;
    v->born = ++L->epoch;
    return v;
}

void ts_note_mutation(struct ts_lower *L, uint64_t born)
{
    if (born <= L->region_floor)
        L->container_mutations++;
}

struct tsv *tsv_none(struct ts_lower *L) { return tsv_new(L, TSV_NONE); }

struct tsv *tsv_bool(struct ts_lower *L, bool b)
{
    struct tsv *v = tsv_new(L, TSV_BOOL);
    if (v)
        v->u.b = b;
    return v;
}

struct tsv *tsv_int(struct ts_lower *L, int64_t i)
{
    struct tsv *v = tsv_new(L, TSV_INT);
    if (v)
        v->u.i = i;
    return v;
}

struct tsv *tsv_float(struct ts_lower *L, double f)
{
    struct tsv *v = tsv_new(L, TSV_FLOAT);
    if (v)
        v->u.f = f;
    return v;
}

char *ts_strdup(struct ts_lower *L, const char *s)
{
    char *c = d2_arena_strdup(&L->arena, s);
    if (!c)
        ts_fail(L, D2_ERR_NOMEM, "out of memory");
    return c;
}

char *ts_strcat3(struct ts_lower *L, const char *a, const char *b, const char *c)
{
    size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
    char *s = d2_arena_alloc(&L->arena, na + nb + nc + 1);
    if (!s) {
        ts_fail(L, D2_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(s, a, na);
    memcpy(s + na, b, nb);
    memcpy(s + na + nb, c, nc + 1);
    return s;
}

struct tsv *tsv_str(struct ts_lower *L, const char *s)
{
    struct tsv *v = tsv_new(L, TSV_STR);
    if (v && !(v->u.s = ts_strdup(L, s)))
        return NULL;
    return v;
}

struct tsv *tsv_qualname(struct ts_lower *L, const char *s)
{
    struct tsv *v = tsv_new(L, TSV_QUALNAME);
    if (v && !(v->u.s = ts_strdup(L, s)))
        return NULL;
    return v;
}

struct tsv *tsv_scalar(struct ts_lower *L, struct ts_irval iv, enum ts_pytype type)
{
    struct tsv *v = tsv_new(L, TSV_SCALAR);
    if (v) {
        v->u.scalar.v = iv;
        v->u.scalar.type = type;
    }
    return v;
}

struct tsv *tsv_tensor(struct ts_lower *L, d2_value_id id)
{
    struct tsv *v;
    struct ts_cell *cell;
    if (id == D2_NO_VALUE)
        return NULL;
    v = tsv_new(L, TSV_TENSOR);
    cell = d2_arena_alloc(&L->arena, sizeof *cell);
    if (!v || !cell) {
        ts_fail(L, D2_ERR_NOMEM, "out of memory");
        return NULL;
    }
    cell->v.g = L->frame->g;
    cell->v.id = id;
    v->u.tensor.cell = cell;
    return v;
}

struct tsv *tsv_seq_new(struct ts_lower *L, enum tsv_kind kind, uint32_t count)
{
    struct tsv *v = tsv_new(L, kind);
    if (!v)
        return NULL;
    if (count) {
        v->u.seq.items = d2_arena_alloc(&L->arena, sizeof(struct tsv *) * count);
        if (!v->u.seq.items) {
            ts_fail(L, D2_ERR_NOMEM, "out of memory");
            return NULL;
        }
        v->u.seq.cap = count;
    }
    v->u.seq.count = count;
    return v;
}

bool tsv_seq_push(struct ts_lower *L, struct tsv *seq, struct tsv *item)
{
    struct tsv_seq *s = &seq->u.seq;
    if (s->count == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        struct tsv **items = d2_arena_alloc(&L->arena, sizeof *items * cap);
        if (!items || cap > (1u << 26)) {
            ts_fail(L, D2_ERR_NOMEM, "out of memory");
            return false;
        }
        if (s->count)
            memcpy(items, s->items, sizeof *items * s->count);
        s->items = items;
        s->cap = cap;
    }
    s->items[s->count++] = item;
    return true;
}

bool tsv_static_equal(const struct tsv *a, const struct tsv *b, bool *known)
{
    *known = true;
    if (a == b)
        return true;
    if ((a->kind == TSV_INT || a->kind == TSV_BOOL || a->kind == TSV_FLOAT) &&
        (b->kind == TSV_INT || b->kind == TSV_BOOL || b->kind == TSV_FLOAT)) {
        double x = a->kind == TSV_INT ? (double)a->u.i : a->kind == TSV_BOOL ? a->u.b : a->u.f;
        double y = b->kind == TSV_INT ? (double)b->u.i : b->kind == TSV_BOOL ? b->u.b : b->u.f;
        if (a->kind != TSV_FLOAT && b->kind != TSV_FLOAT) {
            int64_t xi = a->kind == TSV_INT ? a->u.i : a->u.b, yi = b->kind == TSV_INT ? b->u.i : b->u.b;
            return xi == yi;
        }
        return x == y;
    }
    if (a->kind != b->kind) {
        if (a->kind == TSV_SCALAR || b->kind == TSV_SCALAR || a->kind == TSV_TENSOR || b->kind == TSV_TENSOR)
            *known = false;
        return false;
    }
    switch (a->kind) {
    case TSV_NONE: return true;
    case TSV_STR: case TSV_DEVICE: case TSV_QUALNAME: return strcmp(a->u.s, b->u.s) == 0;
    case TSV_TUPLE: case TSV_LIST:
        if (a->u.seq.count != b->u.seq.count)
            return false;
        for (uint32_t i = 0; i < a->u.seq.count; i++) {
            bool k;
            if (!tsv_static_equal(a->u.seq.items[i], b->u.seq.items[i], &k)) {
                *known = k;
                return false;
            }
            if (!k) {
                *known = false;
                return false;
            }
        }
        return true;
    case TSV_MODULE: return a->u.module == b->u.module;
    case TSV_OBJECT: return a->u.object == b->u.object;
    default:
        *known = false;
        return false;
    }
}

struct tsv *tsv_dict_get(const struct tsv *dict, const struct tsv *key)
{
    for (uint32_t i = 0; i < dict->u.dict.count; i++) {
        bool known;
        if (tsv_static_equal(dict->u.dict.keys[i], key, &known) && known)
            return dict->u.dict.values[i];
    }
    return NULL;
}

bool tsv_dict_set(struct ts_lower *L, struct tsv *dict, struct tsv *key, struct tsv *value)
{
    struct tsv_dict *d = &dict->u.dict;
    for (uint32_t i = 0; i < d->count; i++) {
        bool known;
        if (tsv_static_equal(d->keys[i], key, &known) && known) {
            d->values[i] = value;
            return true;
        }
    }
    if (d->count == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 4;
        struct tsv **keys = d2_arena_alloc(&L->arena, sizeof *keys * cap);
        struct tsv **values = d2_arena_alloc(&L->arena, sizeof *values * cap);
        if (!keys || !values) {
            ts_fail(L, D2_ERR_NOMEM, "out of memory");
            return false;
        }
        if (d->count) {
            memcpy(keys, d->keys, sizeof *keys * d->count);
            memcpy(values, d->values, sizeof *values * d->count);
        }
        d->keys = keys;
        d->values = values;
        d->cap = cap;
    }
    d->keys[d->count] = key;
    d->values[d->count++] = value;
    return true;
}

bool tsv_truth(const struct tsv *v, bool *known)
{
    *known = true;
    switch (v->kind) {
    case TSV_NONE: return false;
    case TSV_BOOL: return v->u.b;
    case TSV_INT: return v->u.i != 0;
    case TSV_FLOAT: return v->u.f != 0;
    case TSV_STR: return v->u.s[0] != '\0';
    case TSV_TUPLE: case TSV_LIST: return v->u.seq.count != 0;
    case TSV_DICT: return v->u.dict.count != 0;
    case TSV_MODULE: case TSV_OBJECT: case TSV_DEVICE: case TSV_QUALNAME: return true;
    default:
        *known = false;
        return false;
    }
}

struct ts_instance *ts_instance_new(struct ts_lower *L, const char *class_name, const struct ts_class *cls)
{
    struct ts_instance *o = d2_arena_alloc(&L->arena, sizeof *o);
    if (!o) {
        ts_fail(L, D2_ERR_NOMEM, "out of memory");
        return NULL;
    }
    o->class_name = class_name;
    o->cls = cls;
    o->born = ++L->epoch;
    return o;
}

struct tsv *ts_instance_get(const struct ts_instance *o, const char *name)
{
    for (uint32_t i = 0; i < o->count; i++)
        if (strcmp(o->names[i], name) == 0)
            return o->values[i];
    return NULL;
}

bool ts_instance_set(struct ts_lower *L, struct ts_instance *o, const char *name, struct tsv *v)
{
    for (uint32_t i = 0; i < o->count; i++)
        if (strcmp(o->names[i], name) == 0) {
            o->values[i] = v;
            return true;
        }
    if (o->count == o->cap) {
        uint32_t cap = o->cap ? o->cap * 2 : 8;
        const char **names = d2_arena_alloc(&L->arena, sizeof *names * cap);
        struct tsv **values = d2_arena_alloc(&L->arena, sizeof *values * cap);
        if (!names || !values) {
            ts_fail(L, D2_ERR_NOMEM, "out of memory");
            return false;
        }
        if (o->count) {
            memcpy(names, o->names, sizeof *names * o->count);
            memcpy(values, o->values, sizeof *values * o->count);
        }
        o->names = names;
        o->values = values;
        o->cap = cap;
    }
    o->names[o->count] = name;
    o->values[o->count++] = v;
    return true;
}

/* ---- environments: a small ordered map, newest binding wins ---- */

struct tsv *ts_env_get(const struct ts_env *env, const char *name)
{
    for (uint32_t i = env->count; i-- > 0;)
        if (strcmp(env->names[i], name) == 0)
            return env->values[i];
    return NULL;
}

bool ts_env_set(struct ts_lower *L, struct ts_env *env, const char *name, struct tsv *v)
{
    for (uint32_t i = env->count; i-- > 0;)
        if (strcmp(env->names[i], name) == 0) {
            env->values[i] = v;
            return true;
        }
    if (env->count == env->cap) {
        uint32_t cap = env->cap ? env->cap * 2 : 16;
        const char **names = d2_arena_alloc(&L->arena, sizeof *names * cap);
        struct tsv **values = d2_arena_alloc(&L->arena, sizeof *values * cap);
        if (!names || !values) {
            ts_fail(L, D2_ERR_NOMEM, "out of memory");
            return false;
        }
        if (env->count) {
            memcpy(names, env->names, sizeof *names * env->count);
            memcpy(values, env->values, sizeof *values * env->count);
        }
        env->names = names;
        env->values = values;
        env->cap = cap;
    }
    env->names[env->count] = name;
    env->values[env->count++] = v;
    return true;
}

bool ts_env_copy(struct ts_lower *L, struct ts_env *dst, const struct ts_env *src)
{
    memset(dst, 0, sizeof *dst);
    if (!src->count)
        return true;
    dst->names = d2_arena_alloc(&L->arena, sizeof *dst->names * src->count);
    dst->values = d2_arena_alloc(&L->arena, sizeof *dst->values * src->count);
    if (!dst->names || !dst->values) {
        ts_fail(L, D2_ERR_NOMEM, "out of memory");
        return false;
    }
    memcpy(dst->names, src->names, sizeof *dst->names * src->count);
    memcpy(dst->values, src->values, sizeof *dst->values * src->count);
    dst->count = dst->cap = src->count;
    return true;
}
