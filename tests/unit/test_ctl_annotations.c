/* test_ctl_annotations.c -- every annotation the controller honours (controller/
 * annotations.c): good and bad values, defaults, provider-specific ones, the Ingress class,
 * and the table the README is generated from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "controller/annotations.h"
#include "tests/unit/test_ctl_support.h"

static struct ctl_settings settings(enum ctl_provider_kind p)
{
    return (struct ctl_settings){.cluster_id = "prod", .ingress_class = "cce",
                                 .default_region = "cn-north-4", .default_port = 443,
                                 .provider = p,
                                 .limits = p == CTL_PROVIDER_HUAWEI ? tc_limits_huawei()
                                                                    : tc_limits_ucloud(),
                                 .now_ms = TC_NOW_MS, .expiry_warn_days = 14};
}

struct case_ {
    const char *what;
    enum ctl_provider_kind provider;
    const char *ann[6];
    bool tls;
    enum cs_code want;
    const char *problem; /* substring of the one problem expected; NULL: none */
    const char *lb, *listener, *region, *ids, *imported; /* expectations on success */
    int port;
};

#define LB "kubernetes.io/elb.id=lb-1"
static const struct case_ CASES[] = {
    {"defaults", CTL_PROVIDER_HUAWEI, {LB}, true, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "", "", 443},
    {"port", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=8443"}, true, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "", "", 8443},
    {"port 1", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=1"}, true, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "", "", 1},
    {"port 65535", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=65535"}, true, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "", "", 65535},
    {"port 0", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=0"}, true, CS_EINVAL, "kubernetes.io/elb.port=\"0\": not a port number", NULL, NULL, NULL, NULL, NULL, 0},
    {"port 65536", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=65536"}, true, CS_EINVAL, "not a port number (1-65535", NULL, NULL, NULL, NULL, NULL, 0},
    {"port sign", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=+443"}, true, CS_EINVAL, "not a port number", NULL, NULL, NULL, NULL, NULL, 0},
    {"port space", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port= 443"}, true, CS_EINVAL, "not a port number", NULL, NULL, NULL, NULL, NULL, 0},
    {"port leading zero", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=0443"}, true, CS_EINVAL, "not a port number", NULL, NULL, NULL, NULL, NULL, 0},
    {"port hex", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=0x1bb"}, true, CS_EINVAL, "not a port number", NULL, NULL, NULL, NULL, NULL, 0},
    {"port empty", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port="}, true, CS_EINVAL, "not a port number", NULL, NULL, NULL, NULL, NULL, 0},
    {"port huge", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=99999999999999999999"}, true, CS_EINVAL, "not a port number", NULL, NULL, NULL, NULL, NULL, 0},
    {"no lb with tls", CTL_PROVIDER_HUAWEI, {NULL}, true, CS_EINVAL, "kubernetes.io/elb.id=\"\": required", NULL, NULL, NULL, NULL, NULL, 0},
    {"no lb, no tls", CTL_PROVIDER_HUAWEI, {NULL}, false, CS_OK, NULL, NULL, NULL, "cn-north-4", "", "", 443},
    {"bad lb", CTL_PROVIDER_HUAWEI, {"kubernetes.io/elb.id=lb 1"}, true, CS_EINVAL, "kubernetes.io/elb.id=\"lb 1\": not a load balancer ID", NULL, NULL, NULL, NULL, NULL, 0},
    {"empty lb", CTL_PROVIDER_HUAWEI, {"kubernetes.io/elb.id="}, true, CS_EINVAL, "not a load balancer ID", NULL, NULL, NULL, NULL, NULL, 0},
    {"listener id", CTL_PROVIDER_HUAWEI, {LB, "elb-certsync.io/listener-id=ls-9"}, true, CS_OK, NULL, "lb-1", "ls-9", "cn-north-4", "", "", 443},
    {"bad listener id", CTL_PROVIDER_HUAWEI, {LB, "elb-certsync.io/listener-id=ls/9"}, true, CS_EINVAL, "elb-certsync.io/listener-id=\"ls/9\": not a listener ID", NULL, NULL, NULL, NULL, NULL, 0},
    {"region", CTL_PROVIDER_HUAWEI, {LB, "elb-certsync.io/region=ap-southeast-1"}, true, CS_OK, NULL, "lb-1", NULL, "ap-southeast-1", "", "", 443},
    {"bad region", CTL_PROVIDER_HUAWEI, {LB, "elb-certsync.io/region=CN_North"}, true, CS_EINVAL, "elb-certsync.io/region=\"CN_North\": not a region name", NULL, NULL, NULL, NULL, NULL, 0},
    {"region dash", CTL_PROVIDER_HUAWEI, {LB, "elb-certsync.io/region=-x"}, true, CS_EINVAL, "not a region name", NULL, NULL, NULL, NULL, NULL, 0},
    {"elb class union", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.class=union"}, true, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "", "", 443},
    {"elb class performance", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.class=performance"}, true, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "", "", 443},
    {"elb class bad", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.class=dedicated"}, true, CS_EINVAL, "must be 'union' or 'performance'", NULL, NULL, NULL, NULL, NULL, 0},
    {"cert ids", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.tls-certificate-ids=c1,c2, c3 "}, false, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "c1|c2|c3", "", 443},
    {"cert ids one", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.tls-certificate-ids=6a4b3c2d1e0f"}, false, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "6a4b3c2d1e0f", "", 443},
    {"cert ids empty", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.tls-certificate-ids="}, false, CS_EINVAL, "empty: give one or more certificate IDs", NULL, NULL, NULL, NULL, NULL, 0},
    {"cert ids empty item", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.tls-certificate-ids=c1,,c2"}, false, CS_EINVAL, "item 2 is empty", NULL, NULL, NULL, NULL, NULL, 0},
    {"cert ids trailing comma", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.tls-certificate-ids=c1,"}, false, CS_EINVAL, "item 2 is empty", NULL, NULL, NULL, NULL, NULL, 0},
    {"cert ids duplicate", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.tls-certificate-ids=c1,c2,c1"}, false, CS_EINVAL, "item 3 repeats item 1", NULL, NULL, NULL, NULL, NULL, 0},
    {"cert ids bad char", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.tls-certificate-ids=c1;c2"}, false, CS_EINVAL, "item 1 is not a certificate ID", NULL, NULL, NULL, NULL, NULL, 0},
    {"cert ids need lb", CTL_PROVIDER_HUAWEI, {"kubernetes.io/elb.tls-certificate-ids=c1"}, false, CS_EINVAL, "required", NULL, NULL, NULL, NULL, NULL, 0},
    {"ussl on ucloud", CTL_PROVIDER_UCLOUD, {LB, "elb-certsync.io/ussl-ids=ussl-1,ussl-2"}, false, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "", "ussl-1|ussl-2", 443},
    {"ussl on huawei", CTL_PROVIDER_HUAWEI, {LB, "elb-certsync.io/ussl-ids=ussl-1"}, false, CS_EINVAL, "USSL certificates exist only on UCloud", NULL, NULL, NULL, NULL, NULL, 0},
    {"scm on huawei", CTL_PROVIDER_HUAWEI, {LB, "elb-certsync.io/scm-certificate-ids=scs1"}, false, CS_OK, NULL, "lb-1", NULL, "cn-north-4", "", "scs1", 443},
    {"scm on ucloud", CTL_PROVIDER_UCLOUD, {LB, "elb-certsync.io/scm-certificate-ids=scs1"}, false, CS_EINVAL, "SCM certificates exist only on Huawei Cloud", NULL, NULL, NULL, NULL, NULL, 0},
    {"ussl bad", CTL_PROVIDER_UCLOUD, {LB, "elb-certsync.io/ussl-ids=ussl 1"}, false, CS_EINVAL, "elb-certsync.io/ussl-ids=\"ussl 1\": item 1", NULL, NULL, NULL, NULL, NULL, 0},
    {"control chars quoted safely", CTL_PROVIDER_HUAWEI, {LB, "kubernetes.io/elb.port=4\n43"}, true, CS_EINVAL, "elb.port=\"4?43\"", NULL, NULL, NULL, NULL, NULL, 0},
};

static void join(char *buf, size_t len, char **v, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(buf, v[i], len - strlen(buf) - 1);
        if (i + 1 < n)
            strncat(buf, "|", len - strlen(buf) - 1);
    }
}

static void test_cases(void **state)
{
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const struct case_ *c = &CASES[i];
        struct ctl_settings s = settings(c->provider);
        struct ctl_ingress ing;
        const char *tls[] = {"web", NULL};
        tc_ingress(&ing, "shop", "web", 1, "cce", c->ann, c->tls ? tls : NULL);
        struct ctl_ingress_opts o = {0};
        struct ctl_problems pr = {0};
        struct cs_err err;
        enum cs_code rc = ctl_annotations_parse(&ing, &s, &o, &pr, &err);
        if (rc != c->want)
            fail_msg("case '%s': rc %d want %d (%s)", c->what, rc, c->want,
                     pr.n ? pr.items[0].message : "");
        if (c->problem) {
            if (pr.n != 1 || !strstr(pr.items[0].message, c->problem))
                fail_msg("case '%s': %zu problems, first '%s', want '%s'", c->what, pr.n,
                         pr.n ? pr.items[0].message : "", c->problem);
            assert_int_equal(pr.items[0].kind, CTL_PROB_BAD_ANNOTATION);
            assert_string_equal(pr.items[0].ingress_ns, "shop");
            assert_string_equal(pr.items[0].ingress_name, "web");
            assert_null(o.lb_id); /* untouched on failure */
        } else {
            assert_int_equal(pr.n, 0);
            if (c->lb)
                assert_string_equal(o.lb_id, c->lb);
            else
                assert_null(o.lb_id);
            if (c->listener)
                assert_string_equal(o.listener_id, c->listener);
            else
                assert_null(o.listener_id);
            assert_string_equal(o.region, c->region);
            assert_int_equal(o.port, c->port);
            char buf[256];
            join(buf, sizeof(buf), o.cert_ids, o.n_cert_ids);
            assert_string_equal(buf, c->ids);
            join(buf, sizeof(buf), o.imported_ids, o.n_imported_ids);
            assert_string_equal(buf, c->imported);
        }
        ctl_ingress_opts_cleanup(&o);
        ctl_problems_cleanup(&pr);
        ctl_ingress_cleanup(&ing);
    }
}

/* Every bad value is reported, not only the first. */
static void test_all_problems_reported(void **state)
{
    struct ctl_settings s = settings(CTL_PROVIDER_HUAWEI);
    const char *ann[] = {"kubernetes.io/elb.id=bad id", "kubernetes.io/elb.port=70000",
                         "elb-certsync.io/region=X", "kubernetes.io/elb.class=x", NULL};
    const char *tls[] = {"web", NULL};
    struct ctl_ingress ing;
    tc_ingress(&ing, "shop", "web", 1, "cce", ann, tls);
    struct ctl_ingress_opts o = {0};
    struct ctl_problems pr = {0};
    assert_int_equal(ctl_annotations_parse(&ing, &s, &o, &pr, NULL), CS_EINVAL);
    assert_int_equal(pr.n, 4);
    ctl_problems_cleanup(&pr);
    ctl_ingress_cleanup(&ing);
}

static void test_default_port_and_region(void **state)
{
    struct ctl_settings s = settings(CTL_PROVIDER_UCLOUD);
    s.default_port = 8443;
    s.default_region = NULL;
    const char *ann[] = {LB, NULL};
    const char *tls[] = {"web", NULL};
    struct ctl_ingress ing;
    tc_ingress(&ing, "shop", "web", 1, "cce", ann, tls);
    struct ctl_ingress_opts o = {0};
    struct ctl_problems pr = {0};
    assert_int_equal(ctl_annotations_parse(&ing, &s, &o, &pr, NULL), CS_EINVAL);
    assert_non_null(strstr(pr.items[0].message, "no region"));
    ctl_problems_cleanup(&pr);
    s.default_region = "cn-bj2";
    assert_int_equal(ctl_annotations_parse(&ing, &s, &o, &pr, NULL), CS_OK);
    assert_int_equal(o.port, 8443);
    assert_string_equal(o.region, "cn-bj2");
    ctl_ingress_opts_cleanup(&o);
    s.limits.can_import = false;
    ctl_ingress_cleanup(&ing);
    const char *ann2[] = {LB, "elb-certsync.io/ussl-ids=u1", NULL};
    tc_ingress(&ing, "shop", "web", 1, "cce", ann2, NULL);
    assert_int_equal(ctl_annotations_parse(&ing, &s, &o, &pr, NULL), CS_EINVAL);
    assert_non_null(strstr(pr.items[0].message, "cannot import"));
    ctl_problems_cleanup(&pr);
    ctl_ingress_cleanup(&ing);
}

static void test_class(void **state)
{
    struct ctl_settings s = settings(CTL_PROVIDER_HUAWEI);
    static const struct { const char *spec, *ann; bool ours; } cases[] = {
        {"cce", NULL, true},
        {NULL, "cce", true},
        {"nginx", NULL, false},
        {NULL, "nginx", false},
        {NULL, NULL, false},
        {"cce", "nginx", true},  /* spec.ingressClassName wins */
        {"nginx", "cce", false},
        {"", "cce", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char a[64];
        snprintf(a, sizeof(a), "kubernetes.io/ingress.class=%s", cases[i].ann ? cases[i].ann : "");
        const char *ann[] = {cases[i].ann ? a : NULL, NULL};
        struct ctl_ingress ing;
        tc_ingress(&ing, "shop", "web", 1, cases[i].spec, ann, NULL);
        if (ctl_ingress_is_ours(&ing, &s) != cases[i].ours)
            fail_msg("class case %zu", i);
        ctl_ingress_cleanup(&ing);
    }
}

/* The table: every annotation once, each with a meaning and an example, and the parser
 * knows every name in it (the README is checked against this table). */
static void test_table(void **state)
{
    assert_true(ctl_annotation_count >= 9);
    for (size_t i = 0; i < ctl_annotation_count; i++) {
        const struct ctl_annotation_spec *a = &ctl_annotation_table[i];
        assert_non_null(a->name);
        assert_true(strlen(a->meaning) > 20);
        assert_true(strlen(a->example) > 0);
        assert_non_null(a->default_value);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ctl_annotation_table[j].name, a->name);
    }
    const char *names[] = {CTL_ANN_ELB_ID, CTL_ANN_ELB_PORT, CTL_ANN_ELB_CLASS, CTL_ANN_CERT_IDS,
                           CTL_ANN_INGRESS_CLASS, CTL_ANN_LISTENER_ID, CTL_ANN_REGION,
                           CTL_ANN_USSL_IDS, CTL_ANN_SCM_IDS};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        bool found = false;
        for (size_t j = 0; j < ctl_annotation_count; j++)
            found |= strcmp(ctl_annotation_table[j].name, names[i]) == 0;
        if (!found)
            fail_msg("%s missing from the table", names[i]);
    }
}

static void test_markdown(void **state)
{
    struct cs_buf b;
    cs_buf_init(&b, 65536);
    assert_int_equal(ctl_annotations_markdown(&b), CS_OK);
    assert_non_null(strstr(cs_buf_str(&b), "| Annotation | Default | Example | Meaning |"));
    assert_non_null(strstr(cs_buf_str(&b), "| `kubernetes.io/elb.port` | 443 | `8443` |"));
    size_t lines = 0;
    for (const char *p = cs_buf_str(&b); *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, ctl_annotation_count + 2);
    cs_buf_free(&b);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_all_problems_reported),
        cmocka_unit_test(test_default_port_and_region),
        cmocka_unit_test(test_class),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_markdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
