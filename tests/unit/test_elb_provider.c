/* test_elb_provider.c -- the ELB providers against a scripted loopback libmicrohttpd server:
 * request building (paths, queries, form parameters and their signatures), pagination,
 * retries of idempotent calls, throttling with Retry-After, lost create answers recovered
 * without duplicates, error mapping, malformed answers, credentials-file errors, and the
 * pure helpers (endpoint parsing, project IDs, names, retry decisions) as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/json.h"
#include "elb/backend.h"
#include "elb/elb.h"
#include "elb/transport.h"
#include "elb/ucloud_alb.h"
#include "elb/ucloud_sign.h"

/* ---- scripted server ------------------------------------------------------------------- */

struct step {
    unsigned status;
    const char *body;
    const char *retry_after;
    bool drop; /* close the connection without an answer (a lost response) */
};

struct recorded {
    char method[16];
    char url[512];
    char query[2048]; /* decoded k=v&k=v in arrival order */
    char auth[512];
    char host[128];
    char *body;
};

#define MAX_STEPS 32
#define MAX_REQS 64

struct server {
    struct MHD_Daemon *d;
    int port;
    char base[64];
    pthread_mutex_t lock; /* guards everything below */
    struct step steps[MAX_STEPS];
    size_t n_steps, next;
    struct recorded reqs[MAX_REQS];
    size_t n_reqs;
};

