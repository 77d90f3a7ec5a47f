/* test_fake_elb_control.c -- fake-elb's control endpoints and cross-cutting behaviour: the
 * /_fake/state view never shows a private key, counters by cloud, operation and outcome,
 * fault settings (validated; throttling, 500s and lost responses in each cloud's shape, never
 * on /_fake/), reset to the seed, 413 for oversized bodies, seeds that are refused with a
 * clear message, and many threads at once (run under TSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/elb/testlib.h"

#define CERTS "/v3/" T_HW_PROJECT "/elb/certificates"

static int setup(void **state)
{
    struct fe_test *t = calloc(1, sizeof(*t));
    char *seed = fe_test_seed(50, 50);
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

static char *hw_body(const char *cn)
{
    char *cert, *key;
    fe_test_make_cert(cn, cn, 30, &cert, &key);
    cJSON *r = cJSON_CreateObject();
    cJSON *c = cJSON_AddObjectToObject(r, "certificate");
    cJSON_AddStringToObject(c, "name", cn);
    cJSON_AddStringToObject(c, "certificate", cert);
    cJSON_AddStringToObject(c, "private_key", key);
    char *s = cJSON_PrintUnformatted(r);
    char *out = strdup(s);
    cJSON_free(s);
    cJSON_Delete(r);
    free(cert);
    cs_secure_free_str(key);
    return out;
}

static void test_state_never_shows_keys(void **state)
{
    struct fe_test *t = *state;
    char *b = hw_body("k.example.test");
    assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, b), 201);
    free(b);
    char *cert, *key;
    fe_test_make_cert("uk.example.test", NULL, 30, &cert, &key);
    const char *p[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", "k", "UserCert",
                       cert, "PrivateKey", key, NULL};
    assert_int_equal(fe_test_uc(t, p), 0);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/state", NULL), 200);
    assert_null(strstr(cs_buf_str(&t->resp.body), "PRIVATE KEY"));
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "huawei.certificates")), 4);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "ucloud.certificates")), 4);
    /* bindings are in the view */
    const cJSON *c = cs_json_path(t->json, "huawei.certificates")->child;
    bool found = false;
    for (; c; c = c->next)
        if (strcmp(cs_json_str(c, "id"), T_HW_SEED_CERT) == 0) {
            const cJSON *l = cs_json_path(c, "listeners")->child;
            assert_string_equal(cs_json_str(l, "listener_id"), T_HW_LISTENER);
            assert_true(cJSON_IsTrue(cJSON_GetObjectItem(l, "default")));
            found = true;
        }
    assert_true(found);
    free(cert);
    cs_secure_free_str(key);
}

static void test_stats(void **state)
{
    struct fe_test *t = *state;
    char *b = hw_body("s.example.test");
    assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, b), 201);
    assert_int_equal(fe_test_hw(t, "POST", CERTS, NULL, b), 201);
    free(b);
    assert_int_equal(fe_test_hw(t, "DELETE", CERTS "/" T_HW_SEED_CERT, NULL, NULL), 409);
    const char *p[] = {"Action", "DescribeSSL", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, p), 0);
    assert_int_equal(fe_test_uc_full(t, T_UC_PUB, "bad", false, p), 171);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/stats", NULL), 200);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "huawei"), "CreateCertificate", -1), 2);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "huawei"), "DeleteCertificate", -1), 1);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "outcomes.huawei.DeleteCertificate"),
                                 "ELB.8902", -1),
                     1);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "ucloud"), "DescribeSSL", -1), 2);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "outcomes.ucloud.DescribeSSL"), "171", -1),
                     1);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "outcomes.ucloud.DescribeSSL"), "ok", -1),
                     1);
    assert_int_equal(fe_test_ctl(t, "POST", "/_fake/stats/reset", NULL), 200);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/stats", NULL), 200);
    assert_null(cJSON_GetObjectItem(cs_json_path(t->json, "huawei"), "CreateCertificate"));
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/stats/reset", NULL), 405);
}

