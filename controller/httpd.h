/* httpd.h -- the controller's HTTP endpoints: /healthz, /readyz and /metrics.
 *
 * /healthz answers 200 while the process's liveness check passes (by default: always, once
 * serving), /readyz 200 once ready (after the first full sync), and /metrics the registry in
 * Prometheus text format. Anything else is 404; methods other than GET and HEAD are 405. */
#ifndef CTL_HTTPD_H
#define CTL_HTTPD_H

#include <stdbool.h>

#include "common/err.h"
#include "controller/metrics.h"

/* Called on every probe; returns whether that probe passes, and may fill reason (for the
 * body of a failing probe). */
typedef bool (*ctl_probe_fn)(void *ud, char *reason, size_t reason_size);

struct ctl_httpd_opts {
    const char *addr;       /* "HOST:PORT", ":PORT" (all interfaces) or "[::1]:PORT"; port 0
                               picks a free one */
    struct ctl_metrics *metrics;
    ctl_probe_fn live;      /* NULL: always live */
    ctl_probe_fn ready;     /* NULL: always ready */
    void *ud;
};

struct ctl_httpd;

enum cs_code ctl_httpd_start(const struct ctl_httpd_opts *opts, struct ctl_httpd **out,
                             struct cs_err *err);
/* The port actually bound. */
int ctl_httpd_port(const struct ctl_httpd *h);
void ctl_httpd_stop(struct ctl_httpd *h);

/* Parses "HOST:PORT" forms as above into host (empty for all interfaces) and port. */
bool ctl_parse_listen_addr(const char *addr, char *host, size_t host_size, int *port);

#endif
