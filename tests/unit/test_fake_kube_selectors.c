/* test_fake_kube_selectors.c -- label and field selectors of fake-kube-apiserver, against
 * tables of selectors, label sets and the real server's error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/json.h"
#include "tests/fakes/kube/fk.h"

/* Packed label sets: "k\0v\0...\0". */
static const char L_NONE[] = "";
static const char L_APP_WEB[] = "app\0web\0tier\0front\0";
static const char L_APP_DB[] = "app\0db\0";
static const char L_PREFIXED[] = "example.com/owner\0team-a\0n\0" "7\0";

struct label_case {
    const char *selector;
    const char *labels;
    bool match;
};

static const struct label_case label_cases[] = {
    {"", L_APP_WEB, true},
    {"app=web", L_APP_WEB, true},
    {"app==web", L_APP_WEB, true},
    {"app = web", L_APP_WEB, true},
    {"app=db", L_APP_WEB, false},
    {"app!=db", L_APP_WEB, true},
    {"app!=web", L_APP_WEB, false},
    {"app!=web", L_NONE, true}, /* != matches a missing label */
    {"app", L_APP_WEB, true},
    {"app", L_NONE, false},
    {"!app", L_NONE, true},
    {"!app", L_APP_DB, false},
    {"app in (web,db)", L_APP_DB, true},
    {"app in (web, x)", L_APP_DB, false},
    {"app notin (web)", L_APP_DB, true},
    {"app notin (db)", L_APP_DB, false},
    {"app notin (db)", L_NONE, true},
    {"app=web,tier=front", L_APP_WEB, true},
    {"app=web,tier=back", L_APP_WEB, false},
    {"app=web, !tier", L_APP_WEB, false},
    {"example.com/owner=team-a", L_PREFIXED, true},
    {"n>5", L_PREFIXED, true},
    {"n<5", L_PREFIXED, false},
    {"n>5", L_APP_WEB, false},
    {"app=", L_APP_WEB, false},
    {"in=x", L_NONE, false}, /* a keyword in key position is a key */
};

static void test_label_table(void **state)
{
    for (size_t i = 0; i < sizeof(label_cases) / sizeof(label_cases[0]); i++) {
        const struct label_case *c = &label_cases[i];
        struct fk_label_selector *sel = NULL;
        struct cs_err err;
        assert_int_equal(fk_label_selector_parse(c->selector, &sel, &err), CS_OK);
        if (fk_label_selector_match(sel, c->labels) != c->match)
            fail_msg("selector '%s' case %zu: expected %d", c->selector, i, c->match);
        fk_label_selector_free(sel);
    }
}

static const char *const bad_labels[] = {
    "app=web,", "=web", "app in web", "app in ()", "app in (a", "app notin", "app=a=b",
    "-app=x", "app=-x", "a/b/c=x", "app>x", "!app=x", "app web", "(", "app in (a b)",
};

static void test_label_errors(void **state)
{
    for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++) {
        struct fk_label_selector *sel = (struct fk_label_selector *)0x1;
        struct cs_err err;
        if (fk_label_selector_parse(bad_labels[i], &sel, &err) != CS_EINVAL)
            fail_msg("'%s' accepted", bad_labels[i]);
        assert_ptr_equal(sel, (struct fk_label_selector *)0x1); /* untouched on failure */
        assert_int_equal(err.http_status, 400);
        assert_non_null(strstr(err.message, "unable to parse requirement"));
    }
}

struct field_case {
    const char *selector;
    enum fk_field_set set;
    struct fk_fields f;
    bool match;
};

static const char X_TLS[] = "type\0kubernetes.io/tls\0";
static const char X_OPAQUE[] = "type\0Opaque\0";

static const struct field_case field_cases[] = {
    {"type=kubernetes.io/tls", FK_FIELDS_SECRET, {"a", "ns", X_TLS}, true},
    {"type==kubernetes.io/tls", FK_FIELDS_SECRET, {"a", "ns", X_OPAQUE}, false},
    {"type!=kubernetes.io/tls", FK_FIELDS_SECRET, {"a", "ns", X_OPAQUE}, true},
    {"metadata.name=a", FK_FIELDS_META, {"a", "ns", NULL}, true},
    {"metadata.name=b", FK_FIELDS_META, {"a", "ns", NULL}, false},
    {"metadata.namespace=ns,metadata.name=a", FK_FIELDS_META, {"a", "ns", NULL}, true},
    {"metadata.namespace!=ns", FK_FIELDS_META, {"a", "ns", NULL}, false},
    {"metadata.namespace=", FK_FIELDS_NAMESPACE, {"a", "", NULL}, true},
    {"metadata.name=a\\,b", FK_FIELDS_META, {"a,b", "ns", NULL}, true},
    {"metadata.name=a\\=b", FK_FIELDS_META, {"a=b", "ns", NULL}, true},
    {"", FK_FIELDS_META, {"a", "ns", NULL}, true},
};

static void test_field_table(void **state)
{
    for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
        const struct field_case *c = &field_cases[i];
        struct fk_field_selector *sel = NULL;
        struct cs_err err;
        assert_int_equal(fk_field_selector_parse(c->selector, c->set, &sel, &err), CS_OK);
        if (fk_field_selector_match(sel, &c->f) != c->match)
            fail_msg("field selector '%s' case %zu: expected %d", c->selector, i, c->match);
        fk_field_selector_free(sel);
    }
    struct fk_field_selector *sel = NULL;
    assert_int_equal(fk_field_selector_parse("metadata.name=x,type=y", FK_FIELDS_SECRET, &sel,
                                             NULL), CS_OK);
    assert_string_equal(fk_field_selector_exact(sel, "metadata.name"), "x");
    assert_null(fk_field_selector_exact(sel, "metadata.namespace"));
    fk_field_selector_free(sel);
}

static void test_field_errors(void **state)
{
    struct cs_err err;
    struct fk_field_selector *sel = NULL;
    /* The real server's two messages: core types' conversion, and the default one. */
    assert_int_equal(fk_field_selector_parse("spec.x=y", FK_FIELDS_SECRET, &sel, &err), CS_EINVAL);
    assert_string_equal(err.message, "field label not supported: spec.x");
    assert_int_equal(fk_field_selector_parse("type=x", FK_FIELDS_META, &sel, &err), CS_EINVAL);
    assert_string_equal(err.message, "\"type\" is not a known field selector: only "
                                     "\"metadata.name\", \"metadata.namespace\"");
    assert_int_equal(fk_field_selector_parse("metadata.name", FK_FIELDS_META, &sel, &err),
                     CS_EINVAL);
    assert_int_equal(fk_field_selector_parse("metadata.name=a\\x", FK_FIELDS_META, &sel, &err),
                     CS_EINVAL);
    assert_int_equal(fk_field_selector_parse("metadata.name=a,", FK_FIELDS_META, &sel, &err),
                     CS_EINVAL);
    assert_null(sel);
    assert_int_equal(fk_field_selector_parse("involvedObject.name=w,reason=Sync",
                                             FK_FIELDS_EVENT, &sel, &err), CS_OK);
    fk_field_selector_free(sel);
}

static void test_labels_get(void **state)
{
    assert_string_equal(fk_labels_get(L_APP_WEB, "tier"), "front");
    assert_null(fk_labels_get(L_APP_WEB, "x"));
    assert_null(fk_labels_get(NULL, "x"));
    assert_null(fk_labels_get(L_NONE, "app"));
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_table), cmocka_unit_test(test_label_errors),
        cmocka_unit_test(test_field_table), cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_labels_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
