/* frontend/torchscript/ts_lower_expr.c: evaluating expressions (contracts in
 * ts_lower.h): names, literals, attribute access on modules/objects/qualified names,
 * calls (builtin ops, inlined functions and methods, Python builtins such as
 * annotate/isinstance/getattr/int), subscripts and operators.
 *
 * Operators map onto the same builtins torch's printer uses for calls (`a + b` is
 * aten::add), so their semantics live in one place (ts_ops*.c).
 */
#include "frontend/torchscript/ts_lower.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- finding sources ---- */

static enum d2_status parsed_source(struct ts_lower *L, const char *qualname, struct ts_module_ast **out)
{
    const char *text, *entry;
    size_t len;
    enum d2_status st;
    st = ts_archive_source(L->archive, qualname, &text, &len, &entry, L->err);
    if (st != D2_OK)
        return st;
    for (uint32_t i = 0; i < L->num_files; i++)
        if (strcmp(L->files[i].entry, entry) == 0) {
            *out = L->files[i].ast;
            return D2_OK;
        }
    if (L->num_files == L->cap_files) {
        uint32_t cap = L->cap_files ? L->cap_files * 2 : 32;
        struct ts_parsed_file *f = d2_realloc(L->alloc, L->files, sizeof *f * cap);
        if (!f)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        L->files = f;
        L->cap_files = cap;
    }
    st = ts_parse_module(text, len, entry, &L->arena, out, L->err);
    if (st != D2_OK)
        return st;
    L->files[L->num_files].entry = (*out)->file;
    L->files[L->num_files++].ast = *out;
    return D2_OK;
}

static const char *last_component(const char *qualname)
{
    const char *dot = strrchr(qualname, '.');
    return dot ? dot + 1 : qualname;
}

enum d2_status ts_find_class(struct ts_lower *L, const char *qualname, struct ts_class const **out)
{
    struct ts_module_ast *m;
    enum d2_status st = parsed_source(L, qualname, &m);
    if (st != D2_OK)
        return st;
    *out = ts_ast_find_class(m, last_component(qualname));
    if (!*out)
        return ts_fail(L, D2_ERR_PARSE, "class '%s' is not defined in %s", qualname, m->file);
    return D2_OK;
}

enum d2_status ts_find_function(struct ts_lower *L, const char *qualname, const struct ts_def **out)
{
    struct ts_module_ast *m;
    enum d2_status st = parsed_source(L, qualname, &m);
    if (st != D2_OK)
        return st;
    *out = ts_ast_find_function(m, last_component(qualname));
    if (!*out)
        return ts_fail(L, D2_ERR_PARSE, "function '%s' is not defined in %s", qualname, m->file);
    return D2_OK;
}

/* ---- pickled values, module attributes ---- */

enum d2_status ts_from_pickle(struct ts_lower *L, const struct ts_value *v, struct tsv **out)
{
    enum d2_status st;
    switch (v->kind) {
    case TS_NONE: *out = tsv_none(L); break;
    case TS_BOOL: *out = tsv_bool(L, v->u.b); break;
    case TS_INT: *out = tsv_int(L, v->u.i); break;
    case TS_FLOAT: *out = tsv_float(L, v->u.f); break;
    case TS_STRING: *out = tsv_str(L, v->u.str.data); break;
    case TS_TENSOR: *out = tsv_tensor(L, ts_const_tensor(L, &v->u.tensor)); break;
    case TS_TUPLE: case TS_LIST: case TS_SET:
        *out = tsv_seq_new(L, v->kind == TS_TUPLE ? TSV_TUPLE : TSV_LIST, v->u.seq.count);
        for (uint32_t i = 0; *out && i < v->u.seq.count; i++)
            if ((st = ts_from_pickle(L, v->u.seq.items[i], &(*out)->u.seq.items[i])) != D2_OK)
                return st;
        break;
    case TS_DICT:
        *out = tsv_new(L, TSV_DICT);
        for (uint32_t i = 0; *out && i < v->u.dict.count; i++) {
            struct tsv *k, *x;
            if ((st = ts_from_pickle(L, v->u.dict.keys[i], &k)) != D2_OK ||
                (st = ts_from_pickle(L, v->u.dict.values[i], &x)) != D2_OK)
                return st;
            if (!tsv_dict_set(L, *out, k, x))
                return L->err->code;
        }
        break;
    case TS_OBJECT: {
        const struct ts_class *cls = NULL;
        struct ts_instance *o;
        if (strncmp(v->u.object.class_name, "__torch__.", 10) != 0)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "attribute of class '%s' is not supported", v->u.object.class_name);
        if ((st = ts_find_class(L, v->u.object.class_name, &cls)) != D2_OK)
            return st;
        o = ts_instance_new(L, v->u.object.class_name, cls);
        if (!o)
            return L->err->code;
        if (v->u.object.state && v->u.object.state->kind == TS_DICT) {
            const struct ts_dict *d = &v->u.object.state->u.dict;
            for (uint32_t i = 0; i < d->count; i++) {
                struct tsv *x;
                if (d->keys[i]->kind != TS_STRING)
                    continue;
                if ((st = ts_from_pickle(L, d->values[i], &x)) != D2_OK)
                    return st;
                if (!ts_instance_set(L, o, ts_strdup(L, d->keys[i]->u.str.data), x))
                    return L->err->code;
            }
        }
        *out = tsv_new(L, TSV_OBJECT);
        if (*out)
            (*out)->u.object = o;
        break;
    }
    default:
        return ts_fail(L, D2_ERR_UNSUPPORTED, "pickled %s values are not supported", ts_kind_name(v->kind));
    }
    return *out ? D2_OK : L->err->code;
}

