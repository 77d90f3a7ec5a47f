/* test_objects.c -- controller/objects.c: Ingress JSON (as the API server sends it) to the
 * model, the Ingress store's class filter, a Secret's tls.crt/tls.key decoding, and the Secret
 * store's extract with certificates and keys generated here with OpenSSL. Wrong JSON types
 * everywhere must give a clear answer, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/json.h"
#include "common/util.h"
#include "controller/annotations.h"
#include "controller/certcheck.h"
#include "controller/objects.h"
#include "tests/unit/test_ctl_support.h"

/* ---------------------------------------------------------------- helpers */

static cJSON *parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    if (!j)
        fail_msg("test JSON does not parse: %s", text);
    return j;
}

/* A complete Ingress as `kubectl get ingress -o json` shows it (server-side fields included). */
static const char *const full_ingress =
    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\","
    "\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
    "\"uid\":\"0c9a8b7e-1f2d-4c3b-9a8e-7d6c5b4a3f21\",\"resourceVersion\":\"48213\","
    "\"generation\":3,\"creationTimestamp\":\"2024-01-02T03:04:05Z\","
    "\"labels\":{\"app\":\"web\"},"
    "\"annotations\":{\"kubernetes.io/elb.id\":\"lb-1\",\"kubernetes.io/elb.port\":\"443\","
    "\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"apiVersion\\\":\\\"v1\\\"}\\n\"},"
    "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Update\","
    "\"apiVersion\":\"networking.k8s.io/v1\",\"time\":\"2024-01-02T03:04:05Z\","
    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{}}}]},"
    "\"spec\":{\"ingressClassName\":\"cce\","
    "\"tls\":[{\"hosts\":[\"a.example.com\",\"b.example.com\"],\"secretName\":\"web-tls\"},"
    "{\"secretName\":\"other-tls\"},"
    "{\"hosts\":[\"c.example.com\"]}],"
    "\"rules\":[{\"host\":\"a.example.com\",\"http\":{\"paths\":[{\"path\":\"/\","
    "\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"web\",\"port\":"
    "{\"number\":80}}}}]}}]},"
    "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.10\"}]}}}";

/* ---------------------------------------------------------------- ctl_ingress_from_json */

static void test_ingress_full(void **state)
{
    (void)state;
    cJSON *j = parse(full_ingress);
    struct ctl_ingress ing;
    struct cs_err err;
    assert_int_equal(ctl_ingress_from_json(j, &ing, &err), CS_OK);
    assert_string_equal(ing.ns, "shop");
    assert_string_equal(ing.name, "web");
    assert_string_equal(ing.uid, "0c9a8b7e-1f2d-4c3b-9a8e-7d6c5b4a3f21");
    assert_string_equal(ing.class_name, "cce");
    /* 2024-01-02T03:04:05Z */
    assert_int_equal(ing.created_ms, INT64_C(1704164645000));
    assert_int_equal(ing.n_annotations, 3);
    assert_string_equal(ctl_ingress_annotation(&ing, "kubernetes.io/elb.id"), "lb-1");
    assert_string_equal(ctl_ingress_annotation(&ing, "kubernetes.io/elb.port"), "443");
    assert_string_equal(
        ctl_ingress_annotation(&ing, "kubectl.kubernetes.io/last-applied-configuration"),
        "{\"apiVersion\":\"v1\"}\n");
    assert_null(ctl_ingress_annotation(&ing, "app")); /* labels are not annotations */
    assert_int_equal(ing.n_tls, 3);
    assert_string_equal(ing.tls[0].secret_name, "web-tls");
    assert_int_equal(ing.tls[0].n_hosts, 2);
    assert_string_equal(ing.tls[0].hosts[0], "a.example.com");
    assert_string_equal(ing.tls[0].hosts[1], "b.example.com");
    /* Without hosts. */
    assert_string_equal(ing.tls[1].secret_name, "other-tls");
    assert_int_equal(ing.tls[1].n_hosts, 0);
    /* Without secretName: kept in place (the default-entry order must not shift). */
    assert_null(ing.tls[2].secret_name);
    assert_int_equal(ing.tls[2].n_hosts, 1);
    assert_string_equal(ing.tls[2].hosts[0], "c.example.com");
    ctl_ingress_cleanup(&ing);
    cJSON_Delete(j);
}

static void test_ingress_minimal(void **state)
{
    (void)state;
    cJSON *j = parse("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}}");
    struct ctl_ingress ing;
    assert_int_equal(ctl_ingress_from_json(j, &ing, NULL), CS_OK);
    assert_string_equal(ing.ns, "b");
    assert_string_equal(ing.name, "a");
    assert_null(ing.uid);
    assert_null(ing.class_name);
    assert_int_equal(ing.created_ms, 0);
    assert_int_equal(ing.n_annotations, 0);
    assert_int_equal(ing.n_tls, 0);
    ctl_ingress_cleanup(&ing);
    cJSON_Delete(j);
}

