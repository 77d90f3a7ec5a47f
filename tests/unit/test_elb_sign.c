/* test_elb_sign.c -- the two request signers: every vector of
 * tests/data/elb/huawei-sdk-hmac-sha256.json (from the Huawei SDK), the UCloud documented
 * vector, the canonical-request rules one by one, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/json.h"
#include "elb/huawei_sign.h"
#include "elb/ucloud_sign.h"

static char *read_data_file(const char *rel)
{
    const char *src = getenv("CS_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct cs_buf b;
    cs_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(cs_buf_add(&b, chunk, n), CS_OK);
    fclose(f);
    char *s = cs_buf_take(&b);
    cs_buf_free(&b);
    return s;
}

/* ---- Huawei ---------------------------------------------------------------------------- */

static void test_hw_vectors(void **state)
{
    char *text = read_data_file("tests/data/elb/huawei-sdk-hmac-sha256.json");
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(root, "vectors");
    assert_true(cJSON_IsArray(vectors));
    int count = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, vectors)
    {
        struct elb_query_param q[16];
        size_t nq = 0;
        struct cs_http_header h[16];
        size_t nh = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(v, "query"))
        {
            if (cJSON_IsArray(it)) {
                const cJSON *e;
                cJSON_ArrayForEach(e, it)
                {
                    assert_true(nq < 16);
                    q[nq++] = (struct elb_query_param){it->string, e->valuestring};
                }
            } else {
                assert_true(nq < 16);
                q[nq++] = (struct elb_query_param){it->string, it->valuestring};
            }
        }
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(v, "headers"))
        {
            assert_true(nh < 16);
            h[nh++] = (struct cs_http_header){it->string, it->valuestring};
        }
        const char *body = cs_json_str(v, "body");
        struct elb_hw_sign_input in = {
            .method = cs_json_str(v, "method"),
            .host = cs_json_str(v, "host"),
            .path = cs_json_str(v, "path"),
            .query = q,
            .n_query = nq,
            .headers = h,
            .n_headers = nh,
            .body = body,
            .body_len = strlen(body),
        };
        struct cs_buf auth;
        cs_buf_init(&auth, 0);
        struct cs_err err;
        assert_int_equal(elb_hw_sign(&in, cs_json_str(v, "ak"), cs_json_str(v, "sk"), &auth,
                                     &err),
                         CS_OK);
        assert_string_equal(cs_buf_str(&auth), cs_json_str(v, "expected_authorization"));
        cs_buf_free(&auth);
        count++;
    }
    assert_int_equal(count, cJSON_GetArraySize(vectors));
    assert_true(count >= 16);
    cJSON_Delete(root);
    free(text);
}