/* A class-level declaration with a value (`training : Final[bool] = False`). */
static const struct ts_expr *class_constant(const struct ts_class *cls, const char *name)
{
    for (uint32_t i = 0; cls && i < cls->body.count; i++) {
        const struct ts_stmt *s = cls->body.items[i];
        if (s->kind == TSS_ANN && s->u.ann.value && s->u.ann.target->kind == TSE_NAME &&
            strcmp(s->u.ann.target->u.name, name) == 0)
            return s->u.ann.value;
    }
    return NULL;
}

static enum d2_status call_getter(struct ts_lower *L, const struct ts_class *cls, struct tsv *self, const char *name,
                                  bool *found, struct tsv **out)
{
    char buf[256];
    const struct ts_def *getter;
    struct ts_call call = { 0 };
    snprintf(buf, sizeof buf, "__%s_getter", name);
    getter = ts_ast_find_method(cls, buf);
    *found = getter != NULL;
    if (!getter)
        return D2_OK;
    call.name = getter->name;
    return ts_call_def(L, getter, self, &call, out);
}

enum d2_status ts_module_setattr(struct ts_lower *L, const struct ts_module *m, const char *name, struct tsv *v)
{
    const struct ts_module_attr *a = ts_module_attr(m, name);
    if (a && a->role == TS_ATTR_SUBMODULE)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "cannot replace submodule '%s' of '%s'", name,
                       m->path[0] ? m->path : "<root>");
    ts_note_mutation(L, 0); /* modules exist before any run-time branch */
    for (uint32_t i = 0; i < L->num_module_overrides; i++)
        if (L->module_overrides[i].module == m && strcmp(L->module_overrides[i].name, name) == 0) {
            L->module_overrides[i].value = v;
            return D2_OK;
        }
    if (L->num_module_overrides == L->cap_module_overrides) {
        uint32_t cap = L->cap_module_overrides ? 2 * L->cap_module_overrides : 8;
        struct ts_module_override *grown = d2_arena_alloc(&L->arena, sizeof *grown * cap);
        if (!grown)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        if (L->num_module_overrides)
            memcpy(grown, L->module_overrides, sizeof *grown * L->num_module_overrides);
        L->module_overrides = grown;
        L->cap_module_overrides = cap;
    }
    L->module_overrides[L->num_module_overrides].module = m;
    L->module_overrides[L->num_module_overrides].name = ts_strdup(L, name);
    L->module_overrides[L->num_module_overrides].value = v;
    if (!L->module_overrides[L->num_module_overrides].name)
        return ts_fail(L, D2_ERR_NOMEM, "out of memory");
    L->num_module_overrides++;
    return D2_OK;
}

enum d2_status ts_module_getattr(struct ts_lower *L, const struct ts_module *m, const char *name, struct tsv **out)
{
    const struct ts_module_attr *a = ts_module_attr(m, name);
    const struct ts_class *cls = NULL;
    enum d2_status st;
    for (uint32_t i = 0; i < L->num_module_overrides; i++)
        if (L->module_overrides[i].module == m && strcmp(L->module_overrides[i].name, name) == 0) {
            *out = L->module_overrides[i].value;
            return D2_OK;
        }
    if (a) {
        switch (a->role) {
        case TS_ATTR_PARAMETER:
        case TS_ATTR_BUFFER:
            if (a->value->kind == TS_NONE) {
                *out = tsv_none(L);
                return *out ? D2_OK : L->err->code;
            }
            if (a->value->kind != TS_TENSOR)
                return ts_fail(L, D2_ERR_PARSE, "parameter '%s' of '%s' is not a tensor", name, m->path);
            *out = tsv_tensor(L, ts_const_tensor(L, &a->value->u.tensor));
            return *out ? D2_OK : L->err->code;
        case TS_ATTR_SUBMODULE:
            *out = tsv_new(L, TSV_MODULE);
            if (*out)
                (*out)->u.module = a->submodule;
            return *out ? D2_OK : L->err->code;
        case TS_ATTR_OTHER:
            return ts_from_pickle(L, a->value, out);
        }
    }
    if ((st = ts_find_class(L, m->class_name, &cls)) != D2_OK)
        return st;
    {
        const struct ts_expr *c = class_constant(cls, name);
        if (c) {
            struct ts_env empty = { 0 };
            return ts_eval(L, &empty, c, out);
        }
    }
    {
        bool found;
        struct tsv *self = tsv_new(L, TSV_MODULE);
        if (!self)
            return L->err->code;
        self->u.module = m;
        if ((st = call_getter(L, cls, self, name, &found, out)) != D2_OK || found)
            return st;
    }
    return ts_fail(L, D2_ERR_PARSE, "module '%s' (%s) has no attribute '%s'", m->path[0] ? m->path : "<root>",
                   m->class_name, name);
}

