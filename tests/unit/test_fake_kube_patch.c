/* test_fake_kube_patch.c -- JSON merge patch (RFC 7386 examples), the strategic-merge
 * directives kubectl sends (none may be stored), and JSON patch (RFC 6902), as tables of
 * document, patch and expected result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "tests/fakes/kube/fk.h"

enum kind { MERGE, SMP, JSONP };

struct pcase {
    enum kind kind;
    const char *doc;
    const char *patch;
    const char *want; /* NULL: the patch must fail */
};

static const struct pcase cases[] = {
    /* RFC 7386 appendix A */
    {MERGE, "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
    {MERGE, "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
    {MERGE, "{\"a\":\"b\"}", "{\"a\":null}", "{}"},
    {MERGE, "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
    {MERGE, "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
    {MERGE, "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
    {MERGE, "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
    {MERGE, "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
    {MERGE, "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
    {MERGE, "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
    {MERGE, "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
    {MERGE, "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
    {MERGE, "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    /* case matters */
    {MERGE, "{\"A\":1}", "{\"a\":2}", "{\"A\":1,\"a\":2}"},
    /* strategic: kubectl apply's patch of an Ingress, lists replaced, directives dropped */
    {SMP, "{\"metadata\":{\"annotations\":{\"x\":\"1\"}},\"spec\":{\"rules\":[{\"host\":\"a\"}]}}",
     "{\"metadata\":{\"annotations\":{\"x\":\"2\"}},\"spec\":{\"$setElementOrder/rules\":[{\"host\""
     ":\"b\"}],\"rules\":[{\"host\":\"b\"}]}}",
     "{\"metadata\":{\"annotations\":{\"x\":\"2\"}},\"spec\":{\"rules\":[{\"host\":\"b\"}]}}"},
    {SMP, "{\"data\":{\"a\":\"1\",\"b\":\"2\"}}", "{\"data\":{\"$patch\":\"replace\",\"c\":\"3\"}}",
     "{\"data\":{\"c\":\"3\"}}"},
    {SMP, "{\"data\":{\"a\":\"1\"},\"x\":1}", "{\"data\":{\"$patch\":\"delete\"}}", "{\"x\":1}"},
    {SMP, "{\"spec\":{\"a\":1,\"b\":2,\"c\":3}}", "{\"spec\":{\"$retainKeys\":[\"a\",\"d\"],\"d\":4}}",
     "{\"spec\":{\"a\":1,\"d\":4}}"},
    {SMP, "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
     "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
     "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}"},
    {SMP, "{\"l\":[{\"n\":1}]}", "{\"l\":[{\"n\":2,\"$x\":1},{\"$patch\":\"delete\",\"n\":1}]}",
     "{\"l\":[{\"n\":2}]}"},
    {SMP, "{\"count\":1,\"lastTimestamp\":\"a\"}", "{\"count\":2,\"lastTimestamp\":\"b\"}",
     "{\"count\":2,\"lastTimestamp\":\"b\"}"},
    {SMP, "{\"a\":{}}", "{\"a\":{\"$patch\":\"bogus\"}}", NULL},
    {SMP, "{}", "{\"$unknownDirective\":1}", NULL},
    /* RFC 6902 */
    {JSONP, "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2}]", "{\"a\":1,\"b\":2}"},
    {JSONP, "{\"a\":[1,3]}", "[{\"op\":\"add\",\"path\":\"/a/1\",\"value\":2}]", "{\"a\":[1,2,3]}"},
    {JSONP, "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/-\",\"value\":2}]", "{\"a\":[1,2]}"},
    {JSONP, "{\"a\":1,\"b\":2}", "[{\"op\":\"remove\",\"path\":\"/a\"}]", "{\"b\":2}"},
    {JSONP, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":5}]", "{\"a\":5}"},
    {JSONP, "{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a/b\",\"path\":\"/c\"}]",
     "{\"a\":{},\"c\":1}"},
    {JSONP, "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]", "{\"a\":1,\"b\":1}"},
    {JSONP, "{\"a/b\":1,\"m~n\":2}", "[{\"op\":\"remove\",\"path\":\"/a~1b\"},{\"op\":\"test\","
     "\"path\":\"/m~0n\",\"value\":2}]", "{\"m~n\":2}"},
    {JSONP, "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]", NULL},
    {JSONP, "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/x\"}]", NULL},
    {JSONP, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/x\",\"value\":1}]", NULL},
    {JSONP, "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/5\",\"value\":1}]", NULL},
    {JSONP, "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/01\",\"value\":1}]", NULL},
    {JSONP, "{}", "[{\"op\":\"frobnicate\",\"path\":\"/a\"}]", NULL},
    {JSONP, "{}", "{\"op\":\"add\"}", NULL},
    {JSONP, "{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", NULL},
    {JSONP, "{\"a\":{}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b\"}]", NULL},
};

static void test_patch_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct pcase *c = &cases[i];
        cJSON *doc = cJSON_Parse(c->doc);
        cJSON *patch = cJSON_Parse(c->patch);
        assert_non_null(doc);
        assert_non_null(patch);
        struct cs_err err;
        enum cs_code rc = c->kind == MERGE ? fk_merge_patch(&doc, patch, &err)
                          : c->kind == SMP ? fk_strategic_patch(&doc, patch, &err)
                                           : fk_json_patch(&doc, patch, &err);
        if (!c->want) {
            if (rc == CS_OK)
                fail_msg("case %zu: patch %s should fail", i, c->patch);
            assert_true(err.http_status == 400 || err.http_status == 422);
        } else {
            if (rc != CS_OK)
                fail_msg("case %zu: %s", i, err.message);
            cJSON *want = cJSON_Parse(c->want);
            if (!cJSON_Compare(doc, want, true)) {
                char *got = cJSON_PrintUnformatted(doc);
                fail_msg("case %zu: got %s want %s", i, got, c->want);
            }
            cJSON_Delete(want);
        }
        cJSON_Delete(doc);
        cJSON_Delete(patch);
    }
}

/* Deep nesting is refused, not a stack overflow. */
static void test_deep_patch(void **state)
{
    size_t depth = 5000;
    char *s = malloc(depth * 6 + 8);
    size_t o = 0;
    for (size_t i = 0; i < depth; i++)
        o += (size_t)sprintf(s + o, "{\"a\":");
    s[o++] = '1';
    for (size_t i = 0; i < depth; i++)
        s[o++] = '}';
    s[o] = '\0';
    cJSON *patch = cJSON_Parse(s); /* cJSON's own nesting limit may refuse it first */
    cJSON *doc = cJSON_CreateObject();
    if (patch) {
        struct cs_err err;
        assert_int_equal(fk_merge_patch(&doc, patch, &err), CS_EINVAL);
    }
    cJSON_Delete(patch);
    cJSON_Delete(doc);
    free(s);
    /* 150 levels: within cJSON's limit, beyond ours */
    o = 0;
    s = malloc(200 * 6 + 8);
    for (size_t i = 0; i < 150; i++)
        o += (size_t)sprintf(s + o, "{\"a\":");
    s[o++] = '1';
    for (size_t i = 0; i < 150; i++)
        s[o++] = '}';
    s[o] = '\0';
    patch = cJSON_Parse(s);
    doc = cJSON_CreateObject();
    if (patch) {
        struct cs_err err;
        assert_int_equal(fk_strategic_patch(&doc, patch, &err), CS_EINVAL);
    }
    cJSON_Delete(patch);
    cJSON_Delete(doc);
    free(s);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patch_table),
        cmocka_unit_test(test_deep_patch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
