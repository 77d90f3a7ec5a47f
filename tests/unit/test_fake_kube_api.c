/* test_fake_kube_api.c -- fake-kube-apiserver's request handling without a socket, through
 * fk_api_handle(): create/get/update/patch/delete semantics and the real server's Status
 * answers, server-set metadata, generation and the /status subresource, validation,
 * namespaces, auth, faults, and watch streams read while another thread writes. */
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
#include "tests/fakes/kube/fk.h"

static struct fk_server srv;

static int setup(void **state)
{
    return fk_server_init(&srv, 1000) == CS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    fk_server_cleanup(&srv);
    return 0;
}

/* Sends a request; returns the status and the parsed body (caller frees). */
static int call(const char *method, const char *path, const char *query, const char *ctype,
                const char *body, cJSON **out)
{
    struct fk_request req = {.method = method, .path = path, .content_type = ctype,
                             .body = body, .body_len = body ? strlen(body) : 0};
    char qbuf[1024];
    if (query) {
        snprintf(qbuf, sizeof(qbuf), "%s", query);
        char *save = NULL;
        for (char *kv = strtok_r(qbuf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (eq)
                *eq = '\0';
            req.query[req.nquery++] = (struct fk_kv){kv, eq ? eq + 1 : ""};
        }
    }
    struct fk_response resp;
    fk_api_handle(&srv, &req, &resp);
    int st = resp.status;
    if (out)
        *out = resp.body ? cJSON_Parse(resp.body) : NULL;
    fk_response_cleanup(&resp);
    return st;
}

static const char *str(const cJSON *j, const char *path)
{
    const char *s = cs_json_path_str(j, path);
    return s ? s : "(none)";
}

static void test_secret_lifecycle(void **state)
{
    cJSON *o, *e;
    const char *sec = "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},"
                      "\"type\":\"kubernetes.io/tls\",\"stringData\":{\"tls.crt\":\"C\","
                      "\"tls.key\":\"K\"}}";
    assert_int_equal(call("POST", "/api/v1/namespaces/default/secrets", NULL, "application/json",
                          sec, &o), 201);
    assert_string_equal(str(o, "kind"), "Secret");
    assert_string_equal(str(o, "metadata.namespace"), "default");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(o, "data");
    assert_string_equal(cs_json_str(data, "tls.crt"), "Qw==");
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "stringData"));
    assert_int_equal(strlen(str(o, "metadata.uid")), 36);
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", str(o, "metadata.resourceVersion"));
    cJSON_Delete(o);

    assert_int_equal(call("POST", "/api/v1/namespaces/default/secrets", NULL, NULL, sec, &e), 409);
    assert_string_equal(str(e, "reason"), "AlreadyExists");
    assert_string_equal(str(e, "message"), "secrets \"s\" already exists");
    assert_string_equal(str(e, "details.kind"), "secrets");
    cJSON_Delete(e);

    /* PUT with a stale resourceVersion */
    const char *stale = "{\"metadata\":{\"name\":\"s\",\"resourceVersion\":\"1\"},\"type\":"
                        "\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"QQ==\",\"tls.key\":\"Qg==\"}}";
    assert_int_equal(call("PUT", "/api/v1/namespaces/default/secrets/s", NULL, NULL, stale, &e),
                     409);
    assert_string_equal(str(e, "reason"), "Conflict");
    assert_string_equal(str(e, "message"),
                        "Operation cannot be fulfilled on secrets \"s\": the object has been "
                        "modified; please apply your changes to the latest version and try again");
    cJSON_Delete(e);
    /* changing the type is refused */
    char buf[512];
    snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"s\",\"resourceVersion\":\"%s\"},"
             "\"type\":\"Opaque\"}", rv);
    assert_int_equal(call("PUT", "/api/v1/namespaces/default/secrets/s", NULL, NULL, buf, &e), 422);
    assert_string_equal(str(e, "reason"), "Invalid");
    cJSON_Delete(e);
    /* a good PUT */
    snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"s\",\"resourceVersion\":\"%s\"},"
             "\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"QQ==\",\"tls.key\":\"Qg==\"}}",
             rv);
    assert_int_equal(call("PUT", "/api/v1/namespaces/default/secrets/s", NULL, NULL, buf, &o), 200);
    assert_string_not_equal(str(o, "metadata.resourceVersion"), rv);
    cJSON_Delete(o);

    /* a strategic merge patch keeps no directive */
    assert_int_equal(call("PATCH", "/api/v1/namespaces/default/secrets/s", NULL,
                          "application/strategic-merge-patch+json",
                          "{\"metadata\":{\"labels\":{\"a\":\"b\"},\"$setElementOrder/finalizers\":"
                          "[]},\"$retainKeys\":[\"metadata\",\"data\",\"type\"]}", &o), 200);
    char *txt = cJSON_PrintUnformatted(o);
    assert_null(strchr(txt, '$'));
    cJSON_free(txt);
    assert_string_equal(str(o, "metadata.labels.a"), "b");
    cJSON_Delete(o);
    /* server-side apply is not implemented: 415 with a Status */
    assert_int_equal(call("PATCH", "/api/v1/namespaces/default/secrets/s", NULL,
                          "application/apply-patch+yaml", "a: b", &e), 415);
    assert_string_equal(str(e, "reason"), "UnsupportedMediaType");
    cJSON_Delete(e);

    assert_int_equal(call("DELETE", "/api/v1/namespaces/default/secrets/s", NULL, NULL, NULL, &o),
                     200);
    assert_string_equal(str(o, "kind"), "Status");
    assert_string_equal(str(o, "status"), "Success");
    assert_string_equal(str(o, "details.name"), "s");
    cJSON_Delete(o);
    assert_int_equal(call("GET", "/api/v1/namespaces/default/secrets/s", NULL, NULL, NULL, &e),
                     404);
    assert_string_equal(str(e, "message"), "secrets \"s\" not found");
    cJSON_Delete(e);
}

