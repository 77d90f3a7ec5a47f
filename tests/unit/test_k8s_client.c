/* test_k8s_client.c -- the Kubernetes REST client: Status-to-error mapping (a table), URLs
 * and escaping, verbs and their bodies, token re-reading and the retry after a 401, and
 * watch streaming (split chunks, 410, cancel, idle timeout, garbage, dropped connections)
 * against a scripted loopback server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "common/json.h"
#include "k8s/client.h"

#include "test_k8s_server.c"

/* ---- Status mapping: pure ---- */

struct status_case {
    long http;
    const char *body;
    long retry_after_ms;
    enum cs_code code;
    const char *reason;
    const char *message;
    long expect_retry_ms;
};

#define ST(code, reason, msg)                                                                  \
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","        \
    "\"message\":\"" msg "\",\"reason\":\"" reason "\",\"code\":" #code "}"

static const struct status_case STATUS[] = {
    {404, ST(404, "NotFound", "secrets \\\"x\\\" not found"), 0, CS_ENOTFOUND, "NotFound",
     "secrets \"x\" not found", 0},
    {409, ST(409, "AlreadyExists", "leases.coordination.k8s.io \\\"l\\\" already exists"), 0,
     CS_ECONFLICT, "AlreadyExists", "already exists", 0},
    {409, ST(409, "Conflict", "Operation cannot be fulfilled: the object has been modified"), 0,
     CS_ECONFLICT, "Conflict", "has been modified", 0},
    {410, ST(410, "Expired", "too old resource version: 103 (106)"), 0, CS_EGONE, "Expired",
     "too old resource version", 0},
    {410, ST(410, "Gone", "gone"), 0, CS_EGONE, "Gone", "gone", 0},
    {429, ST(429, "TooManyRequests", "slow down"), 1000, CS_ETHROTTLED, "TooManyRequests",
     "slow down", 1000},
    {429,
     "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"m\",\"code\":429,"
     "\"details\":{\"retryAfterSeconds\":3}}",
     0, CS_ETHROTTLED, "TooManyRequests", "m", 3000},
    {401, ST(401, "Unauthorized", "Unauthorized"), 0, CS_EAUTH, "Unauthorized", "Unauthorized",
     0},
    {403, ST(403, "Forbidden", "secrets is forbidden"), 0, CS_EAUTH, "Forbidden", "forbidden",
     0},
    {500, ST(500, "InternalError", "etcd"), 0, CS_ESERVER, "InternalError", "etcd", 0},
    {503, "<html>busy</html>", 0, CS_ESERVER, "", "HTTP 503", 0},
    {400, ST(400, "BadRequest", "field label not supported: spec.x"), 0, CS_EINVAL, "BadRequest",
     "field label not supported", 0},
    {422, ST(422, "Invalid", "Secret \\\"x\\\" is invalid"), 0, CS_EINVAL, "Invalid",
     "is invalid", 0},
    {418, "", 0, CS_EINVAL, "", "HTTP 418", 0},
    {302, "", 0, CS_EPROTO, "", "HTTP 302", 0},
    {404, "{not json", 0, CS_ENOTFOUND, "", "HTTP 404", 0},
    {404, "{\"kind\":\"Secret\",\"message\":\"not a status\"}", 0, CS_ENOTFOUND, "", "HTTP 404",
     0},
    /* a watch ERROR event arrives in a 200: the Status's code decides */
    {200, ST(410, "Expired", "too old"), 0, CS_EGONE, "Expired", "too old", 0},
    {0, ST(500, "InternalError", "x"), 0, CS_ESERVER, "InternalError", "x", 0},
};

static void test_status_mapping(void **state)
{
    for (size_t i = 0; i < sizeof(STATUS) / sizeof(STATUS[0]); i++) {
        const struct status_case *c = &STATUS[i];
        struct cs_err e;
        enum cs_code rc =
            k8s_status_to_err(c->http, c->body, strlen(c->body), c->retry_after_ms, &e);
        if (rc != c->code || e.code != c->code || strcmp(e.reason, c->reason) != 0 ||
            !strstr(e.message, c->message) || e.retry_after_ms != c->expect_retry_ms) {
            print_error("case %zu: %s reason=%s msg=%s retry=%ld\n", i, cs_code_name(rc),
                        e.reason, e.message, e.retry_after_ms);
            fail();
        }
        assert_int_equal(e.retryable, cs_code_retryable(c->code));
    }
}

