/* ir/attrs.c: field descriptor tables for the attribute structs of attrs.def.
 *
 * Generic code (printer, parser, artifact serializer) walks these tables instead of
 * knowing each struct. Each struct gets a small function whose block scope holds a
 * typedef `S` of the struct, so the field macros can use offsetof(S, field). */
#include "ir.h"

#include <stddef.h>
#include <string.h>

/* Enum value texts: one array per enum. */
#define D2_V(ID, text) text,
#define D2_ENUM(name, ...) static const char *const enum_names_##name[] = { __VA_ARGS__ };
#include "attrs.def"
#undef D2_V

#define D2_INT(f, def) { #f, D2_FIELD_INT, offsetof(S, f), (int64_t)(def), 0, NULL, 0 },
#define D2_FLOAT(f, def) { #f, D2_FIELD_FLOAT, offsetof(S, f), 0, (double)(def), NULL, 0 },
#define D2_INTS(f) { #f, D2_FIELD_INTS, offsetof(S, f), 0, 0, NULL, 0 },
#define D2_FLOATS(f) { #f, D2_FIELD_FLOATS, offsetof(S, f), 0, 0, NULL, 0 },
#define D2_STRING(f) { #f, D2_FIELD_STRING, offsetof(S, f), 0, 0, NULL, 0 },
#define D2_ENUMF(f, e, def)                                                    \
    { #f, D2_FIELD_ENUM, offsetof(S, f), D2_##def, 0, enum_names_##e,          \
      (int32_t)(sizeof enum_names_##e / sizeof enum_names_##e[0]) },
#define D2_DTYPEF(f, def) { #f, D2_FIELD_DTYPE, offsetof(S, f), D2_DTYPE_##def, 0, NULL, 0 },
#define D2_ATTRS(name, ...)                                                                 \
    static struct d2_attr_schema schema_of_##name(void)                                     \
    {                                                                                       \
        typedef struct d2_attrs_##name S;                                                   \
        /* entry 0 is a sentinel so that structs without fields still form an array */      \
        static const struct d2_attr_field fields[] = { { "", D2_FIELD_INT, 0, 0, 0, NULL, 0 }, \
                                                       __VA_ARGS__ };                       \
        struct d2_attr_schema s = { #name, sizeof(S),                                       \
                                    (uint32_t)(sizeof fields / sizeof fields[0] - 1),       \
                                    fields + 1 };                                           \
        return s;                                                                           \
    }
#include "attrs.def"
#undef D2_INT
#undef D2_FLOAT
#undef D2_INTS
#undef D2_FLOATS
#undef D2_STRING
#undef D2_ENUMF
#undef D2_DTYPEF

typedef struct d2_attr_schema (*schema_fn)(void);
static const schema_fn schema_functions[D2_ATTRS_COUNT] = {
#define D2_ATTRS(name, ...) [D2_ATTRS_##name] = schema_of_##name,
#include "attrs.def"
};

const struct d2_attr_schema *d2_attr_schema_get(enum d2_attrs_kind kind)
{
    /* Built on each call from static data: cheap, and needs no lazy global state. */
    static _Thread_local struct d2_attr_schema slot[D2_ATTRS_COUNT];
    if ((unsigned)kind >= D2_ATTRS_COUNT)
        return NULL;
    slot[kind] = schema_functions[kind]();
    return &slot[kind];
}

void d2_attrs_set_defaults(enum d2_attrs_kind kind, void *attrs)
{
    const struct d2_attr_schema *s = d2_attr_schema_get(kind);
    if (!s)
        return;
    for (uint32_t i = 0; i < s->num_fields; i++) {
        const struct d2_attr_field *f = &s->fields[i];
        char *p = (char *)attrs + f->offset;
        switch (f->kind) {
        case D2_FIELD_INT: memcpy(p, &f->default_int, sizeof(int64_t)); break;
        case D2_FIELD_FLOAT: memcpy(p, &f->default_float, sizeof(double)); break;
        case D2_FIELD_ENUM: { int32_t v = (int32_t)f->default_int; memcpy(p, &v, sizeof v); break; }
        case D2_FIELD_DTYPE: { enum d2_dtype v = (enum d2_dtype)f->default_int; memcpy(p, &v, sizeof v); break; }
        case D2_FIELD_INTS: memset(p, 0, sizeof(struct d2_ints)); break;
        case D2_FIELD_FLOATS: memset(p, 0, sizeof(struct d2_floats)); break;
        case D2_FIELD_STRING: memset(p, 0, sizeof(const char *)); break;
        }
    }
}

const char *d2_attr_enum_name(const struct d2_attr_field *f, int32_t value)
{
    if (f->kind != D2_FIELD_ENUM || value < 0 || value >= f->enum_count)
        return NULL;
    return f->enum_names[value];
}

int32_t d2_attr_enum_from_name(const struct d2_attr_field *f, const char *text)
{
    for (int32_t i = 0; f->kind == D2_FIELD_ENUM && i < f->enum_count; i++)
        if (strcmp(f->enum_names[i], text) == 0)
            return i;
    return -1;
}