static void test_validation(void **state)
{
    static const struct {
        const char *path, *body;
        int status;
        const char *reason;
    } cases[] = {
        {"/api/v1/namespaces/default/secrets",
         "{\"metadata\":{\"name\":\"t\"},\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"QQ==\"}}",
         422, "Invalid"},
        {"/api/v1/namespaces/default/secrets", "{\"metadata\":{\"name\":\"Bad_Name\"}}", 422, "Invalid"},
        {"/api/v1/namespaces/default/secrets", "{\"metadata\":{}}", 422, "Invalid"},
        {"/api/v1/namespaces/default/secrets", "{\"metadata\":{\"name\":\"x\"},\"data\":{\"k\":\"!!\"}}",
         400, "BadRequest"},
        {"/api/v1/namespaces/default/secrets", "{\"metadata\":{\"name\":\"x\"},\"data\":{\"a b\":\"\"}}",
         422, "Invalid"},
        {"/api/v1/namespaces/default/secrets", "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":1}}}",
         400, "BadRequest"},
        {"/api/v1/namespaces/default/secrets", "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}",
         400, "BadRequest"},
        {"/api/v1/namespaces/default/secrets", "{\"metadata\":{\"name\":\"x\",\"namespace\":\"o\"}}",
         400, "BadRequest"},
        {"/api/v1/namespaces/default/secrets", "{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"3\"}}",
         500, "InternalError"},
        {"/api/v1/namespaces/default/secrets", "[1,2]", 400, "BadRequest"},
        {"/api/v1/namespaces/default/secrets", "{\"metadata\":", 400, "BadRequest"},
        {"/api/v1/namespaces/nowhere/secrets", "{\"metadata\":{\"name\":\"x\"}}", 404, "NotFound"},
        {"/api/v1/namespaces/default/widgets", "{}", 404, "NotFound"},
        {"/api/v1/secrets", "{\"metadata\":{\"name\":\"x\"}}", 405, "MethodNotAllowed"},
        {"/api/v1/namespaces/x_y", "{}", 405, "MethodNotAllowed"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *e = NULL;
        int st = call("POST", cases[i].path, NULL, "application/json", cases[i].body, &e);
        if (st != cases[i].status || strcmp(str(e, "reason"), cases[i].reason) != 0)
            fail_msg("case %zu: %d %s", i, st, str(e, "message"));
        assert_string_equal(str(e, "kind"), "Status");
        assert_int_equal(cs_json_int(e, "code", 0), cases[i].status);
        cJSON_Delete(e);
    }
    cJSON *e;
    assert_int_equal(call("POST", "/api/v1/namespaces/default/secrets", NULL,
                          "application/vnd.kubernetes.protobuf", "\x6b\x38\x73", &e), 415);
    cJSON_Delete(e);
    assert_int_equal(call("GET", "/api/v1/namespaces/default/secrets", "fieldSelector=data=x", NULL,
                          NULL, &e), 400);
    assert_string_equal(str(e, "message"), "field label not supported: data");
    cJSON_Delete(e);
    assert_int_equal(call("GET", "/api/v1/namespaces/default/secrets", "labelSelector=a in", NULL,
                          NULL, &e), 400);
    cJSON_Delete(e);
    assert_int_equal(call("GET", "/api/v1/namespaces/default/secrets",
                          "watch=true&resourceVersion=999999", NULL, NULL, &e), 504);
    cJSON_Delete(e);
    /* the list of nothing is still a list */
    cJSON *l;
    assert_int_equal(call("GET", "/apis/coordination.k8s.io/v1/leases", NULL, NULL, NULL, &l), 200);
    assert_string_equal(str(l, "kind"), "LeaseList");
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(l, "items")));
    cJSON_Delete(l);
}

