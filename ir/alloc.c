/* ir/alloc.c: the allocator hook and the bump arena built on it.
 *
 * Every allocation in d2rt goes through a struct d2_allocator, so a test can hand
 * in an allocator that fails the Nth call and check that each code path reports
 * D2_ERR_NOMEM cleanly (Lua's lua_Alloc, SQLite's sqlite3_mem_methods). */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static void *default_realloc(void *user, void *ptr, size_t new_size)
{
    (void)user;
    if (new_size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size);
}

static const struct d2_allocator default_allocator = { default_realloc, NULL };

const struct d2_allocator *d2_allocator_default(void) { return &default_allocator; }

void *d2_alloc(const struct d2_allocator *a, size_t size)
{
    if (!a)
        a = &default_allocator;
    /* A zero-byte request still yields a unique pointer, like malloc(1). */
    return a->realloc_fn(a->user, NULL, size ? size : 1);
}

void *d2_calloc(const struct d2_allocator *a, size_t count, size_t size)
{
    void *p;
    if (size && count > SIZE_MAX / size)
        return NULL;
    p = d2_alloc(a, count * size);
    if (p)
        memset(p, 0, (count * size) != 0 ? count * size : 1);
    return p;
}

void *d2_realloc(const struct d2_allocator *a, void *ptr, size_t size)
{
    if (!a)
        a = &default_allocator;
    return a->realloc_fn(a->user, ptr, size ? size : 1);
}

void d2_free(const struct d2_allocator *a, void *ptr)
{
    if (!ptr)
        return;
    if (!a)
        a = &default_allocator;
    a->realloc_fn(a->user, ptr, 0);
}

char *d2_strdup(const struct d2_allocator *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = d2_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- arena ------------------------------------------------------------- */

struct d2_arena_chunk {
    struct d2_arena_chunk *next;
    size_t used, capacity;
    /* payload follows, 16-byte aligned because the header is 32 bytes */
    max_align_t payload[];
};

#define ARENA_MIN_CHUNK (64 * 1024)

void d2_arena_init(struct d2_arena *arena, const struct d2_allocator *alloc)
{
    arena->alloc = alloc ? alloc : &default_allocator;
    arena->chunks = NULL;
    arena->bytes_allocated = 0;
}

void *d2_arena_alloc(struct d2_arena *arena, size_t size)
{
    struct d2_arena_chunk *c = arena->chunks;
    size_t aligned = (size + 15) & ~(size_t)15;
    void *p;
    if (aligned < size)
        return NULL;
    if (!c || c->capacity - c->used < aligned) {
        size_t cap = aligned > ARENA_MIN_CHUNK ? aligned : ARENA_MIN_CHUNK;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        c = d2_alloc(arena->alloc, sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->capacity = cap;
        c->next = arena->chunks;
        arena->chunks = c;
    }
    p = (char *)c->payload + c->used;
    c->used += aligned;
    arena->bytes_allocated += aligned;
    memset(p, 0, aligned);
    return p;
}

char *d2_arena_strndup(struct d2_arena *arena, const char *s, size_t n)
{
    char *p;
    if (!s)
        return NULL;
    p = d2_arena_alloc(arena, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *d2_arena_strdup(struct d2_arena *arena, const char *s)
{
    return s ? d2_arena_strndup(arena, s, strlen(s)) : NULL;
}

void d2_arena_deinit(struct d2_arena *arena)
{
    struct d2_arena_chunk *c = arena->chunks;
    while (c) {
        struct d2_arena_chunk *next = c->next;
        d2_free(arena->alloc, c);
        c = next;
    }
    arena->chunks = NULL;
    arena->bytes_allocated = 0;
}
