/* tests/unit/test_ts_parse.c: the TorchScript source parser (frontend/torchscript/
 * ts_lex.c, ts_parse.c).
 *
 * Checks: the syntax tree of the constructs torch's code printer emits (class bodies
 * with typed declarations, annotated methods, calls with keywords, subscripts and
 * slices, tuple targets, if/elif/else, for, while, with, operators and their
 * precedence, literals and escapes, INT64_MIN); every .py in the shared detectron2
 * TorchScript fixtures parses; malformed sources each give exactly one error line
 * "file:line:col: message" at the right place; nesting limits hold; random and
 * truncated input fails cleanly. Run from the repository root.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/torchscript/ts_archive.h"
#include "frontend/torchscript/ts_ast.h"

static const char *shared_root(void)
{
    const char *s = getenv("D2RT_SHARED");
    return s && *s ? s : "../shared";
}

struct parsed {
    struct d2_arena arena;
    struct ts_module_ast *m;
    struct d2_error err;
};

static enum d2_status parse(struct parsed *p, const char *src)
{
    memset(p, 0, sizeof *p);
    d2_arena_init(&p->arena, d2_allocator_default());
    return ts_parse_module(src, strlen(src), "code/__torch__/m.py", &p->arena, &p->m, &p->err);
}

static void done(struct parsed *p) { d2_arena_deinit(&p->arena); }

static const struct ts_stmt *stmt(const struct ts_block *b, uint32_t i)
{
    ck_assert_uint_lt(i, b->count);
    return b->items[i];
}

START_TEST(class_declarations_and_methods)
{
    struct parsed p;
    const char *src =
        "op_version_set = 7\n"
        "import torch\n"
        "from typing import List\n"
        "class Conv2d(Module):\n"
        "  __parameters__ = [\"weight\", \"bias\", ]\n"
        "  __buffers__ = []\n"
        "  weight : Tensor\n"
        "  training : Final[bool] = False\n"
        "  conv1 : __torch__.torch.nn.modules.conv.Conv2d\n"
        "  __annotations__[\"0\"] = __torch__.a.B\n"
        "  def forward(self: __torch__.Conv2d,\n"
        "    x: Tensor,\n"
        "    k: int=3) -> Tuple[Tensor, Tensor]:\n"
        "    weight = self.weight\n"
        "    y = torch._convolution(x, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, False, False, True, True)\n"
        "    return (y, x)\n";
    ck_assert_int_eq(parse(&p, src), D2_OK);
    ck_assert_int_eq(p.m->op_version_set, 7);
    ck_assert_uint_eq(p.m->body.count, 4);
    const struct ts_class *c = ts_ast_find_class(p.m, "Conv2d");
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->bases.count, 1);
    ck_assert_uint_eq(c->body.count, 7);
    const struct ts_stmt *ann = stmt(&c->body, 3);
    ck_assert_int_eq(ann->kind, TSS_ANN);
    ck_assert_int_eq(ann->u.ann.value->kind, TSE_FALSE);
    ck_assert_int_eq(ann->u.ann.type->kind, TSE_SUBSCRIPT);
    ck_assert_int_eq(stmt(&c->body, 5)->u.assign.target->kind, TSE_SUBSCRIPT);
    const struct ts_def *f = ts_ast_find_method(c, "forward");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->num_params, 3);
    ck_assert_str_eq(f->params[2].name, "k");
    ck_assert_int_eq(f->params[2].default_->u.i, 3);
    ck_assert_int_eq(f->returns->kind, TSE_SUBSCRIPT);
    ck_assert_uint_eq(f->body.count, 3);
    const struct ts_expr *call = stmt(&f->body, 1)->u.assign.value;
    ck_assert_int_eq(call->kind, TSE_CALL);
    ck_assert_uint_eq(call->u.call.args.count, 13);
    ck_assert_str_eq(call->u.call.fn->u.attr.name, "_convolution");
    ck_assert_int_eq(stmt(&f->body, 2)->kind, TSS_RETURN);
    ck_assert_int_eq(stmt(&f->body, 2)->u.expr->kind, TSE_TUPLE);
    done(&p);
}
END_TEST

START_TEST(expressions_and_statements)
{
    struct parsed p;
    const char *src =
        "def f(x: Tensor) -> int:\n"
        "  a, b, = torch.unbind(x)\n"
        "  c = torch.arange(0., 8, 4, dtype=6, layout=None)\n"
        "  d = x[1:-1:2, None]\n"
        "  e = 1 + 2 * 3 ** 2 - -4 // 3 % 5\n"
        "  g = not a is None and b is not None or c in d\n"
        "  h = -9223372036854775808\n"
        "  s = \"it\\'s \\x41\\u00e9\\n\" 'x'\n"
        "  if a:\n"
        "    pass\n"
        "  elif b:\n"
        "    i = 1\n"
        "  else:\n"
        "    i = 2\n"
        "  for i in range(3):\n"
        "    continue\n"
        "  while False:\n"
        "    break\n"
        "  with _10:\n"
        "    y = annotate(List[Optional[Tensor]], [a, None])\n"
        "  t = a if b else c\n"
        "  u = {\"k\": 1, 2: [3]}\n"
        "  return CONSTANTS.c0\n";
    ck_assert_int_eq(parse(&p, src), D2_OK);
    const struct ts_def *f = ts_ast_find_function(p.m, "f");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->body.count, 14);
    /* tuple target with trailing comma */
    ck_assert_int_eq(stmt(&f->body, 0)->u.assign.target->kind, TSE_TUPLE);
    ck_assert_uint_eq(stmt(&f->body, 0)->u.assign.target->u.seq.count, 2);
    /* keywords */
    const struct ts_expr *c = stmt(&f->body, 1)->u.assign.value;
    ck_assert_ptr_null(c->u.call.keywords[2]);
    ck_assert_str_eq(c->u.call.keywords[3], "dtype");
    ck_assert_double_eq(c->u.call.args.items[0]->u.f, 0.0);
    /* slices in a tuple subscript */
    const struct ts_expr *d = stmt(&f->body, 2)->u.assign.value;
    ck_assert_int_eq(d->u.sub.index->kind, TSE_TUPLE);
    ck_assert_int_eq(d->u.sub.index->u.seq.items[0]->kind, TSE_SLICE);
    ck_assert_int_eq(d->u.sub.index->u.seq.items[0]->u.slice.hi->u.i, -1);
    ck_assert_int_eq(d->u.sub.index->u.seq.items[1]->kind, TSE_NONE);
    /* precedence: 1 + (2 * (3 ** 2)) - ((-4 // 3) % 5) */
    const struct ts_expr *e = stmt(&f->body, 3)->u.assign.value;
    ck_assert_int_eq(e->u.binary.op, TSO_SUB);
    ck_assert_int_eq(e->u.binary.left->u.binary.op, TSO_ADD);
    ck_assert_int_eq(e->u.binary.left->u.binary.right->u.binary.op, TSO_MUL);
    ck_assert_int_eq(e->u.binary.left->u.binary.right->u.binary.right->u.binary.op, TSO_POW);
    ck_assert_int_eq(e->u.binary.right->u.binary.op, TSO_MOD);
    ck_assert_int_eq(e->u.binary.right->u.binary.left->u.binary.op, TSO_FLOORDIV);
    ck_assert_int_eq(e->u.binary.right->u.binary.left->u.binary.left->u.i, -4);
    /* boolean structure: ((not (a is None)) and (b is not None)) or (c in d) */
    const struct ts_expr *g = stmt(&f->body, 4)->u.assign.value;
    ck_assert_int_eq(g->u.binary.op, TSO_OR);
    ck_assert_int_eq(g->u.binary.left->u.binary.op, TSO_AND);
    ck_assert_int_eq(g->u.binary.left->u.binary.left->u.unary.op, TSO_NOT);
    ck_assert_int_eq(g->u.binary.left->u.binary.left->u.unary.operand->u.binary.op, TSO_IS);
    ck_assert_int_eq(g->u.binary.left->u.binary.right->u.binary.op, TSO_ISNOT);
    ck_assert_int_eq(g->u.binary.right->u.binary.op, TSO_IN);
    ck_assert(stmt(&f->body, 5)->u.assign.value->u.i == INT64_MIN);
    /* escapes and concatenation */
    const struct ts_expr *s = stmt(&f->body, 6)->u.assign.value;
    ck_assert_str_eq(s->u.str.data, "it's A\xc3\xa9\nx");
    ck_assert_uint_eq(s->u.str.len, 10);
    /* elif nests in orelse */
    const struct ts_stmt *i = stmt(&f->body, 7);
    ck_assert_int_eq(i->kind, TSS_IF);
    ck_assert_uint_eq(i->u.if_.orelse.count, 1);
    ck_assert_int_eq(i->u.if_.orelse.items[0]->kind, TSS_IF);
    ck_assert_uint_eq(i->u.if_.orelse.items[0]->u.if_.orelse.count, 1);
    ck_assert_int_eq(stmt(&f->body, 8)->kind, TSS_FOR);
    ck_assert_int_eq(stmt(&f->body, 8)->u.for_.body.items[0]->kind, TSS_CONTINUE);
    ck_assert_int_eq(stmt(&f->body, 9)->kind, TSS_WHILE);
    ck_assert_int_eq(stmt(&f->body, 10)->kind, TSS_WITH);
    ck_assert_int_eq(stmt(&f->body, 11)->u.assign.value->kind, TSE_IFEXP);
    ck_assert_uint_eq(stmt(&f->body, 12)->u.assign.value->u.dict.keys.count, 2);
    ck_assert_str_eq(stmt(&f->body, 13)->u.expr->u.attr.name, "c0");
    done(&p);
}
END_TEST

