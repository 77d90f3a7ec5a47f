/* test_fake_elb_api_huawei.c -- fake-elb's Huawei ELB v3 emulation, driven in-process through
 * fe_server_handle with requests signed by elb_sign: gateway authentication (signature,
 * unknown AK, X-Sdk-Date, project), certificate create/show/update/delete/batch-delete, the
 * rules (in use, quota, PEM, cross-region, console protection), listing with filters and
 * markers, and listener updates (default certificate kept, SNI limits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/elb/testlib.h"

#define CERTS "/v3/" T_HW_PROJECT "/elb/certificates"
#define LISTENERS "/v3/" T_HW_PROJECT "/elb/listeners"

static int setup(void **state)
{
    struct fe_test *t = calloc(1, sizeof(*t));
    char *seed = fe_test_seed(5, 5);
    fe_test_init(t, seed);
    free(seed);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    fe_test_cleanup(*state);
    free(*state);
    return 0;
}

/* A create body for a fresh certificate for cn; *id receives nothing. */
static char *create_body(const char *name, const char *cn, const char *extra)
{
    char *cert, *key;
    fe_test_make_cert(cn, cn, 30, &cert, &key);
    cJSON *root = cJSON_CreateObject();
    cJSON *c = cJSON_AddObjectToObject(root, "certificate");
    cJSON_AddStringToObject(c, "name", name);
    cJSON_AddStringToObject(c, "certificate", cert);
    cJSON_AddStringToObject(c, "private_key", key);
    if (extra)
        cJSON_AddStringToObject(c, "description", extra);
    char *s = cJSON_PrintUnformatted(root);
    char *out = strdup(s);
    cJSON_free(s);
    cJSON_Delete(root);
    free(cert);
    cs_secure_free_str(key);
    return out;
}

static char *create(struct fe_test *t, const char *name, const char *cn)
{
    char *body = create_body(name, cn, NULL);
    assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, body), 201);
    free(body);
    const char *id = fe_test_str(t, "certificate.id");
    assert_non_null(id);
    return strdup(id);
}

static void test_auth_rejections(void **state)
{
    struct fe_test *t = *state;
    /* wrong SK: the gateway's bad-signature answer */
    assert_int_equal(fe_test_hw_full(t, "GET", CERTS, NULL, NULL, T_HW_AK, "wrong-sk",
                                     T_HW_PROJECT, 0),
                     401);
    assert_string_equal(fe_test_str(t, "error_code"), "APIGW.0301");
    assert_non_null(strstr(fe_test_str(t, "error_msg"), "verify aksk signature fail"));
    assert_non_null(fe_test_str(t, "request_id"));
    assert_string_equal(fe_test_str(t, "request_id"), t->resp.request_id);
    /* unknown AK, masked in the message */
    assert_int_equal(fe_test_hw_full(t, "GET", CERTS, NULL, NULL, "NOSUCHAK00000000", T_HW_SK,
                                     T_HW_PROJECT, 0),
                     401);
    assert_non_null(strstr(fe_test_str(t, "error_msg"), "ak not exist"));
    assert_null(strstr(fe_test_str(t, "error_msg"), "NOSUCHAK00000000"));
    /* X-Sdk-Date 16 minutes off either way: expired; 14 minutes: fine */
    assert_int_equal(fe_test_hw_full(t, "GET", CERTS, NULL, NULL, T_HW_AK, T_HW_SK, T_HW_PROJECT,
                                     t->now_ms - 16 * 60 * 1000),
                     401);
    assert_non_null(strstr(fe_test_str(t, "error_msg"), "signature expired"));
    assert_int_equal(fe_test_hw_full(t, "GET", CERTS, NULL, NULL, T_HW_AK, T_HW_SK, T_HW_PROJECT,
                                     t->now_ms + 16 * 60 * 1000),
                     401);
    assert_int_equal(fe_test_hw_full(t, "GET", CERTS, NULL, NULL, T_HW_AK, T_HW_SK, T_HW_PROJECT,
                                     t->now_ms - 14 * 60 * 1000),
                     200);
    /* a signed X-Project-Id that is not the path's project */
    assert_int_equal(fe_test_hw_full(t, "GET", CERTS, NULL, NULL, T_HW_AK, T_HW_SK,
                                     T_HW_PROJECT2, 0),
                     403);
    assert_string_equal(fe_test_str(t, "error_code"), "APIGW.0302");
    /* no X-Project-Id at all: the path decides */
    assert_int_equal(fe_test_hw_full(t, "GET", CERTS, NULL, NULL, T_HW_AK, T_HW_SK, NULL, 0), 200);
    /* a project the account does not have */
    assert_int_equal(fe_test_hw_full(t, "GET", "/v3/ffffffffffffffffffffffffffffffff/elb/certificates",
                                     NULL, NULL, T_HW_AK, T_HW_SK, NULL, 0),
                     403);
}