/* Missing or mistyped identity: CS_EPROTO, and *out untouched. */
static void test_ingress_no_identity(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{}",
        "[]",
        "\"metadata\"",
        "null",
        "42",
        "{\"metadata\":null}",
        "{\"metadata\":\"shop/web\"}",
        "{\"metadata\":[\"web\"]}",
        "{\"metadata\":{}}",
        "{\"metadata\":{\"name\":\"web\"}}",
        "{\"metadata\":{\"namespace\":\"shop\"}}",
        "{\"metadata\":{\"name\":7,\"namespace\":\"shop\"}}",
        "{\"metadata\":{\"name\":\"web\",\"namespace\":true}}",
        "{\"metadata\":{\"name\":null,\"namespace\":\"shop\"}}",
        "{\"metadata\":{\"name\":{\"x\":1},\"namespace\":\"shop\"}}",
        "{\"spec\":{\"tls\":[{\"secretName\":\"x\"}]}}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *j = parse(cases[i]);
        struct ctl_ingress ing;
        memset(&ing, 0xA5, sizeof(ing));
        struct cs_err err;
        cs_err_clear(&err);
        enum cs_code rc = ctl_ingress_from_json(j, &ing, &err);
        if (rc != CS_EPROTO)
            fail_msg("case %zu (%s): %s, expected CS_EPROTO", i, cases[i], cs_code_name(rc));
        assert_int_equal(err.code, CS_EPROTO);
        assert_non_null(strstr(err.message, "metadata"));
        /* Out parameters are set only on success. */
        unsigned char pattern[sizeof(ing)];
        memset(pattern, 0xA5, sizeof(pattern));
        assert_memory_equal(&ing, pattern, sizeof(ing));
        cJSON_Delete(j);
    }
    /* A NULL object is refused the same way. */
    assert_int_equal(ctl_ingress_from_json(NULL, &(struct ctl_ingress){0}, NULL), CS_EPROTO);
}

/* Wrong types below the identity: what is wrong is left out, the rest is read. */
struct type_case {
    const char *json;       /* the body after metadata name/namespace */
    size_t n_annotations;
    size_t n_tls;
    const char *secret0;    /* tls[0].secret_name, NULL when none or no entry */
    size_t hosts0;          /* tls[0].n_hosts */
    bool has_class;
    bool has_uid;
    int64_t created_ms;
};

static const struct type_case type_cases[] = {
    {",\"annotations\":[\"a\"]}", 0, 0, NULL, 0, false, false, 0},
    {",\"annotations\":\"a=b\"}", 0, 0, NULL, 0, false, false, 0},
    {",\"annotations\":null}", 0, 0, NULL, 0, false, false, 0},
    {",\"annotations\":{}}", 0, 0, NULL, 0, false, false, 0},
    {",\"annotations\":{\"a\":1,\"b\":\"x\",\"c\":null,\"d\":true,\"e\":{},\"f\":[]}}", 1, 0, NULL,
     0, false, false, 0},
    {",\"annotations\":{\"empty\":\"\"}}", 1, 0, NULL, 0, false, false, 0},
    {",\"uid\":5}", 0, 0, NULL, 0, false, false, 0},
    {",\"uid\":\"u\"}", 0, 0, NULL, 0, false, true, 0},
    {",\"creationTimestamp\":12345}", 0, 0, NULL, 0, false, false, 0},
    {",\"creationTimestamp\":\"yesterday\"}", 0, 0, NULL, 0, false, false, 0},
    {",\"creationTimestamp\":\"\"}", 0, 0, NULL, 0, false, false, 0},
    {",\"creationTimestamp\":\"1970-01-01T00:00:01Z\"}", 0, 0, NULL, 0, false, false, 1000},
    {"},\"spec\":\"cce\"", 0, 0, NULL, 0, false, false, 0},
    {"},\"spec\":[]", 0, 0, NULL, 0, false, false, 0},
    {"},\"spec\":null", 0, 0, NULL, 0, false, false, 0},
    {"},\"spec\":{\"ingressClassName\":7}", 0, 0, NULL, 0, false, false, 0},
    {"},\"spec\":{\"ingressClassName\":null}", 0, 0, NULL, 0, false, false, 0},
    {"},\"spec\":{\"ingressClassName\":[\"cce\"]}", 0, 0, NULL, 0, false, false, 0},
    {"},\"spec\":{\"ingressClassName\":\"cce\"}", 0, 0, NULL, 0, true, false, 0},
    {"},\"spec\":{\"tls\":{\"secretName\":\"x\"}}", 0, 0, NULL, 0, false, false, 0},
    {"},\"spec\":{\"tls\":\"x\"}", 0, 0, NULL, 0, false, false, 0},
    {"},\"spec\":{\"tls\":null}", 0, 0, NULL, 0, false, false, 0},
    {"},\"spec\":{\"tls\":[]}", 0, 0, NULL, 0, false, false, 0},
    /* An entry that is not an object is an entry without a Secret (reported by desired). */
    {"},\"spec\":{\"tls\":[\"x\"]}", 0, 1, NULL, 0, false, false, 0},
    {"},\"spec\":{\"tls\":[null]}", 0, 1, NULL, 0, false, false, 0},
    {"},\"spec\":{\"tls\":[{}]}", 0, 1, NULL, 0, false, false, 0},
    {"},\"spec\":{\"tls\":[{\"secretName\":5}]}", 0, 1, NULL, 0, false, false, 0},
    {"},\"spec\":{\"tls\":[{\"secretName\":\"\"}]}", 0, 1, "", 0, false, false, 0},
    {"},\"spec\":{\"tls\":[{\"secretName\":\"s\",\"hosts\":\"a.example\"}]}", 0, 1, "s", 0,
     false, false, 0},
    {"},\"spec\":{\"tls\":[{\"secretName\":\"s\",\"hosts\":{\"a\":\"b\"}}]}", 0, 1, "s", 0, false,
     false, 0},
    {"},\"spec\":{\"tls\":[{\"secretName\":\"s\",\"hosts\":[]}]}", 0, 1, "s", 0, false, false, 0},
    {"},\"spec\":{\"tls\":[{\"secretName\":\"s\",\"hosts\":[1,null,\"a\",[],{},\"b\"]}]}", 0, 1,
     "s", 2, false, false, 0},
    {"},\"spec\":{\"tls\":[{\"secretName\":\"s\"},{\"secretName\":\"t\"},5]}", 0, 3, "s", 0,
     false, false, 0},
};

