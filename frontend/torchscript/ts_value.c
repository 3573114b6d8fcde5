/* frontend/torchscript/ts_value.c: small accessors for the pickle value tree
 * (struct ts_value, ts_archive.h). None of them recurse. */
#include <string.h>

#include "frontend/torchscript/ts_archive.h"

const char *ts_kind_name(enum ts_kind kind)
{
    static const char *const names[] = {
        [TS_NONE] = "none",     [TS_BOOL] = "bool",     [TS_INT] = "int",        [TS_FLOAT] = "float",
        [TS_STRING] = "string", [TS_BYTES] = "bytes",   [TS_TUPLE] = "tuple",    [TS_LIST] = "list",
        [TS_SET] = "set",       [TS_DICT] = "dict",     [TS_TENSOR] = "tensor",  [TS_OBJECT] = "object",
        [TS_GLOBAL] = "global", [TS_STORAGE] = "storage",
    };
    if ((unsigned)kind < sizeof names / sizeof names[0] && names[kind])
        return names[kind];
    return "?";
}

const struct ts_value *ts_dict_get(const struct ts_value *d, const char *key)
{
    if (!d || d->kind != TS_DICT)
        return NULL;
    size_t len = strlen(key);
    for (uint32_t i = 0; i < d->u.dict.count; i++) {
        const struct ts_value *k = d->u.dict.keys[i];
        if (k->kind == TS_STRING && k->u.str.len == len && memcmp(k->u.str.data, key, len) == 0)
            return d->u.dict.values[i];
    }
    return NULL;
}

const struct ts_value *ts_object_attr(const struct ts_value *obj, const char *name)
{
    if (!obj || obj->kind != TS_OBJECT)
        return NULL;
    return ts_dict_get(obj->u.object.state, name);
}

const char *ts_object_short_name(const struct ts_value *obj)
{
    if (!obj || obj->kind != TS_OBJECT)
        return NULL;
    const char *dot = strrchr(obj->u.object.class_name, '.');
    return dot ? dot + 1 : obj->u.object.class_name;
}