static void test_ingress_generation_and_status(void **state)
{
    cJSON *o;
    const char *ing = "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":"
                      "{\"name\":\"web\"},\"spec\":{\"ingressClassName\":\"cce\"},\"status\":"
                      "{\"loadBalancer\":{\"ingress\":[{\"ip\":\"1.2.3.4\"}]}}}";
    const char *base = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";
    assert_int_equal(call("POST", base, NULL, NULL, ing, &o), 201);
    assert_int_equal(cs_json_int(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "generation", 0), 1);
    assert_null(cs_json_path(o, "status.loadBalancer.ingress")); /* status reset on create */
    cJSON_Delete(o);
    /* a metadata-only change keeps generation 1 */
    assert_int_equal(call("PATCH", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web",
                          NULL, "application/merge-patch+json",
                          "{\"metadata\":{\"annotations\":{\"x\":\"y\"}}}", &o), 200);
    assert_int_equal(cs_json_int(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "generation", 0), 1);
    cJSON_Delete(o);
    /* the status subresource changes status only, and not the generation */
    assert_int_equal(call("PATCH", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web/status",
                          NULL, "application/merge-patch+json",
                          "{\"spec\":{\"ingressClassName\":\"other\"},\"status\":{\"loadBalancer\":"
                          "{\"ingress\":[{\"ip\":\"10.0.0.1\"}]}}}", &o), 200);
    assert_int_equal(cs_json_int(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "generation", 0), 1);
    assert_string_equal(str(o, "spec.ingressClassName"), "cce");
    assert_non_null(cs_json_path(o, "status.loadBalancer.ingress"));
    cJSON_Delete(o);
    /* a spec change bumps it; the main resource ignores status */
    assert_int_equal(call("PATCH", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web",
                          NULL, "application/merge-patch+json",
                          "{\"spec\":{\"ingressClassName\":\"nginx\"},\"status\":null}", &o), 200);
    assert_int_equal(cs_json_int(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "generation", 0), 2);
    assert_non_null(cs_json_path(o, "status.loadBalancer.ingress"));
    /* a no-op patch keeps the resourceVersion */
    char rv[32];
    snprintf(rv, sizeof(rv), "%s", str(o, "metadata.resourceVersion"));
    cJSON_Delete(o);
    assert_int_equal(call("PATCH", "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web",
                          NULL, "application/json-patch+json",
                          "[{\"op\":\"replace\",\"path\":\"/spec/ingressClassName\",\"value\":\"nginx\"}]",
                          &o), 200);
    assert_string_equal(str(o, "metadata.resourceVersion"), rv);
    cJSON_Delete(o);
}

