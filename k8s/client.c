/* client.c -- the Kubernetes REST client: URLs, authentication, verbs, watch streaming and
 * the mapping of Status answers to struct cs_err. */
#include "k8s/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/http.h"
#include "common/json.h"
#include "common/util.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_TOKEN_REFRESH_MS 60000
#define MAX_ERROR_BODY ((size_t)64 * 1024)

const struct k8s_resource k8s_res_secrets = {"api/v1", "secrets", "Secret", "v1", true, true};
const struct k8s_resource k8s_res_ingresses = {"apis/networking.k8s.io/v1", "ingresses",
                                               "Ingress", "networking.k8s.io/v1", true, false};
const struct k8s_resource k8s_res_ingressclasses = {"apis/networking.k8s.io/v1",
                                                    "ingressclasses", "IngressClass",
                                                    "networking.k8s.io/v1", false, false};
const struct k8s_resource k8s_res_events = {"api/v1", "events", "Event", "v1", true, false};
const struct k8s_resource k8s_res_leases = {"apis/coordination.k8s.io/v1", "leases", "Lease",
                                            "coordination.k8s.io/v1", true, false};
const struct k8s_resource k8s_res_namespaces = {"api/v1", "namespaces", "Namespace", "v1",
                                                false, false};
const struct k8s_resource k8s_res_configmaps = {"api/v1", "configmaps", "ConfigMap", "v1", true,
                                                false};

struct k8s_client {
    struct cs_http_client *http;
    char *server;
    char *ns;
    char *token_file;
    long timeout_ms;
    uint64_t token_refresh_ms;
    pthread_mutex_t token_lock; /* guards token and token_read_ms */
    struct cs_buf token;        /* secret */
    uint64_t token_read_ms;
    bool token_ever_read;
};

/* ---- errors ---- */

static enum cs_code code_for_status(long s)
{
    switch (s) {
    case 400:
    case 422:
        return CS_EINVAL;
    case 401:
    case 403:
        return CS_EAUTH;
    case 404:
        return CS_ENOTFOUND;
    case 408:
    case 504:
        return CS_ETIMEDOUT;
    case 409:
        return CS_ECONFLICT;
    case 410:
        return CS_EGONE;
    case 413:
        return CS_ETOOBIG;
    case 405:
    case 415:
        return CS_EUNSUPPORTED;
    case 429:
        return CS_ETHROTTLED;
    default:
        if (s >= 500 && s <= 599)
            return CS_ESERVER;
        if (s >= 400 && s <= 499)
            return CS_EINVAL;
        return CS_EPROTO;
    }
}

enum cs_code k8s_status_json_to_err(long http_status, const cJSON *status, long retry_after_ms,
                                    struct cs_err *err)
{
    long code = http_status;
    const char *reason = NULL, *message = NULL;
    if (cJSON_IsObject(status) && (!cs_json_str(status, "kind") ||
                                   strcmp(cs_json_str(status, "kind"), "Status") == 0)) {
        reason = cs_json_str(status, "reason");
        message = cs_json_str(status, "message");
        long sc = (long)cs_json_int(status, "code", 0);
        if (code == 0 || (code == 200 && sc != 0)) /* watch ERROR events come in a 200 */
            code = sc;
        const cJSON *details = cJSON_GetObjectItemCaseSensitive(status, "details");
        long ras = (long)cs_json_int(details, "retryAfterSeconds", 0);
        if (retry_after_ms <= 0 && ras > 0 && ras <= 3600)
            retry_after_ms = ras * 1000;
    }
    enum cs_code rc = code_for_status(code);
    if (message && *message)
        cs_err_set(err, rc, code, "%s", message);
    else
        cs_err_set(err, rc, code, "HTTP %ld%s%s", code, reason ? " " : "", reason ? reason : "");
    if (err) {
        if (reason)
            snprintf(err->reason, sizeof(err->reason), "%s", reason);
        if (retry_after_ms > 0)
            err->retry_after_ms = retry_after_ms;
    }
    return rc;
}

enum cs_code k8s_status_to_err(long http_status, const char *body, size_t len,
                               long retry_after_ms, struct cs_err *err)
{
    cJSON *st = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    enum cs_code rc = k8s_status_json_to_err(http_status, st, retry_after_ms, err);
    cJSON_Delete(st);
    return rc;
}