static enum d2_status getattr_value(struct ts_lower *L, struct tsv *base, const char *name, struct tsv **out)
{
    switch (base->kind) {
    case TSV_QUALNAME:
        if (strcmp(base->u.s, "CONSTANTS") == 0 && name[0] == 'c') {
            char *end;
            long k = strtol(name + 1, &end, 10);
            if (*end || k < 0 || !L->constants || (unsigned long)k >= L->constants->u.seq.count)
                return ts_fail(L, D2_ERR_PARSE, "CONSTANTS.%s does not exist", name);
            return ts_from_pickle(L, L->constants->u.seq.items[k], out);
        }
        *out = tsv_qualname(L, ts_strcat3(L, base->u.s, ".", name));
        return *out ? D2_OK : L->err->code;
    case TSV_MODULE:
        return ts_module_getattr(L, base->u.module, name, out);
    case TSV_OBJECT: {
        struct tsv *v = ts_instance_get(base->u.object, name);
        bool found;
        enum d2_status st;
        if (v) {
            *out = v;
            return D2_OK;
        }
        if ((st = call_getter(L, base->u.object->cls, base, name, &found, out)) != D2_OK || found)
            return st;
        {
            const struct ts_expr *c = class_constant(base->u.object->cls, name);
            if (c) {
                struct ts_env empty = { 0 };
                return ts_eval(L, &empty, c, out);
            }
        }
        return ts_fail(L, D2_ERR_PARSE, "object of class '%s' has no attribute '%s'", base->u.object->class_name, name);
    }
    default:
        return ts_fail(L, D2_ERR_UNSUPPORTED, "attribute '%s' of a %s value is not supported", name, tsv_describe(base));
    }
}

/* ---- calls ---- */

static enum d2_status eval_args(struct ts_lower *L, struct ts_env *env, const struct ts_expr *e, uint32_t skip,
                                struct ts_call *call)
{
    uint32_t n = e->u.call.args.count - skip;
    call->count = n;
    call->args = d2_arena_alloc(&L->arena, sizeof *call->args * (n ? n : 1));
    call->names = d2_arena_alloc(&L->arena, sizeof *call->names * (n ? n : 1));
    if (!call->args || !call->names)
        return ts_fail(L, D2_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        enum d2_status st = ts_eval(L, env, e->u.call.args.items[i + skip], &call->args[i]);
        if (st != D2_OK)
            return st;
        call->names[i] = e->u.call.keywords[i + skip];
    }
    /* The call is dispatched right after its arguments: tell unbind how many targets
     * unpack it when this is the right-hand side of `a, b, ... = x.unbind(d)`. */
    L->unbind_count_hint = e == L->unpack_expr ? L->unpack_count : 0;
    return D2_OK;
}

/* Map a qualified Python name of a builtin to its op name: torch.add -> aten::add,
 * ops.prim.X -> prim::X, ops.torchvision.X -> torchvision::X, math.X -> math::X.
 * Returns NULL when qualname is not a builtin namespace. */
static const char *builtin_op_name(struct ts_lower *L, const char *q)
{
    if (strncmp(q, "torch.", 6) == 0 && !strchr(q + 6, '.'))
        return ts_strcat3(L, "aten::", q + 6, "");
    if (strncmp(q, "torch.functional.", 17) == 0 && !strchr(q + 17, '.'))
        return ts_strcat3(L, "aten::", q + 17, "");
    if (strncmp(q, "torch.nn.functional.", 20) == 0 && !strchr(q + 20, '.'))
        return ts_strcat3(L, "aten::", q + 20, "");
    if (strncmp(q, "math.", 5) == 0 && !strchr(q + 5, '.'))
        return ts_strcat3(L, "math::", q + 5, "");
    if (strncmp(q, "ops.", 4) == 0) {
        const char *dot = strchr(q + 4, '.');
        char ns[64];
        if (!dot || strchr(dot + 1, '.') || (size_t)(dot - q - 4) >= sizeof ns)
            return NULL;
        memcpy(ns, q + 4, (size_t)(dot - q - 4));
        ns[dot - q - 4] = '\0';
        return ts_strcat3(L, ns, "::", dot + 1);
    }
    return NULL;
}