/* ---- a client against the scripted server ---- */

static char tmpdir[256];

static int setup(void **state)
{
    cs_json_init();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_k8s_client.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct k8s_client *make_client(struct tsrv *s, const char *token, const char *token_file,
                                      uint64_t refresh_ms)
{
    struct k8s_config *cfg = k8s_config_alloc();
    cfg->server = strdup(s->url);
    cfg->namespace = strdup("ns1");
    if (token)
        cs_buf_adds(&cfg->token, token);
    if (token_file)
        cfg->token_file = strdup(token_file);
    struct k8s_client_opts o = {.timeout_ms = 5000, .token_refresh_ms = refresh_ms};
    struct k8s_client *c = NULL;
    struct cs_err e;
    assert_int_equal(k8s_client_new(cfg, &o, &c, &e), CS_OK);
    k8s_config_free(cfg);
    return c;
}

static void echo_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    if (strstr(req->path, "/secrets/missing")) {
        tsrv_status(resp, 404, "NotFound", "secrets \\\"missing\\\" not found");
    } else if (strstr(req->path, "/leases") && strcmp(req->method, "POST") == 0) {
        tsrv_status(resp, 409, "AlreadyExists", "leases \\\"l\\\" already exists");
    } else if (strstr(req->path, "/throttled")) {
        tsrv_status(resp, 429, "TooManyRequests", "slow down");
        snprintf(resp->retry_after, sizeof(resp->retry_after), "1");
    } else if (strstr(req->path, "/notjson")) {
        tsrv_set_body(resp, 200, "<html>");
    } else {
        char *b = NULL;
        assert_true(asprintf(&b, "{\"method\":\"%s\",\"ct\":\"%s\",\"body\":%s}", req->method,
                             req->content_type, req->body.len ? req->body.ptr : "null") > 0);
        tsrv_set_body(resp, 200, b);
        free(b);
    }
}