/* ---- construction ---- */

const char *k8s_client_namespace(const struct k8s_client *c)
{
    return c->ns;
}

void k8s_client_free(struct k8s_client *c)
{
    if (!c)
        return;
    cs_http_client_free(c->http);
    free(c->server);
    free(c->ns);
    free(c->token_file);
    pthread_mutex_destroy(&c->token_lock);
    cs_buf_free(&c->token);
    free(c);
}

/* Re-reads the token file when due (or forced). Keeps the old token when the file cannot be
 * read: a rotation in progress must not log us out. Caller holds token_lock. */
static enum cs_code refresh_token_locked(struct k8s_client *c, bool force, struct cs_err *err)
{
    if (!c->token_file)
        return CS_OK;
    uint64_t now = cs_now_ms();
    if (!force && c->token_ever_read && now - c->token_read_ms < c->token_refresh_ms)
        return CS_OK;
    struct cs_buf fresh;
    struct cs_err rerr;
    cs_buf_init_secret(&fresh, 1024 * 1024);
    enum cs_code rc = k8s_read_file(c->token_file, &fresh, "token file", &rerr);
    if (rc == CS_OK) {
        while (fresh.len && strchr(" \t\r\n", fresh.ptr[fresh.len - 1]))
            fresh.ptr[--fresh.len] = '\0';
        cs_buf_reset(&c->token);
        rc = cs_buf_add(&c->token, fresh.ptr ? fresh.ptr : "", fresh.len);
        c->token_read_ms = now;
        c->token_ever_read = true;
    } else if (c->token_ever_read) {
        rc = CS_OK; /* keep the cached token */
    } else if (err) {
        *err = rerr;
    }
    cs_buf_free(&fresh);
    return rc;
}

enum cs_code k8s_client_new(const struct k8s_config *cfg, const struct k8s_client_opts *opts,
                            struct k8s_client **out, struct cs_err *err)
{
    static const struct k8s_client_opts none = {0};
    enum cs_code rc = CS_OK;
    if (!opts)
        opts = &none;
    cs_json_init();
    struct k8s_client *c = calloc(1, sizeof(*c));
    if (!c)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    pthread_mutex_init(&c->token_lock, NULL);
    cs_buf_init_secret(&c->token, 1024 * 1024);
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->token_refresh_ms = opts->token_refresh_ms ? opts->token_refresh_ms
                                                 : DEFAULT_TOKEN_REFRESH_MS;
    if (!(c->server = strdup(cfg->server)) ||
        !(c->ns = strdup(cfg->namespace ? cfg->namespace : "default")) ||
        (cfg->token_file && !(c->token_file = strdup(cfg->token_file)))) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (cfg->token.len && (rc = cs_buf_add(&c->token, cfg->token.ptr, cfg->token.len)) != CS_OK) {
        cs_err_set(err, rc, 0, "token too long");
        goto out;
    }
    if ((rc = refresh_token_locked(c, true, err)) != CS_OK)
        goto out;
    struct cs_http_client_opts ho = {
        .tls = {.ca_file = cfg->ca_file,
                .ca_pem = cfg->ca_pem.len ? cfg->ca_pem.ptr : NULL,
                .ca_pem_len = cfg->ca_pem.len,
                .client_cert_pem = cfg->client_cert_pem.len ? cfg->client_cert_pem.ptr : NULL,
                .client_cert_len = cfg->client_cert_pem.len,
                .client_key_pem = cfg->client_key_pem.len ? cfg->client_key_pem.ptr : NULL,
                .client_key_len = cfg->client_key_pem.len,
                .insecure_skip_verify = cfg->insecure_skip_verify,
                .server_name = cfg->tls_server_name},
        .connect_timeout_ms = opts->connect_timeout_ms,
        .user_agent = opts->user_agent,
        .accept_gzip = true,
    };
    if ((rc = cs_http_client_new(&ho, &c->http, err)) != CS_OK)
        goto out;
    *out = c;
    c = NULL;
out:
    k8s_client_free(c);
    return rc;
}

/* ---- URLs ---- */