enum d2_status ts_call_op(struct ts_lower *L, const char *qualname, struct ts_call *call, struct tsv **out)
{
    ts_op_fn fn = ts_find_op(qualname);
    if (!fn)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "unsupported operator '%s'", qualname);
    call->name = qualname;
    return fn(L, call, out);
}

enum d2_status ts_call_value(struct ts_lower *L, struct tsv *fn, struct ts_call *call, struct tsv **out)
{
    const char *op;
    if (fn->kind != TSV_QUALNAME)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "a %s value is not callable", tsv_describe(fn));
    op = builtin_op_name(L, fn->u.s);
    if (op)
        return ts_call_op(L, op, call, out);
    if (strncmp(fn->u.s, "__torch__.", 10) == 0) {
        size_t n = strlen(fn->u.s);
        if (n > 8 && strcmp(fn->u.s + n - 8, ".__new__") == 0) {
            /* Cls.__new__(Cls): an empty object; __init__ fills it. */
            char *cls_name = ts_strdup(L, fn->u.s);
            const struct ts_class *cls;
            enum d2_status st;
            if (!cls_name)
                return L->err->code;
            cls_name[n - 8] = '\0';
            if ((st = ts_find_class(L, cls_name, &cls)) != D2_OK)
                return st;
            *out = tsv_new(L, TSV_OBJECT);
            if (!*out || !((*out)->u.object = ts_instance_new(L, cls_name, cls)))
                return L->err->code;
            return D2_OK;
        }
        /* Library functions with a native lowering ("fn::<qualified name>") are not
         * inlined: torchvision's batched_nms picks an algorithm by input size at run
         * time, and the IR has the op itself. */
        {
            const char *native = ts_strcat3(L, "fn::", fn->u.s, "");
            ts_op_fn op_fn = native ? ts_find_op(native) : NULL;
            if (op_fn) {
                call->name = native;
                return op_fn(L, call, out);
            }
        }
        const struct ts_def *def;
        enum d2_status st = ts_find_function(L, fn->u.s, &def);
        if (st != D2_OK)
            return st;
        call->name = fn->u.s;
        return ts_call_def(L, def, NULL, call, out);
    }
    return ts_fail(L, D2_ERR_UNSUPPORTED, "unsupported function '%s'", fn->u.s);
}

static enum d2_status call_method(struct ts_lower *L, struct tsv *self, const char *name, struct ts_call *call,
                                  struct tsv **out)
{
    const struct ts_class *cls;
    const struct ts_def *def;
    enum d2_status st;
    if (self->kind == TSV_MODULE) {
        if ((st = ts_find_class(L, self->u.module->class_name, &cls)) != D2_OK)
            return st;
    } else {
        cls = self->u.object->cls;
    }
    def = ts_ast_find_method(cls, name);
    if (!def) {
        /* __enter__/__exit__ of context managers and __init__ of plain records. */
        if (strcmp(name, "__init__") == 0 && call->count == 0) {
            *out = tsv_none(L);
            return *out ? D2_OK : L->err->code;
        }
        return ts_fail(L, D2_ERR_PARSE, "class '%s' has no method '%s'", tsv_describe(self), name);
    }
    call->name = name;
    return ts_call_def(L, def, self, call, out);
}

/* Python builtins that look at their arguments' syntax (types) or need special
 * evaluation. *handled false when name is not one of them. */
