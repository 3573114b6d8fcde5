/* runtime/session.c: the public API of include/d2rt.h on top of the internal modules
 * (runtime/load.h to load, runtime/artifact.h to compile to a file, the backend
 * registry to run).
 *
 * Handles (model, session) begin with a struct handle_header that carries the status
 * and message of their last failure, which d2rt_errmsg reads (SQLite's errmsg). The
 * public enums mirror the internal ones value for value (checked below).
 */
#include "d2rt.h"

#include <string.h>

#include "../backends/backend.h"
#include "artifact.h"
#include "load.h"

_Static_assert(D2RT_ERR_INTERNAL == (int)D2_ERR_INTERNAL, "d2rt_status mirrors enum d2_status");
_Static_assert(D2RT_ERR_NOMEM == (int)D2_ERR_NOMEM, "d2rt_status mirrors enum d2_status");
_Static_assert(D2RT_BOOL == (int)D2_DTYPE_BOOL, "d2rt_dtype mirrors enum d2_dtype");
_Static_assert(D2RT_U8 == (int)D2_DTYPE_U8, "d2rt_dtype mirrors enum d2_dtype");
_Static_assert(D2RT_MAX_RANK == D2_MAX_RANK, "same rank limit");
_Static_assert(sizeof(struct d2rt_allocator) == sizeof(struct d2_allocator), "allocator layouts match");

#define MODEL_MAGIC 0x6d327264u   /* "d2rm" */
#define SESSION_MAGIC 0x73327264u /* "d2rs" */

struct handle_header {
    uint32_t magic;
    struct d2_error error;
};

struct d2rt_model {
    struct handle_header h;
    struct d2_allocator alloc;
    struct d2_graph *graph;
    enum d2_model_format format;
};

struct d2rt_session {
    struct handle_header h;
    struct d2_allocator alloc;
    const struct d2rt_model *model;
    const struct d2_backend_ops *backend;
    int threads;
    void *backend_state;  /* backend->session_new's state, or NULL */
};

struct d2rt_tensor {
    struct d2_tensor t;
    struct d2_allocator alloc; /* frees t's storage when owned, and this struct */
    /* A run's output: the backend's reference that keeps `alloc` valid (its storage
     * goes back to the backend's cache when freed), released after both frees. */
    void *owner;
    void (*release_owner)(void *owner);
};

static struct d2_allocator to_internal(const struct d2rt_allocator *a)
{
    struct d2_allocator out = *d2_allocator_default();
    if (a && a->realloc_fn) {
        out.realloc_fn = a->realloc_fn;
        out.user = a->user;
    }
    return out;
}

const char *d2rt_status_string(d2rt_status status)
{
    return d2_status_name((enum d2_status)status);
}

const char *d2rt_errmsg(const void *handle)
{
    const struct handle_header *h = handle;
    if (!h)
        return "out of memory";
    if (h->magic != MODEL_MAGIC && h->magic != SESSION_MAGIC)
        return "not a d2rt model or session handle";
    return h->error.code == D2_OK ? "not an error" : h->error.message;
}

const char *d2rt_dtype_name(d2rt_dtype dtype)
{
    return d2_dtype_name((enum d2_dtype)dtype);
}

size_t d2rt_dtype_size(d2rt_dtype dtype)
{
    return d2_dtype_size((enum d2_dtype)dtype);
}

/* ---- models ---------------------------------------------------------------- */

d2rt_status d2rt_model_load_with(const char *path, const struct d2rt_allocator *alloc, d2rt_model **model_out)
{
    return d2rt_model_load_ex(path, alloc, NULL, model_out);
}

d2rt_status d2rt_model_load_ex(const char *path, const struct d2rt_allocator *alloc,
                               const struct d2rt_compile_options *options, d2rt_model **model_out)
{
    struct d2_compile_options compile = { .roialign_aligned = options && options->roialign_aligned };
    if (options) {
        compile.batch = options->batch;
        compile.height = options->height;
        compile.width = options->width;
        compile.dump_after = options->dump_after;
        compile.dump = options->dump;
        compile.dump_user = options->dump_user;
    }
    struct d2_allocator a = to_internal(alloc);
    d2rt_model *m;
    if (!model_out)
        return D2RT_ERR_INVALID_ARG;
    *model_out = NULL;
    m = d2_calloc(&a, 1, sizeof *m);
    if (!m)
        return D2RT_ERR_NOMEM;
    m->h.magic = MODEL_MAGIC;
    m->alloc = a;
    *model_out = m;
    if (!path)
        return (d2rt_status)d2_errorf(&m->h.error, D2_ERR_INVALID_ARG, "model path is NULL");
    /* The graph keeps a pointer to the allocator: point it at the model's copy. */
    m->graph = d2_load_model_file_with(path, &m->alloc, &compile, &m->format, &m->h.error);
    if (!m->graph)
        return m->h.error.code != D2_OK ? (d2rt_status)m->h.error.code : D2RT_ERR_INTERNAL;
    return D2RT_OK;
}

