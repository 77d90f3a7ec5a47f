/* test_ctl_naming.c -- names and ownership of managed certificates (controller/naming.c):
 * cluster IDs, names cut at every provider limit, alphabets, determinism, long names, the
 * web / web-2 case, ownership records (format, exact parsing, tampering, foreign clusters,
 * user certificates with our prefix). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "controller/naming.h"
#include "tests/unit/test_ctl_support.h"

#define FP_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FP_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void test_cluster_id(void **state)
{
    static const struct { const char *id; bool ok; const char *why; } cases[] = {
        {"prod", true, NULL},
        {"a", true, NULL},
        {"prod-eu-1", true, NULL},
        {"123456789012", true, NULL},
        {"1234567890123", false, "13 characters long, at most 12"},
        {"", false, "empty"},
        {NULL, false, "empty"},
        {"Prod", false, "only a-z, 0-9 and '-' (character 1"},
        {"prod_1", false, "character 5"},
        {"prod.1", false, "character 5"},
        {"-prod", false, "begin and end"},
        {"prod-", false, "begin and end"},
        {"pr od", false, "character 3"},
        {"prod;c=x", false, "character 5"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cs_err err;
        cs_err_clear(&err);
        enum cs_code rc = ctl_cluster_id_check(cases[i].id, &err);
        if ((rc == CS_OK) != cases[i].ok || (cases[i].why && !strstr(err.message, cases[i].why)))
            fail_msg("cluster id '%s': rc %d '%s'", cases[i].id ? cases[i].id : "(null)", rc,
                     err.message);
    }
}

static void test_k8s_names(void **state)
{
    assert_true(ctl_dns_label_valid("shop"));
    assert_true(ctl_dns_label_valid("a-1"));
    assert_false(ctl_dns_label_valid("a.b"));
    assert_false(ctl_dns_label_valid("-a"));
    assert_false(ctl_dns_label_valid("A"));
    assert_false(ctl_dns_label_valid(""));
    char l64[65];
    memset(l64, 'a', 64);
    l64[64] = '\0';
    assert_false(ctl_dns_label_valid(l64));
    l64[63] = '\0';
    assert_true(ctl_dns_label_valid(l64));
    assert_true(ctl_dns_subdomain_valid("web.tls-1"));
    assert_false(ctl_dns_subdomain_valid("web..tls"));
    assert_false(ctl_dns_subdomain_valid("web."));
    assert_false(ctl_dns_subdomain_valid("shop/web"));
    assert_false(ctl_dns_subdomain_valid("web_tls"));
    assert_true(ctl_provider_id_valid("ssl-abc_1.2:3"));
    assert_false(ctl_provider_id_valid("a,b"));
    assert_false(ctl_provider_id_valid("a;b"));
    assert_false(ctl_provider_id_valid(""));
}

static void test_name_basic_and_deterministic(void **state)
{
    struct elb_limits hw = tc_limits_huawei();
    char *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(ctl_name_managed("prod", "shop", "web-tls", FP_A, &hw, &a, NULL), CS_OK);
    assert_string_equal(a, "k8s_plb_default_prod_shop.web-tls_0123456789ab");
    assert_int_equal(ctl_name_managed("prod", "shop", "web-tls", FP_A, &hw, &b, NULL), CS_OK);
    assert_string_equal(a, b);
    assert_int_equal(ctl_name_managed("prod", "shop", "web-tls", FP_B, &hw, &c, NULL), CS_OK);
    assert_string_equal(c, "k8s_plb_default_prod_shop.web-tls_fedcba987654");
    struct ctl_name_parts p;
    assert_true(ctl_name_parse(a, &p));
    assert_string_equal(p.cluster, "prod");
    assert_string_equal(p.readable, "shop.web-tls");
    assert_string_equal(p.hash, "0123456789ab");
    free(a);
    free(b);
    free(c);
    struct cs_err err;
    assert_int_equal(ctl_name_managed("prod", "Shop", "web", FP_A, &hw, &a, &err), CS_EINVAL);
    assert_int_equal(ctl_name_managed("prod", "shop", "ns/web", FP_A, &hw, &a, &err), CS_EINVAL);
    assert_int_equal(ctl_name_managed("prod", "shop", "web", "0123", &hw, &a, &err), CS_EINVAL);
    assert_int_equal(ctl_name_managed("prod", "shop", "web", FP_A "0", &hw, &a, &err), CS_EINVAL);
    assert_int_equal(ctl_name_managed("bad_id", "shop", "web", FP_A, &hw, &a, &err), CS_EINVAL);
    struct elb_limits tiny = hw;
    tiny.name_max = 40;
    assert_int_equal(ctl_name_managed("prod", "shop", "web", FP_A, &tiny, &a, &err), CS_EINVAL);
    assert_non_null(strstr(err.message, "no room"));
}

/* Every provider limit from the smallest that works up to Huawei's, with long names: the
 * name always fits, keeps the prefix, the cluster and the hash, and parses back. */