static void test_ingress_wrong_types(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(type_cases) / sizeof(type_cases[0]); i++) {
        const struct type_case *c = &type_cases[i];
        char text[1024];
        snprintf(text, sizeof(text), "{\"metadata\":{\"name\":\"n\",\"namespace\":\"ns\"%s}",
                 c->json);
        cJSON *j = parse(text);
        struct ctl_ingress ing;
        enum cs_code rc = ctl_ingress_from_json(j, &ing, NULL);
        if (rc != CS_OK)
            fail_msg("case %zu (%s): %s", i, text, cs_code_name(rc));
        assert_string_equal(ing.ns, "ns");
        assert_string_equal(ing.name, "n");
        if (ing.n_annotations != c->n_annotations || ing.n_tls != c->n_tls)
            fail_msg("case %zu (%s): %zu annotations, %zu tls", i, text, ing.n_annotations,
                     ing.n_tls);
        if (c->n_tls) {
            if (c->secret0)
                assert_string_equal(ing.tls[0].secret_name, c->secret0);
            else
                assert_null(ing.tls[0].secret_name);
            assert_int_equal(ing.tls[0].n_hosts, c->hosts0);
        }
        assert_int_equal(ing.class_name != NULL, c->has_class);
        assert_int_equal(ing.uid != NULL, c->has_uid);
        assert_int_equal(ing.created_ms, c->created_ms);
        ctl_ingress_cleanup(&ing);
        cJSON_Delete(j);
    }
}

/* Hosts are read in order, whatever is mixed between them. */
static void test_ingress_hosts_order(void **state)
{
    (void)state;
    cJSON *j = parse("{\"metadata\":{\"name\":\"n\",\"namespace\":\"ns\"},\"spec\":{\"tls\":["
                     "{\"secretName\":\"s\",\"hosts\":[1,null,\"a\",[],{},\"b\"]}]}}");
    struct ctl_ingress ing;
    assert_int_equal(ctl_ingress_from_json(j, &ing, NULL), CS_OK);
    assert_int_equal(ing.tls[0].n_hosts, 2);
    assert_string_equal(ing.tls[0].hosts[0], "a");
    assert_string_equal(ing.tls[0].hosts[1], "b");
    ctl_ingress_cleanup(&ing);
    cJSON_Delete(j);
}

/* ---------------------------------------------------------------- ctl_ingress_extract */

struct class_case {
    const char *spec_class;  /* NULL: unset */
    const char *legacy;      /* kubernetes.io/ingress.class; NULL: unset */
    bool kept;
};

