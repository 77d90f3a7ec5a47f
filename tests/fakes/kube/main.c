/* main.c -- fake-kube-apiserver: flags, the HTTP(S) server on libmicrohttpd (one thread per
 * connection, so that a watch stream may block waiting for events), the port file, the
 * kubeconfig and CA files, and a clean exit on SIGTERM/SIGINT. Request handling itself is
 * fk_api_handle() in api.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/rand.h>

#include "common/codec.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "tests/fakes/kube/fk.h"

struct options {
    const char *listen;
    const char *port_file;
    const char *kubeconfig_out;
    const char *ca_out;
    const char *token;
    const char *token_file;
    const char *seed;
    long watch_history;
    long bookmark_ms;
    bool tls;
    bool quiet;
    bool auto_ns;
    struct fk_faults faults;
};

static bool quiet;

static void usage(FILE *f)
{
    fputs("usage: fake-kube-apiserver [options]\n"
          "  --listen 127.0.0.1:PORT       address (PORT 0: any free port; default 127.0.0.1:0)\n"
          "  --port-file FILE              write the bound port there once serving\n"
          "  --kubeconfig-out FILE         write a kubeconfig for this server\n"
          "  --tls                         HTTPS with an in-memory CA and server certificate\n"
          "  --ca-out FILE                 write the CA certificate (PEM)\n"
          "  --token TOKEN                 require Authorization: Bearer TOKEN\n"
          "  --token-file FILE             same, the token read from FILE\n"
          "  --watch-history N             events kept for watches and continue tokens (1000)\n"
          "  --bookmark-interval-ms N      BOOKMARK interval on watches that ask (60000)\n"
          "  --seed FILE                   JSON array or List of objects created at start\n"
          "  --auto-create-namespaces      create missing namespaces instead of 404\n"
          "  --fault-429-rate F            share of requests answered 429 TooManyRequests\n"
          "  --fault-500-rate F            share of requests answered 500 InternalError\n"
          "  --fault-delay-ms N            delay before answering\n"
          "  --fault-drop-watch-ms N       cut every watch stream after N ms\n"
          "  --fault-split-chunks          write watch events in small random pieces\n"
          "  --quiet                       no request log\n"
          "Speaks JSON only: protobuf bodies (kubectl create secret tls ...) get 415; use\n"
          "manifests (kubectl apply -f / create -f). No OpenAPI: kubectl needs --validate=false.\n"
          "Server-side apply (application/apply-patch+yaml) gets 415.\n"
          "Control (no token needed): GET /_fake/healthz, GET /_fake/stats, GET|POST /_fake/faults,\n"
          "POST /_fake/drop-watches, POST /_fake/compact.\n",
          f);
}

static bool num_arg(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    o->listen = "127.0.0.1:0";
    o->watch_history = 1000;
    o->bookmark_ms = 60000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
#define STR_OPT(flag, field)                                                                   \
    if (strcmp(a, flag) == 0) {                                                                \
        if (!v)                                                                                \
            goto missing;                                                                      \
        o->field = v;                                                                          \
        i++;                                                                                   \
        continue;                                                                              \
    }
#define NUM_OPT(flag, lo, hi, stmt)                                                            \
    if (strcmp(a, flag) == 0) {                                                                \
        if (!v)                                                                                \
            goto missing;                                                                      \
        if (!num_arg(v, lo, hi, &d)) {                                                         \
            fprintf(stderr, "fake-kube-apiserver: %s: bad value '%s'\n", a, v);                \
            return 2;                                                                          \
        }                                                                                      \
        stmt;                                                                                  \
        i++;                                                                                   \
        continue;                                                                              \
    }
        STR_OPT("--listen", listen)
        STR_OPT("--port-file", port_file)
        STR_OPT("--kubeconfig-out", kubeconfig_out)
        STR_OPT("--ca-out", ca_out)
        STR_OPT("--token", token)
        STR_OPT("--token-file", token_file)
        STR_OPT("--seed", seed)
        NUM_OPT("--watch-history", 0, 100000000, o->watch_history = (long)d)
        NUM_OPT("--bookmark-interval-ms", 1, 86400000, o->bookmark_ms = (long)d)
        NUM_OPT("--fault-429-rate", 0, 1, o->faults.rate_429 = d)
        NUM_OPT("--fault-500-rate", 0, 1, o->faults.rate_500 = d)
        NUM_OPT("--fault-delay-ms", 0, 3600000, o->faults.delay_ms = (long)d)
        NUM_OPT("--fault-drop-watch-ms", 0, 86400000, o->faults.drop_watch_ms = (long)d)
        if (strcmp(a, "--tls") == 0) {
            o->tls = true;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = true;
        } else if (strcmp(a, "--auto-create-namespaces") == 0) {
            o->auto_ns = true;
        } else if (strcmp(a, "--fault-split-chunks") == 0) {
            o->faults.split_chunks = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else {
            fprintf(stderr, "fake-kube-apiserver: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "fake-kube-apiserver: %s needs a value\n", a);
        return 2;
    }
    if (o->faults.rate_429 + o->faults.rate_500 > 1) {
        fprintf(stderr, "fake-kube-apiserver: fault rates add up to more than 1\n");
        return 2;
    }
    return 0;
}

/* Writes data to path atomically (temporary file, then rename), with the given mode. */
static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct cs_buf b;
    cs_buf_init_secret(&b, max);
    char chunk[65536];
    size_t n;
    bool ok = true;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (cs_buf_add(&b, chunk, n) != CS_OK) {
            ok = false;
            break;
        }
    ok = ok && !ferror(f);
    fclose(f);
    OPENSSL_cleanse(chunk, sizeof(chunk));
    if (!ok) {
        cs_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    char *s = cs_buf_take(&b);
    cs_buf_free(&b);
    return s;
}

