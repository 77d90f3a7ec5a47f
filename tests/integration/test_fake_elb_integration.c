/* test_fake_elb_integration.c -- runs the fake-elb binary on 127.0.0.1 (port 0, port file,
 * a seed made at run time in a temporary directory that is removed afterwards) and talks to it
 * over HTTP with common/http.h and the project's signers: signature and time-skew rejection,
 * create/list/delete, in-use, cross-region and console refusals, quota, both clouds, faults
 * (throttling, 500s, a lost response whose operation still happened), counters, the state
 * view, 413, reset, and a clean exit on SIGTERM.
 *
 *   test_fake_elb_integration PATH/TO/fake-elb */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/http.h"
#include "common/json.h"
#include "common/util.h"
#include "elb/huawei_sign.h"
#include "elb/ucloud_sign.h"
#include "tests/fakes/elb/testlib.h"

extern char **environ;

#define CERTS "/v3/" T_HW_PROJECT "/elb/certificates"

static const char *binary;

struct ctx {
    char dir[64];
    char seed_path[128];
    char port_path[128];
    pid_t pid;
    int port;
    char host[32];
    struct cs_http_client *http;
    struct cs_http_response resp;
    cJSON *json;
    enum cs_code rc;
};

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(s, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int start(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    snprintf(c->dir, sizeof(c->dir), "/tmp/fake-elb-it.XXXXXX");
    if (!mkdtemp(c->dir))
        return -1;
    snprintf(c->seed_path, sizeof(c->seed_path), "%s/seed.json", c->dir);
    snprintf(c->port_path, sizeof(c->port_path), "%s/port", c->dir);
    char *seed = fe_test_seed(3, 3);
    write_file(c->seed_path, seed);
    free(seed);
    char *argv[] = {(char *)binary, "--listen", "127.0.0.1:0", "--port-file", c->port_path,
                    "--state", c->seed_path, "--quiet", NULL};
    if (posix_spawn(&c->pid, binary, NULL, NULL, argv, environ) != 0)
        return -1;
    /* the port file appears once the server accepts connections */
    for (int i = 0; i < 500 && !c->port; i++) {
        FILE *f = fopen(c->port_path, "r");
        if (f) {
            if (fscanf(f, "%d", &c->port) != 1)
                c->port = 0;
            fclose(f);
        }
        if (!c->port)
            cs_sleep_ms(10);
    }
    if (!c->port)
        return -1;
    snprintf(c->host, sizeof(c->host), "127.0.0.1:%d", c->port);
    struct cs_http_client_opts opts = {.connect_timeout_ms = 2000};
    if (cs_http_client_new(&opts, &c->http, NULL) != CS_OK)
        return -1;
    cs_http_response_init(&c->resp);
    *state = c;
    return 0;
}

static int stop(void **state)
{
    struct ctx *c = *state;
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
    }
    cJSON_Delete(c->json);
    cs_http_response_cleanup(&c->resp);
    cs_http_client_free(c->http);
    unlink(c->seed_path);
    unlink(c->port_path);
    rmdir(c->dir);
    free(c);
    return 0;
}

static long send_req(struct ctx *c, const char *method, const char *target,
                     const struct cs_http_header *h, size_t nh, const char *body, size_t body_len)
{
    char url[2048];
    snprintf(url, sizeof(url), "http://%s%s", c->host, target);
    cs_http_response_cleanup(&c->resp);
    cs_http_response_init(&c->resp);
    cJSON_Delete(c->json);
    c->json = NULL;
    struct cs_http_request req = {.method = method, .url = url, .headers = h, .n_headers = nh,
                                  .body = body, .body_len = body_len, .timeout_ms = 5000};
    c->rc = cs_http_do(c->http, &req, &c->resp, NULL);
    if (c->rc != CS_OK)
        return -1;
    if (c->resp.body.len)
        c->json = cJSON_ParseWithLength(c->resp.body.ptr, c->resp.body.len);
    return c->resp.status;
}