d2rt_status d2rt_model_load(const char *path, d2rt_model **model_out)
{
    return d2rt_model_load_with(path, NULL, model_out);
}

d2rt_status d2rt_model_compile_to_file(d2rt_model *model, const char *path)
{
    if (!model || model->h.magic != MODEL_MAGIC)
        return D2RT_ERR_INVALID_ARG;
    d2_error_clear(&model->h.error);
    if (!model->graph)
        return (d2rt_status)d2_errorf(&model->h.error, D2_ERR_INVALID_ARG, "the model failed to load");
    if (!path)
        return (d2rt_status)d2_errorf(&model->h.error, D2_ERR_INVALID_ARG, "output path is NULL");
    return (d2rt_status)d2_artifact_write_file(model->graph, path, &model->h.error);
}

void d2rt_model_free(d2rt_model *model)
{
    struct d2_allocator a;
    if (!model || model->h.magic != MODEL_MAGIC)
        return;
    a = model->alloc;
    d2_graph_free(model->graph);
    model->h.magic = 0;
    d2_free(&a, model);
}

const char *d2rt_model_format(const d2rt_model *model)
{
    return model ? d2_model_format_name(model->format) : "unknown";
}

static const struct d2_value *model_value(const d2rt_model *model, bool input, uint32_t index)
{
    const struct d2_graph *g = model ? model->graph : NULL;
    if (!g)
        return NULL;
    if (input)
        return index < g->num_inputs ? &g->values[g->inputs[index]] : NULL;
    return index < g->num_outputs ? &g->values[g->outputs[index]] : NULL;
}

uint32_t d2rt_model_num_inputs(const d2rt_model *model)
{
    return model && model->graph ? model->graph->num_inputs : 0;
}

uint32_t d2rt_model_num_outputs(const d2rt_model *model)
{
    return model && model->graph ? model->graph->num_outputs : 0;
}

const char *d2rt_model_input_name(const d2rt_model *model, uint32_t index)
{
    const struct d2_value *v = model_value(model, true, index);
    return v ? v->name : NULL;
}

const char *d2rt_model_output_name(const d2rt_model *model, uint32_t index)
{
    const struct d2_value *v = model_value(model, false, index);
    return v ? v->name : NULL;
}

d2rt_dtype d2rt_model_input_dtype(const d2rt_model *model, uint32_t index)
{
    const struct d2_value *v = model_value(model, true, index);
    return v ? (d2rt_dtype)v->type.dtype : D2RT_UNDEFINED;
}

int d2rt_model_input_rank(const d2rt_model *model, uint32_t index)
{
    const struct d2_value *v = model_value(model, true, index);
    return v ? v->type.rank : -1;
}

/* ---- sessions ---------------------------------------------------------------- */

/* Sessions may be created from several threads on one model: the work is done on a
 * local error, and only a failure writes its message to the model's handle (a success
 * leaves the handle alone, so it never races with another thread's session). */
static d2rt_status session_new(d2rt_model *model, const struct d2rt_session_options *options,
                               d2rt_session **session_out, struct d2_error *err)
{
    struct d2_allocator a = to_internal(options ? options->allocator : NULL);
    d2rt_session *s;
    if (!model->graph)
        return (d2rt_status)d2_errorf(err, D2_ERR_INVALID_ARG, "the model failed to load");
    if (options && options->threads < 0)
        return (d2rt_status)d2_errorf(err, D2_ERR_INVALID_ARG, "threads must be >= 0, got %d", options->threads);
    s = d2_calloc(&a, 1, sizeof *s);
    if (!s)
        return (d2rt_status)d2_errorf(err, D2_ERR_NOMEM, "out of memory creating a session");
    s->h.magic = SESSION_MAGIC;
    s->alloc = a;
    s->model = model;
    s->backend = d2_backend_find("cpu");
    s->threads = options ? options->threads : 0; /* 0: one per CPU */
    if (s->backend->session_new) {
        struct d2_backend_options bo = { s->threads };
        enum d2_status st = s->backend->session_new(&bo, &s->alloc, &s->backend_state, err);
        if (st != D2_OK) {
            d2_free(&a, s);
            return (d2rt_status)st;
        }
    }
    *session_out = s;
    return D2RT_OK;
}

