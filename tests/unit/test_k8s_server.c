/* test_k8s_server.c -- a scripted loopback HTTP server for the k8s unit tests, on
 * libmicrohttpd (port 0 on 127.0.0.1). #included by the test files that need it.
 *
 * Each request is handed to the test's function, which fills a response: a status and a
 * body, or a stream of chunks written one by one, ending cleanly, by dropping the
 * connection, or by hanging until tsrv_drop_streams() or the server stops. Requests are
 * logged (method, path, decoded query) so that tests can assert what the client sent. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"

#define TSRV_LOG_MAX 512
#define TSRV_MAX_CHUNKS 64

struct tsrv_req {
    char method[16];
    char path[512];
    char query[2048]; /* decoded, "k=v&k=v" in arrival order */
    char auth[256];
    char content_type[128];
    struct cs_buf body;
};

enum tsrv_end { TSRV_END_CLEAN = 0, TSRV_END_DROP, TSRV_END_HANG };

struct tsrv_resp {
    int status;
    char *body; /* malloc'd, or NULL */
    char retry_after[16];
    bool stream;
    char *chunks[TSRV_MAX_CHUNKS]; /* malloc'd; each goes out in its own write */
    size_t n_chunks;
    int chunk_delay_ms;
    enum tsrv_end end;
};

typedef void (*tsrv_fn)(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud);

struct tsrv {
    struct MHD_Daemon *d;
    int port;
    char url[64];
    tsrv_fn fn;
    void *ud;
    pthread_mutex_t lock; /* guards log, n_log, fn calls */
    struct tsrv_req log[TSRV_LOG_MAX];
    int n_log;
    atomic_bool stopping;
    atomic_int drop_gen;
    atomic_int open_streams;
};

__attribute__((unused)) static void tsrv_set_body(struct tsrv_resp *r, int status, const char *body)
{
    r->status = status;
    free(r->body);
    r->body = body ? strdup(body) : NULL;
}

__attribute__((unused)) static void tsrv_status(struct tsrv_resp *r, int code, const char *reason, const char *message)
{
    char *b = NULL;
    assert_true(asprintf(&b,
                         "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                         "\"Failure\",\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
                         message, reason, code) > 0);
    r->status = code;
    free(r->body);
    r->body = b;
}

__attribute__((unused)) static void tsrv_chunk(struct tsrv_resp *r, const char *data)
{
    assert_true(r->n_chunks < TSRV_MAX_CHUNKS);
    r->stream = true;
    r->status = r->status ? r->status : 200;
    r->chunks[r->n_chunks++] = strdup(data);
}

struct tsrv_stream {
    struct tsrv *srv;
    struct tsrv_resp resp;
    size_t idx, off;
    int gen;
};

__attribute__((unused)) static void tsrv_resp_cleanup(struct tsrv_resp *r)
{
    free(r->body);
    for (size_t i = 0; i < r->n_chunks; i++)
        free(r->chunks[i]);
}

__attribute__((unused)) static void tsrv_stream_free(void *p)
{
    struct tsrv_stream *s = p;
    atomic_fetch_sub(&s->srv->open_streams, 1);
    tsrv_resp_cleanup(&s->resp);
    free(s);
}

static ssize_t tsrv_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct tsrv_stream *s = cls;
    for (;;) {
        if (atomic_load(&s->srv->stopping) || atomic_load(&s->srv->drop_gen) != s->gen)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (s->idx < s->resp.n_chunks) {
            if (s->off == 0 && s->resp.chunk_delay_ms)
                cs_sleep_ms((uint64_t)s->resp.chunk_delay_ms);
            const char *c = s->resp.chunks[s->idx];
            size_t n = strlen(c) - s->off;
            if (n > max)
                n = max;
            memcpy(buf, c + s->off, n);
            s->off += n;
            if (s->off == strlen(c)) {
                s->idx++;
                s->off = 0;
            }
            return (ssize_t)n;
        }
        if (s->resp.end == TSRV_END_CLEAN)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (s->resp.end == TSRV_END_DROP)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        cs_sleep_ms(10); /* hang */
    }
}