static void test_fault_settings_validated(void **state)
{
    struct fe_test *t = *state;
    const char *bad[] = {"", "[]", "{\"throttle_rate\":1.5}", "{\"error_500_rate\":-0.1}",
                         "{\"latency_ms\":\"x\"}", "{\"latency_ms\":70000}", "{\"bogus\":1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fe_test_ctl(t, "POST", "/_fake/faults", bad[i]), 400);
    assert_int_equal(fe_test_ctl(t, "POST", "/_fake/faults", "{\"latency_ms\":25}"), 200);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/faults", NULL), 200);
    assert_int_equal(cs_json_int(t->json, "latency_ms", -1), 25);
    const char *p[] = {"Action", "DescribeSSL", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, p), 0);
    assert_int_equal(t->resp.delay_ms, 25);
    /* never on the control endpoints */
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/healthz", NULL), 200);
    assert_int_equal(t->resp.delay_ms, 0);
}

static void test_faults_in_cloud_shapes(void **state)
{
    struct fe_test *t = *state;
    const char *p[] = {"Action", "DescribeSSL", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_ctl(t, "POST", "/_fake/faults", "{\"throttle_rate\":1}"), 200);
    assert_int_equal(fe_test_hw(t, "GET", CERTS, NULL, NULL), 429);
    assert_string_equal(fe_test_str(t, "error_code"), "APIGW.0308");
    assert_int_equal(fe_test_uc(t, p), 153);
    assert_int_equal(t->resp.status, 200);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/healthz", NULL), 200);

    assert_int_equal(
        fe_test_ctl(t, "POST", "/_fake/faults", "{\"throttle_rate\":0,\"error_500_rate\":1}"), 200);
    assert_int_equal(fe_test_hw(t, "GET", CERTS, NULL, NULL), 500);
    assert_non_null(fe_test_str(t, "error_code"));
    assert_int_equal(fe_test_uc(t, p), 150);
    assert_int_equal(t->resp.status, 500);

    /* lost responses: the operation is carried out, the answer is dropped */
    assert_int_equal(fe_test_ctl(t, "POST", "/_fake/faults",
                                 "{\"error_500_rate\":0,\"lost_response_rate\":1}"),
                     200);
    char *b = hw_body("lost.example.test");
    fe_test_hw(t, "POST", CERTS, NULL, b);
    free(b);
    assert_true(t->resp.lose);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/state", NULL), 200);
    assert_false(t->resp.lose);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "huawei.certificates")), 4);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/stats", NULL), 200);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "outcomes.huawei.CreateCertificate"),
                                 "lost", -1),
                     1);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "outcomes.huawei.ListCertificates"),
                                 "APIGW.0308", -1),
                     1);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "outcomes.ucloud.DescribeSSL"), "153", -1),
                     1);
}

static void test_reset_and_413(void **state)
{
    struct fe_test *t = *state;
    assert_int_equal(fe_test_hw(t, "DELETE", CERTS "/" T_HW_PROTECTED_CERT, NULL, NULL), 204);
    assert_int_equal(fe_test_hw(t, "GET", CERTS "/" T_HW_PROTECTED_CERT, NULL, NULL), 404);
    assert_int_equal(fe_test_ctl(t, "POST", "/_fake/reset", NULL), 200);
    assert_int_equal(fe_test_hw(t, "GET", CERTS "/" T_HW_PROTECTED_CERT, NULL, NULL), 200);
    struct fe_request req = {.method = "POST", .target = CERTS, .body_too_big = true,
                             .now_ms = t->now_ms};
    fe_server_handle(t->server, &req, &t->resp);
    assert_int_equal(t->resp.status, 413);
    req.target = "/";
    fe_server_handle(t->server, &req, &t->resp);
    assert_int_equal(t->resp.status, 413);
    req.target = "/_fake/faults";
    fe_server_handle(t->server, &req, &t->resp);
    assert_int_equal(t->resp.status, 413);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/nothing", NULL), 404);
    assert_int_equal(fe_test_ctl(t, "DELETE", "/_fake/state", NULL), 405);
}