static char *kubeconfig_yaml(const char *server, const char *ca_pem, const char *token)
{
    struct cs_buf b, ca64;
    cs_buf_init_secret(&b, 0);
    cs_buf_init(&ca64, 0);
    cs_buf_addf(&b, "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n"
                "    server: %s\n", server);
    if (ca_pem && cs_base64_encode(ca_pem, strlen(ca_pem), &ca64) == CS_OK)
        cs_buf_addf(&b, "    certificate-authority-data: %s\n", cs_buf_str(&ca64));
    cs_buf_adds(&b, "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n"
                    "    namespace: default\ncurrent-context: fake\nusers:\n- name: fake\n"
                    "  user:");
    if (token)
        cs_buf_addf(&b, "\n    token: \"%s\"\n", token);
    else
        cs_buf_adds(&b, " {}\n");
    cs_buf_free(&ca64);
    char *s = cs_buf_take(&b);
    cs_buf_free(&b);
    return s;
}

/* ---- the HTTP glue ---- */

struct conn_ctx {
    struct cs_buf body;
    bool too_big;
};

struct query_collect {
    struct fk_request *req;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct fk_request *req = cls;
    if (req->nquery < FK_MAX_QUERY)
        req->query[req->nquery++] = (struct fk_kv){key, value};
    return MHD_YES;
}

static ssize_t watch_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    long n = fk_watch_read(cls, buf, max);
    if (n > 0)
        return (ssize_t)n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void watch_free(void *cls)
{
    fk_watch_free(cls);
}

