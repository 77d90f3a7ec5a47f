/* main.c -- fake-elb: the command line and the libmicrohttpd front end of the loopback
 * emulator of Huawei Cloud ELB v3 and UCloud ULB. Each connection gets a thread, so that an
 * injected latency delays only its own request; all behaviour lives in fe_server_handle.
 *
 *   fake-elb --listen 127.0.0.1:0 --port-file FILE --state SEED.json [--quiet]
 *            [--fault-latency-ms N] [--fault-500-rate F] [--fault-throttle-rate F]
 *            [--fault-lost-response-rate F] [--max-body BYTES]
 *
 * SIGTERM and SIGINT stop it with exit status 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/fakes/elb/fake_elb.h"

#define DEFAULT_MAX_BODY ((size_t)1 << 20)
#define MAX_HEADERS 128

static atomic_bool stopping;

struct app {
    struct fe_server *server;
    size_t max_body;
};

/* Per request: the raw target (from the URI log callback, before libmicrohttpd decodes it:
 * signatures are over what was sent) and the body, kept in cleansed memory (keys). */
struct req_ctx {
    char *target;
    struct cs_buf body;
    bool too_big;
    bool started;
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    struct app *app = cls;
    (void)con;
    struct req_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->target = strdup(uri ? uri : "");
    cs_buf_init_secret(&c->body, app->max_body);
    return c;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con;
    (void)toe;
    struct req_ctx *c = *con_cls;
    if (!c)
        return;
    free(c->target);
    cs_buf_free(&c->body);
    free(c);
    *con_cls = NULL;
}

struct header_list {
    struct cs_http_header items[MAX_HEADERS];
    size_t n;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct header_list *h = cls;
    (void)kind;
    if (h->n < MAX_HEADERS) {
        h->items[h->n].name = key;
        h->items[h->n].value = value ? value : "";
        h->n++;
    }
    return MHD_YES;
}