static long hw(struct ctx *c, const char *method, const char *path, const char *query,
               const char *body, const char *ak, const char *sk, int64_t date_ms)
{
    struct elb_query_param qp[8];
    size_t nq = 0;
    char qcopy[512], target[1024];
    snprintf(qcopy, sizeof(qcopy), "%s", query ? query : "");
    snprintf(target, sizeof(target), "%s%s%s", path, query ? "?" : "", query ? query : "");
    char *save = NULL;
    for (char *kv = strtok_r(qcopy, "&", &save); kv && nq < 8; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        *eq = '\0';
        qp[nq].key = kv;
        qp[nq].value = eq + 1;
        nq++;
    }
    char date[32];
    time_t secs = (time_t)((date_ms ? date_ms : cs_wall_ms()) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    struct cs_http_header h[4] = {{"Content-Type", "application/json"},
                                  {"X-Sdk-Date", date},
                                  {"X-Project-Id", T_HW_PROJECT}};
    struct elb_hw_sign_input in = {.method = method, .host = c->host, .path = path, .query = qp,
                                   .n_query = nq, .headers = h, .n_headers = 3,
                                   .body = body ? body : "", .body_len = body ? strlen(body) : 0};
    struct cs_buf authz;
    cs_buf_init(&authz, 4096);
    assert_int_equal(elb_hw_sign(&in, ak, sk, &authz, NULL), CS_OK);
    h[3] = (struct cs_http_header){"Authorization", cs_buf_str(&authz)};
    long st = send_req(c, method, target, h, 4, body, body ? strlen(body) : 0);
    cs_buf_free(&authz);
    return st;
}

static long hw_api(struct ctx *c, const char *method, const char *path, const char *query,
                   const char *body)
{
    return hw(c, method, path, query, body, T_HW_AK, T_HW_SK, 0);
}

/* UCloud form POST; returns RetCode, or -1 without an answer. */
static int uc(struct ctx *c, const char *pub, const char *priv, const char *const *params)
{
    struct elb_query_param qp[32];
    size_t n = 0;
    for (size_t i = 0; params[i]; i += 2, n++) {
        qp[n].key = params[i];
        qp[n].value = params[i + 1];
    }
    qp[n].key = "PublicKey";
    qp[n].value = pub;
    n++;
    char sig[41];
    assert_int_equal(elb_ucloud_signature(qp, n, priv, sig, NULL), CS_OK);
    struct cs_buf body;
    cs_buf_init_secret(&body, 1 << 20);
    for (size_t i = 0; i <= n; i++) {
        const char *k = i < n ? qp[i].key : "Signature", *v = i < n ? qp[i].value : sig;
        if (i)
            cs_buf_addc(&body, '&');
        cs_url_encode(&body, k, strlen(k));
        cs_buf_addc(&body, '=');
        cs_url_encode(&body, v, strlen(v));
    }
    struct cs_http_header h[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    long st = send_req(c, "POST", "/", h, 1, body.ptr, body.len);
    cs_buf_free(&body);
    if (st < 0 || !c->json)
        return -1;
    return (int)cs_json_int(c->json, "RetCode", -1);
}

static long ctl(struct ctx *c, const char *method, const char *path, const char *body)
{
    struct cs_http_header h[] = {{"Content-Type", "application/json"}};
    return send_req(c, method, path, h, 1, body, body ? strlen(body) : 0);
}

static char *create_body(const char *cn)
{
    char *cert, *key;
    fe_test_make_cert(cn, cn, 30, &cert, &key);
    cJSON *r = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(r, "certificate");
    cJSON_AddStringToObject(o, "name", cn);
    cJSON_AddStringToObject(o, "certificate", cert);
    cJSON_AddStringToObject(o, "private_key", key);
    char *s = cJSON_PrintUnformatted(r);
    char *out = strdup(s);
    cJSON_free(s);
    cJSON_Delete(r);
    free(cert);
    cs_secure_free_str(key);
    return out;
}

static void test_huawei_over_http(void **state)
{
    struct ctx *c = *state;
    assert_int_equal(ctl(c, "GET", "/_fake/healthz", NULL), 200);
    /* authentication */
    assert_int_equal(hw(c, "GET", CERTS, NULL, NULL, T_HW_AK, "bad-sk", 0), 401);
    assert_string_equal(cs_json_str(c->json, "error_code"), "APIGW.0301");
    char rid[64];
    assert_true(cs_http_response_header(&c->resp, "X-Request-Id", rid, sizeof(rid)));
    assert_string_equal(rid, cs_json_str(c->json, "request_id"));
    assert_int_equal(hw(c, "GET", CERTS, NULL, NULL, T_HW_AK, T_HW_SK,
                        cs_wall_ms() - 20 * 60 * 1000),
                     401);
    /* a query signed over the wire: repeated filters */
    assert_int_equal(hw_api(c, "GET", CERTS, "name=seed-default&limit=10", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(c->json, "certificates")), 1);
    /* create, list, delete; quota 3 per project with 2 seeded */
    char *b = create_body("it.example.test");
    assert_int_equal(hw_api(c, "POST", CERTS, NULL, b), 201);
    char path[256];
    snprintf(path, sizeof(path), CERTS "/%s", cs_json_path_str(c->json, "certificate.id"));
    assert_int_equal(hw_api(c, "POST", CERTS, NULL, b), 409);
    assert_string_equal(cs_json_str(c->json, "error_code"), "ELB.8905");
    free(b);
    assert_int_equal(hw_api(c, "GET", CERTS, NULL, NULL), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(c->json, "certificates")), 3);
    assert_int_equal(hw_api(c, "DELETE", path, NULL, NULL), 204);
    assert_int_equal(c->resp.body.len, 0);
    /* in use, cross-region, console protection */
    assert_int_equal(hw_api(c, "DELETE", CERTS "/" T_HW_SEED_CERT, NULL, NULL), 409);
    assert_string_equal(cs_json_str(c->json, "error_code"), "ELB.8902");
    assert_int_equal(hw_api(c, "PUT", "/v3/" T_HW_PROJECT "/elb/listeners/" T_HW_LISTENER, NULL,
                            "{\"listener\":{\"default_tls_container_ref\":\"" T_HW_OTHER_REGION_CERT
                            "\"}}"),
                     404);
    assert_int_equal(hw(c, "DELETE", CERTS "/" T_HW_PROTECTED_CERT, NULL, NULL, T_HW_CONSOLE_AK,
                        T_HW_CONSOLE_SK, 0),
                     403);
    /* oversized body: 413 in the gateway's shape */
    size_t big = (size_t)2 << 20;
    char *huge = malloc(big + 1);
    memset(huge, 'x', big);
    huge[big] = '\0';
    assert_int_equal(hw_api(c, "POST", CERTS, NULL, huge), 413);
    assert_string_equal(cs_json_str(c->json, "error_code"), "APIGW.0201");
    free(huge);
}

static void test_ucloud_over_http(void **state)
{
    struct ctx *c = *state;
    char *cert, *key;
    fe_test_make_cert("uit.example.test", NULL, 30, &cert, &key);
    const char *create[] = {"Action", "CreateSSL", "Region", "cn-bj2", "ProjectId", T_UC_PROJECT,
                            "SSLName", "it", "UserCert", cert, "PrivateKey", key, NULL};
    assert_int_equal(uc(c, T_UC_PUB, T_UC_PRIV, create), 0);
    char id[64];
    snprintf(id, sizeof(id), "%s", cs_json_str(c->json, "SSLId"));
    assert_int_equal(uc(c, T_UC_PUB, "wrong", create), 171);
    assert_int_equal(uc(c, T_UC_PUB, T_UC_PRIV, create), 4207); /* quota 3: 2 seeded + 1 */
    const char *bind[] = {"Action", "BindSSL", "Region", "cn-bj2", "SSLId", id, "ULBId",
                          "ulb-classic1", "VServerId", "vserver-https443", NULL};
    assert_int_equal(uc(c, T_UC_PUB, T_UC_PRIV, bind), 63072);
    const char *del[] = {"Action", "DeleteSSL", "Region", "cn-bj2", "SSLId", T_UC_SEED_CERT, NULL};
    assert_int_equal(uc(c, T_UC_PUB, T_UC_PRIV, del), 4108);
    const char *cross[] = {"Action", "BindSSL", "Region", "cn-bj2", "SSLId", T_UC_SH2_CERT,
                           "ULBId", "ulb-alb1", "VServerId", "vserver-alb443", NULL};
    assert_int_equal(uc(c, T_UC_PUB, T_UC_PRIV, cross), 4079);
    const char *managed[] = {"Action", "DeleteSSL", "Region", "cn-bj2", "SSLId",
                             T_UC_MANAGED_CERT, NULL};
    assert_int_equal(uc(c, T_UC_CONSOLE_PUB, T_UC_CONSOLE_PRIV, managed), 299);
    free(cert);
    cs_secure_free_str(key);
}

static void test_faults_stats_state(void **state)
{
    struct ctx *c = *state;
    assert_int_equal(ctl(c, "POST", "/_fake/stats/reset", NULL), 200);
    assert_int_equal(ctl(c, "POST", "/_fake/faults", "{\"throttle_rate\":1}"), 200);
    assert_int_equal(hw_api(c, "GET", CERTS, NULL, NULL), 429);
    assert_string_equal(cs_json_str(c->json, "error_code"), "APIGW.0308");
    const char *d[] = {"Action", "DescribeSSL", "Region", "cn-bj2", NULL};
    assert_int_equal(uc(c, T_UC_PUB, T_UC_PRIV, d), 153);
    assert_int_equal(ctl(c, "POST", "/_fake/faults", "{\"throttle_rate\":0,\"error_500_rate\":1}"),
                     200);
    assert_int_equal(hw_api(c, "GET", CERTS, NULL, NULL), 500);
    /* a lost response: the client hears nothing, the certificate exists */
    assert_int_equal(
        ctl(c, "POST", "/_fake/faults", "{\"error_500_rate\":0,\"lost_response_rate\":1}"), 200);
    const char *rename[] = {"Action", "UpdateSSLAttribute", "Region", "cn-bj2", "SSLId",
                            T_UC_SEED_CERT, "SSLName", "renamed-while-lost", NULL};
    assert_int_equal(uc(c, T_UC_PUB, T_UC_PRIV, rename), -1);
    assert_int_not_equal(c->rc, CS_OK);
    assert_int_equal(ctl(c, "POST", "/_fake/faults", "{\"lost_response_rate\":0}"), 200);
    assert_int_equal(ctl(c, "GET", "/_fake/state", NULL), 200);
    assert_null(strstr(cs_buf_str(&c->resp.body), "PRIVATE KEY"));
    bool renamed = false;
    for (const cJSON *it = cs_json_path(c->json, "ucloud.certificates")->child; it; it = it->next)
        renamed = renamed || strcmp(cs_json_str(it, "SSLName"), "renamed-while-lost") == 0;
    assert_true(renamed);
    assert_int_equal(ctl(c, "GET", "/_fake/stats", NULL), 200);
    assert_int_equal(cs_json_int(cs_json_path(c->json, "huawei"), "ListCertificates", -1), 2);
    /* At least once: libcurl re-sends a request once, silently, when a reused connection
     * closes without an answer ("Connection died, retrying a fresh connect"), so a lost
     * response on a kept-alive connection reaches the server twice. */
    assert_true(cs_json_int(cs_json_path(c->json, "outcomes.ucloud.UpdateSSLAttribute"), "lost",
                            -1) >= 1);
    /* reset to the seed */
    assert_int_equal(ctl(c, "POST", "/_fake/reset", NULL), 200);
    assert_int_equal(ctl(c, "GET", "/_fake/state", NULL), 200);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(c->json, "ucloud.certificates")), 3);
}