static void test_auth_request_tampering(void **state)
{
    struct fe_test *t = *state;
    /* no Authorization, malformed Authorization, missing date */
    struct cs_http_header h1[] = {{"Host", "127.0.0.1:8443"}};
    struct fe_request req = {.method = "GET", .target = CERTS, .headers = h1, .n_headers = 1,
                             .now_ms = t->now_ms};
    fe_server_handle(t->server, &req, &t->resp);
    assert_int_equal(t->resp.status, 401);
    assert_non_null(strstr(cs_buf_str(&t->resp.body), "APIGW.0301"));
    struct cs_http_header h2[] = {{"Host", "127.0.0.1:8443"},
                                  {"Authorization", "SDK-HMAC-SHA256 Access=" T_HW_AK
                                                    ", SignedHeaders=host;x-sdk-date, Signature=00"}};
    req.headers = h2;
    req.n_headers = 2;
    fe_server_handle(t->server, &req, &t->resp);
    assert_int_equal(t->resp.status, 401);
    assert_non_null(strstr(cs_buf_str(&t->resp.body), "X-Sdk-Date"));
    struct cs_http_header h3[] = {{"Host", "127.0.0.1:8443"}, {"Authorization", "Bearer x"},
                                  {"X-Sdk-Date", "20260101T000000Z"}};
    req.headers = h3;
    req.n_headers = 3;
    fe_server_handle(t->server, &req, &t->resp);
    assert_int_equal(t->resp.status, 401);
    /* a body, a query or a path changed after signing */
    char *body = create_body("signed", "tamper.example.test", NULL);
    char *other = strdup(body);
    other[strlen(other) - 3] ^= 1;
    assert_int_equal(fe_test_hw_tampered(t, "POST", CERTS, NULL, body, other, T_HW_AK, T_HW_SK,
                                         T_HW_PROJECT, 0),
                     401);
    assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, body), 201);
    free(body);
    free(other);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/state", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "huawei.certificates")), 4);
}