static const struct class_case class_cases[] = {
    {"cce", NULL, true},
    {"nginx", NULL, false},
    {NULL, NULL, true},   /* unclassed: a default IngressClass may make it ours */
    {NULL, "cce", true},  /* legacy annotation */
    {NULL, "nginx", false},
    {"cce", "nginx", true},  /* spec.ingressClassName wins over the annotation */
    {"nginx", "cce", false},
    {"", "cce", true},       /* an empty class name is unset: the annotation decides */
    {"", "nginx", false},
    {"", NULL, true},
    {"CCE", NULL, false},    /* class names are case-sensitive */
};

static cJSON *ingress_with_class(const char *spec_class, const char *legacy)
{
    cJSON *j = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"annotations\":{}},"
                     "\"spec\":{\"tls\":[{\"secretName\":\"web-tls\"}]}}");
    if (spec_class)
        cJSON_AddStringToObject(cJSON_GetObjectItem(j, "spec"), "ingressClassName", spec_class);
    if (legacy)
        cJSON_AddStringToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"),
                                                    "annotations"),
                                CTL_ANN_INGRESS_CLASS, legacy);
    return j;
}

static void test_ingress_extract_class(void **state)
{
    (void)state;
    struct elb_limits lim = tc_limits_huawei();
    struct ctl_objects_ctx ctx = {.ingress_class = "cce", .limits = &lim};
    for (size_t i = 0; i < sizeof(class_cases) / sizeof(class_cases[0]); i++) {
        const struct class_case *c = &class_cases[i];
        cJSON *j = ingress_with_class(c->spec_class, c->legacy);
        struct ctl_ingress *ing = ctl_ingress_extract(j, &ctx);
        if ((ing != NULL) != c->kept)
            fail_msg("case %zu (spec=%s legacy=%s): kept=%d, expected %d", i,
                     c->spec_class ? c->spec_class : "(unset)",
                     c->legacy ? c->legacy : "(unset)", ing != NULL, c->kept);
        if (ing) {
            assert_string_equal(ing->ns, "shop");
            assert_string_equal(ing->name, "web");
            assert_int_equal(ing->n_tls, 1);
            assert_string_equal(ing->tls[0].secret_name, "web-tls");
        }
        ctl_ingress_item_free(ing, &ctx);
        /* Without a configured class (or context) everything is kept. */
        struct ctl_objects_ctx any = {.ingress_class = NULL, .limits = &lim};
        ing = ctl_ingress_extract(j, &any);
        assert_non_null(ing);
        ctl_ingress_item_free(ing, &any);
        ing = ctl_ingress_extract(j, NULL);
        assert_non_null(ing);
        ctl_ingress_item_free(ing, NULL);
        cJSON_Delete(j);
    }
    /* Objects without identity are left out, not crashed on. */
    cJSON *j = parse("{\"spec\":{\"ingressClassName\":\"cce\"}}");
    assert_null(ctl_ingress_extract(j, &ctx));
    cJSON_Delete(j);
    ctl_ingress_item_free(NULL, &ctx);
}

/* ---------------------------------------------------------------- Secret material */

struct material {
    char *crt_pem;
    char *key_pem;       /* matches crt_pem */
    char *other_key_pem; /* does not */
    char *expired_pem;   /* crt for key_pem, expired */
    char *crt_b64;
    char *key_b64;
    char *other_key_b64;
    char *expired_b64;
};

static struct material M;

static char *b64(const char *s)
{
    struct cs_buf b;
    cs_buf_init(&b, CS_BUF_DEFAULT_MAX);
    assert_int_equal(cs_base64_encode(s, strlen(s), &b), CS_OK);
    assert_int_equal(cs_buf_addc(&b, '\0'), CS_OK);
    char *out = strdup(b.ptr);
    cs_buf_free(&b);
    return out;
}

static int material_setup(void **state)
{
    (void)state;
    int64_t now = cs_wall_ms();
    EVP_PKEY *key = tc_key_rsa(2048);
    EVP_PKEY *other = tc_key_ec("P-256"); /* cheap to generate; a mismatch all the same */
    static const char *const sans[] = {"shop.example.com", "www.shop.example.com", NULL};
    X509 *x = tc_cert("shop.example.com", sans, key, NULL, NULL, now - TC_DAY_MS,
                      now + 90 * TC_DAY_MS, false);
    X509 *old = tc_cert("shop.example.com", sans, key, NULL, NULL, now - 90 * TC_DAY_MS,
                        now - TC_DAY_MS, false);
    M.crt_pem = tc_pem_certs(&x, 1);
    M.expired_pem = tc_pem_certs(&old, 1);
    M.key_pem = tc_pem_key(key, "pkcs8");
    M.other_key_pem = tc_pem_key(other, "traditional");
    M.crt_b64 = b64(M.crt_pem);
    M.key_b64 = b64(M.key_pem);
    M.other_key_b64 = b64(M.other_key_pem);
    M.expired_b64 = b64(M.expired_pem);
    X509_free(x);
    X509_free(old);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
    return 0;
}

