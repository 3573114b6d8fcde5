/* frontend/name_map.h: string -> 64-bit value map shared by the frontends.
 * Keys are borrowed (they must outlive the map); the arrays come from the allocator. */
#ifndef D2_FRONTEND_NAME_MAP_H
#define D2_FRONTEND_NAME_MAP_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"

struct d2_name_map {
    const char **keys;  /* borrowed: must outlive the map */
    uint64_t *vals;
    uint32_t cap, count;
    const struct d2_allocator *alloc;
};

void d2_name_map_init(struct d2_name_map *m, const struct d2_allocator *alloc);
void d2_name_map_free(struct d2_name_map *m);
/* false on allocation failure. Replaces an existing key's value. */
bool d2_name_map_put(struct d2_name_map *m, const char *key, uint64_t val);
bool d2_name_map_get(const struct d2_name_map *m, const char *key, uint64_t *val);

#endif