struct conn_ctx {
    struct cs_buf body;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct recorded *r = cls;
    size_t l = strlen(r->query);
    snprintf(r->query + l, sizeof(r->query) - l, "%s%s=%s", l ? "&" : "", key,
             value ? value : "");
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct server *s = cls;
    struct conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof(*ctx));
        cs_buf_init(&ctx->body, 0);
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_size) {
        cs_buf_add(&ctx->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->lock);
    if (s->n_reqs < MAX_REQS) {
        struct recorded *r = &s->reqs[s->n_reqs++];
        memset(r, 0, sizeof(*r));
        snprintf(r->method, sizeof(r->method), "%s", method);
        snprintf(r->url, sizeof(r->url), "%s", url);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, r);
        const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
        snprintf(r->auth, sizeof(r->auth), "%s", a ? a : "");
        snprintf(r->host, sizeof(r->host), "%s", h ? h : "");
        r->body = strdup(cs_buf_str(&ctx->body));
    }
    struct step st = {.status = 500, .body = "{\"error_msg\":\"script exhausted\"}"};
    if (s->next < s->n_steps)
        st = s->steps[s->next++];
    pthread_mutex_unlock(&s->lock);
    if (st.drop)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(st.body), (void *)st.body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "X-Request-Id", "rid-42");
    if (st.retry_after)
        MHD_add_response_header(resp, "Retry-After", st.retry_after);
    enum MHD_Result ret = MHD_queue_response(conn, st.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct conn_ctx *ctx = *con_cls;
    if (ctx) {
        cs_buf_free(&ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

static struct server *server_start(void)
{
    struct server *s = calloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info->port;
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    return s;
}

static void server_stop(struct server *s)
{
    MHD_stop_daemon(s->d);
    for (size_t i = 0; i < s->n_reqs; i++)
        free(s->reqs[i].body);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void script(struct server *s, const struct step *steps, size_t n)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_reqs; i++)
        free(s->reqs[i].body);
    s->n_reqs = 0;
    if (n)
        memcpy(s->steps, steps, n * sizeof(*steps));
    s->n_steps = n;
    s->next = 0;
    pthread_mutex_unlock(&s->lock);
}

static size_t n_reqs(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n_reqs;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* ---- fixtures -------------------------------------------------------------------------- */

struct fx {
    struct server *srv;
    char cred_path[64];
    struct elb_provider *p;
    char observed_op[64];
    enum cs_code observed_rc;
    int observed_n;
};

static void observe(void *ud, const char *op, enum cs_code rc, uint64_t ms)
{
    struct fx *f = ud;
    snprintf(f->observed_op, sizeof(f->observed_op), "%s", op);
    f->observed_rc = rc;
    f->observed_n++;
}

static void write_file(char *path_tmpl, const char *text, mode_t mode)
{
    int fd = mkstemp(path_tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    fchmod(fd, mode);
    close(fd);
}

static struct elb_provider_config base_cfg(struct fx *f, const char *kind)
{
    return (struct elb_provider_config){
        .kind = kind,
        .endpoint = f->srv->base,
        .region = "r1",
        .project_id = strcmp(kind, "huawei") == 0 ? "p1" : "org-1",
        .credentials_file = f->cred_path,
        .timeout_ms = 1500,
        .max_retries = 3,
        .retry_initial_ms = 1,
        .retry_max_ms = 5,
        .page_size = 2,
        .observe = observe,
        .observe_ud = f,
    };
}

static int setup_kind(void **state, const char *kind, const char *creds)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->srv = server_start();
    snprintf(f->cred_path, sizeof(f->cred_path), "/tmp/elb-test-cred-XXXXXX");
    write_file(f->cred_path, creds, 0600);
    struct elb_provider_config cfg = base_cfg(f, kind);
    struct cs_err err;
    assert_int_equal(elb_provider_new(&cfg, &f->p, &err), CS_OK);
    *state = f;
    return 0;
}

static int setup_hw(void **state)
{
    return setup_kind(state, "huawei",
                      "HUAWEICLOUD_SDK_AK=AKTEST\nHUAWEICLOUD_SDK_SK=SKTEST\n");
}

#define UC_PUB "pub@example.com"
#define UC_PRIV "privsecret"

static int setup_uc(void **state)
{
    return setup_kind(state, "ucloud",
                      "UCLOUD_PUBLIC_KEY=" UC_PUB "\nUCLOUD_PRIVATE_KEY=" UC_PRIV "\n");
}

static int teardown(void **state)
{
    struct fx *f = *state;
    elb_provider_free(f->p);
    server_stop(f->srv);
    unlink(f->cred_path);
    free(f);
    return 0;
}

#define CERT_PEM "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ1VzZXJDZXJ0\n-----END CERTIFICATE-----\n"
#define CA_PEM "-----BEGIN CERTIFICATE-----\nQ0FDRVJU\n-----END CERTIFICATE-----\n"
#define KEY_PEM "-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n"

#define HW_CERT(id, name) \
    "{\"id\":\"" id "\",\"name\":\"" name "\",\"description\":\"d\",\"type\":\"server\"," \
    "\"certificate\":\"-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIUQ1VzZXJDZXJ0\\n" \
    "-----END CERTIFICATE-----\\n\",\"private_key\":\"*****\"," \
    "\"expire_time\":\"2030-01-02T03:04:05Z\",\"protection_status\":\"consoleProtection\"}"

/* ---- Huawei ---------------------------------------------------------------------------- */

static void test_hw_list_pages(void **state)
{
    struct fx *f = *state;
    struct step steps[] = {
        {200, "{\"certificates\":[" HW_CERT("a", "n-a") "," HW_CERT("b", "n-b")
              "],\"page_info\":{\"next_marker\":\"b\",\"current_count\":2}}"},
        {200, "{\"certificates\":[" HW_CERT("c", "n-c") "," HW_CERT("d", "n-d")
              "],\"page_info\":{\"next_marker\":\"d\",\"current_count\":2}}"},
        {200, "{\"certificates\":[" HW_CERT("e", "n-e") "],\"page_info\":{\"current_count\":1}}"},
    };
    script(f->srv, steps, 3);
    struct elb_cert_list l = {0};
    struct cs_err err;
    assert_int_equal(elb_list_certs(f->p, NULL, &l, &err), CS_OK);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.items[4].id, "e");
    assert_string_equal(l.items[0].name, "n-a");
    assert_true(l.items[0].protected_);
    assert_true(l.items[0].not_after_ms > 0);
    assert_non_null(strstr(l.items[0].certificate, "BEGIN CERTIFICATE"));
    assert_int_equal(n_reqs(f->srv), 3);
    assert_string_equal(f->srv->reqs[0].url, "/v3/p1/elb/certificates");
    assert_string_equal(f->srv->reqs[0].query, "limit=2");
    assert_string_equal(f->srv->reqs[1].query, "limit=2&marker=b");
    assert_string_equal(f->srv->reqs[2].query, "limit=2&marker=d");
    const char *want_auth = "SDK-HMAC-SHA256 Access=AKTEST, SignedHeaders=content-type;host;"
                            "x-project-id;x-sdk-date, Signature=";
    assert_memory_equal(f->srv->reqs[0].auth, want_auth, strlen(want_auth));
    assert_int_equal(strlen(f->srv->reqs[0].auth), strlen(want_auth) + 64);
    char host[64];
    snprintf(host, sizeof(host), "127.0.0.1:%d", f->srv->port);
    assert_string_equal(f->srv->reqs[0].host, host);
    assert_string_equal(f->observed_op, "list_certs");
    assert_int_equal(f->observed_rc, CS_OK);
    elb_cert_list_cleanup(&l);
}

static void test_hw_list_full_pages_without_page_info(void **state)
{
    /* No page_info: a full page means "ask again from the last ID"; an empty page ends. */
    struct fx *f = *state;
    struct step steps[] = {
        {200, "{\"certificates\":[" HW_CERT("a", "x") "," HW_CERT("b", "y") "]}"},
        {200, "{\"certificates\":[]}"},
    };
    script(f->srv, steps, 2);
    struct elb_cert_list l = {0};
    assert_int_equal(elb_list_certs(f->p, NULL, &l, NULL), CS_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(f->srv->reqs[1].query, "limit=2&marker=b");
    elb_cert_list_cleanup(&l);
}

static void test_hw_list_repeated_marker_is_an_error(void **state)
{
    struct fx *f = *state;
    struct step steps[] = {
        {200, "{\"certificates\":[" HW_CERT("a", "x") "],\"page_info\":{\"next_marker\":\"a\"}}"},
        {200, "{\"certificates\":[" HW_CERT("a", "x") "],\"page_info\":{\"next_marker\":\"a\"}}"},
    };
    script(f->srv, steps, 2);
    struct elb_cert_list l = {0};
    struct cs_err err;
    assert_int_equal(elb_list_certs(f->p, NULL, &l, &err), CS_EPROTO);
    assert_int_equal(l.n, 0);
    assert_null(l.items);
}

static void test_hw_retries_reads(void **state)
{
    struct fx *f = *state;
    struct step steps[] = {
        {503, "{\"error_msg\":\"busy\",\"error_code\":\"ELB.0004\"}"},
        {.drop = true},
        {429, "{\"error_msg\":\"throttled\",\"error_code\":\"APIGW.0308\"}", "0"},
        {200, "{\"certificate\":" HW_CERT("a", "n") "}"},
    };
    script(f->srv, steps, 4);
    struct elb_cert c;
    struct cs_err err;
    assert_int_equal(elb_get_cert(f->p, NULL, "a", &c, &err), CS_OK);
    assert_int_equal(n_reqs(f->srv), 4);
    assert_string_equal(f->srv->reqs[3].url, "/v3/p1/elb/certificates/a");
    assert_string_equal(c.id, "a");
    elb_cert_cleanup(&c);
}

static void test_hw_retries_are_bounded(void **state)
{
    struct fx *f = *state;
    struct step steps[] = {
        {500, "{}"}, {500, "{}"}, {500, "{}"}, {500, "{}"}, {200, "{}"},
    };
    script(f->srv, steps, 5);
    struct elb_cert c;
    struct cs_err err;
    assert_int_equal(elb_get_cert(f->p, NULL, "a", &c, &err), CS_ESERVER);
    assert_int_equal(n_reqs(f->srv), 4); /* 1 + max_retries 3 */
    assert_true(err.retryable);
    assert_int_equal(err.http_status, 500);
    assert_string_equal(f->observed_op, "get_cert");
    assert_int_equal(f->observed_rc, CS_ESERVER);
}

static void test_hw_retry_after_too_long_gives_up(void **state)
{
    struct fx *f = *state;
    struct step steps[] = {{429, "{\"error_code\":\"APIGW.0308\",\"error_msg\":\"slow down\"}", "120"}};
    script(f->srv, steps, 1);
    struct elb_cert_list l = {0};
    struct cs_err err;
    assert_int_equal(elb_list_certs(f->p, NULL, &l, &err), CS_ETHROTTLED);
    assert_int_equal(n_reqs(f->srv), 1);
    assert_int_equal(err.retry_after_ms, 120000);
    assert_string_equal(err.provider_code, "APIGW.0308");
}

static void test_hw_errors(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct step inuse[] = {{409, "{\"error_msg\":\"in use\",\"error_code\":\"ELB.8902\",\"request_id\":\"r9\"}"}};
    script(f->srv, inuse, 1);
    assert_int_equal(elb_delete_cert(f->p, NULL, "a", &err), CS_EINUSE);
    assert_string_equal(err.provider_code, "ELB.8902");
    assert_non_null(strstr(err.message, "r9"));
    assert_string_equal(f->srv->reqs[0].method, "DELETE");
    assert_false(err.retryable);

    struct step gone[] = {{404, "{\"error_msg\":\"nope\",\"error_code\":\"ELB.8904\"}"}};
    script(f->srv, gone, 1);
    assert_int_equal(elb_delete_cert(f->p, NULL, "a", &err), CS_ENOTFOUND);

    struct step ok[] = {{204, ""}};
    script(f->srv, ok, 1);
    assert_int_equal(elb_delete_cert(f->p, NULL, "a", &err), CS_OK);

    struct step auth[] = {{401, "{\"error_msg\":\"bad sig\",\"error_code\":\"APIGW.0301\"}"}};
    script(f->srv, auth, 1);
    assert_int_equal(elb_delete_cert(f->p, NULL, "a", &err), CS_EAUTH);
    assert_int_equal(n_reqs(f->srv), 1); /* never retried */
    assert_non_null(strstr(err.message, "rid-42")); /* request ID from the header */

    struct step bad[] = {{200, "{\"certificate\":{\"id\":\"a\",\"name\":"}}; /* truncated */
    script(f->srv, bad, 1);
    struct elb_cert c;
    assert_int_equal(elb_get_cert(f->p, NULL, "a", &c, &err), CS_EPROTO);
}

static const struct elb_cert_spec hw_spec = {
    .name = "k8s_plb_default_ns_web_1a2b",
    .description = "d",
    .certificate_pem = CERT_PEM,
    .private_key_pem = KEY_PEM,
    .protection_reason = "managed by elb-certsync cluster c1",
};

static void test_hw_create(void **state)
{
    struct fx *f = *state;
    struct step steps[] = {{201, "{\"request_id\":\"x\",\"certificate\":" HW_CERT("new1", "k8s_plb_default_ns_web_1a2b") "}"}};
    script(f->srv, steps, 1);
    struct elb_cert c;
    struct cs_err err;
    assert_int_equal(elb_create_cert(f->p, NULL, &hw_spec, &c, &err), CS_OK);
    assert_string_equal(c.id, "new1");
    assert_string_equal(f->srv->reqs[0].method, "POST");
    cJSON *body = cJSON_Parse(f->srv->reqs[0].body);
    assert_non_null(body);
    assert_string_equal(cs_json_path_str(body, "certificate.name"), hw_spec.name);
    assert_string_equal(cs_json_path_str(body, "certificate.type"), "server");
    assert_string_equal(cs_json_path_str(body, "certificate.private_key"), KEY_PEM);
    assert_string_equal(cs_json_path_str(body, "certificate.protection_status"),
                        "consoleProtection");
    assert_string_equal(cs_json_path_str(body, "certificate.protection_reason"),
                        hw_spec.protection_reason);
    assert_string_equal(cs_json_path_str(body, "certificate.description"), "d");
    cJSON_Delete(body);
    elb_cert_cleanup(&c);
}

static void test_hw_create_lost_answer_found(void **state)
{
    /* The create happened but its answer was lost: found by name, not created twice. */
    struct fx *f = *state;
    struct step steps[] = {
        {200, "{\"certificate\":" HW_CERT("a", "n") "}"},
        {.drop = true},
        {200, "{\"certificates\":[" HW_CERT("other", "k8s_plb_default_ns_web_1a2bX") ","
              HW_CERT("new1", "k8s_plb_default_ns_web_1a2b") "],\"page_info\":{}}"},
    };
    script(f->srv, steps, 3);
    struct elb_cert c;
    struct cs_err err;
    /* A read first leaves a kept-alive connection: libcurl would silently re-send a POST on a
     * reused connection that dies unanswered (a duplicate found against fake-elb). */
    assert_int_equal(elb_get_cert(f->p, NULL, "a", &c, &err), CS_OK);
    elb_cert_cleanup(&c);
    assert_int_equal(elb_create_cert(f->p, NULL, &hw_spec, &c, &err), CS_OK);
    assert_string_equal(c.id, "new1");
    assert_int_equal(n_reqs(f->srv), 3); /* GET, the one POST, the lookup */
    assert_string_equal(f->srv->reqs[1].method, "POST");
    assert_string_equal(f->srv->reqs[2].method, "GET");
    assert_non_null(strstr(f->srv->reqs[2].query, "name=k8s_plb_default_ns_web_1a2b"));
    elb_cert_cleanup(&c);
}

static void test_hw_create_lost_answer_not_created(void **state)
{
    /* The create did not happen: after looking, it is sent again, once. */
    struct fx *f = *state;
    struct step steps[] = {
        {502, "{\"error_msg\":\"bad gateway\"}"},
        {200, "{\"certificates\":[]}"},
        {201, "{\"certificate\":" HW_CERT("new2", "k8s_plb_default_ns_web_1a2b") "}"},
    };
    script(f->srv, steps, 3);
    struct elb_cert c;
    struct cs_err err;
    assert_int_equal(elb_create_cert(f->p, NULL, &hw_spec, &c, &err), CS_OK);
    assert_string_equal(c.id, "new2");
    assert_int_equal(n_reqs(f->srv), 3);
    assert_string_equal(f->srv->reqs[0].method, "POST");
    assert_string_equal(f->srv->reqs[2].method, "POST");
    elb_cert_cleanup(&c);
}

static void test_hw_create_rejected(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_cert c;
    struct step bad[] = {{400, "{\"error_msg\":\"Private_key or certificate content is not valid.\",\"error_code\":\"ELB.1011\"}"}};
    script(f->srv, bad, 1);
    assert_int_equal(elb_create_cert(f->p, NULL, &hw_spec, &c, &err), CS_EINVAL);
    assert_string_equal(err.provider_code, "ELB.1011");
    assert_int_equal(n_reqs(f->srv), 1);
    struct step quota[] = {{409, "{\"error_msg\":\"Quota exceeded for resources: ['certificate']\",\"error_code\":\"ELB.8905\"}"}};
    script(f->srv, quota, 1);
    assert_int_equal(elb_create_cert(f->p, NULL, &hw_spec, &c, &err), CS_EQUOTA);
    /* Refused locally, before any request. */
    script(f->srv, NULL, 0);
    struct elb_cert_spec nokey = hw_spec;
    nokey.private_key_pem = NULL;
    assert_int_equal(elb_create_cert(f->p, NULL, &nokey, &c, &err), CS_EINVAL);
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct elb_cert_spec toolong = hw_spec;
    toolong.name = longname;
    assert_int_equal(elb_create_cert(f->p, NULL, &toolong, &c, &err), CS_EINVAL);
    assert_int_equal(n_reqs(f->srv), 0);
    /* The key never appears in an error message. */
    assert_null(strstr(err.message, "S0VZ"));
}

#define HW_LISTENER(id, lb, port, def) \
    "{\"id\":\"" id "\",\"name\":\"l\",\"protocol\":\"HTTPS\",\"protocol_port\":" #port \
    ",\"loadbalancers\":[{\"id\":\"" lb "\"}],\"default_tls_container_ref\":" def \
    ",\"sni_container_refs\":[\"s1\",\"s2\"]}"

static void test_hw_listeners(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct step find[] = {{200, "{\"listeners\":[" HW_LISTENER("l1", "lb1", 443, "\"c1\"") "]}"}};
    script(f->srv, find, 1);
    struct elb_listener_ref ref = {.lb_id = "lb1", .port = 443};
    struct elb_listener l;
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_OK);
    assert_string_equal(l.id, "l1");
    assert_string_equal(l.default_cert_id, "c1");
    assert_int_equal(l.n_sni, 2);
    assert_int_equal(l.kind, ELB_LISTENER_SNI);
    assert_non_null(strstr(f->srv->reqs[0].query, "loadbalancer_id=lb1"));
    assert_non_null(strstr(f->srv->reqs[0].query, "protocol_port=443"));
    assert_non_null(strstr(f->srv->reqs[0].query, "protocol=HTTPS"));

    struct step put[] = {{200, "{\"listener\":" HW_LISTENER("l1", "lb1", 443, "\"c9\"") "}"}};
    script(f->srv, put, 1);
    const char *sni[] = {"s3", "s4"};
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "c9", sni, 2, &err), CS_OK);
    assert_string_equal(f->srv->reqs[0].method, "PUT");
    assert_string_equal(f->srv->reqs[0].url, "/v3/p1/elb/listeners/l1");
    assert_string_equal(f->srv->reqs[0].body,
                        "{\"listener\":{\"sni_container_refs\":[\"s3\",\"s4\"],"
                        "\"default_tls_container_ref\":\"c9\"}}");
    /* No default: refused locally. */
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, NULL, NULL, 0, &err), CS_EINVAL);
    elb_listener_cleanup(&l);

    /* A port with no HTTPS listener (the server ignored the filter: we check ourselves). */
    struct step other[] = {{200, "{\"listeners\":[" HW_LISTENER("l2", "lb1", 8443, "null") "]}"}};
    script(f->srv, other, 1);
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_ENOTFOUND);

    struct step all[] = {
        {200, "{\"listeners\":[" HW_LISTENER("l1", "lb1", 443, "\"c1\"") ","
              "{\"id\":\"h\",\"protocol\":\"HTTP\",\"protocol_port\":80}],\"page_info\":{}}"}};
    script(f->srv, all, 1);
    struct elb_listener_list ll = {0};
    assert_int_equal(elb_list_listeners(f->p, NULL, &ll, &err), CS_OK);
    assert_int_equal(ll.n, 1); /* HTTP listener dropped */
    elb_listener_list_cleanup(&ll);
}