static void free_wiped(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static int material_teardown(void **state)
{
    (void)state;
    free(M.crt_pem);
    free_wiped(M.key_pem);
    free_wiped(M.other_key_pem);
    free(M.expired_pem);
    free(M.crt_b64);
    free_wiped(M.key_b64);
    free_wiped(M.other_key_b64);
    free(M.expired_b64);
    memset(&M, 0, sizeof(M));
    return 0;
}

/* A Secret object; crt/key NULL leave the field out. */
static cJSON *secret_json(const char *ns, const char *name, const char *type, const char *crt,
                          const char *key)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "apiVersion", "v1");
    cJSON_AddStringToObject(j, "kind", "Secret");
    cJSON *md = cJSON_AddObjectToObject(j, "metadata");
    if (ns)
        cJSON_AddStringToObject(md, "namespace", ns);
    if (name)
        cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "resourceVersion", "7");
    if (type)
        cJSON_AddStringToObject(j, "type", type);
    cJSON *data = cJSON_AddObjectToObject(j, "data");
    if (crt)
        cJSON_AddStringToObject(data, "tls.crt", crt);
    if (key)
        cJSON_AddStringToObject(data, "tls.key", key);
    return j;
}

static void test_secret_material_good(void **state)
{
    (void)state;
    cJSON *j = secret_json("shop", "web", CTL_SECRET_TYPE_TLS, M.crt_b64, M.key_b64);
    struct cs_buf crt, key;
    cs_buf_init(&crt, CS_BUF_DEFAULT_MAX);
    cs_buf_init_secret(&key, CS_BUF_DEFAULT_MAX);
    assert_int_equal(ctl_secret_material(j, &crt, &key, NULL), CS_OK);
    assert_int_equal(crt.len, strlen(M.crt_pem));
    assert_memory_equal(crt.ptr, M.crt_pem, crt.len);
    assert_int_equal(key.len, strlen(M.key_pem));
    assert_memory_equal(key.ptr, M.key_pem, key.len);
    cs_buf_free(&crt);
    cs_buf_free(&key);
    cJSON_Delete(j);

    /* Base64 with line breaks (as `base64` wraps it) decodes the same. */
    size_t n = strlen(M.key_b64);
    char *wrapped = calloc(n + n / 76 + 2, 1);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        wrapped[w++] = M.key_b64[i];
        if (i % 76 == 75)
            wrapped[w++] = '\n';
    }
    j = secret_json("shop", "web", CTL_SECRET_TYPE_TLS, M.crt_b64, wrapped);
    cs_buf_init(&crt, CS_BUF_DEFAULT_MAX);
    cs_buf_init_secret(&key, CS_BUF_DEFAULT_MAX);
    assert_int_equal(ctl_secret_material(j, &crt, &key, NULL), CS_OK);
    assert_int_equal(key.len, strlen(M.key_pem));
    assert_memory_equal(key.ptr, M.key_pem, key.len);
    cs_buf_free(&crt);
    cs_buf_free(&key);
    cJSON_Delete(j);
    free_wiped(wrapped);
}

/* Missing fields and data of the wrong type leave the buffers empty: certcheck then says
 * "missing" (CTL_CERT_EMPTY). */
static void test_secret_material_missing(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{}",
        "{\"data\":null}",
        "{\"data\":{}}",
        "{\"data\":[]}",
        "{\"data\":\"tls.crt\"}",
        "{\"data\":{\"tls.crt\":5,\"tls.key\":true}}",
        "{\"data\":{\"tls.crt\":null,\"tls.key\":{}}}",
        "{\"data\":{\"tls.crt\":[\"QUJD\"]}}",
        "{\"stringData\":{\"tls.crt\":\"x\"}}",
        "{\"data\":{\"TLS.CRT\":\"QUJD\",\"tls_key\":\"QUJD\"}}",
        "[]",
        "\"x\"",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *j = parse(cases[i]);
        struct cs_buf crt, key;
        cs_buf_init(&crt, CS_BUF_DEFAULT_MAX);
        cs_buf_init_secret(&key, CS_BUF_DEFAULT_MAX);
        enum cs_code rc = ctl_secret_material(j, &crt, &key, NULL);
        if (rc != CS_OK || crt.len || key.len)
            fail_msg("case %zu (%s): %s, crt %zu key %zu", i, cases[i], cs_code_name(rc),
                     crt.len, key.len);
        cs_buf_free(&crt);
        cs_buf_free(&key);
        cJSON_Delete(j);
    }
    /* One present, one missing. */
    cJSON *j = secret_json("shop", "web", CTL_SECRET_TYPE_TLS, NULL, M.key_b64);
    struct cs_buf crt, key;
    cs_buf_init(&crt, CS_BUF_DEFAULT_MAX);
    cs_buf_init_secret(&key, CS_BUF_DEFAULT_MAX);
    assert_int_equal(ctl_secret_material(j, &crt, &key, NULL), CS_OK);
    assert_int_equal(crt.len, 0);
    assert_int_equal(key.len, strlen(M.key_pem));
    cs_buf_free(&crt);
    cs_buf_free(&key);
    cJSON_Delete(j);
}