static void test_bad_seeds(void **state)
{
    (void)state;
    struct {
        const char *seed;
        const char *says;
    } cases[] = {
        {"{", "not valid JSON"},
        {"[]", "JSON object"},
        {"{\"aws\":{}}", "unknown member"},
        {"{\"huawei\":{\"projects\":[{\"id\":\"p\"}]}}", "huawei.projects[0]: \"region\""},
        {"{\"huawei\":{\"credentials\":[{\"ak\":\"a\"}]}}", "\"sk\" is required"},
        {"{\"huawei\":{\"projects\":[{\"id\":\"p\",\"region\":\"r\"}],\"certificates\":[{"
         "\"project_id\":\"p\",\"certificate\":\"junk\"}]}}",
         "invalid certificate"},
        {"{\"huawei\":{\"certificates\":[{\"project_id\":\"nope\",\"certificate\":\"x\"}]}}",
         "huawei.projects"},
        {"{\"huawei\":{\"quota\":{\"certificates\":-1}}}", "quota"},
        {"{\"ucloud\":{\"regions\":[\"r\"],\"projects\":[\"p\"],\"ulbs\":[{\"ULBId\":\"u\","
         "\"Region\":\"r\",\"ProjectId\":\"p\",\"ULBType\":\"nlb\"}]}}",
         "ULBType"},
        {"{\"ucloud\":{\"regions\":[\"r\"],\"projects\":[\"p\"],\"ulbs\":[{\"ULBId\":\"u\","
         "\"Region\":\"r\",\"ProjectId\":\"p\",\"VServers\":[{\"VServerId\":\"v\","
         "\"FrontendPort\":443,\"SSLIds\":[\"ssl-nope\"]}]}]}}",
         "ssl-nope"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fe_server *s = NULL;
        struct cs_err err;
        cs_err_clear(&err);
        assert_int_equal(fe_server_new(cases[i].seed, strlen(cases[i].seed), NULL, &s, &err),
                         CS_EINVAL);
        assert_null(s);
        if (!strstr(err.message, cases[i].says))
            fail_msg("seed %zu: \"%s\" does not say \"%s\"", i, err.message, cases[i].says);
    }
    /* the demo seed loads */
    const char *src = getenv("CS_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/fake-elb/demo-seed.json", src ? src : ".");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct cs_buf b;
    cs_buf_init(&b, 1 << 22);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(cs_buf_add(&b, chunk, n), CS_OK);
    fclose(f);
    struct fe_server *s = NULL;
    assert_int_equal(fe_server_new(b.ptr, b.len, NULL, &s, NULL), CS_OK);
    fe_server_free(s);
    cs_buf_free(&b);
}

struct worker {
    struct fe_test *t;
    int id;
    int created;
};

/* Each worker uses its own response; the server is shared. */
static void *work(void *arg)
{
    struct worker *w = arg;
    struct fe_test mine = *w->t;
    fe_response_init(&mine.resp);
    mine.json = NULL;
    char *b = hw_body("thread.example.test");
    for (int i = 0; i < 8; i++) {
        if (fe_test_hw(&mine, "POST", CERTS, NULL, b) == 201)
            w->created++;
        fe_test_hw(&mine, "GET", CERTS, "limit=5", NULL);
        const char *p[] = {"Action", "DescribeSSL", "Region", "cn-bj2", NULL};
        fe_test_uc(&mine, p);
        fe_test_ctl(&mine, "GET", "/_fake/stats", NULL);
    }
    free(b);
    cJSON_Delete(mine.json);
    fe_response_cleanup(&mine.resp);
    return NULL;
}

static void test_threads(void **state)
{
    struct fe_test *t = *state;
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.t = t, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    int created = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        created += w[i].created;
    }
    /* quota 50 per project, 2 seeded: 32 creations all fit */
    assert_int_equal(created, 32);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/stats", NULL), 200);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "huawei"), "CreateCertificate", -1), 32);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "ucloud"), "DescribeSSL", -1), 32);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_never_shows_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_settings_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults_in_cloud_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_and_413, setup, teardown),
        cmocka_unit_test(test_bad_seeds),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