static enum cs_code build_url(const struct k8s_client *c, const struct k8s_resource *res,
                              const char *ns, const char *name, const char *sub,
                              const char *query, struct cs_buf *url, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    if (res->namespaced && name && (!ns || !*ns))
        return cs_err_set(err, CS_EINVAL, 0, "%s %s: a namespace is required", res->plural,
                          name);
    if (name && !*name)
        return cs_err_set(err, CS_EINVAL, 0, "%s: empty name", res->plural);
    rc = cs_buf_addf(url, "%s/%s/", c->server, res->gv_path);
    if (rc == CS_OK && res->namespaced && ns && *ns) {
        rc = cs_buf_adds(url, "namespaces/");
        if (rc == CS_OK)
            rc = cs_url_encode(url, ns, strlen(ns));
        if (rc == CS_OK)
            rc = cs_buf_addc(url, '/');
    }
    if (rc == CS_OK)
        rc = cs_buf_adds(url, res->plural);
    if (rc == CS_OK && name) {
        rc = cs_buf_addc(url, '/');
        if (rc == CS_OK)
            rc = cs_url_encode(url, name, strlen(name));
    }
    if (rc == CS_OK && sub && *sub) {
        rc = cs_buf_addc(url, '/');
        if (rc == CS_OK)
            rc = cs_url_encode(url, sub, strlen(sub));
    }
    if (rc == CS_OK && query && *query)
        rc = cs_buf_addf(url, "?%s", query);
    if (rc != CS_OK)
        return cs_err_set(err, rc, 0, "URL too long");
    return CS_OK;
}

static enum cs_code add_param(struct cs_buf *q, const char *k, const char *v)
{
    enum cs_code rc = CS_OK;
    if (!v)
        return CS_OK;
    if (q->len)
        rc = cs_buf_addc(q, '&');
    if (rc == CS_OK)
        rc = cs_buf_addf(q, "%s=", k);
    if (rc == CS_OK)
        rc = cs_url_encode(q, v, strlen(v));
    return rc;
}

/* ---- requests ---- */

struct stream_ctx {
    struct cs_http_response *resp;
    long status; /* parsed from the status line when the body starts */
    struct k8s_watch_parser *parser;
    struct cs_buf error_body; /* non-200 answers: the Status, bounded */
    enum cs_code rc;
    struct cs_err err;
};

static long status_from_headers(const struct cs_http_response *r)
{
    long s = 0;
    const char *h = cs_buf_str(&r->headers);
    const char *sp = strchr(h, ' ');
    if (strncmp(h, "HTTP/", 5) == 0 && sp)
        s = strtol(sp + 1, NULL, 10);
    return s;
}

static bool on_stream_data(const char *data, size_t len, void *ud)
{
    struct stream_ctx *s = ud;
    if (s->status == 0)
        s->status = status_from_headers(s->resp);
    if (s->status != 200) {
        size_t room = MAX_ERROR_BODY - s->error_body.len;
        cs_buf_add(&s->error_body, data, len < room ? len : room);
        return true;
    }
    s->rc = k8s_watch_parser_feed(s->parser, data, len, &s->err);
    return s->rc == CS_OK;
}

/* One HTTP exchange with authentication; a 401 with a token file re-reads it and retries
 * once. */
static enum cs_code exchange(struct k8s_client *c, struct cs_http_request *rq,
                         const char *content_type, struct cs_http_response *resp,
                         struct stream_ctx *stream, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct cs_buf auth;
    cs_buf_init_secret(&auth, 1024 * 1024 + 16);
    for (int attempt = 0; attempt < 2; attempt++) {
        cs_buf_reset(&auth);
        pthread_mutex_lock(&c->token_lock);
        rc = refresh_token_locked(c, attempt > 0, err);
        if (rc == CS_OK && c->token.len)
            rc = cs_buf_addf(&auth, "Bearer %s", cs_buf_str(&c->token));
        pthread_mutex_unlock(&c->token_lock);
        if (rc != CS_OK)
            goto out;
        struct cs_http_header h[3] = {{"Accept", "application/json"}};
        size_t n = 1;
        if (rq->body)
            h[n++] = (struct cs_http_header){"Content-Type", content_type};
        if (auth.len)
            h[n++] = (struct cs_http_header){"Authorization", cs_buf_str(&auth)};
        rq->headers = h;
        rq->n_headers = n;
        if (stream) {
            stream->status = 0;
            stream->rc = CS_OK;
            cs_buf_reset(&stream->error_body);
        }
        rc = cs_http_do(c->http, rq, resp, err);
        rq->headers = NULL;
        rq->n_headers = 0;
        if (stream && rc == CS_ECANCELED && stream->rc != CS_OK) {
            rc = stream->rc; /* the parser or the handler stopped it */
            if (err)
                *err = stream->err;
        }
        if (rc != CS_OK || resp->status != 401 || !c->token_file || attempt > 0)
            break;
    }
out:
    cs_buf_free(&auth);
    return rc;
}