static enum MHD_Result tsrv_collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    struct tsrv_req *r = cls;
    size_t n = strlen(r->query);
    snprintf(r->query + n, sizeof(r->query) - n, "%s%s=%s", n ? "&" : "", key,
             value ? value : "");
    return MHD_YES;
}

static enum MHD_Result tsrv_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **con_cls)
{
    struct tsrv *srv = cls;
    struct tsrv_req *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof(*req));
        cs_buf_init(&req->body, 0);
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size) {
        cs_buf_add(&req->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    snprintf(req->method, sizeof(req->method), "%s", method);
    snprintf(req->path, sizeof(req->path), "%s", url);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, tsrv_collect_arg, req);
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    snprintf(req->auth, sizeof(req->auth), "%s", a ? a : "");
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    snprintf(req->content_type, sizeof(req->content_type), "%s", ct ? ct : "");

    struct tsrv_resp resp = {.status = 0};
    pthread_mutex_lock(&srv->lock);
    if (srv->n_log < TSRV_LOG_MAX) {
        struct tsrv_req *l = &srv->log[srv->n_log++];
        *l = *req;
        cs_buf_init(&l->body, 0);
        cs_buf_add(&l->body, req->body.ptr ? req->body.ptr : "", req->body.len);
    }
    srv->fn(req, &resp, srv->ud);
    pthread_mutex_unlock(&srv->lock);
    if (!resp.status)
        resp.status = 404;

    struct MHD_Response *r;
    if (resp.stream) {
        struct tsrv_stream *s = calloc(1, sizeof(*s));
        s->srv = srv;
        s->resp = resp;
        s->gen = atomic_load(&srv->drop_gen);
        atomic_fetch_add(&srv->open_streams, 1);
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, tsrv_stream_read, s,
                                              tsrv_stream_free);
    } else {
        const char *b = resp.body ? resp.body : "";
        r = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
        tsrv_resp_cleanup(&resp);
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (resp.retry_after[0])
        MHD_add_response_header(r, "Retry-After", resp.retry_after);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    return ret;
}

__attribute__((unused)) static void tsrv_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    struct tsrv_req *req = *con_cls;
    if (req) {
        cs_buf_free(&req->body);
        free(req);
        *con_cls = NULL;
    }
}

/* Keep the path and query exactly as sent, so that tests see the client's escaping. */
static size_t tsrv_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static struct tsrv *tsrv_start(tsrv_fn fn, void *ud)
{
    struct tsrv *s = calloc(1, sizeof(*s));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fn = fn;
    s->ud = ud;
    pthread_mutex_init(&s->lock, NULL);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, tsrv_handler, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, tsrv_completed, NULL,
                            MHD_OPTION_UNESCAPE_CALLBACK, tsrv_no_unescape, NULL, MHD_OPTION_END);
    assert_non_null(s->d);
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    return s;
}

__attribute__((unused)) static void tsrv_stop(struct tsrv *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    MHD_stop_daemon(s->d);
    for (int i = 0; i < s->n_log; i++)
        cs_buf_free(&s->log[i].body);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Ends every open stream now (the connection drops). */
__attribute__((unused)) static void tsrv_drop_streams(struct tsrv *s)
{
    atomic_fetch_add(&s->drop_gen, 1);
}

__attribute__((unused)) static int tsrv_count(struct tsrv *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->n_log;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* A copy of log entry i's "method path?query" line. */
__attribute__((unused)) static void tsrv_line(struct tsrv *s, int i, char *out, size_t n)
{
    pthread_mutex_lock(&s->lock);
    int w = 0;
    if (i < s->n_log)
        w = snprintf(out, n, "%s %s?%s", s->log[i].method, s->log[i].path, s->log[i].query);
    else
        w = snprintf(out, n, "(none)");
    assert_true(w >= 0 && (size_t)w < n); /* callers give room enough */
    pthread_mutex_unlock(&s->lock);
}

/* Polls cond until true or deadline; a bound, not a timing assertion. */
#define WAIT_FOR(cond, ms)                                                                     \
    do {                                                                                       \
        uint64_t wait_deadline_ = cs_now_ms() + (ms);                                          \
        while (!(cond) && cs_now_ms() < wait_deadline_)                                        \
            cs_sleep_ms(5);                                                                    \
    } while (0)