/* ---- UCloud ---------------------------------------------------------------------------- */

/* Decodes a form body into params (malloc'd strings) and checks its signature. */
static size_t form_decode(const char *body, char **keys, char **vals, size_t max)
{
    size_t n = 0;
    char *copy = strdup(body);
    char *save = NULL;
    for (char *kv = strtok_r(copy, "&", &save); kv && n < max; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        assert_non_null(eq);
        *eq = '\0';
        char *parts[2] = {kv, eq + 1};
        char *out[2];
        for (int j = 0; j < 2; j++) {
            char *d = malloc(strlen(parts[j]) + 1), *o = d;
            for (const char *s = parts[j]; *s; s++) {
                if (*s == '%' && s[1] && s[2]) {
                    char hex[3] = {s[1], s[2], 0};
                    *o++ = (char)strtol(hex, NULL, 16);
                    s += 2;
                } else {
                    *o++ = *s == '+' ? ' ' : *s;
                }
            }
            *o = '\0';
            out[j] = d;
        }
        keys[n] = out[0];
        vals[n] = out[1];
        n++;
    }
    free(copy);
    return n;
}

static const char *form_get(char **keys, char **vals, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0)
            return vals[i];
    return NULL;
}

static void form_check_signature(const char *body)
{
    char *k[64], *v[64];
    size_t n = form_decode(body, k, v, 64);
    struct elb_query_param p[64];
    for (size_t i = 0; i < n; i++)
        p[i] = (struct elb_query_param){k[i], v[i]};
    char sig[41];
    assert_int_equal(elb_ucloud_signature(p, n, UC_PRIV, sig, NULL), CS_OK);
    assert_string_equal(form_get(k, v, n, "Signature"), sig);
    assert_string_equal(form_get(k, v, n, "PublicKey"), UC_PUB);
    assert_string_equal(form_get(k, v, n, "Region"), "r1");
    assert_string_equal(form_get(k, v, n, "ProjectId"), "org-1");
    for (size_t i = 0; i < n; i++) {
        free(k[i]);
        free(v[i]);
    }
}

static char *form_value(const char *body, const char *key)
{
    char *k[64], *v[64];
    size_t n = form_decode(body, k, v, 64);
    const char *x = form_get(k, v, n, key);
    char *r = x ? strdup(x) : NULL;
    for (size_t i = 0; i < n; i++) {
        free(k[i]);
        free(v[i]);
    }
    return r;
}