static void test_certificate_lifecycle(void **state)
{
    struct fe_test *t = *state;
    char *body = create_body("k8s_plb_default_shop_web_1a2b", "web.example.test", "{\"c\":1}");
    assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, body), 201);
    free(body);
    char *id = strdup(fe_test_str(t, "certificate.id"));
    assert_int_equal(strlen(id), 32);
    assert_int_equal(strspn(id, "0123456789abcdef"), 32);
    assert_string_equal(fe_test_str(t, "certificate.private_key"), "*****");
    assert_string_equal(fe_test_str(t, "certificate.common_name"), "web.example.test");
    assert_string_equal(fe_test_str(t, "certificate.description"), "{\"c\":1}");
    assert_string_equal(fe_test_str(t, "certificate.protection_status"), "nonProtection");
    assert_int_equal(strlen(fe_test_str(t, "certificate.fingerprint")), 40);
    assert_int_equal(strlen(fe_test_str(t, "certificate.expire_time")), 20);
    const cJSON *sans = cs_json_path(t->json, "certificate.subject_alternative_names");
    assert_int_equal(cJSON_GetArraySize(sans), 1);

    char path[256];
    snprintf(path, sizeof(path), CERTS "/%s", id);
    assert_int_equal(fe_test_hw(t, "GET", path, NULL, NULL), 200);
    assert_string_equal(fe_test_str(t, "certificate.id"), id);
    /* update: rename, then a bad certificate is refused and changes nothing */
    assert_int_equal(fe_test_hw(t, "PUT", path, NULL, "{\"certificate\":{\"name\":\"renamed\"}}"),
                     200);
    assert_string_equal(fe_test_str(t, "certificate.name"), "renamed");
    assert_int_equal(fe_test_hw(t, "PUT", path, NULL,
                                "{\"certificate\":{\"name\":\"x\",\"certificate\":\"garbage\"}}"),
                     400);
    assert_string_equal(fe_test_str(t, "error_code"), "ELB.1011");
    assert_int_equal(fe_test_hw(t, "GET", path, NULL, NULL), 200);
    assert_string_equal(fe_test_str(t, "certificate.name"), "renamed");
    /* rotation in place with a new pair */
    char *c2, *k2;
    fe_test_make_cert("web2.example.test", "web2.example.test", 30, &c2, &k2);
    cJSON *u = cJSON_CreateObject();
    cJSON *uc = cJSON_AddObjectToObject(u, "certificate");
    cJSON_AddStringToObject(uc, "certificate", c2);
    cJSON_AddStringToObject(uc, "private_key", k2);
    char *ub = cJSON_PrintUnformatted(u);
    assert_int_equal(fe_test_hw(t, "PUT", path, NULL, ub), 200);
    assert_string_equal(fe_test_str(t, "certificate.common_name"), "web2.example.test");
    cJSON_free(ub);
    cJSON_Delete(u);
    free(c2);
    cs_secure_free_str(k2);

    assert_int_equal(fe_test_hw(t, "DELETE", path, NULL, NULL), 204);
    assert_int_equal(t->resp.body.len, 0);
    assert_int_equal(fe_test_hw(t, "GET", path, NULL, NULL), 404);
    assert_string_equal(fe_test_str(t, "error_code"), "ELB.8904");
    assert_int_equal(fe_test_hw(t, "DELETE", path, NULL, NULL), 404);
    free(id);
}

static void test_create_validation(void **state)
{
    struct fe_test *t = *state;
    char *cert, *key;
    fe_test_make_cert("v.example.test", NULL, 30, &cert, &key);
    char *other_cert, *other_key;
    fe_test_make_cert("w.example.test", NULL, 30, &other_cert, &other_key);
    char *enc = fe_test_encrypt_key(key);
    struct {
        const char *cert;
        const char *key;
        const char *name;
        int status;
        const char *code;
    } cases[] = {
        {cert, other_key, "mismatch", 400, "ELB.1011"},
        {cert, enc, "encrypted", 400, "ELB.1011"},
        {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", key, "junk", 400,
         "ELB.1011"},
        {cert, NULL, "nokey", 400, "ELB.8901"},
        {NULL, key, "nocert", 400, "ELB.8901"},
        {key, key, "key-as-cert", 400, "ELB.1011"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON *c = cJSON_AddObjectToObject(r, "certificate");
        cJSON_AddStringToObject(c, "name", cases[i].name);
        if (cases[i].cert)
            cJSON_AddStringToObject(c, "certificate", cases[i].cert);
        if (cases[i].key)
            cJSON_AddStringToObject(c, "private_key", cases[i].key);
        char *b = cJSON_PrintUnformatted(r);
        assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, b), cases[i].status);
        assert_string_equal(fe_test_str(t, "error_code"), cases[i].code);
        /* the message never carries key material */
        assert_null(strstr(cs_buf_str(&t->resp.body), "PRIVATE KEY"));
        cJSON_free(b);
        cJSON_Delete(r);
    }
    /* malformed and truncated bodies */
    const char *bodies[] = {"", "{", "[]", "{\"certificate\":1}", "{\"certificate\":{\"name\":5}}",
                            "{\"certificate\":{\"certificate\":\"x\",\"type\":\"weird\"}}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, bodies[i]), 400);
        assert_string_equal(fe_test_str(t, "error_code"), "ELB.8901");
    }
    /* name of 256 characters */
    char name[300];
    memset(name, 'n', 256);
    name[256] = '\0';
    char *b = create_body(name, "long.example.test", NULL);
    assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, b), 400);
    free(b);
    /* nothing of the above was created: 3 seeded certificates in the two projects */
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/state", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "huawei.certificates")), 3);
    free(cert);
    free(other_cert);
    cs_secure_free_str(key);
    cs_secure_free_str(other_key);
    cs_secure_free_str(enc);
}