static void test_verbs_and_urls(void **state)
{
    struct tsrv *s = tsrv_start(echo_fn, NULL);
    struct k8s_client *c = make_client(s, "static-token", NULL, 0);
    cJSON *out = NULL;
    struct cs_err e;
    char line[4096];

    assert_string_equal(k8s_client_namespace(c), "ns1");
    assert_int_equal(k8s_get(c, &k8s_res_secrets, "my ns", "a b/c", &out, &e), CS_OK);
    assert_string_equal(cs_json_str(out, "method"), "GET");
    cJSON_Delete(out);
    tsrv_line(s, 0, line, sizeof(line));
    assert_string_equal(line, "GET /api/v1/namespaces/my%20ns/secrets/a%20b%2Fc?");
    assert_string_equal(s->log[0].auth, "Bearer static-token");

    struct k8s_list_opts lo = {.label_selector = "app=web,tier in (a,b)",
                               .field_selector = "type=kubernetes.io/tls",
                               .resource_version = "0",
                               .continue_token = "abc=/+",
                               .limit = 500};
    assert_int_equal(k8s_list(c, &k8s_res_ingresses, NULL, &lo, &out, &e), CS_OK);
    cJSON_Delete(out);
    tsrv_line(s, 1, line, sizeof(line));
    assert_string_equal(line, "GET /apis/networking.k8s.io/v1/ingresses?labelSelector=app%3Dweb%"
                              "2Ctier%20in%20%28a%2Cb%29&fieldSelector=type%3Dkubernetes.io%2Ftls&"
                              "resourceVersion=0&continue=abc%3D%2F%2B&limit=500");

    cJSON *obj = cJSON_Parse("{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"7\"}}");
    assert_int_equal(k8s_create(c, &k8s_res_configmaps, "ns1", obj, &out, &e), CS_OK);
    assert_string_equal(cs_json_str(out, "method"), "POST");
    assert_string_equal(cs_json_str(out, "ct"), "application/json");
    assert_string_equal(cs_json_path_str(out, "body.metadata.resourceVersion"), "7");
    cJSON_Delete(out);
    tsrv_line(s, 2, line, sizeof(line));
    assert_string_equal(line, "POST /api/v1/namespaces/ns1/configmaps?");

    assert_int_equal(k8s_update(c, &k8s_res_leases, "kube-system", "x", obj, &out, &e), CS_OK);
    assert_string_equal(cs_json_str(out, "method"), "PUT");
    cJSON_Delete(out);
    tsrv_line(s, 3, line, sizeof(line));
    assert_string_equal(line, "PUT /apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x?");

    assert_int_equal(k8s_patch_merge(c, &k8s_res_events, "ns1", "ev.1", obj, &out, &e), CS_OK);
    assert_string_equal(cs_json_str(out, "method"), "PATCH");
    assert_string_equal(cs_json_str(out, "ct"), "application/merge-patch+json");
    cJSON_Delete(out);

    assert_int_equal(k8s_delete(c, &k8s_res_namespaces, NULL, "gone-ns", &e), CS_OK);
    tsrv_line(s, 5, line, sizeof(line));
    assert_string_equal(line, "DELETE /api/v1/namespaces/gone-ns?");

    /* cluster-scoped resources ignore the namespace */
    assert_int_equal(k8s_get(c, &k8s_res_ingressclasses, "ignored", "cce", &out, &e), CS_OK);
    cJSON_Delete(out);
    tsrv_line(s, 6, line, sizeof(line));
    assert_string_equal(line, "GET /apis/networking.k8s.io/v1/ingressclasses/cce?");

    /* subresource */
    struct k8s_call call = {.method = "PUT", .res = &k8s_res_ingresses, .ns = "a", .name = "w",
                            .subresource = "status", .body = obj};
    assert_int_equal(k8s_do(c, &call, NULL, &e), CS_OK);
    tsrv_line(s, 7, line, sizeof(line));
    assert_string_equal(line, "PUT /apis/networking.k8s.io/v1/namespaces/a/ingresses/w/status?");

    /* errors */
    out = (cJSON *)0x1;
    assert_int_equal(k8s_get(c, &k8s_res_secrets, "ns1", "missing", &out, &e), CS_ENOTFOUND);
    assert_ptr_equal(out, (cJSON *)0x1);
    assert_int_equal(e.http_status, 404);
    assert_string_equal(e.reason, "NotFound");
    assert_non_null(strstr(e.message, "not found"));
    assert_int_equal(k8s_create(c, &k8s_res_leases, "ns1", obj, NULL, &e), CS_ECONFLICT);
    assert_string_equal(e.reason, "AlreadyExists");
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "ns1", "throttled", NULL, &e),
                     CS_ETHROTTLED);
    assert_int_equal(e.retry_after_ms, 1000);
    assert_true(e.retryable);
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "ns1", "notjson", &out, &e), CS_EPROTO);
    assert_int_equal(k8s_get(c, &k8s_res_secrets, NULL, "x", &out, &e), CS_EINVAL);
    assert_int_equal(k8s_get(c, &k8s_res_secrets, "ns1", "", &out, &e), CS_EINVAL);
    cJSON_Delete(obj);
    k8s_client_free(c);
    tsrv_stop(s);
}

static void auth_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    if (strcmp(req->auth, "Bearer good") == 0)
        tsrv_set_body(resp, 200, "{}");
    else
        tsrv_status(resp, 401, "Unauthorized", "Unauthorized");
}

static void write_token(const char *path, const char *t)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", t);
    fclose(f);
}