d2rt_status d2rt_session_new(d2rt_model *model, const struct d2rt_session_options *options,
                             d2rt_session **session_out)
{
    struct d2_error err = { D2_OK, "" };
    d2rt_status st;
    if (!session_out)
        return D2RT_ERR_INVALID_ARG;
    *session_out = NULL;
    if (!model || model->h.magic != MODEL_MAGIC)
        return D2RT_ERR_INVALID_ARG;
    st = session_new(model, options, session_out, &err);
    if (st != D2RT_OK)
        model->h.error = err;
    return st;
}

d2rt_status d2rt_session_run(d2rt_session *session, d2rt_tensor *const *inputs, uint32_t num_inputs,
                             d2rt_tensor **outputs, uint32_t num_outputs)
{
    const struct d2_graph *g;
    struct d2_tensor *in = NULL, *out = NULL;
    struct d2_error *err;
    enum d2_status st = D2_OK;
    uint32_t made = 0;
    const struct d2_allocator *run_alloc;
    void *run_owner = NULL;

    if (!session || session->h.magic != SESSION_MAGIC)
        return D2RT_ERR_INVALID_ARG;
    run_alloc = &session->alloc;
    err = &session->h.error;
    d2_error_clear(err);
    g = session->model->graph;
    if (outputs)
        for (uint32_t k = 0; k < num_outputs; k++)
            outputs[k] = NULL;
    if ((num_inputs && !inputs) || (num_outputs && !outputs))
        return (d2rt_status)d2_errorf(err, D2_ERR_INVALID_ARG, "inputs or outputs array is NULL");
    if (num_inputs != g->num_inputs)
        return (d2rt_status)d2_errorf(err, D2_ERR_INVALID_ARG, "the model takes %u inputs, got %u", g->num_inputs,
                                      num_inputs);
    if (num_outputs != g->num_outputs)
        return (d2rt_status)d2_errorf(err, D2_ERR_INVALID_ARG, "the model has %u outputs, room for %u was given",
                                      g->num_outputs, num_outputs);
    in = d2_calloc(&session->alloc, num_inputs + 1u, sizeof *in);
    out = d2_calloc(&session->alloc, num_outputs + 1u, sizeof *out);
    if (!in || !out) {
        st = d2_errorf(err, D2_ERR_NOMEM, "out of memory starting a run");
        goto done;
    }
    for (uint32_t i = 0; i < num_inputs; i++) {
        if (!inputs[i]) {
            st = d2_errorf(err, D2_ERR_INVALID_ARG, "input %u '%s' is NULL", i, g->values[g->inputs[i]].name);
            goto done;
        }
        in[i] = inputs[i]->t;
        in[i].owns_data = false; /* borrowed for the run */
    }
    /* Outputs come from the backend's recycling allocator when it has one, so that
     * freeing them hands their storage back for the next run. */
    if (session->backend_state && session->backend->session_output_allocator) {
        const struct d2_allocator *recycling =
            session->backend->session_output_allocator(session->backend_state, &run_owner);
        if (recycling)
            run_alloc = recycling;
    }
    if (session->backend_state)
        st = session->backend->session_execute(session->backend_state, g, in, num_inputs, out, num_outputs,
                                               run_alloc, err);
    else
        st = session->backend->execute(g, in, num_inputs, out, num_outputs, run_alloc, err);
    if (st != D2_OK)
        goto done;
    for (made = 0; made < num_outputs; made++) {
        d2rt_tensor *t = d2_calloc(&session->alloc, 1, sizeof *t);
        if (!t) {
            st = d2_errorf(err, D2_ERR_NOMEM, "out of memory returning output %u", made);
            break;
        }
        t->t = out[made];
        t->alloc = *run_alloc;
        if (run_owner) { /* one more reference, for this tensor */
            session->backend->session_output_allocator(session->backend_state, &t->owner);
            t->release_owner = session->backend->release_owner;
        }
        memset(&out[made], 0, sizeof out[made]);
        outputs[made] = t;
    }
    if (st != D2_OK)
        for (uint32_t k = 0; k < num_outputs; k++) {
            d2rt_tensor_free(outputs[k]);
            outputs[k] = NULL;
        }
done:
    if (out)
        for (uint32_t k = 0; k < num_outputs; k++)
            d2_tensor_release(&out[k], run_alloc);
    d2_free(&session->alloc, in);
    d2_free(&session->alloc, out);
    if (run_owner)
        session->backend->release_owner(run_owner);
    return (d2rt_status)st;
}

