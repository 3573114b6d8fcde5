/* ir/ops.c: the op info table, generated from ops.def. */
#include "ir.h"

#include <string.h>

static const struct d2_op_info op_table[D2_OP_COUNT] = {
#define D2_OP(ID, op_name, min_in, max_in, min_out, max_out, attr_struct, regions, op_flags, sem) \
    [D2_OP_##ID] = { .name = #op_name, .min_inputs = min_in, .max_inputs = max_in,                 \
                     .min_outputs = min_out, .max_outputs = max_out,                               \
                     .attrs = D2_ATTRS_##attr_struct, .num_regions = regions,                      \
                     .flags = (uint32_t)(op_flags), .semantics = sem },
#include "ops.def"
};

const struct d2_op_info *d2_op_info(enum d2_op op)
{
    return (unsigned)op < D2_OP_COUNT ? &op_table[op] : NULL;
}

const char *d2_op_name(enum d2_op op)
{
    return (unsigned)op < D2_OP_COUNT ? op_table[op].name : "<invalid op>";
}

bool d2_op_from_name(const char *name, enum d2_op *out)
{
    for (int op = 0; op < D2_OP_COUNT; op++) {
        if (strcmp(op_table[op].name, name) == 0) {
            *out = (enum d2_op)op;
            return true;
        }
    }
    return false;
}