static void assert_form(struct fx *f, size_t i, const char *key, const char *want)
{
    char *v = form_value(f->srv->reqs[i].body, key);
    if (!want) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

#define UC_SSL(id, name) \
    "{\"SSLId\":\"" id "\",\"SSLName\":\"" name "\",\"SSLType\":\"Pem\",\"SSLContent\":\"" \
    "-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIUQ1VzZXJDZXJ0\\n-----END CERTIFICATE-----\\n" \
    "-----BEGIN PRIVATE KEY-----\\nS0VZ\\n-----END PRIVATE KEY-----\\n\",\"CreateTime\":1700000000," \
    "\"BindedTargetSet\":[{\"ULBId\":\"ulb-1\",\"VServerId\":\"vs-1\"}]}"

static void test_uc_list_pages(void **state)
{
    struct fx *f = *state;
    struct step steps[] = {
        {200, "{\"RetCode\":0,\"Action\":\"DescribeSSLResponse\",\"TotalCount\":3,\"DataSet\":[" UC_SSL("ssl-1", "a") "," UC_SSL("ssl-2", "b") "]}"},
        {200, "{\"RetCode\":0,\"Action\":\"DescribeSSLResponse\",\"TotalCount\":3,\"DataSet\":[" UC_SSL("ssl-3", "c") "]}"},
    };
    script(f->srv, steps, 2);
    struct elb_cert_list l = {0};
    struct cs_err err;
    assert_int_equal(elb_list_certs(f->p, NULL, &l, &err), CS_OK);
    assert_int_equal(l.n, 3);
    assert_int_equal(n_reqs(f->srv), 2);
    form_check_signature(f->srv->reqs[0].body);
    assert_form(f, 0, "Action", "DescribeSSL");
    assert_form(f, 0, "Offset", "0");
    assert_form(f, 0, "Limit", "2");
    assert_form(f, 1, "Offset", "2");
    /* The key in SSLContent is dropped; bindings are reported. */
    assert_null(strstr(l.items[0].certificate, "PRIVATE KEY"));
    assert_non_null(strstr(l.items[0].certificate, "BEGIN CERTIFICATE"));
    assert_true(l.items[0].bindings_known);
    assert_int_equal(l.items[0].n_bindings, 1);
    assert_string_equal(l.items[0].bindings[0].listener_id, "vs-1");
    assert_int_equal(l.items[0].created_ms, 1700000000000LL);
    elb_cert_list_cleanup(&l);
}

static const struct elb_cert_spec uc_spec = {
    .name = "k8s_plb_default_ns_web_1a2b",
    .certificate_pem = CERT_PEM CA_PEM,
    .private_key_pem = KEY_PEM,
};

static void test_uc_create(void **state)
{
    struct fx *f = *state;
    struct step steps[] = {{200, "{\"RetCode\":0,\"Action\":\"CreateSSLResponse\",\"SSLId\":\"ssl-9\"}"}};
    script(f->srv, steps, 1);
    struct elb_cert c;
    struct cs_err err;
    assert_int_equal(elb_create_cert(f->p, NULL, &uc_spec, &c, &err), CS_OK);
    assert_string_equal(c.id, "ssl-9");
    assert_string_equal(c.name, uc_spec.name);
    form_check_signature(f->srv->reqs[0].body);
    assert_form(f, 0, "Action", "CreateSSL");
    assert_form(f, 0, "SSLType", "Pem");
    assert_form(f, 0, "UserCert", CERT_PEM);
    assert_form(f, 0, "CaCert", CA_PEM);
    assert_form(f, 0, "PrivateKey", KEY_PEM);
    elb_cert_cleanup(&c);

    /* Names UCloud would refuse are refused here, before any request. */
    script(f->srv, NULL, 0);
    struct elb_cert_spec bad = uc_spec;
    bad.name = "has space";
    assert_int_equal(elb_create_cert(f->p, NULL, &bad, &c, &err), CS_EINVAL);
    assert_int_equal(n_reqs(f->srv), 0);
}

static void test_uc_create_lost_answer(void **state)
{
    struct fx *f = *state;
    struct step steps[] = {
        {.drop = true},
        {200, "{\"RetCode\":0,\"TotalCount\":1,\"DataSet\":[" UC_SSL("ssl-7", "k8s_plb_default_ns_web_1a2b") "]}"},
    };
    script(f->srv, steps, 2);
    struct elb_cert c;
    struct cs_err err;
    assert_int_equal(elb_create_cert(f->p, NULL, &uc_spec, &c, &err), CS_OK);
    assert_string_equal(c.id, "ssl-7");
    assert_int_equal(n_reqs(f->srv), 2);
    assert_form(f, 1, "Action", "DescribeSSL");
    elb_cert_cleanup(&c);
}

static void test_uc_errors(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct step inuse[] = {{200, "{\"RetCode\":4108,\"Action\":\"DeleteSSLResponse\",\"Message\":\"SSL证书已被占用\"}"}};
    script(f->srv, inuse, 1);
    assert_int_equal(elb_delete_cert(f->p, NULL, "ssl-1", &err), CS_EINUSE);
    assert_string_equal(err.provider_code, "4108");
    assert_int_equal(n_reqs(f->srv), 1);

    struct step thr[] = {
        {200, "{\"RetCode\":153,\"Message\":\"too frequent\"}"},
        {200, "{\"RetCode\":0,\"Action\":\"DeleteSSLResponse\"}"},
    };
    script(f->srv, thr, 2);
    assert_int_equal(elb_delete_cert(f->p, NULL, "ssl-1", &err), CS_OK);
    assert_int_equal(n_reqs(f->srv), 2);

    struct step nf[] = {{200, "{\"RetCode\":4079,\"Message\":\"SSL certificate ssl-1 not found in region r1\"}"}};
    script(f->srv, nf, 1);
    assert_int_equal(elb_delete_cert(f->p, NULL, "ssl-1", &err), CS_ENOTFOUND);

    struct step noret[] = {{200, "{\"Action\":\"DeleteSSLResponse\"}"}};
    script(f->srv, noret, 1);
    assert_int_equal(elb_delete_cert(f->p, NULL, "ssl-1", &err), CS_EPROTO);

    struct step empty[] = {{200, "{\"RetCode\":0,\"TotalCount\":0,\"DataSet\":[]}"}};
    script(f->srv, empty, 1);
    struct elb_cert c;
    assert_int_equal(elb_get_cert(f->p, NULL, "ssl-404", &c, &err), CS_ENOTFOUND);
    assert_form(f, 0, "SSLId", "ssl-404");
}

#define UC_ULB(ssl) \
    "{\"RetCode\":0,\"TotalCount\":1,\"DataSet\":[{\"ULBId\":\"ulb-1\",\"ULBType\":\"classic\"," \
    "\"VServerSet\":[{\"VServerId\":\"vs-80\",\"Protocol\":\"HTTP\",\"FrontendPort\":80}," \
    "{\"VServerId\":\"vs-443\",\"VServerName\":\"web\",\"Protocol\":\"HTTPS\",\"FrontendPort\":443," \
    "\"SSLSet\":[" ssl "]}]}]}"

static void test_uc_classic_binding(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_listener l;
    struct elb_listener_ref ref = {.lb_id = "ulb-1", .port = 443};

    struct step none[] = {{200, UC_ULB("")}, {200, "{\"RetCode\":0}"}};
    script(f->srv, none, 2);
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_OK);
    assert_string_equal(l.id, "vs-443");
    assert_int_equal(l.kind, ELB_LISTENER_SINGLE);
    assert_null(l.default_cert_id);
    assert_form(f, 0, "ULBId", "ulb-1");
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-new", NULL, 0, &err), CS_OK);
    assert_form(f, 1, "Action", "BindSSL");
    assert_form(f, 1, "SSLId", "ssl-new");
    assert_form(f, 1, "VServerId", "vs-443");
    elb_listener_cleanup(&l);

    struct step one[] = {{200, UC_ULB("{\"SSLId\":\"ssl-old\",\"SSLName\":\"x\"}")},
                         {200, "{\"RetCode\":0}"}};
    script(f->srv, one, 2);
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_OK);
    assert_string_equal(l.default_cert_id, "ssl-old");
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-new", NULL, 0, &err), CS_OK);
    form_check_signature(f->srv->reqs[1].body);
    assert_form(f, 1, "Action", "UpdateSSLBinding");
    assert_form(f, 1, "OldSSLId", "ssl-old");
    assert_form(f, 1, "NewSSLId", "ssl-new");
    assert_form(f, 1, "LoadBalancerId", "ulb-1");
    assert_form(f, 1, "ListenerId", "vs-443");
    /* Same certificate: nothing to do. SNI on a classic VServer: unsupported. */
    script(f->srv, NULL, 0);
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-old", NULL, 0, &err), CS_OK);
    const char *sni[] = {"ssl-x"};
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-old", sni, 1, &err),
                     CS_EUNSUPPORTED);
    assert_int_equal(n_reqs(f->srv), 0);
    elb_listener_cleanup(&l);

    struct step noport[] = {{200, UC_ULB("")}};
    script(f->srv, noport, 1);
    ref.port = 8443;
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_ENOTFOUND);
    /* no such ULB, nor ALB (DescribeListeners is asked too: test_uc_alb_find) */
    struct step nolb[] = {{200, "{\"RetCode\":0,\"TotalCount\":0,\"DataSet\":[]}"},
                          {200, "{\"RetCode\":4072,\"Message\":\"ulb-1 not found\"}"}};
    script(f->srv, nolb, 2);
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_ENOTFOUND);
    assert_non_null(strstr(err.message, "ulb-1"));
}

#define UC_ALB_LS_(certs) \
    "{\"RetCode\":0,\"TotalCount\":1,\"Listeners\":[{\"ListenerId\":\"als-1\"," \
    "\"ListenerPort\":443,\"ListenerProtocol\":\"HTTPS\",\"Certificates\":[" certs "]}]}"

static void test_uc_alb_binding(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_listener l;
    struct elb_listener_ref ref = {.lb_id = "alb-1", .port = 443};
#define ALB_D_S1_S2 \
    "{\"RetCode\":0,\"TotalCount\":1,\"Listeners\":[{\"ListenerId\":\"als-1\"," \
    "\"ListenerPort\":443,\"ListenerProtocol\":\"HTTPS\",\"Certificates\":[" \
    "{\"SSLId\":\"ssl-d\",\"IsDefault\":true},{\"SSLId\":\"ssl-s1\",\"IsDefault\":false}," \
    "{\"SSLId\":\"ssl-s2\",\"IsDefault\":false}]}]}"
    struct step steps[] = {
        {200, ALB_D_S1_S2},         {200, ALB_D_S1_S2},     {200, "{\"RetCode\":0}"},
        {200, "{\"RetCode\":0}"}, {200, "{\"RetCode\":0}"},
    };
    script(f->srv, steps, 5);
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_OK);
    assert_int_equal(l.kind, ELB_LISTENER_SNI);
    assert_string_equal(l.default_cert_id, "ssl-d");
    assert_int_equal(l.n_sni, 2);
    assert_form(f, 0, "Action", "DescribeListeners");
    assert_form(f, 0, "LoadBalancerId", "alb-1");
    assert_form(f, 0, "ListenerId", NULL); /* with it the API ignores LoadBalancerId */
    const char *sni[] = {"ssl-s2", "ssl-s3"};
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-d2", sni, 2, &err), CS_OK);
    /* read the listener as it is now; add first, then switch the default, then remove:
     * never without a certificate */
    assert_int_equal(n_reqs(f->srv), 5);
    assert_form(f, 1, "Action", "DescribeListeners");
    assert_form(f, 2, "Action", "AddSSLBinding");
    assert_form(f, 2, "SSLIds.0", "ssl-s3");
    assert_form(f, 2, "SSLIds.1", NULL);
    assert_form(f, 3, "Action", "UpdateListenerAttribute");
    assert_form(f, 3, "Certificates.0", "ssl-d2");
    assert_form(f, 4, "Action", "DeleteSSLBinding");
    assert_form(f, 4, "SSLIds.0", "ssl-s1");
    assert_form(f, 4, "ListenerId", "als-1");

    /* The caller's view is stale (someone removed ssl-s1 and added ssl-x by hand): the
     * changes follow the listener as it is, not as the caller saw it. */
    struct step stale[] = {
        {200, UC_ALB_LS_("{\"SSLId\":\"ssl-d\",\"IsDefault\":true},"
                         "{\"SSLId\":\"ssl-s2\",\"IsDefault\":false},"
                         "{\"SSLId\":\"ssl-x\",\"IsDefault\":false}")},
        {200, "{\"RetCode\":0}"},
    };
    script(f->srv, stale, 2);
    const char *keep[] = {"ssl-s2"};
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-d", keep, 1, &err), CS_OK);
    assert_int_equal(n_reqs(f->srv), 2);
    assert_form(f, 1, "Action", "DeleteSSLBinding");
    assert_form(f, 1, "SSLIds.0", "ssl-x");
    assert_form(f, 1, "SSLIds.1", NULL);
    /* the listener is gone: not found (the controller forgets it) */
    struct step gone[] = {{200, "{\"RetCode\":0,\"TotalCount\":0,\"Listeners\":[]}"}};
    script(f->srv, gone, 1);
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-d", keep, 1, &err),
                     CS_ENOTFOUND);
    assert_non_null(strstr(err.message, "als-1"));
    elb_listener_cleanup(&l);