static void test_quota_per_project(void **state)
{
    struct fe_test *t = *state;
    /* quota 5 per project; the project holds 2 seeded certificates */
    char *ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = create(t, "q", "q.example.test");
    char *b = create_body("over", "over.example.test", NULL);
    assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, b), 409);
    assert_string_equal(fe_test_str(t, "error_code"), "ELB.8905");
    /* the other project has its own quota */
    assert_int_equal(fe_test_hw_full(t, "POST", "/v3/" T_HW_PROJECT2 "/elb/certificates", NULL, b,
                                     T_HW_AK, T_HW_SK, T_HW_PROJECT2, 0),
                     201);
    free(b);
    for (int i = 0; i < 3; i++)
        free(ids[i]);
}

static void test_in_use_and_cross_region(void **state)
{
    struct fe_test *t = *state;
    assert_int_equal(fe_test_hw(t, "DELETE", CERTS "/" T_HW_SEED_CERT, NULL, NULL), 409);
    assert_string_equal(fe_test_str(t, "error_code"), "ELB.8902");
    /* a certificate of another project (region) is not found from this one */
    assert_int_equal(fe_test_hw(t, "GET", CERTS "/" T_HW_OTHER_REGION_CERT, NULL, NULL), 404);
    assert_int_equal(
        fe_test_hw(t, "PUT", LISTENERS "/" T_HW_LISTENER, NULL,
                   "{\"listener\":{\"default_tls_container_ref\":\"" T_HW_OTHER_REGION_CERT "\"}}"),
        404);
    assert_string_equal(fe_test_str(t, "error_code"), "ELB.8904");
    /* rebind to a new certificate, then the old one can go */
    char *id = create(t, "new", "new.example.test");
    char body[256];
    snprintf(body, sizeof(body), "{\"listener\":{\"default_tls_container_ref\":\"%s\"}}", id);
    assert_int_equal(fe_test_hw(t, "PUT", LISTENERS "/" T_HW_LISTENER, NULL, body), 200);
    assert_string_equal(fe_test_str(t, "listener.default_tls_container_ref"), id);
    assert_int_equal(fe_test_hw(t, "DELETE", CERTS "/" T_HW_SEED_CERT, NULL, NULL), 204);
    free(id);
}