/* Each malformed source: exactly one error line, naming file:line:col. */
START_TEST(malformed_sources_report_position)
{
    static const struct { const char *src, *where, *what; } cases[] = {
        { "def f(x):\n  return (x\n", "code/__torch__/m.py:3:1:", "expected ')'" },
        { "def f(x):\nreturn x\n", "code/__torch__/m.py:2:1:", "expected an indented block" },
        { "def f(x):\n    a = 1\n  b = 2\n", "code/__torch__/m.py:3:", "unindent" },
        { "x = [1, 2\n", "code/__torch__/m.py:2:1:", "expected ']'" },
        { "x = 'abc\n", "code/__torch__/m.py:1:", "newline in string" },
        { "x = 1 +\n", "code/__torch__/m.py:1:8:", "expected an expression" },
        { "class A(Module):\n  def f(self) -> :\n    pass\n", "code/__torch__/m.py:2:18:", "expected an expression" },
        { "x = 99999999999999999999\n", "code/__torch__/m.py:1:", "too large" },
        { "f(a=1, 2)\n", "code/__torch__/m.py:1:8:", "positional argument follows keyword" },
        { "else:\n  pass\n", "code/__torch__/m.py:1:1:", "without a matching 'if'" },
        { "x = $\n", "code/__torch__/m.py:1:5:", "unexpected character '$'" },
        { "1 = x\n", "code/__torch__/m.py:1:1:", "cannot assign" },
        { "  x = 1\n", "code/__torch__/m.py:1:3:", "unexpected indent" },
        { "try:\n  pass\n", "code/__torch__/m.py:1:1:", "unsupported statement 'try'" },
        { "x = \"a\0b\"\n", NULL, NULL }, /* NUL inside: handled below with an explicit length */
    };
    for (size_t k = 0; k + 1 < sizeof cases / sizeof cases[0]; k++) {
        struct parsed p;
        ck_assert_int_eq(parse(&p, cases[k].src), D2_ERR_PARSE);
        ck_assert_msg(strncmp(p.err.message, cases[k].where, strlen(cases[k].where)) == 0, "case %zu: '%s'", k,
                      p.err.message);
        ck_assert_msg(strstr(p.err.message, cases[k].what) != NULL, "case %zu: '%s'", k, p.err.message);
        ck_assert_ptr_null(strchr(p.err.message, '\n'));
        done(&p);
    }
    {
        struct parsed p;
        const char src[] = "x = \"a\0b\"\n";
        memset(&p, 0, sizeof p);
        d2_arena_init(&p.arena, d2_allocator_default());
        ck_assert_int_eq(ts_parse_module(src, sizeof src - 1, "m.py", &p.arena, &p.m, &p.err), D2_ERR_PARSE);
        ck_assert_ptr_nonnull(strstr(p.err.message, "m.py:1:"));
        done(&p);
    }
}
END_TEST