#undef ALB_D_S1_S2
}

#define UC_ALB_LS(certs) UC_ALB_LS_(certs)

/* The default becomes SNI and an SNI certificate the default: the old default can be added
 * as SNI only once it is no longer the default; nothing is removed (the new default leaves the
 * SNI set by being made the default). */
static void test_uc_alb_swap(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_listener l;
    struct elb_listener_ref ref = {.lb_id = "alb-1", .port = 443};
#define ALB_D_S UC_ALB_LS("{\"SSLId\":\"ssl-d\",\"IsDefault\":true}," \
                          "{\"SSLId\":\"ssl-s\",\"IsDefault\":false}")
    struct step steps[] = {
        {200, ALB_D_S}, {200, ALB_D_S}, {200, "{\"RetCode\":0}"}, {200, "{\"RetCode\":0}"},
    };
    script(f->srv, steps, 4);
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_OK);
    const char *sni[] = {"ssl-d", "ssl-s", "ssl-d"}; /* ssl-s (the default) and a repeat drop */
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-s", sni, 3, &err), CS_OK);
    assert_int_equal(n_reqs(f->srv), 4);
    form_check_signature(f->srv->reqs[2].body);
    assert_form(f, 2, "Action", "UpdateListenerAttribute");
    assert_form(f, 2, "Certificates.0", "ssl-s");
    assert_form(f, 2, "Certificates.1", NULL);
    assert_form(f, 3, "Action", "AddSSLBinding");
    assert_form(f, 3, "SSLIds.0", "ssl-d");
    assert_form(f, 3, "SSLIds.1", NULL);
    /* nothing to change: only the read */
    struct step read[] = {{200, ALB_D_S}};
    script(f->srv, read, 1);
    const char *same[] = {"ssl-s"};
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-d", same, 1, &err), CS_OK);
    assert_int_equal(n_reqs(f->srv), 1);
#undef ALB_D_S
    elb_listener_cleanup(&l);
}

/* At 25 SNI certificates, a replacement removes first (it would not fit otherwise); 26 wanted
 * is refused before any request; a failed step stops the sequence. */
static void test_uc_alb_limit_and_failure(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_listener l;
    memset(&l, 0, sizeof(l));
    l.kind = ELB_LISTENER_SNI;
    l.id = strdup("als-1");
    l.lb_id = strdup("alb-1");
    l.default_cert_id = strdup("ssl-d");
    l.sni_cert_ids = calloc(25, sizeof(char *));
    char *want[26];
    for (int i = 0; i < 25; i++) {
        char id[16];
        snprintf(id, sizeof(id), "ssl-%02d", i);
        l.sni_cert_ids[l.n_sni++] = strdup(id);
        want[i] = strdup(id);
    }
    want[25] = strdup("ssl-new");
    /* the listener as read: ssl-d and ssl-00 .. ssl-24 (n_sni of them) */
    static char read25[4096], read23[4096];
    for (int k = 0; k < 2; k++) {
        char *b = k ? read23 : read25;
        int n = k ? 23 : 25;
        size_t o = (size_t)snprintf(b, 4096, "{\"RetCode\":0,\"TotalCount\":1,\"Listeners\":"
                                             "[{\"ListenerId\":\"als-1\",\"ListenerProtocol\":"
                                             "\"HTTPS\",\"Certificates\":[{\"SSLId\":\"ssl-d\","
                                             "\"IsDefault\":true}");
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(b + o, 4096 - o, ",{\"SSLId\":\"ssl-%02d\"}", i);
        snprintf(b + o, 4096 - o, "]}]}");
    }
    struct step steps[] = {{200, read25}, {200, "{\"RetCode\":0}"}, {200, "{\"RetCode\":0}"}};
    script(f->srv, steps, 3);
    /* ssl-00 out, ssl-new in */
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-d",
                                            (const char *const *)want + 1, 25, &err),
                     CS_OK);
    assert_int_equal(n_reqs(f->srv), 3);
    assert_form(f, 1, "Action", "DeleteSSLBinding");
    assert_form(f, 1, "SSLIds.0", "ssl-00");
    assert_form(f, 1, "SSLIds.1", NULL);
    assert_form(f, 2, "Action", "AddSSLBinding");
    assert_form(f, 2, "SSLIds.0", "ssl-new");
    /* 26 SNI certificates: refused, nothing sent */
    script(f->srv, NULL, 0);
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-d",
                                            (const char *const *)want, 26, &err),
                     CS_EINVAL);
    assert_non_null(strstr(err.message, "25"));
    assert_int_equal(n_reqs(f->srv), 0);
    /* below the limit: add first; when the add fails, the default is not touched */
    free(l.sni_cert_ids[24]);
    free(l.sni_cert_ids[23]);
    l.n_sni = 23;
    struct step fails[] = {
        {200, read23},
        {200, "{\"RetCode\":4999,\"Action\":\"AddSSLBindingResponse\",\"Message\":\"failed\"}"}};
    script(f->srv, fails, 2);
    assert_int_equal(elb_set_listener_certs(f->p, NULL, &l, "ssl-other",
                                            (const char *const *)want + 1, 24, &err),
                     CS_ESERVER);
    assert_int_equal(n_reqs(f->srv), 2);
    assert_form(f, 1, "Action", "AddSSLBinding");
    assert_form(f, 1, "SSLIds.0", "ssl-23");
    assert_form(f, 1, "SSLIds.1", "ssl-24");
    assert_form(f, 1, "SSLIds.2", NULL);
    assert_string_equal(err.provider_code, "4999");
    for (int i = 0; i < 26; i++)
        free(want[i]);
    elb_listener_cleanup(&l);
}

/* An ALB whose ID does not start with "alb-" is found after DescribeULB knows no such ULB;
 * an ID neither kind knows is "not found"; a listener ID alone searches every listener of
 * the region (classic and ALB). */
static void test_uc_alb_find(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_listener l;
    struct elb_listener_ref ref = {.lb_id = "lb-odd", .port = 443};
    struct step odd[] = {
        {200, "{\"RetCode\":0,\"TotalCount\":0,\"DataSet\":[]}"},
        {200, UC_ALB_LS("{\"SSLId\":\"ssl-d\",\"IsDefault\":true}")},
    };
    script(f->srv, odd, 2);
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_OK);
    assert_form(f, 0, "Action", "DescribeULB");
    assert_form(f, 0, "ULBId", "lb-odd");
    assert_form(f, 1, "Action", "DescribeListeners");
    assert_form(f, 1, "LoadBalancerId", "lb-odd");
    assert_string_equal(l.id, "als-1");
    assert_string_equal(l.lb_id, "lb-odd");
    assert_int_equal(l.kind, ELB_LISTENER_SNI);
    elb_listener_cleanup(&l);

    struct step none[] = {
        {200, "{\"RetCode\":0,\"TotalCount\":0,\"DataSet\":[]}"},
        {200, "{\"RetCode\":4072,\"Action\":\"DescribeListenersResponse\",\"Message\":"
              "\"application load balancer lb-odd not found\"}"},
    };
    script(f->srv, none, 2);
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_ENOTFOUND);
    assert_non_null(strstr(err.message, "lb-odd"));
    struct step alb_none[] = {
        {200, "{\"RetCode\":4072,\"Message\":\"application load balancer alb-9 not found\"}"}};
    script(f->srv, alb_none, 1);
    struct elb_listener_ref ref9 = {.lb_id = "alb-9", .port = 443};
    assert_int_equal(elb_find_listener(f->p, NULL, &ref9, &l, &err), CS_ENOTFOUND);
    assert_non_null(strstr(err.message, "alb-9"));
    assert_int_equal(n_reqs(f->srv), 1);
    /* throttling on the fallback is reported as such, not as "not found" */
    struct step thr[] = {
        {200, "{\"RetCode\":0,\"TotalCount\":0,\"DataSet\":[]}"},
        {200, "{\"RetCode\":4999,\"Message\":\"internal\"}"},
    };
    script(f->srv, thr, 2);
    assert_int_equal(elb_find_listener(f->p, NULL, &ref, &l, &err), CS_ESERVER);

    /* by listener ID only: DescribeULB and DescribeLoadBalancers */
    struct step by_id[] = {
        {200, UC_ULB("")},
        {200, "{\"RetCode\":0,\"TotalCount\":1,\"LoadBalancers\":[{\"LoadBalancerId\":\"alb-7\","
              "\"Type\":\"Application\",\"Listeners\":[{\"ListenerId\":\"als-7\","
              "\"ListenerPort\":8443,\"ListenerProtocol\":\"HTTPS\",\"Certificates\":["
              "{\"SSLId\":\"ssl-7\",\"IsDefault\":true}]}]}]}"},
    };
    script(f->srv, by_id, 2);
    struct elb_listener_ref ref7 = {.listener_id = "als-7"};
    assert_int_equal(elb_find_listener(f->p, NULL, &ref7, &l, &err), CS_OK);
    assert_string_equal(l.lb_id, "alb-7");
    assert_int_equal(l.port, 8443);
    assert_string_equal(l.default_cert_id, "ssl-7");
    assert_form(f, 1, "Action", "DescribeLoadBalancers");
    elb_listener_cleanup(&l);
}

/* The region's listeners: classic VServers (DescribeULB) and ALB listeners
 * (DescribeLoadBalancers Type=Application ShowDetail=true, paged). An endpoint without the
 * ALB API (RetCode 161) lists the classic ones; any other failure fails the list. */
