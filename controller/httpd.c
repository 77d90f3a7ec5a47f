/* httpd.c -- health, readiness and metrics endpoints on libmicrohttpd. */
#include "controller/httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctl_httpd {
    struct MHD_Daemon *daemon;
    struct ctl_httpd_opts opts;
    int port;
};

bool ctl_parse_listen_addr(const char *addr, char *host, size_t host_size, int *port)
{
    if (!addr || !*addr || host_size == 0)
        return false;
    const char *colon;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return false;
        hlen = (size_t)(close - addr - 1);
        if (hlen >= host_size)
            return false;
        memcpy(host, addr + 1, hlen);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return false;
        hlen = (size_t)(colon - addr);
        if (hlen >= host_size || memchr(addr, ':', hlen))
            return false;
        memcpy(host, addr, hlen);
    }
    host[hlen] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 0 || p > 65535)
        return false;
    *port = (int)p;
    return true;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type,
                               char *body, size_t len, bool must_free)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (must_free)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result probe(struct MHD_Connection *c, ctl_probe_fn fn, void *ud)
{
    char reason[256] = "";
    bool ok = fn ? fn(ud, reason, sizeof(reason)) : true;
    char body[300];
    int n = snprintf(body, sizeof(body), "%s%s%s\n", ok ? "ok" : "not ok",
                     reason[0] ? ": " : "", reason);
    return respond(c, ok ? 200 : 503, "text/plain; charset=utf-8", body, (size_t)n, false);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct ctl_httpd *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        char msg[] = "method not allowed\n";
        return respond(c, 405, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, false);
    }
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0)
        return probe(c, h->opts.live, h->opts.ud);
    if (strcmp(url, "/readyz") == 0)
        return probe(c, h->opts.ready, h->opts.ud);
    if (strcmp(url, "/metrics") == 0 && h->opts.metrics) {
        struct cs_buf b;
        cs_buf_init(&b, 256 * 1024 * 1024);
        if (ctl_metrics_render(h->opts.metrics, &b) != CS_OK) {
            cs_buf_free(&b);
            char msg[] = "metrics unavailable\n";
            return respond(c, 500, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, false);
        }
        size_t len = b.len;
        char *body = cs_buf_take(&b);
        if (!body)
            return MHD_NO;
        return respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, true);
    }
    char msg[] = "not found\n";
    return respond(c, 404, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, false);
}

enum cs_code ctl_httpd_start(const struct ctl_httpd_opts *opts, struct ctl_httpd **out,
                             struct cs_err *err)
{
    char host[128];
    int port;
    if (!ctl_parse_listen_addr(opts->addr, host, sizeof(host), &port))
        return cs_err_set(err, CS_EINVAL, 0, "invalid listen address \"%s\" (want HOST:PORT)",
                          opts->addr ? opts->addr : "");
    struct ctl_httpd *h = calloc(1, sizeof(*h));
    if (!h)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    h->opts = *opts;

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (strchr(host, ':')) {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &sa->sin6_addr) != 1)
            goto bad_host;
        flags |= MHD_USE_IPv6;
    } else if (host[0] == '\0') {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons((uint16_t)port);
        sa->sin6_addr = in6addr_any;
        flags |= MHD_USE_DUAL_STACK;
    } else {
        struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
        sa->sin_family = AF_INET;
        sa->sin_port = htons((uint16_t)port);
        if (strcmp(host, "localhost") == 0)
            sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
            goto bad_host;
    }
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handler, h, MHD_OPTION_SOCK_ADDR, &ss,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!h->daemon) {
        free(h);
        return cs_err_set(err, CS_EIO, 0, "cannot listen on %s", opts->addr);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    *out = h;
    return CS_OK;
bad_host:
    free(h);
    return cs_err_set(err, CS_EINVAL, 0, "invalid listen address \"%s\": not an IP address",
                      opts->addr);
}

int ctl_httpd_port(const struct ctl_httpd *h)
{
    return h->port;
}

void ctl_httpd_stop(struct ctl_httpd *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