static void test_console_protection(void **state)
{
    struct fe_test *t = *state;
    const char *path = CERTS "/" T_HW_PROTECTED_CERT;
    assert_int_equal(fe_test_hw_full(t, "PUT", path, NULL, "{\"certificate\":{\"name\":\"mine\"}}",
                                     T_HW_CONSOLE_AK, T_HW_CONSOLE_SK, T_HW_PROJECT, 0),
                     403);
    assert_string_equal(fe_test_str(t, "error_code"), "ELB.8903");
    assert_int_equal(fe_test_hw_full(t, "DELETE", path, NULL, NULL, T_HW_CONSOLE_AK,
                                     T_HW_CONSOLE_SK, T_HW_PROJECT, 0),
                     403);
    assert_int_equal(fe_test_hw_full(t, "POST", CERTS "/batch-delete", NULL,
                                     "{\"certificates\":[\"" T_HW_PROTECTED_CERT "\"]}",
                                     T_HW_CONSOLE_AK, T_HW_CONSOLE_SK, T_HW_PROJECT, 0),
                     200);
    assert_string_equal(cs_json_str(cJSON_GetArrayItem(cs_json_path(t->json, "certificates"), 0),
                                    "ret_code"),
                        "ELB.8903");
    /* binding stays allowed for the console user */
    assert_int_equal(fe_test_hw_full(t, "PUT", LISTENERS "/" T_HW_LISTENER, NULL,
                                     "{\"listener\":{\"sni_container_refs\":[\"" T_HW_PROTECTED_CERT
                                     "\"]}}",
                                     T_HW_CONSOLE_AK, T_HW_CONSOLE_SK, T_HW_PROJECT, 0),
                     200);
    /* an unprotected certificate is the console user's to edit */
    assert_int_equal(fe_test_hw_full(t, "PUT", CERTS "/" T_HW_SEED_CERT, NULL,
                                     "{\"certificate\":{\"name\":\"mine\"}}", T_HW_CONSOLE_AK,
                                     T_HW_CONSOLE_SK, T_HW_PROJECT, 0),
                     200);
    /* API credentials may modify it */
    assert_int_equal(fe_test_hw(t, "PUT", path, NULL, "{\"certificate\":{\"description\":\"d\"}}"),
                     200);
}

static void test_batch_delete(void **state)
{
    struct fe_test *t = *state;
    char *id = create(t, "gone", "gone.example.test");
    char body[256];
    snprintf(body, sizeof(body),
             "{\"certificates\":[\"%s\",\"" T_HW_SEED_CERT "\",\"ffffffffffffffffffffffffffffffff\"]}",
             id);
    assert_int_equal(fe_test_hw(t, "POST", CERTS "/batch-delete", NULL, body), 200);
    const cJSON *r = cs_json_path(t->json, "certificates");
    assert_int_equal(cJSON_GetArraySize(r), 3);
    assert_string_equal(cs_json_str(cJSON_GetArrayItem(r, 0), "ret_status"), "successful");
    assert_string_equal(cs_json_str(cJSON_GetArrayItem(r, 1), "ret_status"), "failed");
    assert_string_equal(cs_json_str(cJSON_GetArrayItem(r, 1), "ret_code"), "ELB.8902");
    assert_string_equal(cs_json_str(cJSON_GetArrayItem(r, 2), "ret_status"), "not found");
    assert_int_equal(fe_test_hw(t, "POST", CERTS "/batch-delete", NULL, "{\"certificates\":[]}"),
                     400);
    free(id);
}

static int count_page(struct fe_test *t)
{
    return cJSON_GetArraySize(cs_json_path(t->json, "certificates"));
}