static enum d2_status call_python_builtin(struct ts_lower *L, struct ts_env *env, const struct ts_expr *e,
                                          const char *name, bool *handled, struct tsv **out)
{
    uint32_t n = e->u.call.args.count;
    const struct ts_expr *const *a = (const struct ts_expr *const *)e->u.call.args.items;
    enum d2_status st;
    *handled = true;
    if (strcmp(name, "annotate") == 0 || strcmp(name, "unchecked_cast") == 0) {
        if (n != 2)
            return ts_fail(L, D2_ERR_PARSE, "%s() takes 2 arguments", name);
        if ((st = ts_eval(L, env, a[1], out)) != D2_OK)
            return st;
        /* annotate(number, t) / annotate(int, t) turn a tensor into a Python number. */
        if (a[0]->kind == TSE_NAME && (*out)->kind == TSV_TENSOR &&
            (strcmp(a[0]->u.name, "number") == 0 || strcmp(a[0]->u.name, "int") == 0 ||
             strcmp(a[0]->u.name, "float") == 0)) {
            struct ts_call call = { 0 };
            struct tsv *args[1] = { *out };
            call.args = args;
            call.count = 1;
            call.names = (const char *[]){ NULL };
            return ts_call_op(L, strcmp(a[0]->u.name, "int") == 0 ? "prim::Int" :
                                 strcmp(a[0]->u.name, "float") == 0 ? "prim::Float" : "prim::ImplicitNumber",
                              &call, out);
        }
        return D2_OK;
    }
    if (strcmp(name, "uninitialized") == 0) {
        *out = tsv_new(L, TSV_UNINIT);
        return *out ? D2_OK : L->err->code;
    }
    if (strcmp(name, "getattr") == 0 || strcmp(name, "hasattr") == 0) {
        struct tsv *obj, *attr;
        if (n != 2)
            return ts_fail(L, D2_ERR_PARSE, "%s() takes 2 arguments", name);
        if ((st = ts_eval(L, env, a[0], &obj)) != D2_OK || (st = ts_eval(L, env, a[1], &attr)) != D2_OK)
            return st;
        if (attr->kind != TSV_STR)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "%s() needs a constant attribute name", name);
        if (name[0] == 'h') {
            bool has = false;
            if (obj->kind == TSV_MODULE)
                has = ts_module_attr(obj->u.module, attr->u.s) != NULL;
            else if (obj->kind == TSV_OBJECT)
                has = ts_instance_get(obj->u.object, attr->u.s) != NULL;
            *out = tsv_bool(L, has);
            return *out ? D2_OK : L->err->code;
        }
        return getattr_value(L, obj, attr->u.s, out);
    }
    if (strcmp(name, "isinstance") == 0) {
        struct tsv *v;
        const struct ts_expr *t;
        bool result = false;
        if (n != 2)
            return ts_fail(L, D2_ERR_PARSE, "isinstance() takes 2 arguments");
        if ((st = ts_eval(L, env, a[0], &v)) != D2_OK)
            return st;
        t = a[1];
        /* The type is a name, a dotted class name, a subscripted generic, or a tuple. */
        for (uint32_t k = 0; k < (t->kind == TSE_TUPLE ? t->u.seq.count : 1) && !result; k++) {
            const struct ts_expr *ty = t->kind == TSE_TUPLE ? t->u.seq.items[k] : t;
            const char *tn = ty->kind == TSE_NAME ? ty->u.name
                             : ty->kind == TSE_SUBSCRIPT && ty->u.sub.base->kind == TSE_NAME ? ty->u.sub.base->u.name
                             : NULL;
            if (tn) {
                result = (strcmp(tn, "Tensor") == 0 && v->kind == TSV_TENSOR) ||
                         (strcmp(tn, "int") == 0 && (v->kind == TSV_INT || (v->kind == TSV_SCALAR && v->u.scalar.type == TS_PY_INT))) ||
                         (strcmp(tn, "float") == 0 && (v->kind == TSV_FLOAT || (v->kind == TSV_SCALAR && v->u.scalar.type == TS_PY_FLOAT))) ||
                         (strcmp(tn, "bool") == 0 && (v->kind == TSV_BOOL || (v->kind == TSV_SCALAR && v->u.scalar.type == TS_PY_BOOL))) ||
                         (strcmp(tn, "str") == 0 && v->kind == TSV_STR) ||
                         (strcmp(tn, "List") == 0 && v->kind == TSV_LIST) ||
                         (strcmp(tn, "Tuple") == 0 && v->kind == TSV_TUPLE) ||
                         (strcmp(tn, "Dict") == 0 && v->kind == TSV_DICT) ||
                         ((strcmp(tn, "NoneType") == 0 || strcmp(tn, "None") == 0) && v->kind == TSV_NONE);
            } else if (ty->kind == TSE_ATTR) {
                struct tsv *q;
                if ((st = ts_eval(L, env, ty, &q)) != D2_OK)
                    return st;
                if (q->kind == TSV_QUALNAME)
                    result = (v->kind == TSV_OBJECT && strcmp(v->u.object->class_name, q->u.s) == 0) ||
                             (v->kind == TSV_MODULE && strcmp(v->u.module->class_name, q->u.s) == 0);
            }
        }
        *out = tsv_bool(L, result);
        return *out ? D2_OK : L->err->code;
    }
    *handled = false;
    return D2_OK;
}

/* Python builtins evaluated on values, mapped to ops. */
static const char *python_function_op(const char *name)
{
    static const char *const map[][2] = {
        { "int", "prim::Int" }, { "float", "prim::Float" }, { "bool", "prim::Bool" }, { "str", "aten::str" },
        { "len", "aten::len" }, { "min", "prim::min" }, { "max", "prim::max" }, { "abs", "prim::abs" },
        { "print", "prim::print" }, { "round", "aten::round" }, { "range", "prim::range" },
        { "list", "aten::list" }, { "divmod", "aten::divmod" },
    };
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (strcmp(map[k][0], name) == 0)
            return map[k][1];
    return NULL;
}