static void test_uc_list_listeners_alb(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_listener_list ll = {0};
#define UC_LB(id, ls) "{\"LoadBalancerId\":\"" id "\",\"Type\":\"Application\",\"Listeners\":[" ls "]}"
#define UC_LS(id, port, proto) \
    "{\"ListenerId\":\"" id "\",\"ListenerPort\":" port ",\"ListenerProtocol\":\"" proto "\"," \
    "\"Certificates\":[{\"SSLId\":\"ssl-" id "\",\"IsDefault\":true}]}"
    struct step steps[] = {
        {200, UC_ULB("{\"SSLId\":\"ssl-c\"}")},
        {200, "{\"RetCode\":0,\"TotalCount\":3,\"LoadBalancers\":[" UC_LB("alb-1", UC_LS("als-1", "443", "HTTPS") "," UC_LS("als-2", "80", "HTTP")) "," UC_LB("alb-2", "") "]}"},
        {200, "{\"RetCode\":0,\"TotalCount\":3,\"LoadBalancers\":[" UC_LB("alb-3", UC_LS("als-3", "8443", "HTTPS")) "]}"},
    };
    script(f->srv, steps, 3);
    assert_int_equal(elb_list_listeners(f->p, NULL, &ll, &err), CS_OK);
    assert_int_equal(ll.n, 3);
    assert_string_equal(ll.items[0].id, "vs-443");
    assert_int_equal(ll.items[0].kind, ELB_LISTENER_SINGLE);
    assert_string_equal(ll.items[1].id, "als-1");
    assert_string_equal(ll.items[1].lb_id, "alb-1");
    assert_string_equal(ll.items[1].default_cert_id, "ssl-als-1");
    assert_int_equal(ll.items[1].kind, ELB_LISTENER_SNI);
    assert_string_equal(ll.items[2].lb_id, "alb-3");
    assert_int_equal(n_reqs(f->srv), 3);
    form_check_signature(f->srv->reqs[1].body);
    assert_form(f, 1, "Action", "DescribeLoadBalancers");
    assert_form(f, 1, "Type", "Application");
    assert_form(f, 1, "ShowDetail", "true");
    assert_form(f, 1, "Offset", "0");
    assert_form(f, 2, "Offset", "2");
    elb_listener_list_cleanup(&ll);

    struct step no_alb[] = {
        {200, UC_ULB("")},
        {200, "{\"RetCode\":161,\"Action\":\"DescribeLoadBalancersResponse\",\"Message\":"
              "\"Action DescribeLoadBalancers not exist\"}"},
    };
    script(f->srv, no_alb, 2);
    assert_int_equal(elb_list_listeners(f->p, NULL, &ll, &err), CS_OK);
    assert_int_equal(ll.n, 1);
    elb_listener_list_cleanup(&ll);
    struct step broken[] = {
        {200, UC_ULB("")},
        {200, "{\"RetCode\":172,\"Message\":\"user not exist\"}"},
    };
    script(f->srv, broken, 2);
    assert_int_equal(elb_list_listeners(f->p, NULL, &ll, &err), CS_EAUTH);
    assert_int_equal(ll.n, 0);
#undef UC_LB
#undef UC_LS
}

