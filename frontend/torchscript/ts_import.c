/* frontend/torchscript/ts_import.c: TorchScript archive -> d2rt graph (API in
 * frontend/frontend.h).
 *
 * Steps: open the archive (ts_archive.h), take the root module's class and its
 * forward() (ts_parse via ts_lower_expr.c), make graph inputs for forward's
 * parameters, run forward through the lowering interpreter (ts_lower*.c, ts_ops*.c),
 * and make graph outputs of what it returns.
 *
 * Inputs and outputs are flattened: a Tensor parameter is one input; a tuple, list or
 * dict parameter (detectron2's scripted `inputs: Tuple[Dict[str, Tensor]]`) becomes
 * one input per tensor, named by its path (`[0].image`). Lists take
 * options->batch elements (default 1); dicts have the single key "image", as
 * detectron2's adapters expect. Returned tuples, lists and dicts flatten the same way
 * (`[0].pred_boxes`), depth first, in list order and with dict keys sorted. The nesting is recorded as JSON in the metadata keys
 * "ts_inputs" and "ts_outputs", with the flat graph input/output index at each leaf,
 * so that a runtime can rebuild the structures.
 * Tensor inputs default to float32 [3, ?h, ?w] (a detectron2 image); options can
 * give other shapes ("f32:1,3,?h,?w;i64:2").
 *
 * Constants borrow the archive's storage: the archive stays open, owned by the graph
 * (g->backing), until the graph is freed.
 */
#include "frontend/frontend.h"
#include "frontend/torchscript/ts_lower.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_MAX_BATCH 256

struct text { char *data; size_t len, cap; bool failed; const struct d2_allocator *alloc; };

static void put(struct text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *d = d2_realloc(t->alloc, t->data, cap);
        if (!d) {
            t->failed = true;
            return;
        }
        t->data = d;
        t->cap = cap;
    }
    memcpy(t->data + t->len, s, n + 1);
    t->len += n;
}

static void put_json_string(struct text *t, const char *s)
{
    char buf[8];
    put(t, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[0] = '\\';
            buf[1] = (char)ch;
            buf[2] = '\0';
        } else if (ch < 0x20) {
            snprintf(buf, sizeof buf, "\\u%04x", ch);
        } else {
            buf[0] = (char)ch;
            buf[1] = '\0';
        }
        put(t, buf);
    }
    put(t, "\"");
}

/* ---- input shapes ---- */

struct shape_spec {
    const char *text; /* remaining "f32:3,?h,?w;..." or NULL */
};

static enum d2_status next_input_type(struct ts_lower *L, struct shape_spec *spec, uint32_t index, struct d2_type *t)
{
    char sym_h[16], sym_w[16];
    if (index == 0) {
        snprintf(sym_h, sizeof sym_h, "h");
        snprintf(sym_w, sizeof sym_w, "w");
    } else {
        snprintf(sym_h, sizeof sym_h, "h%u", index);
        snprintf(sym_w, sizeof sym_w, "w%u", index);
    }
    d2_type_init_unknown(t);
    if (!spec->text || !*spec->text) {
        int64_t dims[3] = { 3, D2_DIM_UNKNOWN, D2_DIM_UNKNOWN };
        d2_type_init(t, D2_DTYPE_F32, 3, dims);
        t->symbols[1] = ts_strdup(L, sym_h);
        t->symbols[2] = ts_strdup(L, sym_w);
        return t->symbols[1] && t->symbols[2] ? D2_OK : L->err->code;
    }
    /* one entry: [dtype:]dim,dim,... up to ';' */
    const char *p = spec->text, *end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char entry[256];
    if (n >= sizeof entry)
        return ts_fail(L, D2_ERR_INVALID_ARG, "input shape '%.40s...' is too long", p);
    memcpy(entry, p, n);
    entry[n] = '\0';
    spec->text = end ? end + 1 : NULL;
    char *dims_text = entry, *colon = strchr(entry, ':');
    t->dtype = D2_DTYPE_F32;
    if (colon) {
        *colon = '\0';
        if (!d2_dtype_from_name(entry, &t->dtype))
            return ts_fail(L, D2_ERR_INVALID_ARG, "input shape: unknown dtype '%s'", entry);
        dims_text = colon + 1;
    }
    t->rank = 0;
    for (char *tok = strtok(dims_text, ","); tok; tok = strtok(NULL, ",")) {
        if (t->rank >= D2_MAX_RANK)
            return ts_fail(L, D2_ERR_INVALID_ARG, "input shape has more than %d dims", D2_MAX_RANK);
        while (*tok == ' ')
            tok++;
        if (*tok == '?') {
            t->dims[t->rank] = D2_DIM_UNKNOWN;
            t->symbols[t->rank] = tok[1] ? ts_strdup(L, tok + 1) : NULL;
            t->upper_bounds[t->rank] = -1;
        } else {
            char *e;
            long long v = strtoll(tok, &e, 10);
            if (*e || v < 0)
                return ts_fail(L, D2_ERR_INVALID_ARG, "input shape: bad dim '%s'", tok);
            t->dims[t->rank] = v;
            t->upper_bounds[t->rank] = -1;
        }
        t->rank++;
    }
    return D2_OK;
}

