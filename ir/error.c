/* ir/error.c: status codes and error messages carried on a struct d2_error. */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum d2_status d2_verrorf(struct d2_error *err, enum d2_status code, const char *fmt, va_list ap)
{
    /* First error wins: the root cause is more useful than its consequences. */
    if (err && err->code == D2_OK) {
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
    }
    return code;
}

enum d2_status d2_errorf(struct d2_error *err, enum d2_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    d2_verrorf(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void d2_error_prefix(struct d2_error *err, const char *fmt, ...)
{
    char prefix[D2_ERROR_MESSAGE_MAX];
    char joined[D2_ERROR_MESSAGE_MAX];
    va_list ap;
    if (!err || err->code == D2_OK)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Copy by hand: snprintf("%s%s") into a buffer of the same size warns about truncation,
     * which is exactly what is wanted here. */
    {
        size_t n = strlen(prefix), m = strlen(err->message);
        if (n > sizeof joined - 1)
            n = sizeof joined - 1;
        if (m > sizeof joined - 1 - n)
            m = sizeof joined - 1 - n;
        memcpy(joined, prefix, n);
        memcpy(joined + n, err->message, m);
        joined[n + m] = '\0';
    }
    memcpy(err->message, joined, sizeof joined);
}

void d2_error_clear(struct d2_error *err)
{
    err->code = D2_OK;
    err->message[0] = '\0';
}

const char *d2_status_name(enum d2_status code)
{
    switch (code) {
    case D2_OK: return "ok";
    case D2_ERR_IO: return "I/O error";
    case D2_ERR_PARSE: return "parse error";
    case D2_ERR_UNSUPPORTED: return "unsupported";
    case D2_ERR_SHAPE: return "shape error";
    case D2_ERR_NOMEM: return "out of memory";
    case D2_ERR_BACKEND: return "backend error";
    case D2_ERR_INVALID_ARG: return "invalid argument";
    case D2_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

void d2_assert_fail(const char *expr, const char *file, int line)
{
    /* Only reached through a d2rt bug, never through user input. */
    fprintf(stderr, "d2rt: internal assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
