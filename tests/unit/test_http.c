/* test_http.c -- common/http.c against a loopback libmicrohttpd server: statuses, headers,
 * bodies, size limits, streaming, cancellation, idle timeouts, and concurrent use. */
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
#include <stdatomic.h>
#include <string.h>

#include "common/http.h"
#include "common/util.h"

struct server {
    struct MHD_Daemon *d;
    int port;
    char base[64];
};

struct req_ctx {
    struct cs_buf body;
};

struct stream_state {
    int sent;
    bool stall;
};

static atomic_int g_connections; /* TCP connections the server accepted */

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    (void)c;
    (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&g_connections, 1);
}

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_state *s = cls;
    if (s->stall && s->sent >= 1) {
        cs_sleep_ms(20);
        return 0; /* nothing yet: MHD calls again */
    }
    if (s->sent >= 200)
        return MHD_CONTENT_READER_END_OF_STREAM;
    cs_sleep_ms(5);
    s->sent++;
    return snprintf(buf, max, "chunk %d\n", s->sent);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct req_ctx *ctx = *con_cls;
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
    struct MHD_Response *r;
    unsigned status = 200;
    if (strncmp(url, "/status/", 8) == 0) {
        status = (unsigned)atoi(url + 8);
        r = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Retry-After", "2");
        MHD_add_response_header(r, "X-Request-Id", "req-123");
    } else if (strcmp(url, "/echo") == 0) {
        const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Test");
        char *out = NULL;
        int n = asprintf(&out, "%s %s %s", method, t ? t : "-", cs_buf_str(&ctx->body));
        r = MHD_create_response_from_buffer((size_t)n, out, MHD_RESPMEM_MUST_FREE);
    } else if (strcmp(url, "/big") == 0) {
        size_t n = 2 * 1024 * 1024;
        char *big = malloc(n);
        memset(big, 'x', n);
        r = MHD_create_response_from_buffer(n, big, MHD_RESPMEM_MUST_FREE);
    } else if (strcmp(url, "/stream") == 0 || strcmp(url, "/idle") == 0) {
        struct stream_state *s = calloc(1, sizeof(*s));
        s->stall = strcmp(url, "/idle") == 0;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, stream_cb, s, free);
    } else {
        status = 404;
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct req_ctx *ctx = *con_cls;
    if (ctx) {
        cs_buf_free(&ctx->body);
        free(ctx);
    }
}