/* Build the value of one parameter from its annotation, adding graph inputs. */
static enum d2_status make_input(struct ts_lower *L, const struct ts_expr *type, const char *path,
                                 struct shape_spec *spec, uint32_t batch, struct text *structure, struct tsv **out,
                                 uint32_t depth)
{
    const char *name = type ? (type->kind == TSE_NAME ? type->u.name
                               : type->kind == TSE_SUBSCRIPT && type->u.sub.base->kind == TSE_NAME
                                   ? type->u.sub.base->u.name : NULL)
                            : "Tensor";
    enum d2_status st;
    char buf[32];
    if (depth > 8 || !name)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "forward() parameter '%s' has an unsupported type", path);
    if (strcmp(name, "Tensor") == 0) {
        struct d2_type t;
        d2_value_id id;
        uint32_t index = L->frame->g->num_inputs;
        if ((st = next_input_type(L, spec, index, &t)) != D2_OK)
            return st;
        id = d2_graph_add_input(L->frame->g, path, &t, L->err);
        if (id == D2_NO_VALUE)
            return L->err->code;
        snprintf(buf, sizeof buf, "%u", index);
        put(structure, buf);
        *out = tsv_tensor(L, id);
        return *out ? D2_OK : L->err->code;
    }
    if (strcmp(name, "Tuple") == 0 || strcmp(name, "List") == 0) {
        const struct ts_expr *args = type->u.sub.index;
        bool is_tuple = name[0] == 'T';
        uint32_t n = is_tuple ? (args->kind == TSE_TUPLE ? args->u.seq.count : 1) : batch;
        struct tsv *seq = tsv_seq_new(L, is_tuple ? TSV_TUPLE : TSV_LIST, n);
        if (!seq)
            return L->err->code;
        put(structure, "[");
        for (uint32_t i = 0; i < n; i++) {
            const struct ts_expr *item = is_tuple && args->kind == TSE_TUPLE ? args->u.seq.items[i] : args;
            char *item_path;
            snprintf(buf, sizeof buf, "[%u]", i);
            item_path = ts_strcat3(L, path, buf, "");
            if (!item_path)
                return L->err->code;
            if (i)
                put(structure, ", ");
            if ((st = make_input(L, item, item_path, spec, batch, structure, &seq->u.seq.items[i], depth + 1)) != D2_OK)
                return st;
        }
        put(structure, "]");
        *out = seq;
        return D2_OK;
    }
    if (strcmp(name, "Dict") == 0) {
        const struct ts_expr *args = type->u.sub.index;
        struct tsv *dict = tsv_new(L, TSV_DICT), *v, *key;
        if (!dict || args->kind != TSE_TUPLE || args->u.seq.count != 2)
            return dict ? ts_fail(L, D2_ERR_UNSUPPORTED, "forward() parameter '%s': Dict type", path) : L->err->code;
        /* detectron2's adapters read the key "image" */
        put(structure, "{\"image\": ");
        if ((st = make_input(L, args->u.seq.items[1], ts_strcat3(L, path, ".", "image"), spec, batch, structure, &v,
                             depth + 1)) != D2_OK)
            return st;
        put(structure, "}");
        key = tsv_str(L, "image");
        if (!key || !tsv_dict_set(L, dict, key, v))
            return L->err->code;
        *out = dict;
        return D2_OK;
    }
    if (strcmp(name, "Optional") == 0)
        return make_input(L, type->u.sub.index, path, spec, batch, structure, out, depth + 1);
    return ts_fail(L, D2_ERR_UNSUPPORTED, "forward() parameter '%s' of type %s is not supported", path, name);
}