static void test_name_cut_at_every_limit(void **state)
{
    char ns[64], secret[254];
    memset(ns, 'n', 63);
    ns[63] = '\0';
    memset(secret, 's', 253);
    secret[253] = '\0';
    struct elb_limits lim = tc_limits_huawei();
    const char *clusters[] = {"a", "prod", "123456789012"};
    for (size_t ci = 0; ci < 3; ci++) {
        size_t fixed = strlen(CTL_NAME_PREFIX) + strlen(clusters[ci]) + 2 + CTL_NAME_HASH_LEN;
        for (size_t max = fixed + CTL_READABLE_MIN; max <= 255; max++) {
            lim.name_max = max;
            char *name = NULL;
            assert_int_equal(ctl_name_managed(clusters[ci], ns, secret, FP_A, &lim, &name, NULL),
                             CS_OK);
            assert_true(strlen(name) <= max);
            assert_int_equal(strlen(name), max < fixed + 255 ? max : fixed + 255);
            struct ctl_name_parts p;
            assert_true(ctl_name_parse(name, &p));
            assert_string_equal(p.cluster, clusters[ci]);
            assert_string_equal(p.hash, "0123456789ab");
            /* Both parts keep something. */
            assert_int_equal(p.readable[0], 'n');
            assert_int_equal(p.readable[strlen(p.readable) - 1], 's');
            free(name);
        }
        lim.name_max = fixed + CTL_READABLE_MIN - 1;
        char *name = NULL;
        assert_int_equal(ctl_name_managed(clusters[ci], ns, secret, FP_A, &lim, &name, NULL),
                         CS_EINVAL);
    }
}