static void test_list_paging_and_filters(void **state)
{
    struct fe_test *t = *state;
    char *seed = fe_test_seed(100, 5);
    struct fe_test big;
    fe_test_init(&big, seed);
    free(seed);
    char *ids[25];
    for (int i = 0; i < 25; i++)
        ids[i] = create(&big, i % 2 ? "odd" : "even", "p.example.test");
    /* 27 in the project; pages of 10 by next_marker visit each exactly once, in id order */
    char marker[80] = "";
    int seen = 0, pages = 0;
    char last[65] = "";
    for (;;) {
        char q[128];
        snprintf(q, sizeof(q), "limit=10%s%s", marker[0] ? "&marker=" : "", marker);
        assert_int_equal(fe_test_hw(&big, "GET", CERTS, q, NULL), 200);
        const cJSON *items = cs_json_path(big.json, "certificates");
        for (const cJSON *it = items->child; it; it = it->next) {
            assert_true(strcmp(cs_json_str(it, "id"), last) > 0);
            snprintf(last, sizeof(last), "%s", cs_json_str(it, "id"));
            seen++;
        }
        assert_int_equal(cs_json_int(cs_json_path(big.json, "page_info"), "current_count", -1),
                         cJSON_GetArraySize(items));
        pages++;
        const char *next = fe_test_str(&big, "page_info.next_marker");
        if (!next)
            break;
        snprintf(marker, sizeof(marker), "%s", next);
    }
    assert_int_equal(seen, 27);
    assert_int_equal(pages, 3);
    /* page_reverse from the last id: the 10 before it, ascending */
    char q[128];
    snprintf(q, sizeof(q), "limit=10&page_reverse=true&marker=%s", last);
    assert_int_equal(fe_test_hw(&big, "GET", CERTS, q, NULL), 200);
    assert_int_equal(count_page(&big), 10);
    assert_non_null(fe_test_str(&big, "page_info.previous_marker"));
    /* filters, repeatable */
    assert_int_equal(fe_test_hw(&big, "GET", CERTS, "name=odd", NULL), 200);
    assert_int_equal(count_page(&big), 12);
    assert_int_equal(fe_test_hw(&big, "GET", CERTS, "name=odd&name=even", NULL), 200);
    assert_int_equal(count_page(&big), 25);
    assert_int_equal(fe_test_hw(&big, "GET", CERTS, "protection_status=consoleProtection", NULL),
                     200);
    assert_int_equal(count_page(&big), 1);
    assert_int_equal(fe_test_hw(&big, "GET", CERTS, "common_name=seed.example.test", NULL), 200);
    assert_int_equal(count_page(&big), 1);
    char qid[128];
    snprintf(qid, sizeof(qid), "id=%s&id=%s", ids[3], ids[7]);
    assert_int_equal(fe_test_hw(&big, "GET", CERTS, qid, NULL), 200);
    assert_int_equal(count_page(&big), 2);
    /* bad paging parameters */
    const char *bad[] = {"limit=2001", "limit=-1", "limit=abc", "page_reverse=maybe"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fe_test_hw(&big, "GET", CERTS, bad[i], NULL), 400);
    for (int i = 0; i < 25; i++)
        free(ids[i]);
    fe_test_cleanup(&big);
    (void)t;
}