/* Bad base64: CS_EINVAL naming the field, and never quoting it. */
static void test_secret_material_bad_base64(void **state)
{
    (void)state;
    /* The key's base64 with a character base64 does not have, at the start, in the middle,
     * and at the end; and truncated in the middle of a quantum. */
    size_t n = strlen(M.key_b64);
    char *bad_start = strdup(M.key_b64);
    bad_start[0] = '*';
    char *bad_mid = strdup(M.key_b64);
    bad_mid[n / 2] = '!';
    char *bad_end = strdup(M.key_b64);
    bad_end[n - 1] = '%';
    char *truncated = strndup(M.key_b64, n / 2 + 1 - ((n / 2 + 1) % 4 == 0));
    char *after_pad = strdup("QUJDRA==QUJD"); /* data after the padding */
    const char *bad[] = {bad_start, bad_mid, bad_end, truncated, after_pad, "QQ=Q", "A"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int field = 0; field < 2; field++) {
            cJSON *j = field == 0
                           ? secret_json("shop", "web", CTL_SECRET_TYPE_TLS, bad[i], M.key_b64)
                           : secret_json("shop", "web", CTL_SECRET_TYPE_TLS, M.crt_b64, bad[i]);
            struct cs_buf crt, key;
            cs_buf_init(&crt, CS_BUF_DEFAULT_MAX);
            cs_buf_init_secret(&key, CS_BUF_DEFAULT_MAX);
            struct cs_err err;
            cs_err_clear(&err);
            enum cs_code rc = ctl_secret_material(j, &crt, &key, &err);
            if (rc != CS_EINVAL)
                fail_msg("input %zu in %s: %s, expected CS_EINVAL", i,
                         field ? "tls.key" : "tls.crt", cs_code_name(rc));
            assert_int_equal(err.code, CS_EINVAL);
            assert_non_null(strstr(err.message, field ? "tls.key" : "tls.crt"));
            assert_null(strstr(err.message, field ? "tls.crt" : "tls.key"));
            /* No input bytes in the message: not even 8 characters of the base64. */
            char probe[9];
            for (size_t k = 0; k + 8 <= strlen(bad[i]); k += 8) {
                memcpy(probe, bad[i] + k, 8);
                probe[8] = '\0';
                assert_null(strstr(err.message, probe));
            }
            cs_buf_free(&crt);
            cs_buf_free(&key);
            cJSON_Delete(j);
        }
    }
    free_wiped(bad_start);
    free_wiped(bad_mid);
    free_wiped(bad_end);
    free_wiped(truncated);
    free_wiped(after_pad);
}

/* ---------------------------------------------------------------- ctl_secret_extract */

static struct ctl_secret *extract(cJSON *j)
{
    static struct elb_limits lim;
    lim = tc_limits_huawei();
    struct ctl_objects_ctx ctx = {.ingress_class = "cce", .limits = &lim};
    return ctl_secret_extract(j, &ctx);
}

static void test_secret_extract_valid(void **state)
{
    (void)state;
    const char *const types[] = {CTL_SECRET_TYPE_TLS, CTL_SECRET_TYPE_CCE};
    char first_fp[65] = "";
    for (size_t t = 0; t < 2; t++) {
        cJSON *j = secret_json("shop", "web", types[t], M.crt_b64, M.key_b64);
        struct ctl_secret *s = extract(j);
        assert_non_null(s);
        assert_int_equal(s->status, CTL_CERT_OK);
        assert_null(s->reason);
        assert_string_equal(s->ns, "shop");
        assert_string_equal(s->name, "web");
        assert_string_equal(s->type, types[t]);
        assert_int_equal(strlen(s->fingerprint), 64);
        assert_int_equal(strspn(s->fingerprint, "0123456789abcdef"), 64);
        assert_int_equal(strlen(s->chain_digest), 64);
        assert_true(s->not_after_ms > s->not_before_ms);
        assert_true(s->not_after_ms > cs_wall_ms());
        assert_int_equal(s->n_domains, 2);
        assert_string_equal(s->domains[0], "shop.example.com");
        assert_string_equal(s->domains[1], "www.shop.example.com");

        /* The fingerprint is certcheck's over the decoded material. */
        struct ctl_certcheck cc;
        struct elb_limits lim = tc_limits_huawei();
        assert_int_equal(ctl_certcheck_run(M.crt_pem, strlen(M.crt_pem), M.key_pem,
                                           strlen(M.key_pem), &lim, cs_wall_ms(), &cc, NULL),
                         CS_OK);
        assert_string_equal(s->fingerprint, cc.fingerprint);
        assert_string_equal(s->chain_digest, cc.chain_digest);
        ctl_certcheck_cleanup(&cc);
        /* The type does not enter the fingerprint. */
        if (t == 0)
            strcpy(first_fp, s->fingerprint);
        else
            assert_string_equal(s->fingerprint, first_fp);
        ctl_secret_item_free(s, NULL);
        cJSON_Delete(j);
    }
}