/* ---- outputs ---- */

static enum d2_status add_output(struct ts_lower *L, struct tsv *v, const char *path, struct text *structure,
                                 uint32_t depth)
{
    char buf[32];
    enum d2_status st;
    if (depth > 16)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "forward() returns values nested too deeply");
    switch (v->kind) {
    case TSV_TENSOR: case TSV_SCALAR: case TSV_INT: case TSV_FLOAT: case TSV_BOOL: {
        d2_value_id id = ts_use(L, v), out;
        const char *name = path[0] ? path : "output";
        if (id == D2_NO_VALUE)
            return L->err->code;
        int32_t n = d2_graph_add_node(L->frame->g, D2_OP_IDENTITY, "", 1, &id, 1, &name, L->err);
        if (n < 0)
            return L->err->code;
        out = d2_node_output(L->frame->g, n, 0);
        if (d2_infer_node(L->frame->g, n, L->err) != D2_OK)
            return L->err->code;
        snprintf(buf, sizeof buf, "%u", L->frame->g->num_outputs);
        put(structure, buf);
        return d2_graph_add_output(L->frame->g, out, L->err);
    }
    case TSV_TUPLE: case TSV_LIST:
        put(structure, "[");
        for (uint32_t i = 0; i < v->u.seq.count; i++) {
            snprintf(buf, sizeof buf, "[%u]", i);
            if (i)
                put(structure, ", ");
            if ((st = add_output(L, v->u.seq.items[i], ts_strcat3(L, path, buf, ""), structure, depth + 1)) != D2_OK)
                return st;
        }
        put(structure, "]");
        return D2_OK;
    case TSV_DICT: {
        /* keys in sorted order (the --out contract), not insertion order */
        uint32_t *order = d2_arena_alloc(&L->arena, sizeof *order * (v->u.dict.count + 1));
        if (!order)
            return ts_fail(L, D2_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; i < v->u.dict.count; i++) {
            struct tsv *k = v->u.dict.keys[i];
            uint32_t j = i;
            if (k->kind != TSV_STR)
                return ts_fail(L, D2_ERR_UNSUPPORTED, "forward() returns a dict with %s keys", tsv_describe(k));
            for (; j > 0 && strcmp(v->u.dict.keys[order[j - 1]]->u.s, k->u.s) > 0; j--)
                order[j] = order[j - 1];
            order[j] = i;
        }
        put(structure, "{");
        for (uint32_t i = 0; i < v->u.dict.count; i++) {
            struct tsv *k = v->u.dict.keys[order[i]];
            if (i)
                put(structure, ", ");
            put_json_string(structure, k->u.s);
            put(structure, ": ");
            if ((st = add_output(L, v->u.dict.values[order[i]], ts_strcat3(L, path, path[0] ? "." : "", k->u.s),
                                 structure, depth + 1)) != D2_OK)
                return st;
        }
        put(structure, "}");
        return D2_OK;
    }
    case TSV_NONE:
        put(structure, "null");
        return D2_OK;
    default:
        return ts_fail(L, D2_ERR_UNSUPPORTED, "forward() returns a %s value, which has no graph form",
                       tsv_describe(v));
    }
}

static void release_archive(void *archive)
{
    ts_archive_close(archive);
}

static void lower_cleanup(struct ts_lower *L, struct ts_frame *main_frame)
{
    d2_free(L->alloc, main_frame->outer);
    d2_free(L->alloc, main_frame->inner);
    d2_free(L->alloc, (void *)main_frame->const_keys);
    d2_free(L->alloc, main_frame->const_ids);
    d2_free(L->alloc, L->files);
    d2_free(L->alloc, L->writes);
    d2_arena_deinit(&L->arena);
}