static enum d2_status eval_call(struct ts_lower *L, struct ts_env *env, const struct ts_expr *e, struct tsv **out)
{
    const struct ts_expr *fn = e->u.call.fn;
    struct ts_call call = { 0 };
    enum d2_status st;
    if (fn->kind == TSE_NAME && !ts_env_get(env, fn->u.name)) {
        bool handled;
        const char *op;
        if ((st = call_python_builtin(L, env, e, fn->u.name, &handled, out)) != D2_OK || handled)
            return st;
        op = python_function_op(fn->u.name);
        if (op) {
            if ((st = eval_args(L, env, e, 0, &call)) != D2_OK)
                return st;
            return ts_call_op(L, op, &call, out);
        }
    }
    if (fn->kind == TSE_ATTR) {
        struct tsv *base;
        if ((st = ts_eval(L, env, fn->u.attr.base, &base)) != D2_OK)
            return st;
        if (base->kind == TSV_TENSOR) {
            /* x.method(args): the aten op with x as the first argument. */
            struct ts_call inner = { 0 };
            if ((st = eval_args(L, env, e, 0, &inner)) != D2_OK)
                return st;
            call.count = inner.count + 1;
            call.args = d2_arena_alloc(&L->arena, sizeof *call.args * call.count);
            call.names = d2_arena_alloc(&L->arena, sizeof *call.names * call.count);
            if (!call.args || !call.names)
                return ts_fail(L, D2_ERR_NOMEM, "out of memory");
            call.args[0] = base;
            call.names[0] = NULL;
            memcpy(call.args + 1, inner.args, sizeof *call.args * inner.count);
            memcpy(call.names + 1, inner.names, sizeof *call.names * inner.count);
            return ts_call_op(L, ts_strcat3(L, "aten::", fn->u.attr.name, ""), &call, out);
        }
        if (base->kind == TSV_MODULE || base->kind == TSV_OBJECT) {
            /* A submodule or a field holding a callable is rare; methods come first. */
            if ((st = eval_args(L, env, e, 0, &call)) != D2_OK)
                return st;
            return call_method(L, base, fn->u.attr.name, &call, out);
        }
        {
            struct tsv *callee;
            if ((st = getattr_value(L, base, fn->u.attr.name, &callee)) != D2_OK)
                return st;
            if ((st = eval_args(L, env, e, 0, &call)) != D2_OK)
                return st;
            return ts_call_value(L, callee, &call, out);
        }
    }
    {
        struct tsv *callee;
        if ((st = ts_eval(L, env, fn, &callee)) != D2_OK)
            return st;
        if ((st = eval_args(L, env, e, 0, &call)) != D2_OK)
            return st;
        return ts_call_value(L, callee, &call, out);
    }
}

enum d2_status ts_call_def(struct ts_lower *L, const struct ts_def *def, struct tsv *self, struct ts_call *call,
                           struct tsv **out)
{
    struct ts_env env = { 0 };
    uint32_t first = self ? 1 : 0, positional = 0;
    enum ts_flow flow = TS_FLOW_NEXT;
    struct tsv *ret = NULL;
    const char *saved_file = L->file;
    uint32_t saved_line = L->line, saved_col = L->col;
    enum d2_status st;

    if (L->call_depth >= TS_MAX_CALL_DEPTH)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "calls nested deeper than %d (recursion?) calling '%s'",
                       TS_MAX_CALL_DEPTH, def->name);
    if (self && def->num_params == 0)
        return ts_fail(L, D2_ERR_PARSE, "method '%s' has no self parameter", def->name);
    if (self && !ts_env_set(L, &env, def->params[0].name, self))
        return L->err->code;
    for (uint32_t i = 0; i < call->count; i++) {
        if (call->names && call->names[i]) {
            uint32_t k = first;
            while (k < def->num_params && strcmp(def->params[k].name, call->names[i]) != 0)
                k++;
            if (k == def->num_params)
                return ts_fail(L, D2_ERR_PARSE, "'%s' has no parameter '%s'", def->name, call->names[i]);
            if (!ts_env_set(L, &env, def->params[k].name, call->args[i]))
                return L->err->code;
        } else {
            uint32_t k = first + positional++;
            if (k >= def->num_params)
                return ts_fail(L, D2_ERR_PARSE, "'%s' takes %u arguments, %u given", def->name,
                               def->num_params - first, call->count);
            if (!ts_env_set(L, &env, def->params[k].name, call->args[i]))
                return L->err->code;
        }
    }
    for (uint32_t k = first; k < def->num_params; k++) {
        if (ts_env_get(&env, def->params[k].name))
            continue;
        if (!def->params[k].default_)
            return ts_fail(L, D2_ERR_PARSE, "'%s' is missing argument '%s'", def->name, def->params[k].name);
        struct ts_env empty = { 0 };
        struct tsv *v;
        if ((st = ts_eval(L, &empty, def->params[k].default_, &v)) != D2_OK)
            return st;
        if (!ts_env_set(L, &env, def->params[k].name, v))
            return L->err->code;
    }
    L->call_depth++;
    L->file = def->file;
    L->line = def->line;
    L->col = 1;
    st = ts_exec_block(L, &env, &def->body, &flow, &ret);
    L->call_depth--;
    if (st != D2_OK)
        return st;
    L->file = saved_file;
    L->line = saved_line;
    L->col = saved_col;
    *out = ret ? ret : tsv_none(L);
    return *out ? D2_OK : L->err->code;
}

