/* transport.c -- rate-limited, retrying HTTP transport shared by the ELB backends. */
#include "elb/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_RETRIES 4
#define DEFAULT_BACKOFF_INITIAL_MS 200
#define DEFAULT_BACKOFF_MAX_MS 10000
#define DEFAULT_MAX_RETRY_AFTER_MS 30000L

bool elb_transport_should_retry(enum cs_code code, bool idempotent)
{
    switch (code) {
    case CS_ETHROTTLED:
        return true; /* refused before anything happened */
    case CS_EIO:
    case CS_ETIMEDOUT:
    case CS_ESERVER:
        return idempotent; /* may have happened: only a repeatable call goes again */
    default:
        return false;
    }
}

bool elb_transport_retry_delay(uint64_t backoff_ms, long retry_after_ms, long max_retry_after_ms,
                               uint64_t *delay_ms)
{
    if (retry_after_ms > 0 && max_retry_after_ms >= 0 && retry_after_ms > max_retry_after_ms)
        return false;
    uint64_t d = backoff_ms;
    if (retry_after_ms > 0 && (uint64_t)retry_after_ms > d)
        d = (uint64_t)retry_after_ms;
    *delay_ms = d;
    return true;
}

static struct cs_http_client_opts client_opts(const char *ca_file)
{
    return (struct cs_http_client_opts){
        .tls = {.ca_file = ca_file},
        .connect_timeout_ms = 10000,
        .user_agent = "elb-certsync",
        .accept_gzip = true,
    };
}

enum cs_code elb_transport_init(struct elb_transport *t, const struct elb_provider_config *cfg,
                                struct cs_err *err)
{
    memset(t, 0, sizeof(*t));
    if (cfg->ca_file && !(t->ca_file = strdup(cfg->ca_file)))
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    struct cs_http_client_opts o = client_opts(t->ca_file);
    enum cs_code rc = cs_http_client_new(&o, &t->http, err);
    if (rc) {
        free(t->ca_file);
        t->ca_file = NULL;
        return rc;
    }
    cs_token_bucket_init(&t->bucket, cfg->qps, cfg->burst > 0 ? cfg->burst : 1);
    t->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    t->max_retries = cfg->max_retries < 0 ? DEFAULT_RETRIES : cfg->max_retries;
    t->backoff_initial_ms =
        cfg->retry_initial_ms > 0 ? (uint64_t)cfg->retry_initial_ms : DEFAULT_BACKOFF_INITIAL_MS;
    t->backoff_max_ms =
        cfg->retry_max_ms > 0 ? (uint64_t)cfg->retry_max_ms : DEFAULT_BACKOFF_MAX_MS;
    if (t->backoff_max_ms < t->backoff_initial_ms)
        t->backoff_max_ms = t->backoff_initial_ms;
    t->max_retry_after_ms =
        cfg->max_retry_after_ms > 0 ? cfg->max_retry_after_ms : DEFAULT_MAX_RETRY_AFTER_MS;
    return CS_OK;
}

void elb_transport_cleanup(struct elb_transport *t)
{
    if (!t || !t->http)
        return;
    free(t->ca_file);
    t->ca_file = NULL;
    cs_http_client_free(t->http);
    cs_token_bucket_cleanup(&t->bucket);
    t->http = NULL;
}

enum cs_code elb_transport_call(struct elb_transport *t, const struct elb_call *call,
                                struct cs_http_response *resp, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct cs_err e;
    struct cs_backoff bo;
    cs_backoff_init(&bo, t->backoff_initial_ms, t->backoff_max_ms, 2.0, 0.5, 0);

    for (int attempt = 0;; attempt++) {
        cs_err_clear(&e);
        uint64_t wait = cs_token_bucket_reserve(&t->bucket, cs_now_ms());
        if (wait)
            cs_sleep_ms(wait);
        struct cs_http_request req;
        memset(&req, 0, sizeof(req));
        rc = call->prepare(call->ud, &req, &e);
        if (rc)
            goto out; /* a request we cannot build will not build next time either */
        if (!req.timeout_ms)
            req.timeout_ms = t->timeout_ms;
        cs_http_response_cleanup(resp);
        cs_http_response_init(resp);
        if (call->idempotent) {
            rc = cs_http_do(t->http, &req, resp, &e);
        } else {
            /* A fresh connection: libcurl silently re-sends a request whose reused connection
             * died before any answer, and for a create that answer may have been lost after
             * the cloud acted on it (found against fake-elb: duplicate certificates). */
            struct cs_http_client_opts o = client_opts(t->ca_file);
            struct cs_http_client *once = NULL;
            rc = cs_http_client_new(&o, &once, &e);
            if (rc == CS_OK)
                rc = cs_http_do(once, &req, resp, &e);
            cs_http_client_free(once);
        }
        if (rc == CS_OK)
            rc = call->classify(call->ud, resp, &e);
        if (rc == CS_OK)
            goto out;
        if (attempt >= t->max_retries || !elb_transport_should_retry(rc, call->idempotent))
            goto out;
        uint64_t delay;
        if (!elb_transport_retry_delay(cs_backoff_next(&bo, cs_now_ms()), e.retry_after_ms,
                                       t->max_retry_after_ms, &delay))
            goto out;
        cs_sleep_ms(delay);
    }
out:
    if (rc && err)
        *err = e;
    else if (!rc)
        cs_err_clear(err);
    return rc;
}