/* ---- batches for detectron2's scripting adapter ----
 *
 * detectron2's ScriptableAdapter (tools/deploy/export_model.py) is
 *     def forward(self, inputs: Tuple[Dict[str, Tensor]]) -> List[Dict[str, Tensor]]:
 *         instances = self.model.inference(inputs, do_postprocess=False)
 *         return [i.get_fields() for i in instances]
 * In TorchScript `Tuple[Dict[str, Tensor]]` is a tuple of exactly one dict, so the
 * compiled forward unpacks one image (`_0, = inputs; inference([_0], ...)`) although
 * the model underneath takes a list of any length. For a batch of B images d2rt
 * therefore runs the adapter's meaning instead of its compiled body: the model's
 * inference() on the list of B dicts (so the images are padded into one ImageList, as
 * detectron2 does), then get_fields() of each resulting Instances. Inputs are named
 * "[i].image" as for the tuple. */

static bool is_fixed_tuple_param(const struct ts_def *forward, uint32_t *count, const struct ts_expr **item_type)
{
    const struct ts_expr *type;
    if (forward->num_params != 2 || !(type = forward->params[1].type) || type->kind != TSE_SUBSCRIPT ||
        type->u.sub.base->kind != TSE_NAME || strcmp(type->u.sub.base->u.name, "Tuple") != 0)
        return false;
    *count = type->u.sub.index->kind == TSE_TUPLE ? type->u.sub.index->u.seq.count : 1;
    *item_type = type->u.sub.index->kind == TSE_TUPLE ? type->u.sub.index->u.seq.items[0] : type->u.sub.index;
    return true;
}

static enum d2_status run_adapter_batch(struct ts_lower *L, uint32_t tuple_count, const struct ts_expr *item_type,
                                        uint32_t batch, struct shape_spec *spec, struct text *in_struct,
                                        struct tsv **result)
{
    const struct ts_module_attr *model_attr = ts_module_attr(L->root, "model");
    const struct ts_class *model_class;
    const struct ts_def *inference;
    struct tsv *images, *model, *instances, *fields_list, *call_args[3];
    struct ts_call call = { "inference", call_args, NULL, 3 };
    const char *no_names[3] = { NULL, NULL, NULL };
    enum d2_status st;
    char buf[32];

    if (!strstr(L->root->class_name, "ScriptableAdapter") || !model_attr || !model_attr->submodule)
        return ts_fail(L, D2_ERR_UNSUPPORTED,
                       "forward() takes a tuple of %u; a batch of %u is supported only for detectron2's "
                       "ScriptableAdapter (whose model takes a list)", tuple_count, batch);
    if ((st = ts_find_class(L, model_attr->submodule->class_name, &model_class)) != D2_OK)
        return st;
    if (!(inference = ts_ast_find_method(model_class, "inference")))
        return ts_fail(L, D2_ERR_UNSUPPORTED, "batch of %u: the adapter's model (%s) has no inference()", batch,
                       model_attr->submodule->class_name);
    images = tsv_seq_new(L, TSV_LIST, batch);
    model = tsv_new(L, TSV_MODULE);
    if (!images || !model)
        return L->err->code;
    model->u.module = model_attr->submodule;
    put(in_struct, "[");
    for (uint32_t i = 0; i < batch; i++) {
        snprintf(buf, sizeof buf, "[%u]", i);
        if (i)
            put(in_struct, ", ");
        if ((st = make_input(L, item_type, ts_strcat3(L, buf, "", ""), spec, batch, in_struct,
                             &images->u.seq.items[i], 1)) != D2_OK)
            return st;
    }
    put(in_struct, "]");
    call_args[0] = images;
    call_args[1] = tsv_none(L);
    call_args[2] = tsv_bool(L, false); /* do_postprocess */
    call.names = no_names;
    if (!call_args[1] || !call_args[2])
        return L->err->code;
    L->file = inference->file;
    L->line = inference->line;
    if ((st = ts_call_def(L, inference, model, &call, &instances)) != D2_OK)
        return st;
    if (instances->kind != TSV_LIST)
        return ts_fail(L, D2_ERR_UNSUPPORTED, "batch of %u: %s.inference() returned %s, not a list", batch,
                       model_attr->submodule->class_name, tsv_describe(instances));
    fields_list = tsv_seq_new(L, TSV_LIST, instances->u.seq.count);
    if (!fields_list)
        return L->err->code;
    for (uint32_t i = 0; i < instances->u.seq.count; i++) {
        struct tsv *inst = instances->u.seq.items[i];
        const struct ts_def *get_fields =
            inst->kind == TSV_OBJECT && inst->u.object->cls ? ts_ast_find_method(inst->u.object->cls, "get_fields")
                                                            : NULL;
        struct ts_call no_args = { "get_fields", NULL, NULL, 0 };
        if (!get_fields)
            return ts_fail(L, D2_ERR_UNSUPPORTED, "batch of %u: inference() result %u (%s) has no get_fields()",
                           batch, i, tsv_describe(inst));
        if ((st = ts_call_def(L, get_fields, inst, &no_args, &fields_list->u.seq.items[i])) != D2_OK)
            return st;
    }
    *result = fields_list;
    return D2_OK;
}