START_TEST(nesting_is_bounded)
{
    size_t n = 100000;
    char *src = malloc(3 * n + 16);
    struct parsed p;
    /* deeply nested brackets */
    strcpy(src, "x = ");
    for (size_t i = 0; i < n; i++)
        strcat(src + i, "(");
    ck_assert_int_eq(parse(&p, src), D2_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(p.err.message, "deep"));
    done(&p);
    /* deeply nested unary operators and nots */
    strcpy(src, "x = ");
    for (size_t i = 0; i < n; i++)
        strcat(src + 4 + i, "-");
    strcat(src, "1\n");
    ck_assert_int_eq(parse(&p, src), D2_ERR_PARSE);
    done(&p);
    /* deeply nested blocks */
    {
        size_t len = 0;
        for (size_t d = 0; d < 300; d++) {
            for (size_t s = 0; s < d; s++)
                src[len++] = ' ';
            memcpy(src + len, "if x:\n", 6);
            len += 6;
        }
        src[len] = '\0';
        ck_assert_int_eq(parse(&p, src), D2_ERR_PARSE);
        done(&p);
    }
    free(src);
}
END_TEST

/* Random bytes and every prefix of a real source: no crash, and a failure says why. */
START_TEST(random_and_truncated_input_fail_cleanly)
{
    const char *src =
        "class A(Module):\n  x : int\n  def forward(self: __torch__.A, y: Tensor) -> Tensor:\n"
        "    z = torch.add(y, CONSTANTS.c0, alpha=2)\n    if torch.eq(self.x, 1):\n      z = z[0:2]\n"
        "    else:\n      pass\n    return z\n";
    size_t n = strlen(src);
    for (size_t k = 0; k <= n; k++) {
        struct parsed p;
        memset(&p, 0, sizeof p);
        d2_arena_init(&p.arena, d2_allocator_default());
        enum d2_status st = ts_parse_module(src, k, "m.py", &p.arena, &p.m, &p.err);
        ck_assert(st == D2_OK || (st == D2_ERR_PARSE && p.err.message[0] != '\0'));
        done(&p);
    }
    srand(7);
    for (int round = 0; round < 2000; round++) {
        char buf[64];
        size_t len = (size_t)(rand() % 64);
        static const char alphabet[] = "ab(),[]:=.\n  \"'#1+-*\\{}";
        for (size_t i = 0; i < len; i++)
            buf[i] = round % 2 ? (char)(rand() % 256) : alphabet[rand() % (int)(sizeof alphabet - 1)];
        struct parsed p;
        memset(&p, 0, sizeof p);
        d2_arena_init(&p.arena, d2_allocator_default());
        enum d2_status st = ts_parse_module(buf, len, "m.py", &p.arena, &p.m, &p.err);
        ck_assert(st == D2_OK || (st == D2_ERR_PARSE && p.err.message[0] != '\0'));
        done(&p);
    }
}
END_TEST