static void test_name_ucloud(void **state)
{
    struct elb_limits uc = tc_limits_ucloud();
    static const struct { const char *cluster, *ns, *secret, *want; } cases[] = {
        {"prod", "shop", "web", "k8s_plb_default_prod_shop.web_0123456789ab"},
        {"prod", "shop", "a-very-long-secret-name", "k8s_plb_default_prod_shop.a-very-long_0123456789ab"},
        {"prod", "a-long-namespace", "web", "k8s_plb_default_prod_a-long-names.web_0123456789ab"},
        {"prod", "long-namespace", "long-secret-name", "k8s_plb_default_prod_long-na.long-sec_0123456789ab"},
        {"123456789012", "shop", "web", "k8s_plb_default_123456789012_shop.web_0123456789ab"},
        {"123456789012", "shop-x", "web-y", "k8s_plb_default_123456789012_sho.web-_0123456789ab"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *name = NULL;
        assert_int_equal(ctl_name_managed(cases[i].cluster, cases[i].ns, cases[i].secret, FP_A, &uc,
                                          &name, NULL),
                         CS_OK);
        if (strcmp(name, cases[i].want) != 0 || strlen(name) > 50)
            fail_msg("case %zu: got %s want %s", i, name, cases[i].want);
        free(name);
    }
}

/* Characters a provider refuses are replaced; '_' never appears in the readable part. */
static void test_name_alphabet(void **state)
{
    struct elb_limits lim = tc_limits_huawei();
    lim.name_extra_chars = "-";
    char *name = NULL;
    assert_int_equal(ctl_name_managed("prod", "shop", "web.tls", FP_A, &lim, &name, NULL), CS_OK);
    assert_string_equal(name, "k8s_plb_default_prod_shop-web-tls_0123456789ab");
    free(name);
    lim.name_extra_chars = "";
    assert_int_equal(ctl_name_managed("prod", "shop", "web.tls", FP_A, &lim, &name, NULL), CS_OK);
    assert_string_equal(name, "k8s_plb_default_prod_shopxwebxtls_0123456789ab");
    free(name);
    lim.name_extra_chars = "-_.";
    assert_int_equal(ctl_name_imported("prod", "ssl_abc:1", &lim, &name, NULL), CS_OK);
    struct ctl_name_parts p;
    assert_true(ctl_name_parse(name, &p));
    assert_string_equal(p.readable, "imported.ssl-abc-1");
    char fp[65];
    ctl_imported_fingerprint("ssl_abc:1", fp);
    assert_memory_equal(p.hash, fp, CTL_NAME_HASH_LEN);
    free(name);
    assert_int_equal(ctl_name_imported("prod", "bad id", &lim, &name, NULL), CS_EINVAL);
}

static void test_name_parse_exact(void **state)
{
    static const struct { const char *name; bool ok; } cases[] = {
        {"k8s_plb_default_prod_shop.web_0123456789ab", true},
        {"k8s_plb_default_prod_shop.web_0123456789AB", false},   /* uppercase hash */
        {"k8s_plb_default_prod_shop.web_0123456789a", false},    /* short hash */
        {"k8s_plb_default_prod_shop.web_0123456789abc", false},  /* long hash */
        {"k8s_plb_default_prod_shop_web_0123456789ab", false},   /* four fields */
        {"k8s_plb_default_prod__0123456789ab", false},           /* empty readable */
        {"k8s_plb_default__shop.web_0123456789ab", false},       /* empty cluster */
        {"k8s_plb_default_Prod_shop.web_0123456789ab", false},   /* bad cluster */
        {"k8s_plb_default_shop.web_0123456789ab", false},        /* CCE-style, no cluster */
        {"k8s_plb_default_1234567890123_x_0123456789ab", false}, /* cluster too long */
        {"K8S_plb_default_prod_shop.web_0123456789ab", false},
        {"xk8s_plb_default_prod_shop.web_0123456789ab", false},
        {"my-cert", false},
        {"", false},
        {NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (ctl_name_parse(cases[i].name, NULL) != cases[i].ok)
            fail_msg("case %zu (%s)", i, cases[i].name ? cases[i].name : "(null)");
}

/* web and web-2: different names, and neither's record claims the other's Secret. */
static void test_web_and_web2(void **state)
{
    struct elb_limits uc = tc_limits_ucloud();
    char *a = NULL, *b = NULL;
    assert_int_equal(ctl_name_managed("prod", "shop", "web", FP_A, &uc, &a, NULL), CS_OK);
    assert_int_equal(ctl_name_managed("prod", "shop", "web-2", FP_B, &uc, &b, NULL), CS_OK);
    assert_string_not_equal(a, b);
    struct ctl_name_parts pa, pb;
    assert_true(ctl_name_parse(a, &pa));
    assert_true(ctl_name_parse(b, &pb));
    assert_string_equal(pa.readable, "shop.web");
    assert_string_equal(pb.readable, "shop.web-2");
    free(a);
    free(b);
    struct ctl_record r;
    assert_int_equal(ctl_record_init(&r, "prod", "shop", "web-2", FP_B, NULL), CS_OK);
    assert_false(ctl_record_is_secret(&r, "shop", "web"));
    assert_true(ctl_record_is_secret(&r, "shop", "web-2"));
    assert_false(ctl_record_is_secret(&r, "sho", "pweb-2"));
    ctl_record_cleanup(&r);
}

static void test_record_roundtrip(void **state)
{
    struct ctl_record r, p;
    assert_int_equal(ctl_record_init(&r, "prod", "shop", "web-tls", FP_A, NULL), CS_OK);
    char *s = NULL;
    assert_int_equal(ctl_record_format(&r, 255, &s, NULL), CS_OK);
    assert_string_equal(s, "elb-certsync/v1;c=prod;s=shop/web-tls;f=" FP_A);
    assert_int_equal(ctl_record_parse(s, &p, NULL), CS_OK);
    assert_string_equal(p.cluster, "prod");
    assert_string_equal(p.secret_ns, "shop");
    assert_string_equal(p.secret_name, "web-tls");
    assert_string_equal(p.fingerprint, FP_A);
    assert_null(p.replaced_cert);
    ctl_record_cleanup(&p);
    free(s);
    /* With the certificate it replaced as a listener's default. */
    r.replaced_listener = strdup("0b6f6b6c-6b2e-4c57-9d4b-3a1c2f5d9e11");
    r.replaced_cert = strdup("6a4b3c2d1e0f6a4b3c2d1e0f6a4b3c2d");
    assert_int_equal(ctl_record_format(&r, 255, &s, NULL), CS_OK);
    assert_int_equal(ctl_record_parse(s, &p, NULL), CS_OK);
    assert_string_equal(p.replaced_listener, r.replaced_listener);
    assert_string_equal(p.replaced_cert, r.replaced_cert);
    ctl_record_cleanup(&p);
    free(s);
    ctl_record_cleanup(&r);
}

/* A long namespace and Secret name do not fit in 255 characters: the record keeps their hash,
 * which still identifies the Secret exactly. */
static void test_record_long_names(void **state)
{
    char ns[64], secret[254];
    memset(ns, 'n', 63);
    ns[63] = '\0';
    memset(secret, 's', 253);
    secret[253] = '\0';
    struct ctl_record r, p;
    assert_int_equal(ctl_record_init(&r, "prod", ns, secret, FP_A, NULL), CS_OK);
    r.replaced_listener = strdup("0b6f6b6c-6b2e-4c57-9d4b-3a1c2f5d9e11");
    r.replaced_cert = strdup("6a4b3c2d1e0f6a4b3c2d1e0f6a4b3c2d");
    char *s = NULL;
    assert_int_equal(ctl_record_format(&r, 255, &s, NULL), CS_OK);
    assert_true(strlen(s) <= 255);
    assert_non_null(strstr(s, ";h="));
    assert_int_equal(ctl_record_parse(s, &p, NULL), CS_OK);
    assert_null(p.secret_ns);
    assert_true(ctl_record_is_secret(&p, ns, secret));
    assert_false(ctl_record_is_secret(&p, ns, "other"));
    ctl_record_cleanup(&p);
    free(s);
    struct cs_err err;
    assert_int_equal(ctl_record_format(&r, 100, &s, &err), CS_ETOOBIG);
    ctl_record_cleanup(&r);
}

static void test_record_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "elb-certsync/v1",
        "elb-certsync/v2;c=prod;s=shop/web;f=" FP_A,
        "elb-certsync/v1;c=prod;s=shop/web",                       /* no fingerprint */
        "elb-certsync/v1;s=shop/web;f=" FP_A,                      /* no cluster */
        "elb-certsync/v1;c=Prod;s=shop/web;f=" FP_A,               /* bad cluster */
        "elb-certsync/v1;c=prod;s=shop/web;f=" FP_A "0",            /* long fingerprint */
        "elb-certsync/v1;c=prod;s=shop/web;f=" FP_A ";x=1",         /* unknown field */
        "elb-certsync/v1;c=prod;c=other;s=shop/web;f=" FP_A,        /* duplicate */
        "elb-certsync/v1;f=" FP_A ";c=prod",                       /* order */
        "elb-certsync/v1;c=prod;s=shopweb;f=" FP_A,                /* no slash */
        "elb-certsync/v1;c=prod;s=shop/web/x;f=" FP_A,             /* bad name */
        "elb-certsync/v1;c=prod;h=123;f=" FP_A,                    /* short hash */
        "elb-certsync/v1;c=prod;s=shop/web;f=" FP_A ";r=l1",        /* r without cert */
        "elb-certsync/v1;c=prod;s=shop/web;f=" FP_A ";r=l 1,c1",    /* bad id */
        " elb-certsync/v1;c=prod;s=shop/web;f=" FP_A,
        "elb-certsync/v1;c=prod;s=shop/web;f=" FP_A ";",
        "created by elb-certsync/v1;c=prod;s=shop/web;f=" FP_A,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ctl_record r;
        struct cs_err err;
        if (ctl_record_parse(bad[i], &r, &err) != CS_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
        assert_true(err.message[0] != '\0');
    }
    struct ctl_record r;
    assert_int_equal(ctl_record_parse(NULL, &r, NULL), CS_EINVAL);
}

static struct elb_cert mkcert(const char *name, const char *desc)
{
    return (struct elb_cert){.id = "c1", .name = (char *)name, .description = (char *)desc};
}

/* Ownership: prefix AND cluster, and on providers with descriptions a record of the same
 * cluster whose fingerprint matches the name's hash. */
static void test_ownership(void **state)
{
    struct elb_limits hw = tc_limits_huawei(), uc = tc_limits_ucloud();
    const char *ours = "k8s_plb_default_prod_shop.web_0123456789ab";
    const char *good = "elb-certsync/v1;c=prod;s=shop/web;f=" FP_A;
    static const struct { const char *name, *desc; bool hw, uc; } cases[] = {
        {"k8s_plb_default_prod_shop.web_0123456789ab", "elb-certsync/v1;c=prod;s=shop/web;f=" FP_A, true, true},
        /* another cluster in the same account */
        {"k8s_plb_default_prodx_shop.web_0123456789ab", "elb-certsync/v1;c=prodx;s=shop/web;f=" FP_A, false, false},
        {"k8s_plb_default_pro_shop.web_0123456789ab", "elb-certsync/v1;c=pro;s=shop/web;f=" FP_A, false, false},
        /* a user's certificate with our prefix (CCE style) */
        {"k8s_plb_default_shop.web_0123456789ab", NULL, false, false},
        {"k8s_plb_default_prod_mine_0123456789ab", "my certificate", false, true},
        {"k8s_plb_default_prod_mine_0123456789ab", NULL, false, true},
        /* tampered records */
        {"k8s_plb_default_prod_shop.web_0123456789ab", "elb-certsync/v1;c=other;s=shop/web;f=" FP_A, false, true},
        {"k8s_plb_default_prod_shop.web_0123456789ab", "elb-certsync/v1;c=prod;s=shop/web;f=" FP_B, false, true},
        {"k8s_plb_default_other_shop.web_0123456789ab", "elb-certsync/v1;c=prod;s=shop/web;f=" FP_A, false, false},
        {"my-cert", "elb-certsync/v1;c=prod;s=shop/web;f=" FP_A, false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct elb_cert c = mkcert(cases[i].name, cases[i].desc);
        if (ctl_cert_is_ours(&c, "prod", &hw, NULL) != cases[i].hw ||
            ctl_cert_is_ours(&c, "prod", &uc, NULL) != cases[i].uc)
            fail_msg("case %zu (%s | %s)", i, cases[i].name, cases[i].desc ? cases[i].desc : "");
    }
    struct elb_cert c = mkcert(ours, good);
    struct ctl_record r;
    assert_true(ctl_cert_is_ours(&c, "prod", &hw, &r));
    assert_true(ctl_record_is_secret(&r, "shop", "web"));
    ctl_record_cleanup(&r);
    assert_false(ctl_cert_is_ours(NULL, "prod", &hw, NULL));
    assert_false(ctl_cert_is_ours(&c, NULL, &hw, NULL));
}

static void test_readable(void **state)
{
    struct elb_limits uc = tc_limits_ucloud();
    char r[256];
    assert_int_equal(ctl_name_readable("prod", "shop", "web", &uc, r, NULL), CS_OK);
    assert_string_equal(r, "shop.web");
    assert_int_equal(ctl_name_readable("Prod", "shop", "web", &uc, r, NULL), CS_EINVAL);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_id),
        cmocka_unit_test(test_k8s_names),
        cmocka_unit_test(test_name_basic_and_deterministic),
        cmocka_unit_test(test_name_cut_at_every_limit),
        cmocka_unit_test(test_name_ucloud),
        cmocka_unit_test(test_name_alphabet),
        cmocka_unit_test(test_name_parse_exact),
        cmocka_unit_test(test_web_and_web2),
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_record_long_names),
        cmocka_unit_test(test_record_parse_rejects),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_readable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