static void test_token_file_reread(void **state)
{
    struct tsrv *s = tsrv_start(auth_fn, NULL);
    char path[400];
    snprintf(path, sizeof(path), "%s/token", tmpdir);
    write_token(path, "old");
    struct k8s_client *c = make_client(s, NULL, path, 0); /* refresh every 60 s */
    struct cs_err e;

    /* rotated on disk: the 401 makes the client re-read the file and retry once */
    write_token(path, "good");
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "a", "b", NULL, &e), CS_OK);
    assert_int_equal(tsrv_count(s), 2);
    assert_string_equal(s->log[0].auth, "Bearer old");
    assert_string_equal(s->log[1].auth, "Bearer good");

    /* still wrong after the re-read: one retry only, then CS_EAUTH */
    write_token(path, "bad");
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "a", "b", NULL, &e), CS_OK);
    assert_int_equal(tsrv_count(s), 3); /* cached "good" still used: not due */
    k8s_client_free(c);

    c = make_client(s, NULL, path, 0);
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "a", "b", NULL, &e), CS_EAUTH);
    assert_int_equal(tsrv_count(s), 5);
    assert_null(strstr(e.message, "bad"));
    k8s_client_free(c);

    /* periodic re-read: with a short period the new token is used without a 401 */
    write_token(path, "good");
    c = make_client(s, NULL, path, 1);
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "a", "b", NULL, &e), CS_OK);
    assert_int_equal(tsrv_count(s), 6);
    write_token(path, "bad");
    cs_sleep_ms(5);
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "a", "b", NULL, &e), CS_EAUTH);
    /* the file vanished: the cached token is kept */
    write_token(path, "good");
    cs_sleep_ms(5);
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "a", "b", NULL, &e), CS_OK);
    unlink(path);
    cs_sleep_ms(5);
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "a", "b", NULL, &e), CS_OK);
    k8s_client_free(c);

    /* a static token is never retried */
    c = make_client(s, "wrong", NULL, 0);
    int before = tsrv_count(s);
    assert_int_equal(k8s_get(c, &k8s_res_configmaps, "a", "b", NULL, &e), CS_EAUTH);
    assert_int_equal(tsrv_count(s), before + 1);
    k8s_client_free(c);

    /* a token file that does not exist at start is an error */
    struct k8s_config *cfg = k8s_config_alloc();
    cfg->server = strdup(s->url);
    cfg->token_file = strdup("/nonexistent/token");
    assert_int_equal(k8s_client_new(cfg, NULL, &c, &e), CS_ENOTFOUND);
    k8s_config_free(cfg);
    tsrv_stop(s);
}

/* ---- watch ---- */

#define EV(type, name, rv)                                                                     \
    "{\"type\":\"" type "\",\"object\":{\"kind\":\"Secret\",\"metadata\":{\"name\":\"" name      \
    "\",\"namespace\":\"n\",\"resourceVersion\":\"" rv "\"}}}\n"

struct seen {
    int n;
    char log[1024];
    int stop_after;
};

static enum cs_code on_event(enum k8s_watch_type t, const cJSON *obj, void *ud,
                             struct cs_err *err)
{
    struct seen *s = ud;
    s->n++;
    size_t l = strlen(s->log);
    const char *rv = cs_json_path_str(obj, "metadata.resourceVersion");
    snprintf(s->log + l, sizeof(s->log) - l, "%s:%s ", k8s_watch_type_name(t), rv ? rv : "-");
    if (s->stop_after && s->n >= s->stop_after)
        return cs_err_set(err, CS_EGONE, 0, "handler stops");
    return CS_OK;
}

static void watch_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    if (strstr(req->path, "/gone")) {
        tsrv_status(resp, 410, "Expired", "too old resource version: 1 (5)");
        return;
    }
    const char *all = EV("ADDED", "a", "11") EV("MODIFIED", "a", "12")
        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Secret\",\"metadata\":"
        "{\"resourceVersion\":\"13\"}}}\n" EV("DELETED", "a", "14");
    if (strstr(req->query, "resourceVersion=split")) {
        /* awkward boundaries: inside strings, escapes, between events */
        size_t n = strlen(all), cuts[] = {1, 7, 30, 31, 32, 100, 101, 180, 181, 250, n};
        size_t prev = 0;
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
            if (cuts[i] > n || cuts[i] <= prev)
                continue;
            char piece[512] = {0};
            memcpy(piece, all + prev, cuts[i] - prev);
            tsrv_chunk(resp, piece);
            prev = cuts[i];
        }
        resp->end = TSRV_END_CLEAN;
    } else if (strstr(req->query, "resourceVersion=hang")) {
        tsrv_chunk(resp, EV("ADDED", "a", "11"));
        resp->end = TSRV_END_HANG;
    } else if (strstr(req->query, "resourceVersion=garbage")) {
        tsrv_chunk(resp, EV("ADDED", "a", "11") "]]]\n");
        resp->end = TSRV_END_HANG;
    } else if (strstr(req->query, "resourceVersion=drop")) {
        tsrv_chunk(resp, EV("ADDED", "a", "11") "{\"type\":\"ADDED\",\"obj");
        resp->end = TSRV_END_DROP;
    } else if (strstr(req->query, "resourceVersion=error")) {
        tsrv_chunk(resp, "{\"type\":\"ERROR\",\"object\":" ST(410, "Expired", "too old") "}\n");
        resp->end = TSRV_END_CLEAN;
    } else {
        tsrv_chunk(resp, all);
        resp->end = TSRV_END_CLEAN;
    }
}