/* Waits ms, in slices, so that a stop request is not held up by an injected latency. */
static void delay(uint64_t ms)
{
    while (ms > 0 && !atomic_load(&stopping)) {
        uint64_t step = ms < 50 ? ms : 50;
        cs_sleep_ms(step);
        ms -= step;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct app *app = cls;
    struct req_ctx *c = *con_cls;
    (void)version;
    if (!c)
        return MHD_NO; /* out of memory in on_uri */
    if (!c->started) {
        c->started = true;
        if (!c->target && !(c->target = strdup(url)))
            return MHD_NO;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!c->too_big && cs_buf_add(&c->body, upload_data, *upload_data_size) != CS_OK) {
            c->too_big = true; /* keep reading to the end, keep nothing: answer 413 */
            cs_buf_reset(&c->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    struct header_list headers = {.n = 0};
    MHD_get_connection_values(con, MHD_HEADER_KIND, collect_header, &headers);
    struct fe_request req = {
        .method = method,
        .target = c->target,
        .headers = headers.items,
        .n_headers = headers.n,
        .body = c->body.ptr ? c->body.ptr : "",
        .body_len = c->body.len,
        .body_too_big = c->too_big,
        .now_ms = cs_wall_ms(),
    };
    struct fe_response resp;
    fe_response_init(&resp);
    fe_server_handle(app->server, &req, &resp);
    delay(resp.delay_ms);
    if (cs_log_enabled(CS_LOG_DEBUG)) {
        char status[16];
        snprintf(status, sizeof(status), "%d", resp.status);
        cs_log_debug("request", "method", method, "path", url, "status", status, "lost",
                     resp.lose ? "true" : "false");
    }
    enum MHD_Result ret = MHD_NO;
    if (resp.lose || atomic_load(&stopping))
        goto out; /* the operation happened; the client never hears of it */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(resp.body.len, resp.body.ptr, MHD_RESPMEM_MUST_COPY);
    if (!r)
        goto out;
    if (resp.body.len)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json;charset=UTF-8");
    if (resp.request_id[0])
        MHD_add_response_header(r, "X-Request-Id", resp.request_id);
    ret = MHD_queue_response(con, (unsigned int)resp.status, r);
    MHD_destroy_response(r);
out:
    fe_response_cleanup(&resp);
    return ret;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fake-elb --listen 127.0.0.1:PORT [--port-file FILE] [--state SEED.json]\n"
               "                [--quiet] [--fault-latency-ms N] [--fault-500-rate F]\n"
               "                [--fault-throttle-rate F] [--fault-lost-response-rate F]\n"
               "                [--max-body BYTES]\n");
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Loopback only: tests bind 127.0.0.0/8 and nothing else. */
static bool parse_listen(const char *s, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    char host[64];
    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    double port;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 || (ntohl(sa->sin_addr.s_addr) >> 24) != 127)
        return false;
    if (!parse_double(colon + 1, 0, 65535, &port) || port != (double)(int)port)
        return false;
    sa->sin_port = htons((uint16_t)port);
    return true;
}

static bool read_file(const char *path, struct cs_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char chunk[8192];
    size_t n;
    bool ok = true;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (cs_buf_add(out, chunk, n) != CS_OK) {
            ok = false;
            break;
        }
    ok = ok && !ferror(f);
    fclose(f);
    return ok;
}

static bool write_port_file(const char *path, unsigned port)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return false;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return false;
    bool ok = fprintf(f, "%u\n", port) > 0;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0;
}

int main(int argc, char **argv)
{
    const char *listen_addr = NULL, *port_file = NULL, *state_file = NULL;
    bool quiet = false;
    struct fe_faults faults = {0};
    struct app app = {.max_body = DEFAULT_MAX_BODY};
    struct cs_buf seed;
    struct MHD_Daemon *d = NULL;
    struct cs_err err;
    int status = 1;
    cs_err_clear(&err);
    cs_json_init();
    cs_buf_init_secret(&seed, 64u << 20);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        const char *eq = strchr(a, '=');
        char name[64];
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen >= sizeof(name)) {
            usage(stderr);
            goto out;
        }
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        if (strcmp(name, "--quiet") == 0) {
            quiet = true;
            continue;
        }
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            usage(stdout);
            status = 0;
            goto out;
        }
        v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(stderr, "fake-elb: %s needs a value\n", name);
            goto out;
        }
        double num;
        if (strcmp(name, "--listen") == 0) {
            listen_addr = v;
        } else if (strcmp(name, "--port-file") == 0) {
            port_file = v;
        } else if (strcmp(name, "--state") == 0) {
            state_file = v;
        } else if (strcmp(name, "--fault-latency-ms") == 0 && parse_double(v, 0, 60000, &num)) {
            faults.latency_ms = (uint64_t)num;
        } else if (strcmp(name, "--fault-500-rate") == 0 && parse_double(v, 0, 1, &num)) {
            faults.error_500_rate = num;
        } else if (strcmp(name, "--fault-throttle-rate") == 0 && parse_double(v, 0, 1, &num)) {
            faults.throttle_rate = num;
        } else if (strcmp(name, "--fault-lost-response-rate") == 0 &&
                   parse_double(v, 0, 1, &num)) {
            faults.lost_response_rate = num;
        } else if (strcmp(name, "--max-body") == 0 && parse_double(v, 1024, 64 << 20, &num)) {
            app.max_body = (size_t)num;
        } else {
            fprintf(stderr, "fake-elb: bad option or value: %s\n", name);
            usage(stderr);
            goto out;
        }
    }
    cs_log_configure(quiet ? CS_LOG_WARN : CS_LOG_INFO, CS_LOG_TEXT);
    struct sockaddr_in sa;
    if (!listen_addr || !parse_listen(listen_addr, &sa)) {
        fprintf(stderr, "fake-elb: --listen 127.0.0.1:PORT is required (loopback only)\n");
        goto out;
    }
    if (state_file && !read_file(state_file, &seed)) {
        fprintf(stderr, "fake-elb: cannot read seed %s\n", state_file);
        goto out;
    }
    if (fe_server_new(seed.len ? seed.ptr : "{}", seed.len ? seed.len : 2, &faults, &app.server,
                      &err) != CS_OK) {
        fprintf(stderr, "fake-elb: %s\n", err.message);
        goto out;
    }
    cs_buf_free(&seed);

    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_POLL | (quiet ? 0 : MHD_USE_ERROR_LOG),
                         0, NULL, NULL, on_request, &app, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_URI_LOG_CALLBACK, on_uri, &app, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "fake-elb: cannot listen on %s\n", listen_addr);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%u", port);
    if (port_file && !write_port_file(port_file, port)) {
        fprintf(stderr, "fake-elb: cannot write %s\n", port_file);
        goto out;
    }
    cs_log_info("fake-elb listening", "address", "127.0.0.1", "port", port_s);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    atomic_store(&stopping, true);
    cs_log_info("fake-elb stopping");
    status = 0;
out:
    if (d)
        MHD_stop_daemon(d);
    fe_server_free(app.server);
    cs_buf_free(&seed);
    return status;
}