static const char *export_method(const char *class_name)
{
    if (strstr(class_name, "TracingAdapter"))
        return "tracing";
    if (strstr(class_name, "ScriptableAdapter"))
        return "scripting";
    return NULL;
}

static struct d2_graph *import_archive(struct ts_archive *archive, const struct d2_torchscript_options *opts,
                                       const struct d2_allocator *alloc, struct d2_error *err)
{
    struct ts_lower L;
    struct ts_frame main_frame;
    struct d2_graph *g = NULL;
    const struct ts_class *cls;
    const struct ts_def *forward;
    struct ts_call call;
    struct tsv *self, *result = NULL;
    struct text in_struct = { 0 }, out_struct = { 0 };
    struct shape_spec spec = { opts ? opts->input_shapes : NULL };
    uint32_t batch = opts && opts->batch ? opts->batch : 1;
    enum d2_status st;
    char version[32];

    memset(&L, 0, sizeof L);
    memset(&main_frame, 0, sizeof main_frame);
    memset(&call, 0, sizeof call);
    L.alloc = alloc;
    L.err = err;
    L.archive = archive;
    d2_arena_init(&L.arena, alloc);
    in_struct.alloc = out_struct.alloc = alloc;
    if (batch > TS_MAX_BATCH) {
        d2_errorf(err, D2_ERR_INVALID_ARG, "batch %u is larger than %d", batch, TS_MAX_BATCH);
        goto fail;
    }
    if (!ts_archive_is_torchscript(archive)) {
        d2_errorf(err, D2_ERR_UNSUPPORTED, "the archive has no code/ (a torch.save file, not a TorchScript module)");
        goto fail;
    }
    if (ts_archive_module(archive, &L.root, err) != D2_OK || ts_archive_constants(archive, &L.constants, err) != D2_OK)
        goto fail;
    g = d2_graph_new(alloc, err);
    if (!g)
        goto fail;
    main_frame.g = g;
    L.frame = &main_frame;
    if (ts_find_class(&L, L.root->class_name, &cls) != D2_OK)
        goto fail;
    forward = ts_ast_find_method(cls, "forward");
    if (!forward) {
        d2_errorf(err, D2_ERR_PARSE, "class '%s' has no forward()", L.root->class_name);
        goto fail;
    }
    L.file = forward->file;
    L.line = forward->line;
    L.col = 1;
    {
        uint32_t tuple_count;
        const struct ts_expr *item_type;
        if (batch > 1 && is_fixed_tuple_param(forward, &tuple_count, &item_type) && tuple_count != batch) {
            if (run_adapter_batch(&L, tuple_count, item_type, batch, &spec, &in_struct, &result) != D2_OK)
                goto fail;
            goto outputs;
        }
    }
    /* inputs */
    call.count = forward->num_params ? forward->num_params - 1 : 0;
    call.args = d2_arena_alloc(&L.arena, sizeof *call.args * (call.count + 1));
    call.names = d2_arena_alloc(&L.arena, sizeof *call.names * (call.count + 1));
    if (!call.args || !call.names) {
        d2_errorf(err, D2_ERR_NOMEM, "out of memory");
        goto fail;
    }
    put(&in_struct, call.count == 1 ? "" : "[");
    for (uint32_t i = 0; i < call.count; i++) {
        const struct ts_param *p = &forward->params[i + 1];
        if (i)
            put(&in_struct, ", ");
        if (p->type && p->type->kind == TSE_SUBSCRIPT && p->type->u.sub.base->kind == TSE_NAME &&
            strcmp(p->type->u.sub.base->u.name, "Optional") == 0 && p->default_ &&
            p->default_->kind == TSE_NONE) {
            /* an optional parameter that defaults to None (torchvision's targets) */
            put(&in_struct, "null");
            if (!(call.args[i] = tsv_none(&L)))
                goto fail;
            continue;
        }
        if (make_input(&L, p->type, call.count == 1 && p->type && p->type->kind == TSE_SUBSCRIPT ? "" : p->name, &spec,
                       batch, &in_struct, &call.args[i], 0) != D2_OK)
            goto fail;
    }
    put(&in_struct, call.count == 1 ? "" : "]");
    self = tsv_new(&L, TSV_MODULE);
    if (!self)
        goto fail;
    self->u.module = L.root;
    call.name = "forward";
    st = ts_call_def(&L, forward, self, &call, &result);
    if (st != D2_OK)
        goto fail;
outputs:
    L.file = NULL;
    if (add_output(&L, result, "", &out_struct, 0) != D2_OK)
        goto fail;
    if (in_struct.failed || out_struct.failed) {
        d2_errorf(err, D2_ERR_NOMEM, "out of memory");
        goto fail;
    }
    snprintf(version, sizeof version, "%lld", (long long)ts_archive_version(archive));
    if (d2_graph_set_metadata(g, "source_format", "torchscript", err) != D2_OK ||
        d2_graph_set_metadata(g, "torchscript_version", version, err) != D2_OK ||
        d2_graph_set_metadata(g, "torchscript_class", L.root->class_name, err) != D2_OK ||
        d2_graph_set_metadata(g, "ts_inputs", in_struct.data ? in_struct.data : "", err) != D2_OK ||
        d2_graph_set_metadata(g, "ts_outputs", out_struct.data ? out_struct.data : "", err) != D2_OK)
        goto fail;
    if (export_method(L.root->class_name) &&
        d2_graph_set_metadata(g, "export_method", export_method(L.root->class_name), err) != D2_OK)
        goto fail;
    d2_free(alloc, in_struct.data);
    d2_free(alloc, out_struct.data);
    lower_cleanup(&L, &main_frame);
    g->backing = archive;
    g->backing_release = release_archive;
    return g;
fail:
    if (err && err->code == D2_OK)
        d2_errorf(err, D2_ERR_INTERNAL, "TorchScript import failed");
    d2_free(alloc, in_struct.data);
    d2_free(alloc, out_struct.data);
    lower_cleanup(&L, &main_frame);
    d2_graph_free(g);
    ts_archive_close(archive);
    return NULL;
}

struct d2_graph *d2_torchscript_import_file(const char *path, const struct d2_torchscript_options *opts,
                                            const struct d2_allocator *alloc, struct d2_error *err)
{
    struct ts_archive *archive;
    if (!alloc)
        alloc = d2_allocator_default();
    if (!path) {
        d2_errorf(err, D2_ERR_INVALID_ARG, "no path");
        return NULL;
    }
    archive = ts_archive_open_file(path, alloc, err);
    return archive ? import_archive(archive, opts, alloc, err) : NULL;
}

struct d2_graph *d2_torchscript_import_buffer(const void *data, size_t size, const struct d2_torchscript_options *opts,
                                              const struct d2_allocator *alloc, struct d2_error *err)
{
    struct ts_archive *archive;
    if (!alloc)
        alloc = d2_allocator_default();
    archive = ts_archive_open_buffer(data, size, alloc, err);
    return archive ? import_archive(archive, opts, alloc, err) : NULL;
}