/* ---- operators ---- */

static const char *binary_op_name(enum ts_op op)
{
    switch (op) {
    case TSO_ADD: return "aten::add";
    case TSO_SUB: return "aten::sub";
    case TSO_MUL: return "aten::mul";
    case TSO_DIV: return "aten::div";
    case TSO_FLOORDIV: return "aten::floordiv";
    case TSO_MOD: return "aten::remainder";
    case TSO_POW: return "aten::pow";
    case TSO_MATMUL: return "aten::matmul";
    case TSO_BITAND: return "aten::__and__";
    case TSO_BITOR: return "aten::__or__";
    case TSO_BITXOR: return "aten::__xor__";
    case TSO_LSHIFT: return "aten::__lshift__";
    case TSO_RSHIFT: return "aten::__rshift__";
    case TSO_EQ: return "aten::eq";
    case TSO_NE: return "aten::ne";
    case TSO_LT: return "aten::lt";
    case TSO_LE: return "aten::le";
    case TSO_GT: return "aten::gt";
    case TSO_GE: return "aten::ge";
    case TSO_IS: return "aten::__is__";
    case TSO_ISNOT: return "aten::__isnot__";
    case TSO_IN: return "aten::__contains__";
    default: return NULL;
    }
}

static enum d2_status call2(struct ts_lower *L, const char *op, struct tsv *a, struct tsv *b, struct tsv **out)
{
    struct ts_call call = { 0 };
    struct tsv **args = d2_arena_alloc(&L->arena, sizeof *args * 2);
    const char **names = d2_arena_alloc(&L->arena, sizeof *names * 2);
    if (!args || !names)
        return ts_fail(L, D2_ERR_NOMEM, "out of memory");
    args[0] = a;
    args[1] = b;
    call.args = args;
    call.names = names;
    call.count = b ? 2 : 1;
    return ts_call_op(L, op, &call, out);
}

static enum d2_status eval_binary(struct ts_lower *L, struct ts_env *env, const struct ts_expr *e, struct tsv **out)
{
    struct tsv *a, *b;
    enum d2_status st;
    enum ts_op op = e->u.binary.op;
    if ((st = ts_eval(L, env, e->u.binary.left, &a)) != D2_OK)
        return st;
    if (op == TSO_AND || op == TSO_OR) {
        bool known, t = tsv_truth(a, &known);
        if (known && (op == TSO_AND ? !t : t)) {
            *out = tsv_bool(L, t);
            return *out ? D2_OK : L->err->code;
        }
        if ((st = ts_eval(L, env, e->u.binary.right, &b)) != D2_OK)
            return st;
        if (known)
            return call2(L, "prim::Bool", b, NULL, out);
        return call2(L, op == TSO_AND ? "aten::__and__" : "aten::__or__", a, b, out);
    }
    if ((st = ts_eval(L, env, e->u.binary.right, &b)) != D2_OK)
        return st;
    if (op == TSO_NOTIN) {
        if ((st = call2(L, "aten::__contains__", b, a, out)) != D2_OK)
            return st;
        return call2(L, "aten::__not__", *out, NULL, out);
    }
    if (op == TSO_IN)
        return call2(L, "aten::__contains__", b, a, out);
    return call2(L, binary_op_name(op), a, b, out);
}

static enum d2_status eval_subscript(struct ts_lower *L, struct ts_env *env, const struct ts_expr *e, struct tsv **out)
{
    struct tsv *base, *index;
    enum d2_status st;
    if ((st = ts_eval(L, env, e->u.sub.base, &base)) != D2_OK)
        return st;
    if (base->kind == TSV_QUALNAME) { /* a generic type such as List[int] in value position */
        *out = base;
        return D2_OK;
    }
    if (e->u.sub.index->kind == TSE_SLICE) {
        const struct ts_expr *s = e->u.sub.index;
        struct tsv *parts[3] = { NULL, NULL, NULL };
        const struct ts_expr *exprs[3] = { s->u.slice.lo, s->u.slice.hi, s->u.slice.step };
        struct ts_call call = { 0 };
        struct tsv *args[5];
        const char *names[5] = { NULL, NULL, NULL, NULL, NULL };
        for (int k = 0; k < 3; k++)
            if (exprs[k] && (st = ts_eval(L, env, exprs[k], &parts[k])) != D2_OK)
                return st;
        args[0] = base;
        args[1] = tsv_int(L, 0); /* dim, for tensors */
        args[2] = parts[0] ? parts[0] : tsv_none(L);
        args[3] = parts[1] ? parts[1] : tsv_none(L);
        args[4] = parts[2] ? parts[2] : tsv_int(L, 1);
        call.args = args;
        call.names = names;
        call.count = 5;
        if (base->kind != TSV_TENSOR) { /* list slicing: slice(list, start, end, step) */
            args[1] = args[2];
            args[2] = args[3];
            args[3] = args[4];
            call.count = 4;
        }
        return ts_call_op(L, "aten::slice", &call, out);
    }
    if ((st = ts_eval(L, env, e->u.sub.index, &index)) != D2_OK)
        return st;
    return call2(L, "aten::__getitem__", base, index, out);
}