static void test_sigterm_exits_zero(void **state)
{
    struct ctx *c = *state;
    assert_int_equal(kill(c->pid, SIGTERM), 0);
    int status = -1;
    pid_t got = 0;
    for (int i = 0; i < 500 && got == 0; i++) {
        got = waitpid(c->pid, &status, WNOHANG);
        if (got == 0)
            cs_sleep_ms(10);
    }
    assert_int_equal(got, c->pid);
    c->pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Runs the binary with argv and returns its exit status (bounded wait). */
static int run_status(char *const *argv)
{
    pid_t pid;
    if (posix_spawn(&pid, binary, NULL, NULL, argv, environ) != 0)
        return -1;
    int status = -1;
    pid_t got = 0;
    for (int i = 0; i < 500 && got == 0; i++) {
        got = waitpid(pid, &status, WNOHANG);
        if (got == 0)
            cs_sleep_ms(10);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_bad_flags_refused(void **state)
{
    struct ctx *c = *state;
    char *not_loopback[] = {(char *)binary, "--listen", "0.0.0.0:0", "--quiet", NULL};
    assert_int_equal(run_status(not_loopback), 1);
    char *no_listen[] = {(char *)binary, "--quiet", NULL};
    assert_int_equal(run_status(no_listen), 1);
    char *bad_rate[] = {(char *)binary, "--listen", "127.0.0.1:0", "--fault-500-rate", "2", NULL};
    assert_int_equal(run_status(bad_rate), 1);
    char *missing_seed[] = {(char *)binary, "--listen", "127.0.0.1:0", "--state",
                            "/nonexistent/seed.json", NULL};
    assert_int_equal(run_status(missing_seed), 1);
    char bad_seed[128];
    snprintf(bad_seed, sizeof(bad_seed), "%s/bad.json", c->dir);
    write_file(bad_seed, "{\"huawei\":{\"projects\":[{\"id\":\"p\"}]}}");
    char *invalid_seed[] = {(char *)binary, "--listen", "127.0.0.1:0", "--state", bad_seed, NULL};
    assert_int_equal(run_status(invalid_seed), 1);
    unlink(bad_seed);
    char *help[] = {(char *)binary, "--help", NULL};
    assert_int_equal(run_status(help), 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/fake-elb\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huawei_over_http),
        cmocka_unit_test(test_ucloud_over_http),
        cmocka_unit_test(test_faults_stats_state),
        cmocka_unit_test(test_bad_flags_refused),
        cmocka_unit_test(test_sigterm_exits_zero),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