static int setup(void **state)
{
    struct server *s = calloc(1, sizeof(*s));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
    if (!s->d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info->port;
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct server *s = *state;
    MHD_stop_daemon(s->d);
    free(s);
    return 0;
}

static struct cs_http_client *client(void)
{
    struct cs_http_client_opts o = {.connect_timeout_ms = 2000, .accept_gzip = true};
    struct cs_http_client *c = NULL;
    assert_int_equal(cs_http_client_new(&o, &c, NULL), CS_OK);
    return c;
}

static void url(const struct server *s, const char *path, char *out, size_t n)
{
    snprintf(out, n, "%s%s", s->base, path);
}

static void test_status_and_headers(void **state)
{
    struct server *s = *state;
    struct cs_http_client *c = client();
    char u[128];
    url(s, "/status/429", u, sizeof(u));
    struct cs_http_request rq = {.method = "GET", .url = u, .timeout_ms = 5000};
    struct cs_http_response rs;
    cs_http_response_init(&rs);
    assert_int_equal(cs_http_do(c, &rq, &rs, NULL), CS_OK);
    assert_int_equal(rs.status, 429);
    assert_int_equal(cs_http_retry_after_ms(&rs), 2000);
    char id[32];
    assert_true(cs_http_response_header(&rs, "x-request-id", id, sizeof(id)));
    assert_string_equal(id, "req-123");
    assert_false(cs_http_response_header(&rs, "X-Missing", id, sizeof(id)));
    assert_string_equal(cs_buf_str(&rs.body), "{}");
    cs_http_response_cleanup(&rs);
    cs_http_client_free(c);
}

static void test_methods_and_body(void **state)
{
    struct server *s = *state;
    struct cs_http_client *c = client();
    char u[128];
    url(s, "/echo", u, sizeof(u));
    const char *methods[] = {"POST", "PUT", "PATCH", "DELETE", "GET"};
    for (size_t i = 0; i < 5; i++) {
        struct cs_http_header h[] = {{"X-Test", "v1"}, {"Content-Type", "application/json"}};
        const char *body = strcmp(methods[i], "GET") == 0 ? NULL : "{\"a\":1}";
        struct cs_http_request rq = {.method = methods[i], .url = u, .headers = h,
                                     .n_headers = 2, .body = body,
                                     .body_len = body ? strlen(body) : 0, .timeout_ms = 5000};
        struct cs_http_response rs;
        cs_http_response_init(&rs);
        assert_int_equal(cs_http_do(c, &rq, &rs, NULL), CS_OK);
        assert_int_equal(rs.status, 200);
        char expect[64];
        snprintf(expect, sizeof(expect), "%s v1 %s", methods[i], body ? body : "");
        assert_string_equal(cs_buf_str(&rs.body), expect);
        cs_http_response_cleanup(&rs);
    }
    cs_http_client_free(c);
}

static void test_body_limit(void **state)
{
    struct server *s = *state;
    struct cs_http_client *c = client();
    char u[128];
    url(s, "/big", u, sizeof(u));
    struct cs_http_request rq = {.url = u, .timeout_ms = 5000, .max_body = 1024 * 1024};
    struct cs_http_response rs;
    struct cs_err e;
    cs_http_response_init(&rs);
    assert_int_equal(cs_http_do(c, &rq, &rs, &e), CS_ETOOBIG);
    rq.max_body = 0;
    assert_int_equal(cs_http_do(c, &rq, &rs, &e), CS_OK);
    assert_int_equal(rs.body.len, 2 * 1024 * 1024);
    cs_http_response_cleanup(&rs);
    cs_http_client_free(c);
}

struct stream_sink {
    int chunks;
    int stop_after;
    atomic_bool *cancel;
};

static bool on_data(const char *data, size_t len, void *ud)
{
    struct stream_sink *k = ud;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n')
            k->chunks++;
    if (k->cancel && k->chunks >= k->stop_after)
        atomic_store(k->cancel, true);
    return k->cancel || k->chunks < k->stop_after;
}

static void test_streaming_stop_and_cancel(void **state)
{
    struct server *s = *state;
    struct cs_http_client *c = client();
    char u[128];
    url(s, "/stream", u, sizeof(u));
    struct stream_sink k = {.stop_after = 5};
    struct cs_http_request rq = {.url = u, .on_data = on_data, .ud = &k};
    struct cs_http_response rs;
    struct cs_err e;
    cs_http_response_init(&rs);
    assert_int_equal(cs_http_do(c, &rq, &rs, &e), CS_ECANCELED);
    assert_true(k.chunks >= 5 && k.chunks < 200);
    assert_int_equal(rs.status, 200);
    assert_int_equal(rs.body.len, 0);

    atomic_bool cancel = false;
    struct stream_sink k2 = {.stop_after = 3, .cancel = &cancel};
    rq.ud = &k2;
    rq.cancel = &cancel;
    uint64_t t0 = cs_now_ms();
    assert_int_equal(cs_http_do(c, &rq, &rs, &e), CS_ECANCELED);
    assert_true(k2.chunks >= 3 && k2.chunks < 200);
    assert_true(cs_now_ms() - t0 < 5000);
    cs_http_response_cleanup(&rs);
    cs_http_client_free(c);
}

static void test_idle_timeout(void **state)
{
    struct server *s = *state;
    struct cs_http_client *c = client();
    char u[128];
    url(s, "/idle", u, sizeof(u));
    struct stream_sink k = {.stop_after = 1000};
    struct cs_http_request rq = {.url = u, .on_data = on_data, .ud = &k, .idle_timeout_ms = 300};
    struct cs_http_response rs;
    struct cs_err e;
    cs_http_response_init(&rs);
    assert_int_equal(cs_http_do(c, &rq, &rs, &e), CS_ETIMEDOUT);
    assert_int_equal(k.chunks, 1);
    assert_true(e.retryable);
    cs_http_response_cleanup(&rs);
    cs_http_client_free(c);
}

static void test_connection_refused(void **state)
{
    struct cs_http_client *c = client();
    /* port 1 on loopback: nothing listens there */
    struct cs_http_request rq = {.url = "http://127.0.0.1:1/", .timeout_ms = 2000};
    struct cs_http_response rs;
    struct cs_err e;
    cs_http_response_init(&rs);
    assert_int_equal(cs_http_do(c, &rq, &rs, &e), CS_EIO);
    assert_true(e.retryable);
    assert_int_equal(rs.status, 0);
    cs_http_response_cleanup(&rs);
    cs_http_client_free(c);
}

struct worker_arg {
    struct cs_http_client *c;
    const char *url;
    int ok;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    for (int i = 0; i < 25; i++) {
        struct cs_http_header h[] = {{"X-Test", "t"}};
        struct cs_http_request rq = {.method = "POST", .url = a->url, .headers = h,
                                     .n_headers = 1, .body = "b", .body_len = 1,
                                     .timeout_ms = 5000};
        struct cs_http_response rs;
        cs_http_response_init(&rs);
        if (cs_http_do(a->c, &rq, &rs, NULL) == CS_OK && rs.status == 200 &&
            strcmp(cs_buf_str(&rs.body), "POST t b") == 0)
            a->ok++;
        cs_http_response_cleanup(&rs);
    }
    return NULL;
}

static void test_concurrent_requests(void **state)
{
    struct server *s = *state;
    struct cs_http_client *c = client();
    char u[128];
    url(s, "/echo", u, sizeof(u));
    pthread_t th[4];
    struct worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){.c = c, .url = u};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 25);
    }
    cs_http_client_free(c);
}