void d2rt_session_free(d2rt_session *session)
{
    struct d2_allocator a;
    if (!session || session->h.magic != SESSION_MAGIC)
        return;
    a = session->alloc;
    if (session->backend_state)
        session->backend->session_free(session->backend_state);
    session->h.magic = 0;
    d2_free(&a, session);
}

/* ---- tensors ---------------------------------------------------------------- */

static d2rt_status check_tensor_args(d2rt_dtype dtype, int rank, const int64_t *dims, d2rt_tensor **tensor_out)
{
    if (!tensor_out)
        return D2RT_ERR_INVALID_ARG;
    *tensor_out = NULL;
    if (d2_dtype_size((enum d2_dtype)dtype) == 0 || (int)dtype >= (int)D2_DTYPE_COUNT)
        return D2RT_ERR_INVALID_ARG;
    if (rank < 0 || rank > D2RT_MAX_RANK || (rank > 0 && !dims))
        return D2RT_ERR_INVALID_ARG;
    if (d2_dims_numel(rank, dims) < 0)
        return D2RT_ERR_INVALID_ARG;
    return D2RT_OK;
}

d2rt_status d2rt_tensor_new(d2rt_dtype dtype, int rank, const int64_t *dims, d2rt_tensor **tensor_out)
{
    const struct d2_allocator *a = d2_allocator_default();
    d2rt_status st = check_tensor_args(dtype, rank, dims, tensor_out);
    d2rt_tensor *t;
    if (st != D2RT_OK)
        return st;
    t = d2_calloc(a, 1, sizeof *t);
    if (!t)
        return D2RT_ERR_NOMEM;
    t->alloc = *a;
    if (d2_tensor_alloc(&t->t, a, (enum d2_dtype)dtype, rank, dims, NULL) != D2_OK) {
        d2_free(a, t);
        return D2RT_ERR_NOMEM;
    }
    *tensor_out = t;
    return D2RT_OK;
}

d2rt_status d2rt_tensor_wrap(d2rt_dtype dtype, int rank, const int64_t *dims, void *data, size_t nbytes,
                             d2rt_tensor **tensor_out)
{
    const struct d2_allocator *a = d2_allocator_default();
    d2rt_status st = check_tensor_args(dtype, rank, dims, tensor_out);
    int64_t numel;
    d2rt_tensor *t;
    if (st != D2RT_OK)
        return st;
    numel = d2_dims_numel(rank, dims);
    if ((uint64_t)numel > SIZE_MAX / d2_dtype_size((enum d2_dtype)dtype) ||
        (size_t)numel * d2_dtype_size((enum d2_dtype)dtype) != nbytes || (nbytes && !data))
        return D2RT_ERR_INVALID_ARG;
    t = d2_calloc(a, 1, sizeof *t);
    if (!t)
        return D2RT_ERR_NOMEM;
    t->alloc = *a;
    t->t.dtype = (enum d2_dtype)dtype;
    t->t.rank = rank;
    for (int i = 0; i < rank; i++)
        t->t.dims[i] = dims[i];
    t->t.data = data;
    t->t.nbytes = nbytes;
    t->t.owns_data = false;
    *tensor_out = t;
    return D2RT_OK;
}

void d2rt_tensor_free(d2rt_tensor *tensor)
{
    struct d2_allocator a;
    void *owner;
    void (*release_owner)(void *);
    if (!tensor)
        return;
    a = tensor->alloc;
    owner = tensor->owner;
    release_owner = tensor->release_owner;
    d2_tensor_release(&tensor->t, &a);
    d2_free(&a, tensor);
    if (owner && release_owner)
        release_owner(owner);
}

d2rt_dtype d2rt_tensor_dtype(const d2rt_tensor *tensor) { return tensor ? (d2rt_dtype)tensor->t.dtype : D2RT_UNDEFINED; }
int d2rt_tensor_rank(const d2rt_tensor *tensor) { return tensor ? tensor->t.rank : -1; }
const int64_t *d2rt_tensor_dims(const d2rt_tensor *tensor) { return tensor ? tensor->t.dims : NULL; }
int64_t d2rt_tensor_numel(const d2rt_tensor *tensor) { return tensor ? d2_tensor_numel(&tensor->t) : -1; }
void *d2rt_tensor_data(d2rt_tensor *tensor) { return tensor ? tensor->t.data : NULL; }
size_t d2rt_tensor_nbytes(const d2rt_tensor *tensor) { return tensor ? tensor->t.nbytes : 0; }