enum cs_code k8s_do(struct k8s_client *c, const struct k8s_call *call, cJSON **out,
                    struct cs_err *err)
{
    enum cs_code rc;
    struct cs_buf url;
    struct cs_http_response resp;
    char *body = NULL;
    cJSON *parsed = NULL;
    cs_buf_init(&url, 64 * 1024);
    cs_http_response_init(&resp);
    if ((rc = build_url(c, call->res, call->ns, call->name, call->subresource, call->query, &url,
                        err)) != CS_OK)
        goto out;
    if (call->body && !(body = cJSON_PrintUnformatted(call->body))) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    struct cs_http_request rq = {
        .method = call->method,
        .url = cs_buf_str(&url),
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = call->timeout_ms > 0 ? call->timeout_ms : c->timeout_ms,
        .secret_response = call->res->sensitive,
        .cancel = call->cancel,
    };
    rc = exchange(c, &rq, call->content_type ? call->content_type : "application/json", &resp, NULL,
              err);
    if (rc != CS_OK)
        goto out;
    if (resp.status < 200 || resp.status > 299) {
        rc = k8s_status_to_err(resp.status, resp.body.ptr, resp.body.len,
                               cs_http_retry_after_ms(&resp), err);
        cs_err_prefix(err, "%s %s/%s", call->method, call->res->plural,
                      call->name ? call->name : "");
        goto out;
    }
    if (out && resp.body.len) {
        if (!(parsed = cJSON_ParseWithLength(resp.body.ptr, resp.body.len))) {
            rc = cs_err_set(err, CS_EPROTO, resp.status, "%s %s: answer is not JSON",
                            call->method, call->res->plural);
            goto out;
        }
    }
    if (out)
        *out = parsed;
    parsed = NULL;
out:
    cJSON_Delete(parsed);
    if (body) {
        /* cJSON_free goes through the cleansing allocator */
        cJSON_free(body);
    }
    cs_http_response_cleanup(&resp);
    cs_buf_free(&url);
    return rc;
}

enum cs_code k8s_get(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                     const char *name, cJSON **out, struct cs_err *err)
{
    struct k8s_call call = {.method = "GET", .res = res, .ns = ns, .name = name};
    if (!name)
        return cs_err_set(err, CS_EINVAL, 0, "get %s: no name", res->plural);
    return k8s_do(c, &call, out, err);
}

enum cs_code k8s_list(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                      const struct k8s_list_opts *opts, cJSON **out, struct cs_err *err)
{
    struct cs_buf q;
    enum cs_code rc = CS_OK;
    char limit[32];
    cs_buf_init(&q, 64 * 1024);
    if (opts) {
        snprintf(limit, sizeof(limit), "%ld", opts->limit);
        if ((rc = add_param(&q, "labelSelector", opts->label_selector)) != CS_OK ||
            (rc = add_param(&q, "fieldSelector", opts->field_selector)) != CS_OK ||
            (rc = add_param(&q, "resourceVersion", opts->resource_version)) != CS_OK ||
            (rc = add_param(&q, "continue", opts->continue_token)) != CS_OK ||
            (rc = add_param(&q, "limit", opts->limit > 0 ? limit : NULL)) != CS_OK) {
            rc = cs_err_set(err, rc, 0, "list %s: query too long", res->plural);
            goto out;
        }
    }
    struct k8s_call call = {.method = "GET", .res = res, .ns = ns, .query = cs_buf_str(&q),
                            .timeout_ms = opts ? opts->timeout_ms : 0,
                            .cancel = opts ? opts->cancel : NULL};
    rc = k8s_do(c, &call, out, err);
out:
    cs_buf_free(&q);
    return rc;
}