static void test_listener_rules(void **state)
{
    struct fe_test *t = *state;
    assert_int_equal(fe_test_hw(t, "GET", LISTENERS, "protocol_port=443&protocol=HTTPS", NULL),
                     200);
    const cJSON *ls = cs_json_path(t->json, "listeners");
    assert_int_equal(cJSON_GetArraySize(ls), 1);
    assert_string_equal(cs_json_str(ls->child, "id"), T_HW_LISTENER);
    assert_int_equal(fe_test_hw(t, "GET", LISTENERS, "default_tls_container_ref=" T_HW_SEED_CERT,
                                NULL),
                     200);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "listeners")), 1);
    assert_int_equal(fe_test_hw(t, "GET", LISTENERS, "protocol_port=x", NULL), 400);
    /* an HTTPS listener keeps a default certificate */
    assert_int_equal(fe_test_hw(t, "PUT", LISTENERS "/" T_HW_LISTENER, NULL,
                                "{\"listener\":{\"default_tls_container_ref\":null}}"),
                     400);
    assert_int_equal(fe_test_hw(t, "PUT", LISTENERS "/" T_HW_LISTENER, NULL,
                                "{\"listener\":{\"default_tls_container_ref\":\"\"}}"),
                     400);
    assert_int_equal(fe_test_hw(t, "GET", LISTENERS "/" T_HW_LISTENER, NULL, NULL), 200);
    assert_string_equal(fe_test_str(t, "listener.default_tls_container_ref"), T_HW_SEED_CERT);
    /* HTTP listeners take no certificate */
    assert_int_equal(fe_test_hw(t, "PUT", LISTENERS "/" T_HW_LISTENER_HTTP, NULL,
                                "{\"listener\":{\"default_tls_container_ref\":\"" T_HW_SEED_CERT
                                "\"}}"),
                     400);
    /* SNI: a domain repeated across certificates is refused, distinct ones accepted */
    char *a = create(t, "a", "same.example.test");
    char *b = create(t, "b", "same.example.test");
    char body[512];
    snprintf(body, sizeof(body), "{\"listener\":{\"sni_container_refs\":[\"%s\",\"%s\"]}}", a, b);
    assert_int_equal(fe_test_hw(t, "PUT", LISTENERS "/" T_HW_LISTENER, NULL, body), 400);
    snprintf(body, sizeof(body), "{\"listener\":{\"sni_container_refs\":[\"%s\",\"%s\"]}}", a, a);
    assert_int_equal(fe_test_hw(t, "PUT", LISTENERS "/" T_HW_LISTENER, NULL, body), 400);
    snprintf(body, sizeof(body),
             "{\"listener\":{\"sni_container_refs\":[\"%s\",\"" T_HW_PROTECTED_CERT
             "\"],\"sni_match_algo\":\"wildcard\"}}",
             a);
    assert_int_equal(fe_test_hw(t, "PUT", LISTENERS "/" T_HW_LISTENER, NULL, body), 200);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "listener.sni_container_refs")), 2);
    /* SNI-bound certificates are in use too */
    char path[128];
    snprintf(path, sizeof(path), CERTS "/%s", a);
    assert_int_equal(fe_test_hw(t, "DELETE", path, NULL, NULL), 409);
    /* more than 50 SNI certificates */
    struct cs_buf big;
    cs_buf_init(&big, 1 << 20);
    cs_buf_adds(&big, "{\"listener\":{\"sni_container_refs\":[");
    for (int i = 0; i < 51; i++)
        cs_buf_addf(&big, "%s\"%032d\"", i ? "," : "", i);
    cs_buf_adds(&big, "]}}");
    assert_int_equal(fe_test_hw(t, "PUT", LISTENERS "/" T_HW_LISTENER, NULL, cs_buf_str(&big)),
                     400);
    cs_buf_free(&big);
    assert_int_equal(fe_test_hw(t, "PUT", LISTENERS "/nope", NULL, "{\"listener\":{}}"), 404);
    free(a);
    free(b);
}

static void test_loadbalancers_and_routes(void **state)
{
    struct fe_test *t = *state;
    assert_int_equal(fe_test_hw(t, "GET", "/v3/" T_HW_PROJECT "/elb/loadbalancers", NULL, NULL),
                     200);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "loadbalancers")), 1);
    assert_int_equal(fe_test_hw(t, "GET", "/v3/" T_HW_PROJECT "/elb/loadbalancers/lb-1", NULL, NULL),
                     200);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "loadbalancer.listeners")), 2);
    assert_int_equal(fe_test_hw(t, "GET", "/v3/" T_HW_PROJECT "/elb/loadbalancers/lb-2", NULL, NULL),
                     404);
    assert_int_equal(fe_test_hw(t, "GET", "/v3/" T_HW_PROJECT "/elb/pools", NULL, NULL), 404);
    assert_string_equal(fe_test_str(t, "error_code"), "APIGW.0101");
    assert_int_equal(fe_test_hw(t, "PATCH", CERTS, NULL, NULL), 404);
    assert_int_equal(fe_test_ctl(t, "GET", "/elsewhere", NULL), 404);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_auth_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_request_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certificate_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_per_project, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_use_and_cross_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_protection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_paging_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loadbalancers_and_routes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