static void test_secret_extract_invalid_kept(void **state)
{
    (void)state;
    /* Mismatched key. */
    cJSON *j = secret_json("shop", "web", CTL_SECRET_TYPE_TLS, M.crt_b64, M.other_key_b64);
    struct ctl_secret *s = extract(j);
    assert_non_null(s);
    assert_int_equal(s->status, CTL_CERT_KEY_MISMATCH);
    assert_non_null(s->reason);
    assert_null(strstr(s->reason, "PRIVATE"));
    ctl_secret_item_free(s, NULL);
    cJSON_Delete(j);

    /* Expired. */
    j = secret_json("shop", "web", CTL_SECRET_TYPE_TLS, M.expired_b64, M.key_b64);
    s = extract(j);
    assert_non_null(s);
    assert_int_equal(s->status, CTL_CERT_EXPIRED);
    assert_non_null(s->reason);
    ctl_secret_item_free(s, NULL);
    cJSON_Delete(j);

    /* Missing key, missing certificate, both missing, empty strings. */
    const char *pairs[][2] = {
        {M.crt_b64, NULL}, {NULL, M.key_b64}, {NULL, NULL}, {"", M.key_b64}, {M.crt_b64, ""}};
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        j = secret_json("shop", "web", CTL_SECRET_TYPE_TLS, pairs[i][0], pairs[i][1]);
        s = extract(j);
        assert_non_null(s);
        if (s->status != CTL_CERT_EMPTY)
            fail_msg("pair %zu: status %d, expected CTL_CERT_EMPTY", i, s->status);
        assert_non_null(s->reason);
        ctl_secret_item_free(s, NULL);
        cJSON_Delete(j);
    }

    /* Base64 that decodes but is not PEM. */
    j = secret_json("shop", "web", CTL_SECRET_TYPE_TLS, "aGVsbG8=", M.key_b64);
    s = extract(j);
    assert_non_null(s);
    assert_int_equal(s->status, CTL_CERT_BAD_PEM);
    ctl_secret_item_free(s, NULL);
    cJSON_Delete(j);
}

/* Bad base64: kept as an invalid Secret (its Ingresses get a Warning) whose reason names the
 * field and holds no key bytes. */
static void test_secret_extract_bad_base64(void **state)
{
    (void)state;
    size_t n = strlen(M.key_b64);
    char *bad_key = strdup(M.key_b64);
    bad_key[n / 2] = '#';
    for (int field = 0; field < 2; field++) {
        cJSON *j = field == 0 ? secret_json("shop", "web", CTL_SECRET_TYPE_TLS, "@@@", M.key_b64)
                              : secret_json("shop", "web", CTL_SECRET_TYPE_CCE, M.crt_b64,
                                            bad_key);
        struct ctl_secret *s = extract(j);
        assert_non_null(s);
        assert_int_equal(s->status, CTL_CERT_BAD_PEM);
        assert_string_equal(s->ns, "shop");
        assert_string_equal(s->name, "web");
        assert_string_equal(s->type, field ? CTL_SECRET_TYPE_CCE : CTL_SECRET_TYPE_TLS);
        assert_non_null(s->reason);
        assert_non_null(strstr(s->reason, field ? "tls.key" : "tls.crt"));
        assert_string_equal(s->fingerprint, "");
        assert_int_equal(s->n_domains, 0);
        /* No 8-character run of the key, in base64 or PEM, reaches the reason. */
        const char *texts[] = {bad_key, M.key_pem + 28 /* past the BEGIN line */};
        for (size_t t = 0; t < 2; t++) {
            char probe[9];
            for (size_t k = 0; k + 8 <= strlen(texts[t]); k += 8) {
                memcpy(probe, texts[t] + k, 8);
                probe[8] = '\0';
                if (strchr(probe, '\n') || strchr(probe, '-'))
                    continue;
                assert_null(strstr(s->reason, probe));
            }
        }
        ctl_secret_item_free(s, NULL);
        cJSON_Delete(j);
    }
    free_wiped(bad_key);
}