static void body_free(void *p)
{
    cs_secure_free_str(p);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct fk_server *srv = cls;
    struct conn_ctx *ctx = *con_cls;
    if (!ctx) {
        if (!(ctx = calloc(1, sizeof(*ctx))))
            return MHD_NO;
        cs_buf_init_secret(&ctx->body, FK_MAX_BODY);
        *con_cls = ctx;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > FK_MAX_BODY)
            ctx->too_big = true;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!ctx->too_big && cs_buf_add(&ctx->body, upload_data, *upload_size) != CS_OK)
            ctx->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    struct fk_request req = {.method = method, .path = url};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &req);
    req.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    req.accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    req.body = ctx->body.ptr;
    req.body_len = ctx->body.len;
    req.body_too_big = ctx->too_big;
    struct fk_response resp;
    fk_api_handle(srv, &req, &resp);
    cs_buf_free(&ctx->body);

    struct MHD_Response *r;
    if (resp.watch) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, watch_reader,
                                              resp.watch, watch_free);
        if (r)
            resp.watch = NULL; /* the response owns it now */
    } else {
        r = MHD_create_response_from_buffer_with_free_callback(resp.body_len, resp.body,
                                                               body_free);
        if (r)
            resp.body = NULL;
    }
    if (!r) {
        fk_response_cleanup(&resp);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", resp.content_type ? resp.content_type
                                                                  : "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-cache, private");
    if (resp.retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", resp.retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp.status, r);
    MHD_destroy_response(r);
    if (!quiet) {
        char code[8];
        snprintf(code, sizeof(code), "%d", resp.status);
        cs_log_info("request", "method", method, "path", url, "status", code);
    }
    fk_response_cleanup(&resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_ctx *ctx = *con_cls;
    if (ctx) {
        cs_buf_free(&ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : rc;
    quiet = o.quiet;
    cs_json_init();
    cs_log_configure(quiet ? CS_LOG_WARN : CS_LOG_INFO, CS_LOG_TEXT);

    /* Signals are taken by sigwait in main; no other thread sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct fk_server srv;
    struct fk_tls tls = {0};
    struct MHD_Daemon *d = NULL;
    char *seed = NULL, *kc = NULL;
    size_t seed_len = 0;
    rc = 1;
    if (fk_server_init(&srv, (size_t)o.watch_history) != CS_OK) {
        fprintf(stderr, "fake-kube-apiserver: out of memory\n");
        return 1;
    }
    srv.faults = o.faults;
    srv.bookmark_interval_ms = o.bookmark_ms;
    srv.auto_namespaces = o.auto_ns;
    srv.tls = o.tls;

    if (o.token_file) {
        size_t n;
        char *t = read_file(o.token_file, 4096, &n);
        if (!t) {
            fprintf(stderr, "fake-kube-apiserver: cannot read --token-file %s\n", o.token_file);
            goto out;
        }
        t[strcspn(t, "\r\n")] = '\0';
        srv.token = t;
    } else if (o.token) {
        srv.token = strdup(o.token);
    } else if (o.tls) {
        unsigned char raw[24];
        char hex[49];
        if (RAND_bytes(raw, sizeof(raw)) != 1) {
            fprintf(stderr, "fake-kube-apiserver: no randomness for a token\n");
            goto out;
        }
        cs_hex(raw, sizeof(raw), hex);
        srv.token = strdup(hex);
        OPENSSL_cleanse(raw, sizeof(raw));
        OPENSSL_cleanse(hex, sizeof(hex));
    }
    if (srv.token && (!*srv.token || strpbrk(srv.token, " \t\"\\"))) {
        fprintf(stderr, "fake-kube-apiserver: the token must be non-empty, without spaces or "
                        "quotes\n");
        goto out;
    }

    if (o.seed) {
        struct cs_err err;
        if (!(seed = read_file(o.seed, (size_t)1 << 30, &seed_len))) {
            fprintf(stderr, "fake-kube-apiserver: cannot read --seed %s: %s\n", o.seed,
                    strerror(errno));
            goto out;
        }
        if (fk_server_seed(&srv, seed, seed_len, &err) != CS_OK) {
            fprintf(stderr, "fake-kube-apiserver: %s\n", err.message);
            goto out;
        }
    }

    struct sockaddr_in addr = {.sin_family = AF_INET};
    {
        char host[64];
        const char *colon = strrchr(o.listen, ':');
        double port;
        if (!colon || (size_t)(colon - o.listen) >= sizeof(host) ||
            !num_arg(colon + 1, 0, 65535, &port)) {
            fprintf(stderr, "fake-kube-apiserver: --listen wants HOST:PORT, got '%s'\n", o.listen);
            goto out;
        }
        memcpy(host, o.listen, (size_t)(colon - o.listen));
        host[colon - o.listen] = '\0';
        if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
            fprintf(stderr, "fake-kube-apiserver: --listen: '%s' is not an IPv4 address\n", host);
            goto out;
        }
        addr.sin_port = htons((uint16_t)port);
    }

    if (o.tls) {
        struct cs_err err;
        if (fk_tls_generate(&tls, &err) != CS_OK) {
            fprintf(stderr, "fake-kube-apiserver: %s\n", err.message);
            goto out;
        }
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | (quiet ? 0 : MHD_USE_ERROR_LOG);
    if (o.tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_opts[] = {
        {o.tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, tls.key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, tls.cert_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &srv, MHD_OPTION_SOCK_ADDR, &addr,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024,
                         MHD_OPTION_CONNECTION_LIMIT, 4000u, MHD_OPTION_LISTENING_ADDRESS_REUSE,
                         1u, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "fake-kube-apiserver: cannot listen on %s\n", o.listen);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    pthread_mutex_lock(&srv.cfg_mu); /* handlers read it for /api */
    srv.port = info ? info->port : 0;
    pthread_mutex_unlock(&srv.cfg_mu);
    char url[128];
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr.sin_addr, host, sizeof(host));
    snprintf(url, sizeof(url), "%s://%s:%d", o.tls ? "https" : "http", host, info ? info->port : 0);

    if (o.ca_out && write_file(o.ca_out, tls.ca_pem ? tls.ca_pem : "",
                               tls.ca_pem ? strlen(tls.ca_pem) : 0, 0644) != 0) {
        fprintf(stderr, "fake-kube-apiserver: cannot write %s: %s\n", o.ca_out, strerror(errno));
        goto out;
    }
    if (o.kubeconfig_out) {
        kc = kubeconfig_yaml(url, tls.ca_pem, srv.token);
        if (!kc || write_file(o.kubeconfig_out, kc, strlen(kc), 0600) != 0) {
            fprintf(stderr, "fake-kube-apiserver: cannot write %s: %s\n", o.kubeconfig_out,
                    strerror(errno));
            goto out;
        }
    }
    if (o.port_file) {
        char p[16];
        int n = snprintf(p, sizeof(p), "%d\n", info ? info->port : 0);
        if (write_file(o.port_file, p, (size_t)n, 0644) != 0) {
            fprintf(stderr, "fake-kube-apiserver: cannot write %s: %s\n", o.port_file,
                    strerror(errno));
            goto out;
        }
    }
    if (!quiet)
        cs_log_info("serving", "url", url, "tls", o.tls ? "true" : "false", "auth",
                    srv.token ? "bearer" : "none");

    sigset_t wait_for;
    sigemptyset(&wait_for);
    sigaddset(&wait_for, SIGTERM);
    sigaddset(&wait_for, SIGINT);
    int sig = 0;
    while (sigwait(&wait_for, &sig) != 0) {
    }
    if (!quiet)
        cs_log_info("shutting down", "signal", sig == SIGTERM ? "TERM" : "INT");
    rc = 0;
out:
    pthread_mutex_lock(&srv.store.mu);
    srv.store.shutting_down = true;
    pthread_cond_broadcast(&srv.store.changed);
    pthread_mutex_unlock(&srv.store.mu);
    if (d)
        MHD_stop_daemon(d);
    fk_tls_cleanup(&tls);
    if (seed)
        cs_secure_free(seed, seed_len);
    cs_secure_free_str(kc);
    fk_server_cleanup(&srv);
    return rc;
}