static void test_namespaces_and_generate_name(void **state)
{
    cJSON *o;
    assert_int_equal(call("POST", "/api/v1/namespaces", NULL, NULL,
                          "{\"metadata\":{\"name\":\"shop\"}}", &o), 201);
    assert_string_equal(str(o, "status.phase"), "Active");
    assert_string_equal(cs_json_str(cs_json_path(o, "metadata.labels"), "kubernetes.io/metadata.name"),
                        "shop");
    cJSON_Delete(o);
    assert_int_equal(call("POST", "/api/v1/namespaces/shop/configmaps", NULL, NULL,
                          "{\"metadata\":{\"generateName\":\"cm-\"},\"data\":{\"a\":\"b\"}}", &o), 201);
    const char *name = str(o, "metadata.name");
    assert_int_equal(strlen(name), 8);
    assert_memory_equal(name, "cm-", 3);
    cJSON_Delete(o);
    assert_int_equal(call("POST", "/apis/coordination.k8s.io/v1/namespaces/shop/leases", NULL, NULL,
                          "{\"metadata\":{\"name\":\"lock\"},\"spec\":{\"holderIdentity\":\"a\","
                          "\"leaseDurationSeconds\":15}}", &o), 201);
    cJSON_Delete(o);
    /* deleting the namespace answers with it, Terminating, and removes its content */
    assert_int_equal(call("DELETE", "/api/v1/namespaces/shop", NULL, NULL, NULL, &o), 200);
    assert_string_equal(str(o, "kind"), "Namespace");
    assert_string_equal(str(o, "status.phase"), "Terminating");
    cJSON_Delete(o);
    assert_int_equal(call("GET", "/apis/coordination.k8s.io/v1/namespaces/shop/leases/lock", NULL,
                          NULL, NULL, &o), 404);
    cJSON_Delete(o);
    assert_int_equal(call("GET", "/api/v1/configmaps", NULL, NULL, NULL, &o), 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "items")), 0);
    cJSON_Delete(o);
}

static void test_auth_faults_discovery(void **state)
{
    cJSON *o;
    srv.token = strdup("sekret");
    struct fk_request req = {.method = "GET", .path = "/api/v1/secrets"};
    struct fk_response resp;
    fk_api_handle(&srv, &req, &resp);
    assert_int_equal(resp.status, 401);
    assert_non_null(strstr(resp.body, "\"reason\":\"Unauthorized\""));
    fk_response_cleanup(&resp);
    req.authorization = "Bearer sekreT";
    fk_api_handle(&srv, &req, &resp);
    assert_int_equal(resp.status, 401);
    fk_response_cleanup(&resp);
    req.authorization = "Bearer sekret";
    fk_api_handle(&srv, &req, &resp);
    assert_int_equal(resp.status, 200);
    fk_response_cleanup(&resp);
    /* the control endpoints need no token */
    assert_int_equal(call("GET", "/_fake/healthz", NULL, NULL, NULL, NULL), 200);
    cs_secure_free_str(srv.token);
    srv.token = NULL;

    srv.faults.rate_429 = 1;
    fk_api_handle(&srv, &req, &resp);
    assert_int_equal(resp.status, 429);
    assert_int_equal(resp.retry_after, 1);
    assert_non_null(strstr(resp.body, "\"retryAfterSeconds\":1"));
    fk_response_cleanup(&resp);
    srv.faults.rate_429 = 0;

    assert_int_equal(call("GET", "/api/v1", NULL, NULL, NULL, &o), 200);
    assert_string_equal(str(o, "kind"), "APIResourceList");
    cJSON *r;
    bool secrets = false;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, "resources"))
    {
        if (strcmp(str(r, "name"), "secrets") == 0) {
            secrets = true;
            assert_string_equal(str(r, "kind"), "Secret");
            assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "namespaced")));
        }
    }
    assert_true(secrets);
    cJSON_Delete(o);
    assert_int_equal(call("GET", "/apis/networking.k8s.io/v1", NULL, NULL, NULL, &o), 200);
    assert_string_equal(str(o, "groupVersion"), "networking.k8s.io/v1");
    cJSON_Delete(o);
    assert_int_equal(call("GET", "/openapi/v2", NULL, NULL, NULL, &o), 404);
    cJSON_Delete(o);
}