/* Every code/ source of the shared detectron2 TorchScript fixtures parses. */
START_TEST(fixture_sources_parse)
{
    static const char *const models[] = {
        "mask_rcnn/tracing_torchscript", "retinanet/tracing_torchscript", "mask_rcnn/scripting_torchscript",
    };
    uint32_t files = 0;
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        char path[512];
        struct d2_error err = { 0 };
        snprintf(path, sizeof path, "%s/fixtures/detectron2/%s/model.ts", shared_root(), models[k]);
        struct ts_archive *a = ts_archive_open_file(path, NULL, &err);
        ck_assert_msg(a != NULL, "%s: %s", path, err.message);
        for (uint32_t i = 0; i < ts_archive_num_entries(a); i++) {
            const char *name = ts_archive_entry_name(a, i);
            size_t nl = strlen(name);
            if (strncmp(name, "code/", 5) != 0 || nl < 3 || strcmp(name + nl - 3, ".py") != 0)
                continue;
            const uint8_t *data;
            size_t size;
            ck_assert_int_eq(ts_archive_read(a, name, &data, &size, &err), D2_OK);
            struct d2_arena arena;
            struct ts_module_ast *m;
            d2_arena_init(&arena, d2_allocator_default());
            ck_assert_msg(ts_parse_module((const char *)data, size, name, &arena, &m, &err) == D2_OK, "%s",
                          err.message);
            d2_arena_deinit(&arena);
            files++;
        }
        ts_archive_close(a);
    }
    ck_assert_uint_gt(files, 400);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ts_parse");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, class_declarations_and_methods);
    tcase_add_test(tc, expressions_and_statements);
    tcase_add_test(tc, malformed_sources_report_position);
    tcase_add_test(tc, nesting_is_bounded);
    tcase_add_test(tc, random_and_truncated_input_fail_cleanly);
    tcase_add_test(tc, fixture_sources_parse);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