/* Secrets of other types, or without identity, are filtered out (NULL). */
static void test_secret_extract_filtered(void **state)
{
    (void)state;
    static const char *const types[] = {
        "Opaque", "kubernetes.io/service-account-token", "kubernetes.io/dockerconfigjson",
        "kubernetes.io/TLS", "ingresstls", "", NULL,
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        cJSON *j = secret_json("shop", "web", types[i], M.crt_b64, M.key_b64);
        struct ctl_secret *s = extract(j);
        if (s)
            fail_msg("type %s kept", types[i] ? types[i] : "(unset)");
        cJSON_Delete(j);
    }
    /* A type that is not a string. */
    cJSON *j = secret_json("shop", "web", NULL, M.crt_b64, M.key_b64);
    cJSON_AddNumberToObject(j, "type", 1);
    assert_null(extract(j));
    cJSON_Delete(j);
    /* No namespace, no name, wrong-typed metadata. */
    j = secret_json(NULL, "web", CTL_SECRET_TYPE_TLS, M.crt_b64, M.key_b64);
    assert_null(extract(j));
    cJSON_Delete(j);
    j = secret_json("shop", NULL, CTL_SECRET_TYPE_TLS, M.crt_b64, M.key_b64);
    assert_null(extract(j));
    cJSON_Delete(j);
    static const char *const odd[] = {
        "{\"metadata\":\"shop/web\",\"type\":\"kubernetes.io/tls\"}",
        "{\"metadata\":{\"name\":1,\"namespace\":\"shop\"},\"type\":\"kubernetes.io/tls\"}",
        "[]",
        "null",
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        j = parse(odd[i]);
        assert_null(extract(j));
        cJSON_Delete(j);
    }
    assert_null(ctl_secret_extract(NULL, NULL));
    ctl_secret_item_free(NULL, NULL);
}

/* Data of the wrong type is a missing field: kept, CTL_CERT_EMPTY. */
static void test_secret_extract_wrong_data(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{\"metadata\":{\"name\":\"w\",\"namespace\":\"s\"},\"type\":\"kubernetes.io/tls\"}",
        "{\"metadata\":{\"name\":\"w\",\"namespace\":\"s\"},\"type\":\"kubernetes.io/tls\","
        "\"data\":[1]}",
        "{\"metadata\":{\"name\":\"w\",\"namespace\":\"s\"},\"type\":\"kubernetes.io/tls\","
        "\"data\":{\"tls.crt\":1,\"tls.key\":[]}}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *j = parse(cases[i]);
        struct ctl_secret *s = extract(j);
        assert_non_null(s);
        assert_int_equal(s->status, CTL_CERT_EMPTY);
        assert_string_equal(s->ns, "s");
        ctl_secret_item_free(s, NULL);
        cJSON_Delete(j);
    }
}

/* With no limits in the context, the checks still run (no provider restriction). */
static void test_secret_extract_no_ctx(void **state)
{
    (void)state;
    cJSON *j = secret_json("shop", "web", CTL_SECRET_TYPE_TLS, M.crt_b64, M.key_b64);
    struct ctl_secret *s = ctl_secret_extract(j, NULL);
    assert_non_null(s);
    assert_int_equal(s->status, CTL_CERT_OK);
    ctl_secret_item_free(s, NULL);
    cJSON_Delete(j);
    j = secret_json("shop", "web", CTL_SECRET_TYPE_TLS, M.crt_b64, M.other_key_b64);
    s = ctl_secret_extract(j, NULL);
    assert_non_null(s);
    assert_int_equal(s->status, CTL_CERT_KEY_MISMATCH);
    ctl_secret_item_free(s, NULL);
    cJSON_Delete(j);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingress_full),
        cmocka_unit_test(test_ingress_minimal),
        cmocka_unit_test(test_ingress_no_identity),
        cmocka_unit_test(test_ingress_wrong_types),
        cmocka_unit_test(test_ingress_hosts_order),
        cmocka_unit_test(test_ingress_extract_class),
        cmocka_unit_test(test_secret_material_good),
        cmocka_unit_test(test_secret_material_missing),
        cmocka_unit_test(test_secret_material_bad_base64),
        cmocka_unit_test(test_secret_extract_valid),
        cmocka_unit_test(test_secret_extract_invalid_kept),
        cmocka_unit_test(test_secret_extract_bad_base64),
        cmocka_unit_test(test_secret_extract_filtered),
        cmocka_unit_test(test_secret_extract_wrong_data),
        cmocka_unit_test(test_secret_extract_no_ctx),
    };
    return cmocka_run_group_tests(tests, material_setup, material_teardown);
}
