/* runtime/postprocess_internal.h: a growable string buffer shared by the text writers of the
 * post-processing library (table in postprocess.c, JSON in coco_json.c). Not public API.
 * A failed allocation sets `failed` and later appends do nothing, so callers check once. */
#ifndef D2_RUNTIME_POSTPROCESS_INTERNAL_H
#define D2_RUNTIME_POSTPROCESS_INTERNAL_H

#include "../ir/ir.h"

struct d2_strbuf {
    const struct d2_allocator *alloc;
    char *data;   /* NUL-terminated when length > 0 */
    size_t length, capacity;
    bool failed;
};

void d2_strbuf_init(struct d2_strbuf *b, const struct d2_allocator *alloc);
void d2_strbuf_append(struct d2_strbuf *b, const char *s);
void d2_strbuf_printf(struct d2_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The shortest decimal that reads back as the same double (JSON number; "null" if not finite). */
void d2_strbuf_number(struct d2_strbuf *b, double v);
/* Hand over the string (an empty string when nothing was appended); NULL if an append failed. */
char *d2_strbuf_take(struct d2_strbuf *b);
void d2_strbuf_free(struct d2_strbuf *b);

#endif