static void test_hw_canonical_rules(void **state)
{
    struct elb_query_param q[] = {
        {"name", "user cert (prod)"}, {"b", "2"}, {"name", "a/b?c=d&e"}, {"a", ""},
    };
    struct cs_http_header h[] = {
        {"X-Sdk-Date", "20260101T000000Z"},
        {"Content-Type", "  application/json  "},
        {"Host", "ignored.example"},
    };
    struct elb_hw_sign_input in = {
        .method = "get",
        .host = "127.0.0.1:8443",
        .path = "/v3/p 1/elb/certificates",
        .query = q,
        .n_query = 4,
        .headers = h,
        .n_headers = 3,
    };
    struct cs_buf c;
    cs_buf_init(&c, 0);
    assert_int_equal(elb_hw_canonical_request(&in, &c, NULL), CS_OK);
    assert_string_equal(
        cs_buf_str(&c),
        "GET\n"
        "/v3/p%201/elb/certificates/\n"
        "a=&b=2&name=a%2Fb%3Fc%3Dd%26e&name=user%20cert%20%28prod%29\n"
        "content-type:application/json\n"
        "host:127.0.0.1:8443\n"
        "x-sdk-date:20260101T000000Z\n"
        "\n"
        "content-type;host;x-sdk-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cs_buf_free(&c);

    /* A path already ending in '/' gets no second one; an empty path becomes "/". */
    struct { const char *path, *uri; } paths[] = {
        {"/v3/x/", "/v3/x/"}, {"", "/"}, {"/", "/"}, {"/a~b_c-d.e", "/a~b_c-d.e/"},
        {"/\xe8\xaf\x81", "/%E8%AF%81/"},
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct elb_hw_sign_input p = {.method = "DELETE", .host = "h", .path = paths[i].path,
                                      .headers = h, .n_headers = 1};
        cs_buf_init(&c, 0);
        assert_int_equal(elb_hw_canonical_request(&p, &c, NULL), CS_OK);
        char want[64];
        snprintf(want, sizeof(want), "DELETE\n%s\n\n", paths[i].uri);
        assert_memory_equal(cs_buf_str(&c), want, strlen(want));
        cs_buf_free(&c);
    }
}

static void test_hw_body_changes_signature(void **state)
{
    struct cs_http_header h[] = {{"X-Sdk-Date", "20260101T000000Z"}};
    struct elb_hw_sign_input in = {.method = "POST", .host = "h", .path = "/x", .headers = h,
                                   .n_headers = 1, .body = "{}", .body_len = 2};
    struct cs_buf a, b;
    cs_buf_init(&a, 0);
    cs_buf_init(&b, 0);
    assert_int_equal(elb_hw_sign(&in, "AK", "SK", &a, NULL), CS_OK);
    in.body = "{ }";
    in.body_len = 3;
    assert_int_equal(elb_hw_sign(&in, "AK", "SK", &b, NULL), CS_OK);
    assert_string_not_equal(cs_buf_str(&a), cs_buf_str(&b));
    cs_buf_reset(&b);
    in.body = "{}";
    in.body_len = 2;
    assert_int_equal(elb_hw_sign(&in, "AK", "SK2", &b, NULL), CS_OK);
    assert_string_not_equal(cs_buf_str(&a), cs_buf_str(&b));
    assert_non_null(strstr(cs_buf_str(&a), "SignedHeaders=host;x-sdk-date, Signature="));
    cs_buf_free(&a);
    cs_buf_free(&b);
}

static void test_hw_bad_input(void **state)
{
    struct cs_http_header nodate[] = {{"Content-Type", "application/json"}};
    struct cs_http_header date[] = {{"X-Sdk-Date", "20260101T000000Z"}};
    struct cs_http_header dup[] = {{"X-Sdk-Date", "20260101T000000Z"},
                                   {"x-sdk-date", "20260101T000001Z"}};
    struct cs_http_header noval[] = {{"X-Sdk-Date", "20260101T000000Z"}, {"X-A", NULL}};
    struct elb_query_param nokey[] = {{NULL, "v"}};
    struct {
        struct elb_hw_sign_input in;
        const char *ak, *sk;
    } cases[] = {
        {{.method = "GET", .host = "h", .path = "/", .headers = nodate, .n_headers = 1}, "a", "s"},
        {{.method = "GET", .host = "h", .path = "/"}, "a", "s"},
        {{.method = "GET", .host = "h", .path = "/", .headers = dup, .n_headers = 2}, "a", "s"},
        {{.method = "GET", .host = "h", .path = "/", .headers = noval, .n_headers = 2}, "a", "s"},
        {{.method = "GET", .host = "h", .path = "/", .headers = date, .n_headers = 1,
          .query = nokey, .n_query = 1}, "a", "s"},
        {{.method = NULL, .host = "h", .path = "/", .headers = date, .n_headers = 1}, "a", "s"},
        {{.method = "GET", .host = NULL, .path = "/", .headers = date, .n_headers = 1}, "a", "s"},
        {{.method = "GET", .host = "h", .path = NULL, .headers = date, .n_headers = 1}, "a", "s"},
        {{.method = "GET", .host = "h", .path = "/", .headers = date, .n_headers = 1,
          .body_len = 3}, "a", "s"},
        {{.method = "GET", .host = "h", .path = "/", .headers = date, .n_headers = 1}, "", "s"},
        {{.method = "GET", .host = "h", .path = "/", .headers = date, .n_headers = 1}, "a", NULL},
        {{.method = "AVERYLONGMETHODNAME", .host = "h", .path = "/", .headers = date,
          .n_headers = 1}, "a", "s"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cs_buf a;
        cs_buf_init(&a, 0);
        struct cs_err err;
        assert_int_equal(elb_hw_sign(&cases[i].in, cases[i].ak, cases[i].sk, &a, &err),
                         CS_EINVAL);
        assert_int_equal(err.code, CS_EINVAL);
        assert_true(err.message[0] != '\0');
        assert_int_equal(a.len, 0); /* nothing half-written */
        cs_buf_free(&a);
    }
    assert_int_equal(elb_hw_canonical_request(NULL, NULL, NULL), CS_EINVAL);
}

/* ---- UCloud ---------------------------------------------------------------------------- */

static void test_ucloud_documented_vector(void **state)
{
    /* UCloudDoc-Team/api summary/signature.md */
    struct elb_query_param p[] = {
        {"Action", "DescribeUHostInstance"},
        {"Region", "cn-bj2"},
        {"Limit", "10"},
        {"PublicKey", "ucloudsomeone@example.com1296235120854146120"},
    };
    char sig[41];
    struct cs_err err;
    assert_int_equal(elb_ucloud_signature(p, 4, "46f09bb9fab4f12dfc160dae12273d5332b5debe", sig,
                                          &err),
                     CS_OK);
    assert_string_equal(sig, "cba5cf5ec4d4233d206b1b54951e3787350a642f");

    /* Order of the input does not matter; a Signature parameter is skipped. */
    struct elb_query_param r[] = {
        {"PublicKey", "ucloudsomeone@example.com1296235120854146120"},
        {"Signature", "whatever"},
        {"Limit", "10"},
        {"Region", "cn-bj2"},
        {"Action", "DescribeUHostInstance"},
    };
    char sig2[41];
    assert_int_equal(elb_ucloud_signature(r, 5, "46f09bb9fab4f12dfc160dae12273d5332b5debe", sig2,
                                          NULL),
                     CS_OK);
    assert_string_equal(sig2, sig);
}

static void test_ucloud_string_to_sign(void **state)
{
    /* Cases computed from the rule: sorted by name (byte order), name+value unescaped,
     * private key appended, SHA-1. Compared against SHA-1 of the expected string. */
    struct {
        struct elb_query_param p[4];
        size_t n;
        const char *key;
        const char *signed_string;
    } cases[] = {
        {{{"b", "2"}, {"a", "1"}}, 2, "K", "a1b2K"},
        {{{"SSLIds.1", "y"}, {"SSLIds.0", "x"}, {"Action", "A"}}, 3, "K",
         "ActionASSLIds.0xSSLIds.1yK"},
        {{{"Name", "a b&c=d"}, {"Z", ""}}, 2, "pk", "Namea b&c=dZpk"},
        {{{"lower", "1"}, {"Upper", "2"}}, 2, "k", "Upper2lower1k"},
        {{{0}}, 0, "only", "only"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char sig[41], want[41];
        const char *s = cases[i].signed_string;
        cs_sha1_hex(s, strlen(s), want);
        assert_int_equal(elb_ucloud_signature(cases[i].p, cases[i].n, cases[i].key, sig, NULL),
                         CS_OK);
        assert_string_equal(sig, want);
    }
}

static void test_ucloud_bad_input(void **state)
{
    struct elb_query_param ok[] = {{"Action", "X"}};
    struct elb_query_param nokey[] = {{NULL, "X"}};
    struct elb_query_param emptykey[] = {{"", "X"}};
    char sig[41] = "unchanged";
    struct cs_err err;
    assert_int_equal(elb_ucloud_signature(ok, 1, NULL, sig, &err), CS_EINVAL);
    assert_int_equal(elb_ucloud_signature(ok, 1, "", sig, &err), CS_EINVAL);
    assert_int_equal(elb_ucloud_signature(nokey, 1, "k", sig, &err), CS_EINVAL);
    assert_int_equal(elb_ucloud_signature(emptykey, 1, "k", sig, &err), CS_EINVAL);
    assert_int_equal(elb_ucloud_signature(NULL, 1, "k", sig, &err), CS_EINVAL);
    assert_string_equal(sig, "unchanged");
    /* The private key never appears in the error. */
    assert_null(strstr(err.message, "k\""));
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hw_vectors),
        cmocka_unit_test(test_hw_canonical_rules),
        cmocka_unit_test(test_hw_body_changes_signature),
        cmocka_unit_test(test_hw_bad_input),
        cmocka_unit_test(test_ucloud_documented_vector),
        cmocka_unit_test(test_ucloud_string_to_sign),
        cmocka_unit_test(test_ucloud_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