enum cs_code elb_endpoint_parse(const char *endpoint, const char *region, char **origin,
                                char **host, char **prefix, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct cs_buf url;
    char *o = NULL, *h = NULL, *p = NULL;
    cs_buf_init(&url, 4096);

    if (!endpoint || !endpoint[0]) {
        rc = cs_err_set(err, CS_EINVAL, 0, "endpoint is empty");
        goto out;
    }
    for (const char *s = endpoint; *s;) {
        const char *ph = strstr(s, "{region}");
        if (!ph) {
            rc = cs_buf_adds(&url, s);
            break;
        }
        if (!region || !region[0]) {
            rc = cs_err_set(err, CS_EINVAL, 0, "endpoint %s needs a region", endpoint);
            goto out;
        }
        rc = cs_buf_add(&url, s, (size_t)(ph - s));
        if (rc == CS_OK)
            rc = cs_buf_adds(&url, region);
        if (rc)
            break;
        s = ph + strlen("{region}");
    }
    if (rc) {
        rc = cs_err_set(err, rc, 0, "endpoint too long");
        goto out;
    }
    if (!url.ptr) {
        rc = cs_err_set(err, CS_EINVAL, 0, "endpoint is empty");
        goto out;
    }
    const char *u = url.ptr;
    const char *def_port;
    size_t scheme_len;
    if (strncasecmp(u, "https://", 8) == 0) {
        scheme_len = 8;
        def_port = "443";
    } else if (strncasecmp(u, "http://", 7) == 0) {
        scheme_len = 7;
        def_port = "80";
    } else {
        rc = cs_err_set(err, CS_EINVAL, 0, "endpoint %s: scheme must be http:// or https://",
                        endpoint);
        goto out;
    }
    const char *auth = u + scheme_len;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth_len == 0 || memchr(auth, '@', auth_len)) {
        rc = cs_err_set(err, CS_EINVAL, 0, "endpoint %s: bad host", endpoint);
        goto out;
    }
    const char *rest = auth + auth_len;
    if (strpbrk(rest, "?#")) {
        rc = cs_err_set(err, CS_EINVAL, 0, "endpoint %s: no query or fragment allowed",
                        endpoint);
        goto out;
    }
    size_t plen = strlen(rest);
    while (plen && rest[plen - 1] == '/')
        plen--;
    /* The signed host drops the scheme's default port, as the SDKs and curl's Host do. */
    size_t hlen = auth_len;
    const char *colon = NULL;
    if (auth[0] == '[') {
        const char *rb = memchr(auth, ']', auth_len);
        if (rb && rb + 1 < auth + auth_len && rb[1] == ':')
            colon = rb + 1;
    } else {
        colon = memchr(auth, ':', auth_len);
    }
    if (colon) {
        size_t port_len = auth_len - (size_t)(colon + 1 - auth);
        if (port_len == 0) {
            rc = cs_err_set(err, CS_EINVAL, 0, "endpoint %s: empty port", endpoint);
            goto out;
        }
        for (size_t i = 0; i < port_len; i++) {
            if (colon[1 + i] < '0' || colon[1 + i] > '9') {
                rc = cs_err_set(err, CS_EINVAL, 0, "endpoint %s: bad port", endpoint);
                goto out;
            }
        }
        if (port_len == strlen(def_port) && memcmp(colon + 1, def_port, port_len) == 0)
            hlen = (size_t)(colon - auth);
    }
    o = strndup(u, scheme_len + auth_len);
    h = strndup(auth, hlen);
    p = strndup(rest, plen);
    if (!o || !h || !p) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    *origin = o;
    *host = h;
    *prefix = p;
    o = h = p = NULL;
out:
    free(o);
    free(h);
    free(p);
    cs_buf_free(&url);
    return rc;
}