enum cs_code k8s_create(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                        const cJSON *obj, cJSON **out, struct cs_err *err)
{
    struct k8s_call call = {.method = "POST", .res = res, .ns = ns, .body = obj};
    return k8s_do(c, &call, out, err);
}

enum cs_code k8s_update(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                        const char *name, const cJSON *obj, cJSON **out, struct cs_err *err)
{
    struct k8s_call call = {.method = "PUT", .res = res, .ns = ns, .name = name, .body = obj};
    if (!name)
        return cs_err_set(err, CS_EINVAL, 0, "update %s: no name", res->plural);
    return k8s_do(c, &call, out, err);
}

enum cs_code k8s_patch_merge(struct k8s_client *c, const struct k8s_resource *res,
                             const char *ns, const char *name, const cJSON *patch, cJSON **out,
                             struct cs_err *err)
{
    struct k8s_call call = {.method = "PATCH", .res = res, .ns = ns, .name = name,
                            .body = patch, .content_type = "application/merge-patch+json"};
    if (!name)
        return cs_err_set(err, CS_EINVAL, 0, "patch %s: no name", res->plural);
    return k8s_do(c, &call, out, err);
}

enum cs_code k8s_delete(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                        const char *name, struct cs_err *err)
{
    struct k8s_call call = {.method = "DELETE", .res = res, .ns = ns, .name = name};
    if (!name)
        return cs_err_set(err, CS_EINVAL, 0, "delete %s: no name", res->plural);
    return k8s_do(c, &call, NULL, err);
}

/* ---- watch ---- */

enum cs_code k8s_watch(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                       const struct k8s_watch_opts *opts, k8s_watch_fn fn, void *ud,
                       struct cs_err *err)
{
    enum cs_code rc;
    struct cs_buf q, url;
    struct cs_http_response resp;
    struct stream_ctx s = {.resp = &resp};
    char tos[32];
    cs_buf_init(&q, 64 * 1024);
    cs_buf_init(&url, 64 * 1024);
    cs_buf_init(&s.error_body, MAX_ERROR_BODY + 1);
    cs_http_response_init(&resp);
    snprintf(tos, sizeof(tos), "%ld", opts->timeout_seconds);
    if ((rc = add_param(&q, "watch", "1")) != CS_OK ||
        (rc = add_param(&q, "resourceVersion", opts->resource_version)) != CS_OK ||
        (rc = add_param(&q, "allowWatchBookmarks", opts->allow_bookmarks ? "true" : NULL)) !=
            CS_OK ||
        (rc = add_param(&q, "timeoutSeconds", opts->timeout_seconds > 0 ? tos : NULL)) != CS_OK ||
        (rc = add_param(&q, "labelSelector", opts->label_selector)) != CS_OK ||
        (rc = add_param(&q, "fieldSelector", opts->field_selector)) != CS_OK) {
        rc = cs_err_set(err, rc, 0, "watch %s: query too long", res->plural);
        goto out;
    }
    if ((rc = build_url(c, res, ns, NULL, NULL, cs_buf_str(&q), &url, err)) != CS_OK)
        goto out;
    if ((rc = k8s_watch_parser_new(opts->max_event, fn, ud, &s.parser, err)) != CS_OK)
        goto out;
    struct cs_http_request rq = {
        .method = "GET",
        .url = cs_buf_str(&url),
        .idle_timeout_ms = opts->idle_timeout_ms,
        .on_data = on_stream_data,
        .ud = &s,
        .cancel = opts->cancel,
        .secret_response = res->sensitive,
    };
    if (res->sensitive)
        s.error_body.secret = true;
    if ((rc = exchange(c, &rq, NULL, &resp, &s, err)) != CS_OK)
        goto out;
    if (resp.status != 200) {
        rc = k8s_status_to_err(resp.status, s.error_body.ptr, s.error_body.len,
                               cs_http_retry_after_ms(&resp), err);
        cs_err_prefix(err, "watch %s", res->plural);
        goto out;
    }
    rc = k8s_watch_parser_finish(s.parser, err);
out:
    k8s_watch_parser_free(s.parser);
    cs_buf_free(&s.error_body);
    cs_http_response_cleanup(&resp);
    cs_buf_free(&url);
    cs_buf_free(&q);
    return rc;
}
