/* passes/pipeline.c: the pass pipeline: one table, run in order.
 *
 * Contract (passes/passes.h): each pass rewrites the graph in place. After a pass,
 * if verification is on (options->verify, or a D2_DEBUG_VERIFY=1 build), the graph
 * must pass d2_verify_graph, else the run fails with D2_ERR_INTERNAL naming the
 * pass. If a dump callback is set and dump_after names the pass (or is "all"), it
 * receives the IR text after the pass. Opt-in passes (struct d2_pass .opt_in) run only
 * when their option is set or `only` names them. */
#include "passes.h"

#include <string.h>

#ifndef D2_DEBUG_VERIFY
#define D2_DEBUG_VERIFY 0
#endif

/* The pipeline, in order. Add a pass here and declare it in passes.h. */
static const struct d2_pass pipeline[] = {
    { "infer_shapes", d2_pass_infer_shapes, false },
    { "specialize_shapes", d2_pass_specialize_shapes, false }, /* no-op unless requested */
    { "lower_roi_align", d2_pass_lower_roi_align, false },
    { "lower_nms", d2_pass_lower_nms, false },
    { "roialign_aligned", d2_pass_roialign_aligned, true },
    { "fold_constants", d2_pass_fold_constants, false },
    { "cse", d2_pass_cse, false },
    { "loop_concat_scan", d2_pass_loop_concat_scan, false },
    { "fold_batch_norm", d2_pass_fold_batch_norm, false },
    { "fuse_upsample_add", d2_pass_fuse_upsample_add, false }, /* before fuse_conv takes the add */
    { "fuse_conv", d2_pass_fuse_conv, false },
    { "dce", d2_pass_dce, false },
    { "memplan", d2_pass_memplan, false }, /* last: other passes drop the plan */
};

#define PIPELINE_LENGTH (sizeof pipeline / sizeof pipeline[0])

const struct d2_pass *d2_pass_table(uint32_t *count)
{
    *count = (uint32_t)PIPELINE_LENGTH;
    return pipeline;
}

const struct d2_pass *d2_pass_find(const char *name)
{
    for (size_t i = 0; i < PIPELINE_LENGTH; i++)
        if (strcmp(pipeline[i].name, name) == 0)
            return &pipeline[i];
    return NULL;
}

enum d2_status d2_pass_infer_shapes(struct d2_graph *g, struct d2_error *err)
{
    return d2_infer_graph(g, err);
}

/* Whether `name` is one of the comma-separated names in list. */
static bool list_contains(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && *p == ' ')
            p++, len--;
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* Every name in `only` must be a pass: a typo should not silently run nothing. */
static enum d2_status check_only_list(const char *list, struct d2_error *err)
{
    char name[64];
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && *p == ' ')
            p++, len--;
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, p, len);
        name[len] = '\0';
        if (!d2_pass_find(name))
            return d2_errorf(err, D2_ERR_INVALID_ARG, "unknown pass '%s'", name);
        if (!end)
            break;
        p = end + 1;
    }
    return D2_OK;
}

/* Does an option switch the opt-in pass on? */
static bool opted_in(const struct d2_pass *pass, const struct d2_pass_options *options)
{
    return strcmp(pass->name, "roialign_aligned") == 0 && options->roialign_aligned;
}

enum d2_status d2_run_passes(struct d2_graph *g, const struct d2_pass_options *options, struct d2_error *err)
{
    static const struct d2_pass_options defaults = { NULL, NULL, NULL, NULL, false, false };
    enum d2_status st;
    bool verify;
    if (!options)
        options = &defaults;
    verify = options->verify || D2_DEBUG_VERIFY;
    if (options->only && (st = check_only_list(options->only, err)) != D2_OK)
        return st;
    for (size_t i = 0; i < PIPELINE_LENGTH; i++) {
        const struct d2_pass *pass = &pipeline[i];
        if (options->only && !list_contains(options->only, pass->name))
            continue;
        if (pass->opt_in && !options->only && !opted_in(pass, options))
            continue;
        if (pass->run != d2_pass_memplan)
            g->memory_plan = NULL; /* a plan describes the graph as it was */
        st = pass->run(g, err);
        if (st != D2_OK) {
            d2_error_prefix(err, "pass %s: ", pass->name);
            return st;
        }
        if (verify) {
            struct d2_error verify_err = { D2_OK, "" };
            if (d2_verify_graph(g, &verify_err) != D2_OK)
                return d2_errorf(err, D2_ERR_INTERNAL, "the graph fails verification after pass %s: %s",
                                 pass->name, verify_err.message);
        }
        if (options->dump && options->dump_after &&
            (strcmp(options->dump_after, "all") == 0 || strcmp(options->dump_after, pass->name) == 0)) {
            struct d2_print_options print_options = { 64 };
            char *text = d2_print_graph(g, &print_options, err);
            if (!text)
                return err && err->code != D2_OK ? err->code : D2_ERR_NOMEM;
            options->dump(options->dump_user, pass->name, text);
            d2_free(g->alloc, text);
        }
    }
    return D2_OK;
}