struct streamer {
    struct cs_http_client *c;
    const char *url;
    atomic_bool *cancel;
    atomic_int *streaming; /* streams that received their first chunk */
    bool counted;
};

static bool streamer_data(const char *data, size_t len, void *ud)
{
    struct streamer *a = ud;
    (void)data;
    if (len > 0 && !a->counted) {
        a->counted = true;
        atomic_fetch_add(a->streaming, 1);
    }
    return true;
}

static void *streamer(void *p)
{
    struct streamer *a = p;
    struct cs_http_request rq = {.url = a->url, .on_data = streamer_data, .ud = a,
                                 .cancel = a->cancel};
    struct cs_http_response rs;
    cs_http_response_init(&rs);
    cs_http_do(a->c, &rq, &rs, NULL);
    cs_http_response_cleanup(&rs);
    return NULL;
}

/* Long-lived streams (watches) hold connections of the shared cache: short requests beside
 * them still reuse one connection instead of opening (and, with TLS, handshaking) each time.
 * (libcurl's cache defaults to 5 connections, streams included: the sixth stream made every
 * other request close its connection after use.) */
static void test_reuse_beside_streams(void **state)
{
    struct server *s = *state;
    struct cs_http_client *c = client();
    char su[128], eu[128];
    url(s, "/idle", su, sizeof(su));
    url(s, "/echo", eu, sizeof(eu));
    atomic_bool cancel = false;
    atomic_int streaming = 0;
    pthread_t th[8];
    struct streamer args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (struct streamer){.c = c, .url = su, .cancel = &cancel, .streaming = &streaming};
        pthread_create(&th[i], NULL, streamer, &args[i]);
    }
    /* every stream established (slow under valgrind): bounded, not a timing assertion */
    for (int i = 0; i < 3000 && atomic_load(&streaming) < 8; i++)
        cs_sleep_ms(10);
    assert_int_equal(atomic_load(&streaming), 8);
    int before = atomic_load(&g_connections);
    for (int i = 0; i < 5; i++) {
        struct cs_http_request rq = {.method = "POST", .url = eu, .body = "b", .body_len = 1};
        struct cs_http_response rs;
        cs_http_response_init(&rs);
        assert_int_equal(cs_http_do(c, &rq, &rs, NULL), CS_OK);
        assert_int_equal(rs.status, 200);
        cs_http_response_cleanup(&rs);
    }
    int opened = atomic_load(&g_connections) - before;
    atomic_store(&cancel, true);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(opened, 1);
    cs_http_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_and_headers),
        cmocka_unit_test(test_methods_and_body),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_streaming_stop_and_cancel),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_concurrent_requests),
        cmocka_unit_test(test_reuse_beside_streams),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