/* The ALB answer parsers on malformed and truncated input: a clear error, nothing appended. */
static void test_uc_alb_parse(void **state)
{
    (void)state;
    struct {
        bool lbs; /* DescribeLoadBalancers (else DescribeListeners) */
        const char *body;
        enum cs_code want;
        size_t n; /* listeners appended on success */
    } cases[] = {
        {false, "{\"Listeners\":[{\"ListenerId\":\"a\",\"ListenPort\":443,"
                "\"ListenProtocol\":\"HTTPS\",\"Certificates\":[{\"SSLId\":\"s\"}]}]}", CS_OK, 1},
        {false, "{\"Listeners\":[{\"ListenerId\":\"a\",\"ListenerProtocol\":\"HTTP\"}]}", CS_OK, 0},
        {false, "{\"Listeners\":null}", CS_OK, 0},
        {false, "{\"Listeners\":{}}", CS_EPROTO, 0},
        {false, "{\"Listeners\":[{\"ListenerProtocol\":\"HTTPS\"}]}", CS_EPROTO, 0},
        {false, "{\"Listeners\":[{\"ListenerId\":\"\",\"ListenerProtocol\":\"HTTPS\"}]}", CS_EPROTO, 0},
        {false, "{\"Listeners\":[{\"ListenerId\":\"a\",\"ListenerPort\":\"443\","
                "\"ListenerProtocol\":\"HTTPS\"}]}", CS_EPROTO, 0},
        {false, "{\"Listeners\":[{\"ListenerId\":\"a\",\"ListenerPort\":70000,"
                "\"ListenerProtocol\":\"HTTPS\"}]}", CS_EPROTO, 0},
        {false, "{\"Listeners\":[{\"ListenerId\":\"a\",\"ListenerProtocol\":\"HTTPS\","
                "\"Certificates\":\"ssl-1\"}]}", CS_EPROTO, 0},
        {false, "{\"Listeners\":[{\"ListenerId\":\"a\",\"ListenerProtocol\":\"HTTPS\","
                "\"Certificates\":[{\"IsDefault\":true}]}]}", CS_EPROTO, 0},
        {false, "{\"Listeners\":[{\"ListenerId\":\"a\",\"ListenerProtocol\":\"HTTPS\","
                "\"Certificates\":[\"ssl-1\"]}]}", CS_EPROTO, 0},
        {false, "{\"Listeners\":[7]}", CS_EPROTO, 0},
        {false, "{\"Listeners\":[{\"ListenerId\":\"a\",\"ListenerProtocol\":\"HTTPS\"},", CS_EPROTO, 0},
        {false, "", CS_EPROTO, 0},
        {true, "{\"LoadBalancers\":[{\"LoadBalancerId\":\"alb-1\",\"Listeners\":[{\"ListenerId\":"
               "\"a\",\"ListenerProtocol\":\"HTTPS\"}]},{\"LoadBalancerId\":\"nlb-1\",\"Type\":"
               "\"Network\",\"Listeners\":[{\"ListenerId\":\"b\",\"ListenerProtocol\":\"HTTPS\"}]}]}",
         CS_OK, 1},
        {true, "{\"LoadBalancers\":[{\"LoadBalancerId\":\"alb-1\"}]}", CS_OK, 0},
        {true, "{\"LoadBalancers\":[{\"Listeners\":[]}]}", CS_EPROTO, 0},
        {true, "{\"LoadBalancers\":[\"alb-1\"]}", CS_EPROTO, 0},
        {true, "{\"LoadBalancers\":\"alb-1\"}", CS_EPROTO, 0},
        {true, "{\"LoadBalancers\":[{\"LoadBalancerId\":\"alb-1\",\"Listeners\":7}]}", CS_EPROTO, 0},
        {true, "{\"LoadBalancers\":[{\"LoadBalancerId\":\"alb-1\",\"Listeners\":[{\"ListenerId\":"
               "\"a\",\"ListenerProtocol\":\"HTTPS\"},{\"ListenerProtocol\":\"HTTPS\"}]}]}",
         CS_EPROTO, 0},
        {true, "[]", CS_EPROTO, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct elb_listener_list ll = {0};
        struct cs_err err;
        size_t n = 0;
        long total = 0;
        const char *b = cases[i].body;
        enum cs_code rc =
            cases[i].lbs ? elb_ucloud_parse_alb_lbs(b, strlen(b), &ll, &n, &total, &err)
                         : elb_ucloud_parse_alb_listeners(b, strlen(b), "alb-x", &ll, &n, &total,
                                                          &err);
        if (rc != cases[i].want || ll.n != cases[i].n)
            fail_msg("case %zu: rc %d (want %d), %zu listeners (want %zu)", i, rc,
                     cases[i].want, ll.n, cases[i].n);
        if (rc == CS_OK && ll.n) {
            assert_int_equal(ll.items[0].kind, ELB_LISTENER_SNI);
            assert_string_equal(ll.items[0].lb_id, cases[i].lbs ? "alb-1" : "alb-x");
        }
        elb_listener_list_cleanup(&ll);
    }
}

/* ---- construction and credentials ------------------------------------------------------ */

static void test_credentials_errors(void **state)
{
    struct fx f0 = {0};
    struct server *srv = server_start();
    f0.srv = srv;
    struct elb_provider *p = NULL;
    struct cs_err err;

    snprintf(f0.cred_path, sizeof(f0.cred_path), "/tmp/elb-test-none-XXXXXX");
    write_file(f0.cred_path, "x=1\n", 0600);
    unlink(f0.cred_path);
    struct elb_provider_config cfg = base_cfg(&f0, "huawei");
    assert_int_equal(elb_provider_new(&cfg, &p, &err), CS_ENOTFOUND);
    assert_non_null(strstr(err.message, f0.cred_path));

    snprintf(f0.cred_path, sizeof(f0.cred_path), "/tmp/elb-test-cred-XXXXXX");
    write_file(f0.cred_path, "HUAWEICLOUD_SDK_AK=SECRETAK\n", 0644);
    cfg = base_cfg(&f0, "huawei");
    assert_int_equal(elb_provider_new(&cfg, &p, &err), CS_EINVAL);
    assert_non_null(strstr(err.message, "HUAWEICLOUD_SDK_SK"));
    assert_null(strstr(err.message, "SECRETAK"));
    assert_null(p);
    unlink(f0.cred_path);

    snprintf(f0.cred_path, sizeof(f0.cred_path), "/tmp/elb-test-cred-XXXXXX");
    write_file(f0.cred_path, "UCLOUD_PUBLIC_KEY=a\nUCLOUD_PRIVATE_KEY=b\n", 0644);
    bool loose = false;
    cfg = base_cfg(&f0, "ucloud");
    cfg.loose_permissions = &loose;
    assert_int_equal(elb_provider_new(&cfg, &p, &err), CS_OK);
    assert_true(loose);
    elb_provider_free(p);
    p = NULL;

    cfg.kind = "aws";
    assert_int_equal(elb_provider_new(&cfg, &p, &err), CS_EINVAL);
    cfg.kind = "huawei";
    cfg.project_id = NULL;
    assert_int_equal(elb_provider_new(&cfg, &p, &err), CS_EINVAL);
    cfg.project_id = "p1";
    cfg.endpoint = "ftp://x";
    assert_int_equal(elb_provider_new(&cfg, &p, &err), CS_EINVAL);
    assert_null(p);
    unlink(f0.cred_path);
    elb_provider_free(NULL);
    server_stop(srv);
}

/* ---- pure helpers ---------------------------------------------------------------------- */

static void test_endpoint_parse(void **state)
{
    struct {
        const char *ep, *region;
        enum cs_code rc;
        const char *origin, *host, *prefix;
    } cases[] = {
        {"https://elb.{region}.myhuaweicloud.com", "cn-north-4", CS_OK,
         "https://elb.cn-north-4.myhuaweicloud.com", "elb.cn-north-4.myhuaweicloud.com", ""},
        {"http://127.0.0.1:8443", "r", CS_OK, "http://127.0.0.1:8443", "127.0.0.1:8443", ""},
        {"https://h:443/", "r", CS_OK, "https://h:443", "h", ""},
        {"http://h:80/base/", "r", CS_OK, "http://h:80", "h", "/base"},
        {"http://h:8080/a/b", "r", CS_OK, "http://h:8080", "h:8080", "/a/b"},
        {"http://[::1]:9000", "r", CS_OK, "http://[::1]:9000", "[::1]:9000", ""},
        {"ftp://h", "r", CS_EINVAL}, {"h:80", "r", CS_EINVAL}, {"http://", "r", CS_EINVAL},
        {"http://h:x", "r", CS_EINVAL}, {"http://h:", "r", CS_EINVAL},
        {"http://u@h", "r", CS_EINVAL}, {"http://h/?q", "r", CS_EINVAL},
        {"https://elb.{region}.x", NULL, CS_EINVAL}, {"", "r", CS_EINVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *o = NULL, *h = NULL, *p = NULL;
        assert_int_equal(elb_endpoint_parse(cases[i].ep, cases[i].region, &o, &h, &p, NULL),
                         cases[i].rc);
        if (cases[i].rc == CS_OK) {
            assert_string_equal(o, cases[i].origin);
            assert_string_equal(h, cases[i].host);
            assert_string_equal(p, cases[i].prefix);
        } else {
            assert_null(o);
        }
        free(o);
        free(h);
        free(p);
    }
}

static void test_project_for_region(void **state)
{
    struct {
        const char *spec, *region;
        enum cs_code rc;
        const char *want;
    } cases[] = {
        {"abc", "r1", CS_OK, "abc"},
        {"abc", "r2", CS_EINVAL, NULL},
        {"r1=a,r2=b", "r2", CS_OK, "b"},
        {"r1=a,r2=b", "r1", CS_OK, "a"},
        {"r1=a,r2=b", "r3", CS_EINVAL, NULL},
        {"r10=a,r1=b", "r1", CS_OK, "b"},
        {"r1=", "r1", CS_EINVAL, NULL},
        {"=a", "r1", CS_EINVAL, NULL},
        {"a,b", "r1", CS_EINVAL, NULL},
        {"", "r1", CS_EINVAL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        assert_int_equal(elb_hw_project_for_region(cases[i].spec, "r1", cases[i].region, &out,
                                                   NULL),
                         cases[i].rc);
        if (cases[i].want)
            assert_string_equal(out, cases[i].want);
        free(out);
    }
}

static void test_retry_decisions(void **state)
{
    struct {
        enum cs_code code;
        bool idempotent, want;
    } cases[] = {
        {CS_ETHROTTLED, false, true}, {CS_ETHROTTLED, true, true}, {CS_EIO, true, true},
        {CS_EIO, false, false},       {CS_ETIMEDOUT, true, true},  {CS_ETIMEDOUT, false, false},
        {CS_ESERVER, true, true},     {CS_ESERVER, false, false},  {CS_EAUTH, true, false},
        {CS_EINVAL, true, false},     {CS_ENOTFOUND, true, false}, {CS_EINUSE, true, false},
        {CS_EQUOTA, true, false},     {CS_EPROTO, true, false},    {CS_ECONFLICT, true, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(elb_transport_should_retry(cases[i].code, cases[i].idempotent),
                         cases[i].want);
    struct {
        uint64_t backoff;
        long retry_after, cap;
        bool ok;
        uint64_t delay;
    } d[] = {
        {100, 0, 30000, true, 100},       {100, 2000, 30000, true, 2000},
        {5000, 2000, 30000, true, 5000},  {100, 30000, 30000, true, 30000},
        {100, 30001, 30000, false, 0},
    };
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        uint64_t out = 0;
        assert_int_equal(elb_transport_retry_delay(d[i].backoff, d[i].retry_after, d[i].cap, &out),
                         d[i].ok);
        if (d[i].ok)
            assert_int_equal(out, d[i].delay);
    }
}

static void test_error_tables(void **state)
{
    struct {
        long status;
        const char *body;
        enum elb_hw_op op;
        enum cs_code want;
    } hw[] = {
        {409, "{\"error_code\":\"ELB.8902\",\"error_msg\":\"in use\"}", ELB_HW_OP_DELETE_CERT, CS_EINUSE},
        {409, "{\"error_code\":\"ELB.8902\",\"error_msg\":\"x\"}", ELB_HW_OP_OTHER, CS_ECONFLICT},
        {409, "{\"error_code\":\"ELB.8905\",\"error_msg\":\"Quota exceeded\"}", ELB_HW_OP_CREATE_CERT, CS_EQUOTA},
        {403, "{\"error_code\":\"X\",\"error_msg\":\"Quota exceeded for certificate\"}", ELB_HW_OP_CREATE_CERT, CS_EQUOTA},
        {400, "{\"error_code\":\"ELB.1011\",\"error_msg\":\"bad\"}", ELB_HW_OP_CREATE_CERT, CS_EINVAL},
        {400, "{\"error_code\":\"ELB.1010\",\"error_msg\":\"Query elb quota error.\"}", ELB_HW_OP_OTHER, CS_EINVAL},
        {429, "{\"error_code\":\"APIGW.0308\"}", ELB_HW_OP_OTHER, CS_ETHROTTLED},
        {403, "{\"error_code\":\"APIGW.0308\"}", ELB_HW_OP_OTHER, CS_ETHROTTLED},
        {401, "{\"error_code\":\"APIGW.0301\"}", ELB_HW_OP_OTHER, CS_EAUTH},
        {400, "{\"error_code\":\"APIGW.0301\"}", ELB_HW_OP_OTHER, CS_EAUTH},
        {404, "", ELB_HW_OP_OTHER, CS_ENOTFOUND},
        {500, "<html>", ELB_HW_OP_OTHER, CS_ESERVER},
        {503, "{\"error\":{\"code\":\"ELB.0004\",\"message\":\"busy\"}}", ELB_HW_OP_OTHER, CS_ESERVER},
        {418, "{", ELB_HW_OP_OTHER, CS_EINVAL},
        {302, "", ELB_HW_OP_OTHER, CS_EPROTO},
    };
    for (size_t i = 0; i < sizeof(hw) / sizeof(hw[0]); i++) {
        struct cs_err err;
        assert_int_equal(elb_hw_map_error(hw[i].status, hw[i].body, strlen(hw[i].body), NULL,
                                          hw[i].op, &err),
                         hw[i].want);
        assert_int_equal(err.code, hw[i].want);
        assert_int_equal(err.http_status, hw[i].status);
    }
    struct {
        long status;
        const char *body;
        enum cs_code want;
    } uc[] = {
        {200, "{\"RetCode\":0}", CS_OK},
        {200, "{\"RetCode\":153,\"Message\":\"x\"}", CS_ETHROTTLED},
        {200, "{\"RetCode\":171}", CS_EAUTH},
        {200, "{\"RetCode\":172}", CS_EAUTH},
        {200, "{\"RetCode\":4108}", CS_EINUSE},
        {200, "{\"RetCode\":4111}", CS_EINVAL},
        {200, "{\"RetCode\":4114}", CS_EINVAL},
        {200, "{\"RetCode\":4207}", CS_EQUOTA},
        {200, "{\"RetCode\":4079,\"Message\":\"获取ssl证书失败\"}", CS_ESERVER},
        {200, "{\"RetCode\":4079,\"Message\":\"ssl-1 not found\"}", CS_ENOTFOUND},
        {200, "{\"RetCode\":4072,\"Message\":\"ULB 不存在\"}", CS_ENOTFOUND},
        {200, "{\"RetCode\":4088}", CS_ENOTFOUND},
        {200, "{\"RetCode\":63072}", CS_ECONFLICT},
        {200, "{\"RetCode\":230,\"Message\":\"Params [X] not available\"}", CS_EINVAL},
        {200, "{\"RetCode\":\"0\"}", CS_EPROTO},
        {200, "[]", CS_EPROTO},
        {200, "", CS_EPROTO},
        {200, "{\"RetCode\":0", CS_EPROTO},
        {200, "{\"RetCode\":6.6e51}", CS_EPROTO}, /* found by fuzz_elb_ucloud: no UB */
        {200, "{\"RetCode\":-1e300}", CS_EPROTO},
        {429, "", CS_ETHROTTLED},
        {502, "", CS_ESERVER},
        {403, "", CS_EAUTH},
    };
    for (size_t i = 0; i < sizeof(uc) / sizeof(uc[0]); i++) {
        struct cs_err err;
        assert_int_equal(elb_ucloud_map_answer(uc[i].status, uc[i].body, strlen(uc[i].body), &err),
                         uc[i].want);
    }
}

static void test_parsers_malformed(void **state)
{
    /* Every malformed or truncated page: an error, nothing appended, no leak. */
    const char *hw_pages[] = {
        "", "{", "[]", "null", "{\"certificates\":{}}", "{\"certificates\":[1]}",
        "{\"certificates\":[{\"name\":\"no id\"}]}", "{\"certificates\":[{\"id\":5}]}",
        "{\"certificates\":[{\"id\":\"a\",\"name\":7}]}",
        "{\"certificates\":[{\"id\":\"a\"},{\"id\":\"b\",\"certificate\":[]}]}",
        "{\"certificates\":[{\"id\":\"a\"}],\"page_info\":{\"next_marker\":\"a\"",
    };
    for (size_t i = 0; i < sizeof(hw_pages) / sizeof(hw_pages[0]); i++) {
        struct elb_cert_list l = {0};
        size_t n = 99;
        char *next = NULL;
        assert_int_equal(elb_hw_parse_cert_page(hw_pages[i], strlen(hw_pages[i]), 10, &l, &n,
                                                &next, NULL),
                         CS_EPROTO);
        assert_int_equal(l.n, 0);
        assert_null(next);
        free(l.items);
    }
    const char *hw_listeners[] = {
        "{\"listeners\":[{\"id\":\"l\",\"protocol_port\":\"443\"}]}",
        "{\"listeners\":[{\"id\":\"l\",\"protocol_port\":70000}]}",
        "{\"listeners\":[{\"id\":\"l\",\"sni_container_refs\":[1]}]}",
        "{\"listeners\":[{\"id\":\"l\",\"loadbalancers\":[{}]}]}",
        "{\"listeners\":[{\"id\":\"l\",\"sni_container_refs\":\"x\"}]}",
    };
    for (size_t i = 0; i < sizeof(hw_listeners) / sizeof(hw_listeners[0]); i++) {
        struct elb_listener_list l = {0};
        size_t n;
        char *next = NULL;
        assert_int_equal(elb_hw_parse_listener_page(hw_listeners[i], strlen(hw_listeners[i]),
                                                    10, &l, &n, &next, NULL),
                         CS_EPROTO);
        assert_int_equal(l.n, 0);
        free(l.items);
    }
    const char *uc_pages[] = {
        "", "{", "{\"DataSet\":{}}", "{\"DataSet\":[{\"SSLName\":\"x\"}]}",
        "{\"DataSet\":[{\"SSLId\":\"a\",\"SSLName\":3}]}",
        "{\"DataSet\":[{\"SSLId\":\"a\",\"BindedTargetSet\":[1]}]}",
        "{\"DataSet\":[{\"SSLId\":\"a\",\"BindedTargetSet\":{}}]}",
    };
    /* Huge numbers are not UB (found by fuzz_elb_ucloud): TotalCount is ignored. */
    {
        const char *huge = "{\"TotalCount\":1.2e25,\"DataSet\":[{\"SSLId\":\"a\",\"SSLSource\":1e300,"
                           "\"CreateTime\":1e300}]}";
        struct elb_cert_list l = {0};
        size_t n;
        long total;
        assert_int_equal(elb_ucloud_parse_ssl_page(huge, strlen(huge), &l, &n, &total, NULL),
                         CS_OK);
        assert_int_equal(total, -1);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.items[0].created_ms, 0);
        elb_cert_list_cleanup(&l);
    }
    for (size_t i = 0; i < sizeof(uc_pages) / sizeof(uc_pages[0]); i++) {
        struct elb_cert_list l = {0};
        size_t n;
        long total;
        assert_int_equal(elb_ucloud_parse_ssl_page(uc_pages[i], strlen(uc_pages[i]), &l, &n,
                                                   &total, NULL),
                         CS_EPROTO);
        assert_int_equal(l.n, 0);
        free(l.items);
    }
    const char *ulb_pages[] = {
        "{\"DataSet\":[{\"VServerSet\":[]}]}",
        "{\"DataSet\":[{\"ULBId\":\"u\",\"VServerSet\":[{\"Protocol\":\"HTTPS\"}]}]}",
        "{\"DataSet\":[{\"ULBId\":\"u\",\"VServerSet\":[{\"VServerId\":\"v\",\"FrontendPort\":\"443\"}]}]}",
        "{\"DataSet\":[{\"ULBId\":\"u\",\"VServerSet\":[{\"VServerId\":\"v\",\"SSLSet\":[{}]}]}]}",
        "{\"DataSet\":[{\"ULBId\":\"u\",\"VServerSet\":{}}]}",
    };
    for (size_t i = 0; i < sizeof(ulb_pages) / sizeof(ulb_pages[0]); i++) {
        struct elb_listener_list l = {0};
        size_t n;
        long total;
        assert_int_equal(elb_ucloud_parse_ulb_page(ulb_pages[i], strlen(ulb_pages[i]), &l, &n,
                                                   &total, NULL),
                         CS_EPROTO);
        assert_int_equal(l.n, 0);
        free(l.items);
    }
    char *id = NULL;
    assert_int_equal(elb_ucloud_parse_create("{\"RetCode\":0}", 13, &id, NULL), CS_EPROTO);
    assert_null(id);
}

static void test_names_and_pem(void **state)
{
    struct {
        const char *name;
        bool ok;
    } names[] = {
        {"k8s_plb_default_ns-web.x_1a2b", true},
        {"a", true},
        {"", false},
        {"has space", false},
        {"slash/x", false},
        {"证书", false},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},  /* 50 */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, /* 51 */
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_int_equal(elb_ucloud_name_ok(names[i].name), names[i].ok);
    assert_true(elb_pem_certs_equal(CERT_PEM, "-----BEGIN CERTIFICATE-----\r\nMIIBszCCAVmg\r\n"
                                              "AwIBAgIUQ1VzZXJDZXJ0\r\n-----END CERTIFICATE-----"));
    assert_false(elb_pem_certs_equal(CERT_PEM, CERT_PEM CA_PEM));
    assert_false(elb_pem_certs_equal(CERT_PEM, CA_PEM));
    assert_false(elb_pem_certs_equal("", ""));
    assert_false(elb_pem_certs_equal(NULL, CERT_PEM));
}

static void test_copies(void **state)
{
    struct elb_binding b = {.lb_id = "lb", .listener_id = "l", .is_default = true};
    struct elb_cert c = {.id = "i", .name = "n", .bindings = &b, .n_bindings = 1,
                         .bindings_known = true, .not_after_ms = 5};
    struct elb_cert d;
    assert_int_equal(elb_cert_copy(&c, &d), CS_OK);
    assert_string_equal(d.id, "i");
    assert_ptr_not_equal(d.id, c.id);
    assert_string_equal(d.bindings[0].listener_id, "l");
    assert_int_equal(d.not_after_ms, 5);
    assert_null(d.description);
    elb_cert_cleanup(&d);
    elb_cert_cleanup(NULL);
    char *sni[] = {"a", "b"};
    struct elb_listener l = {.id = "x", .sni_cert_ids = sni, .n_sni = 2, .port = 443};
    struct elb_listener m;
    assert_int_equal(elb_listener_copy(&l, &m), CS_OK);
    assert_string_equal(m.sni_cert_ids[1], "b");
    assert_int_equal(m.port, 443);
    elb_listener_cleanup(&m);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hw_list_pages, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_list_full_pages_without_page_info, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_list_repeated_marker_is_an_error, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_retries_reads, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_retries_are_bounded, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_retry_after_too_long_gives_up, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_errors, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_create, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_create_lost_answer_found, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_create_lost_answer_not_created, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_create_rejected, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_hw_listeners, setup_hw, teardown),
        cmocka_unit_test_setup_teardown(test_uc_list_pages, setup_uc, teardown),
        cmocka_unit_test_setup_teardown(test_uc_create, setup_uc, teardown),
        cmocka_unit_test_setup_teardown(test_uc_create_lost_answer, setup_uc, teardown),
        cmocka_unit_test_setup_teardown(test_uc_errors, setup_uc, teardown),
        cmocka_unit_test_setup_teardown(test_uc_classic_binding, setup_uc, teardown),
        cmocka_unit_test_setup_teardown(test_uc_alb_binding, setup_uc, teardown),
        cmocka_unit_test_setup_teardown(test_uc_alb_swap, setup_uc, teardown),
        cmocka_unit_test_setup_teardown(test_uc_alb_limit_and_failure, setup_uc, teardown),
        cmocka_unit_test_setup_teardown(test_uc_alb_find, setup_uc, teardown),
        cmocka_unit_test_setup_teardown(test_uc_list_listeners_alb, setup_uc, teardown),
        cmocka_unit_test(test_uc_alb_parse),
        cmocka_unit_test(test_credentials_errors),
        cmocka_unit_test(test_endpoint_parse),
        cmocka_unit_test(test_project_for_region),
        cmocka_unit_test(test_retry_decisions),
        cmocka_unit_test(test_error_tables),
        cmocka_unit_test(test_parsers_malformed),
        cmocka_unit_test(test_names_and_pem),
        cmocka_unit_test(test_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