struct writer {
    int n;
};

static void *write_secrets(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < w->n; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"w%03d\",\"labels\":{\"i\":\"%d\"}}}",
                 i, i % 2);
        cs_sleep_ms(1);
        assert_int_equal(call("POST", "/api/v1/namespaces/default/secrets", NULL, NULL, body,
                              NULL), 201);
    }
    return NULL;
}

/* Reads whole lines from a watch until n events or the end. */
static int read_events(struct fk_watch *w, int n, char **types, int max)
{
    struct cs_buf b;
    cs_buf_init(&b, 0);
    int got = 0;
    char chunk[100];
    while (got < n) {
        long r = fk_watch_read(w, chunk, sizeof(chunk));
        if (r <= 0)
            break;
        cs_buf_add(&b, chunk, (size_t)r);
        char *nl;
        while ((nl = memchr(b.ptr, '\n', b.len))) {
            *nl = '\0';
            cJSON *ev = cJSON_Parse(b.ptr);
            assert_non_null(ev);
            if (got < max)
                types[got] = strdup(str(ev, "type"));
            got++;
            cJSON_Delete(ev);
            cs_buf_consume(&b, (size_t)(nl - b.ptr) + 1);
        }
    }
    cs_buf_free(&b);
    return got;
}

static void test_watch_threaded(void **state)
{
    cJSON *l;
    assert_int_equal(call("GET", "/api/v1/namespaces/default/secrets", NULL, NULL, NULL, &l), 200);
    uint64_t rv = strtoull(str(l, "metadata.resourceVersion"), NULL, 10);
    cJSON_Delete(l);
    struct fk_watch_opts o = {.type = &fk_types[1], .has_rv = true, .rv = rv, .timeout_s = 20};
    assert_int_equal(fk_label_selector_parse("i=1", &o.labels, NULL), CS_OK);
    struct fk_watch *w = fk_watch_new(&srv, &o);
    srv.faults.split_chunks = true;
    struct writer wr = {.n = 40};
    pthread_t t;
    pthread_create(&t, NULL, write_secrets, &wr);
    char *types[20] = {0};
    assert_int_equal(read_events(w, 20, types, 20), 20);
    for (int i = 0; i < 20; i++) {
        assert_string_equal(types[i], "ADDED");
        free(types[i]);
    }
    pthread_join(t, NULL);
    srv.faults.split_chunks = false;
    /* drop-watches ends the stream with a cut */
    pthread_mutex_lock(&srv.store.mu);
    srv.store.drop_gen++;
    pthread_cond_broadcast(&srv.store.changed);
    pthread_mutex_unlock(&srv.store.mu);
    char c[16];
    assert_int_equal(fk_watch_read(w, c, sizeof(c)), -1);
    fk_watch_free(w);

    /* too old: one ERROR event, then the normal end */
    pthread_mutex_lock(&srv.store.mu);
    fk_store_compact(&srv.store);
    pthread_mutex_unlock(&srv.store.mu);
    struct fk_watch_opts o2 = {.type = &fk_types[1], .has_rv = true, .rv = rv};
    w = fk_watch_new(&srv, &o2);
    char *t2[2] = {0};
    assert_int_equal(read_events(w, 2, t2, 2), 1);
    assert_string_equal(t2[0], "ERROR");
    free(t2[0]);
    assert_int_equal(fk_watch_read(w, c, sizeof(c)), 0);
    fk_watch_free(w);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_lifecycle),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_ingress_generation_and_status),
        cmocka_unit_test(test_namespaces_and_generate_name),
        cmocka_unit_test(test_auth_faults_discovery),
        cmocka_unit_test(test_watch_threaded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