static enum d2_status eval_name(struct ts_lower *L, struct ts_env *env, const struct ts_expr *e, struct tsv **out)
{
    static const char *const roots[] = {
        "torch", "ops", "__torch__", "CONSTANTS", "math", "Tensor", "int", "float", "bool", "str",
        "List", "Dict", "Tuple", "Optional", "NoneType", "Any", "number", "Device", "Final", "Union",
    };
    const char *name = e->u.name;
    struct tsv *v = ts_env_get(env, name);
    if (v) {
        *out = v;
        return D2_OK;
    }
    if (strcmp(name, "inf") == 0 || strcmp(name, "nan") == 0) {
        *out = tsv_float(L, name[0] == 'i' ? INFINITY : NAN);
        return *out ? D2_OK : L->err->code;
    }
    for (size_t k = 0; k < sizeof roots / sizeof roots[0]; k++)
        if (strcmp(roots[k], name) == 0) {
            *out = tsv_qualname(L, name);
            return *out ? D2_OK : L->err->code;
        }
    return ts_fail(L, D2_ERR_PARSE, "name '%s' is not defined", name);
}

enum d2_status ts_eval(struct ts_lower *L, struct ts_env *env, const struct ts_expr *e, struct tsv **out)
{
    enum d2_status st;
    *out = NULL;
    L->line = e->line;
    L->col = e->col;
    switch (e->kind) {
    case TSE_NAME: return eval_name(L, env, e, out);
    case TSE_INT: *out = tsv_int(L, e->u.i); break;
    case TSE_FLOAT: *out = tsv_float(L, e->u.f); break;
    case TSE_STR: *out = tsv_str(L, e->u.str.data); break;
    case TSE_TRUE: *out = tsv_bool(L, true); break;
    case TSE_FALSE: *out = tsv_bool(L, false); break;
    case TSE_NONE: *out = tsv_none(L); break;
    case TSE_ATTR: {
        struct tsv *base;
        if ((st = ts_eval(L, env, e->u.attr.base, &base)) != D2_OK)
            return st;
        L->line = e->line;
        L->col = e->col;
        return getattr_value(L, base, e->u.attr.name, out);
    }
    case TSE_CALL:
        st = eval_call(L, env, e, out);
        return st;
    case TSE_SUBSCRIPT: return eval_subscript(L, env, e, out);
    case TSE_SLICE: return ts_fail(L, D2_ERR_PARSE, "a slice outside a subscript");
    case TSE_TUPLE: case TSE_LIST:
        *out = tsv_seq_new(L, e->kind == TSE_TUPLE ? TSV_TUPLE : TSV_LIST, e->u.seq.count);
        for (uint32_t i = 0; *out && i < e->u.seq.count; i++)
            if ((st = ts_eval(L, env, e->u.seq.items[i], &(*out)->u.seq.items[i])) != D2_OK)
                return st;
        break;
    case TSE_DICT:
        *out = tsv_new(L, TSV_DICT);
        for (uint32_t i = 0; *out && i < e->u.dict.keys.count; i++) {
            struct tsv *k, *v;
            if ((st = ts_eval(L, env, e->u.dict.keys.items[i], &k)) != D2_OK ||
                (st = ts_eval(L, env, e->u.dict.values.items[i], &v)) != D2_OK)
                return st;
            if (!tsv_dict_set(L, *out, k, v))
                return L->err->code;
        }
        break;
    case TSE_UNARY: {
        struct tsv *a;
        if ((st = ts_eval(L, env, e->u.unary.operand, &a)) != D2_OK)
            return st;
        switch (e->u.unary.op) {
        case TSO_NOT: return call2(L, "aten::__not__", a, NULL, out);
        case TSO_NEG: return call2(L, "aten::neg", a, NULL, out);
        case TSO_INVERT: return call2(L, "aten::bitwise_not", a, NULL, out);
        default: *out = a; return D2_OK;
        }
    }
    case TSE_BINARY: return eval_binary(L, env, e, out);
    case TSE_IFEXP: {
        struct tsv *c;
        bool known, t;
        if ((st = ts_eval(L, env, e->u.ifexp.cond, &c)) != D2_OK)
            return st;
        t = tsv_truth(c, &known);
        if (!known) {
            int64_t k;
            if (!ts_static_int(L, c, &k))
                return ts_fail(L, D2_ERR_UNSUPPORTED, "a conditional expression with a run-time condition");
            t = k != 0;
        }
        return ts_eval(L, env, t ? e->u.ifexp.then : e->u.ifexp.orelse, out);
    }
    }
    return *out ? D2_OK : L->err->code;
}