static void test_watch_stream(void **state)
{
    struct tsrv *s = tsrv_start(watch_fn, NULL);
    struct k8s_client *c = make_client(s, NULL, NULL, 0);
    struct cs_err e;
    char line[4096];
    const char *expect = "ADDED:11 MODIFIED:12 BOOKMARK:13 DELETED:14 ";

    struct seen seen = {0};
    struct k8s_watch_opts wo = {.resource_version = "10",
                                .allow_bookmarks = true,
                                .timeout_seconds = 321,
                                .field_selector = "type=kubernetes.io/tls"};
    enum cs_code wrc = k8s_watch(c, &k8s_res_secrets, "n", &wo, on_event, &seen, &e);
    if (wrc != CS_OK)
        print_error("%s\n", e.message);
    assert_int_equal(wrc, CS_OK);
    assert_string_equal(seen.log, expect);
    tsrv_line(s, 0, line, sizeof(line));
    assert_string_equal(line, "GET /api/v1/namespaces/n/secrets?watch=1&resourceVersion=10&"
                              "allowWatchBookmarks=true&timeoutSeconds=321&fieldSelector=type%"
                              "3Dkubernetes.io%2Ftls");

    memset(&seen, 0, sizeof(seen));
    wo.resource_version = "split";
    assert_int_equal(k8s_watch(c, &k8s_res_secrets, NULL, &wo, on_event, &seen, &e), CS_OK);
    assert_string_equal(seen.log, expect);

    /* the handler's code stops the stream */
    memset(&seen, 0, sizeof(seen));
    seen.stop_after = 2;
    wo.resource_version = "10";
    assert_int_equal(k8s_watch(c, &k8s_res_secrets, NULL, &wo, on_event, &seen, &e), CS_EGONE);
    assert_string_equal(e.message, "handler stops");
    assert_int_equal(seen.n, 2);

    /* an ERROR event reaches the handler */
    memset(&seen, 0, sizeof(seen));
    wo.resource_version = "error";
    assert_int_equal(k8s_watch(c, &k8s_res_secrets, NULL, &wo, on_event, &seen, &e), CS_OK);
    assert_string_equal(seen.log, "ERROR:- ");

    /* 410 as an HTTP status */
    struct k8s_resource gone = k8s_res_secrets;
    gone.plural = "gone";
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(k8s_watch(c, &gone, NULL, &wo, on_event, &seen, &e), CS_EGONE);
    assert_string_equal(e.reason, "Expired");
    assert_int_equal(seen.n, 0);

    /* garbage between events */
    memset(&seen, 0, sizeof(seen));
    wo.resource_version = "garbage";
    assert_int_equal(k8s_watch(c, &k8s_res_secrets, NULL, &wo, on_event, &seen, &e), CS_EPROTO);
    assert_int_equal(seen.n, 1);

    /* the connection drops inside an event */
    memset(&seen, 0, sizeof(seen));
    wo.resource_version = "drop";
    enum cs_code rc = k8s_watch(c, &k8s_res_secrets, NULL, &wo, on_event, &seen, &e);
    assert_true(rc == CS_EIO || rc == CS_EPROTO);
    assert_int_equal(seen.n, 1);

    /* silence: the idle timeout ends it */
    memset(&seen, 0, sizeof(seen));
    wo.resource_version = "hang";
    wo.idle_timeout_ms = 300;
    assert_int_equal(k8s_watch(c, &k8s_res_secrets, NULL, &wo, on_event, &seen, &e),
                     CS_ETIMEDOUT);
    assert_int_equal(seen.n, 1);

    /* cancel ends it too */
    atomic_bool cancel = true;
    wo.idle_timeout_ms = 0;
    wo.cancel = &cancel;
    assert_int_equal(k8s_watch(c, &k8s_res_secrets, NULL, &wo, on_event, &seen, &e),
                     CS_ECANCELED);
    k8s_client_free(c);
    tsrv_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_verbs_and_urls),
        cmocka_unit_test(test_token_file_reread),
        cmocka_unit_test(test_watch_stream),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
