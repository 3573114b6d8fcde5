/* frontend/name_map.c: string -> 64-bit value map shared by the frontends (ONNX value
 * names, Caffe2 blob names): open addressing with linear probing, FNV-1a hashing, all
 * memory through the d2_allocator. See name_map.h. */
#include "frontend/name_map.h"

#include <string.h>

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

void d2_name_map_init(struct d2_name_map *m, const struct d2_allocator *alloc)
{
    memset(m, 0, sizeof *m);
    m->alloc = alloc;
}

void d2_name_map_free(struct d2_name_map *m)
{
    d2_free(m->alloc, (void *)m->keys);
    d2_free(m->alloc, m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->count = 0;
}

static bool map_grow(struct d2_name_map *m)
{
    uint32_t new_cap = m->cap ? m->cap * 2 : 64;
    const char **keys = d2_calloc(m->alloc, new_cap, sizeof *keys);
    uint64_t *vals = d2_calloc(m->alloc, new_cap, sizeof *vals);
    if (!keys || !vals || new_cap < m->cap) {
        d2_free(m->alloc, (void *)keys);
        d2_free(m->alloc, vals);
        return false;
    }
    for (uint32_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        uint32_t j = hash_str(m->keys[i]) & (new_cap - 1);
        while (keys[j])
            j = (j + 1) & (new_cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    d2_free(m->alloc, (void *)m->keys);
    d2_free(m->alloc, m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = new_cap;
    return true;
}

bool d2_name_map_put(struct d2_name_map *m, const char *key, uint64_t val)
{
    if ((m->count + 1) * 2 > m->cap && !map_grow(m))
        return false;
    uint32_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j] && strcmp(m->keys[j], key) != 0)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j])
        m->count++;
    m->keys[j] = key;
    m->vals[j] = val;
    return true;
}

bool d2_name_map_get(const struct d2_name_map *m, const char *key, uint64_t *val)
{
    if (!m->cap)
        return false;
    uint32_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) {
            *val = m->vals[j];
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}
