/* http.c -- libcurl-based HTTP layer with a handle pool and a shared connection cache. */
#include "common/http.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

#define DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024)

/* Connections the shared cache may keep, streams included. */
#define CS_HTTP_MAX_CONNECTIONS 64L

struct pooled {
    CURL *h;
    struct pooled *next;
};

struct cs_http_client {
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST]; /* one per curl share data kind */
    pthread_mutex_t pool_lock;                         /* guards pool */
    struct pooled *pool;
    char *ca_file;
    char *ca_pem;
    size_t ca_pem_len;
    char *cert_pem;
    size_t cert_len;
    char *key_pem; /* secret: cleansed on free */
    size_t key_len;
    bool insecure;
    char *server_name;
    long connect_timeout_ms;
    char *user_agent;
    bool accept_gzip;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void cs_http_global_init(void)
{
    pthread_once(&global_once, global_init_once);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    struct cs_http_client *c = ud;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct cs_http_client *c = ud;
    pthread_mutex_unlock(&c->share_locks[data]);
}

static char *memdup(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

enum cs_code cs_http_client_new(const struct cs_http_client_opts *opts,
                                struct cs_http_client **out, struct cs_err *err)
{
    cs_http_global_init();
    struct cs_http_client *c = calloc(1, sizeof(*c));
    if (!c)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    c->share = curl_share_init();
    if (!c->share)
        goto nomem;
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

    const struct cs_http_tls *t = &opts->tls;
    if (t->ca_file && !(c->ca_file = strdup(t->ca_file)))
        goto nomem;
    if (t->ca_pem && t->ca_pem_len) {
        if (!(c->ca_pem = memdup(t->ca_pem, t->ca_pem_len)))
            goto nomem;
        c->ca_pem_len = t->ca_pem_len;
    }
    if (t->client_cert_pem && t->client_cert_len) {
        if (!(c->cert_pem = memdup(t->client_cert_pem, t->client_cert_len)))
            goto nomem;
        c->cert_len = t->client_cert_len;
    }
    if (t->client_key_pem && t->client_key_len) {
        if (!(c->key_pem = memdup(t->client_key_pem, t->client_key_len)))
            goto nomem;
        c->key_len = t->client_key_len;
    }
    if (t->server_name && !(c->server_name = strdup(t->server_name)))
        goto nomem;
    c->insecure = t->insecure_skip_verify;
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
    if (!(c->user_agent = strdup(opts->user_agent ? opts->user_agent : "elb-certsync")))
        goto nomem;
    c->accept_gzip = opts->accept_gzip;
    *out = c;
    return CS_OK;
nomem:
    cs_http_client_free(c);
    return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
}

void cs_http_client_free(struct cs_http_client *c)
{
    if (!c)
        return;
    struct pooled *p = c->pool;
    while (p) {
        struct pooled *next = p->next;
        curl_easy_cleanup(p->h);
        free(p);
        p = next;
    }
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    pthread_mutex_destroy(&c->pool_lock);
    free(c->ca_file);
    free(c->ca_pem);
    free(c->cert_pem);
    cs_secure_free(c->key_pem, c->key_len);
    free(c->server_name);
    free(c->user_agent);
    free(c);
}

void cs_http_response_init(struct cs_http_response *r)
{
    r->status = 0;
    cs_buf_init(&r->body, DEFAULT_MAX_BODY);
    cs_buf_init(&r->headers, 256 * 1024);
}

void cs_http_response_cleanup(struct cs_http_response *r)
{
    cs_buf_free(&r->body);
    cs_buf_free(&r->headers);
}

bool cs_http_response_header(const struct cs_http_response *r, const char *name, char *out,
                             size_t out_size)
{
    size_t nlen = strlen(name);
    const char *p = cs_buf_str(&r->headers);
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t llen = eol ? (size_t)(eol - p) : strlen(p);
        if (llen > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vlen = llen - (size_t)(v - p);
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (out_size) {
                size_t n = vlen < out_size - 1 ? vlen : out_size - 1;
                memcpy(out, v, n);
                out[n] = '\0';
            }
            return true;
        }
        if (!eol)
            break;
        p = eol + 2;
    }
    return false;
}

long cs_http_retry_after_ms(const struct cs_http_response *r)
{
    char v[64];
    if (!cs_http_response_header(r, "Retry-After", v, sizeof(v)))
        return 0;
    char *end;
    long secs = strtol(v, &end, 10);
    if (end == v || *end != '\0' || secs < 0 || secs > 3600)
        return 0;
    return secs * 1000;
}

struct transfer {
    const struct cs_http_request *req;
    struct cs_http_response *resp;
    size_t max_body;
    bool too_big;
    bool stopped_by_receiver;
    bool idle_expired;
    uint64_t last_data_ms;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct transfer *t = ud;
    size_t n = size * nmemb;
    t->last_data_ms = cs_now_ms();
    if (t->req->on_data) {
        if (!t->req->on_data(data, n, t->req->ud)) {
            t->stopped_by_receiver = true;
            return 0;
        }
        return n;
    }
    if (t->resp->body.len + n > t->max_body || cs_buf_add(&t->resp->body, data, n) != CS_OK) {
        t->too_big = true;
        return 0;
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct transfer *t = ud;
    size_t n = size * nmemb;
    /* A new status line (after 100 Continue or a redirect) starts a new header block. */
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
        cs_buf_reset(&t->resp->headers);
    cs_buf_add(&t->resp->headers, data, n);
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct transfer *t = ud;
    if (t->req->cancel && atomic_load(t->req->cancel))
        return 1;
    if (t->req->idle_timeout_ms > 0 &&
        cs_now_ms() - t->last_data_ms > (uint64_t)t->req->idle_timeout_ms) {
        t->idle_expired = true;
        return 1;
    }
    return 0;
}

static CURL *take_handle(struct cs_http_client *c)
{
    pthread_mutex_lock(&c->pool_lock);
    struct pooled *p = c->pool;
    if (p)
        c->pool = p->next;
    pthread_mutex_unlock(&c->pool_lock);
    if (p) {
        CURL *h = p->h;
        free(p);
        curl_easy_reset(h);
        return h;
    }
    return curl_easy_init();
}

static void give_back(struct cs_http_client *c, CURL *h)
{
    struct pooled *p = malloc(sizeof(*p));
    if (!p) {
        curl_easy_cleanup(h);
        return;
    }
    p->h = h;
    pthread_mutex_lock(&c->pool_lock);
    p->next = c->pool;
    c->pool = p;
    pthread_mutex_unlock(&c->pool_lock);
}

static void free_headers_cleansed(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        OPENSSL_cleanse(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

/* tls-server-name: connect to the URL's host but verify (and send SNI for) server_name, by
 * rewriting the URL's host and pointing curl at the real one with CONNECT_TO. */
static enum cs_code apply_server_name(struct cs_http_client *c, CURL *h, const char *url,
                                      struct curl_slist **connect_to, char **rewritten,
                                      struct cs_err *err)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *out = NULL;
    enum cs_code rc = CS_OK;
    if (!u)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        rc = cs_err_set(err, CS_EINVAL, 0, "invalid URL %s", url);
        goto out;
    }
    if (curl_url_set(u, CURLUPART_HOST, c->server_name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
        rc = cs_err_set(err, CS_EINVAL, 0, "invalid tls-server-name %s", c->server_name);
        goto out;
    }
    char line[1024];
    snprintf(line, sizeof(line), "%s:%s:%s:%s", c->server_name, port, host, port);
    struct curl_slist *l = curl_slist_append(NULL, line);
    if (!l) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, l);
    *connect_to = l;
    *rewritten = strdup(out);
    if (!*rewritten)
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
out:
    curl_free(host);
    curl_free(port);
    curl_free(out);
    curl_url_cleanup(u);
    return rc;
}

enum cs_code cs_http_do(struct cs_http_client *c, const struct cs_http_request *req,
                        struct cs_http_response *resp, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct curl_slist *hdrs = NULL, *connect_to = NULL;
    char *rewritten = NULL;
    CURL *h = take_handle(c);
    if (!h)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");

    cs_buf_reset(&resp->body);
    cs_buf_reset(&resp->headers);
    if (req->secret_response)
        resp->body.secret = true;
    resp->status = 0;

    struct transfer t = {
        .req = req,
        .resp = resp,
        .max_body = req->max_body ? req->max_body : DEFAULT_MAX_BODY,
        .last_data_ms = cs_now_ms(),
    };

    const char *url = req->url;
    if (c->server_name && strncmp(url, "https://", 8) == 0) {
        if ((rc = apply_server_name(c, h, url, &connect_to, &rewritten, err)) != CS_OK)
            goto out;
        url = rewritten;
    }

    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 0L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* The shared cache counts connections in use too: with libcurl's default of 5, a client
     * holding five watch streams closed every other connection after one request (a TLS
     * handshake per Secret fetch and per Event). */
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, CS_HTTP_MAX_CONNECTIONS);
    if (req->fresh_connection) {
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    if (c->accept_gzip)
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->ca_pem) {
        struct curl_blob b = {.data = c->ca_pem, .len = c->ca_pem_len, .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->cert_pem) {
        struct curl_blob b = {.data = c->cert_pem, .len = c->cert_len, .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (c->key_pem) {
        /* NOCOPY: curl reads our cleansed buffer instead of keeping its own copy. */
        struct curl_blob b = {.data = c->key_pem, .len = c->key_len, .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }

    for (size_t i = 0; i < req->n_headers; i++) {
        struct cs_buf line;
        cs_buf_init_secret(&line, 64 * 1024);
        enum cs_code brc = cs_buf_addf(&line, "%s: %s", req->headers[i].name,
                                       req->headers[i].value ? req->headers[i].value : "");
        struct curl_slist *nl = brc == CS_OK ? curl_slist_append(hdrs, cs_buf_str(&line)) : NULL;
        cs_buf_free(&line);
        if (!nl) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
        hdrs = nl;
    }
    /* curl adds "Expect: 100-continue" to large bodies: a needless round trip. */
    struct curl_slist *nl = curl_slist_append(hdrs, "Expect:");
    if (!nl) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    hdrs = nl;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    const char *method = req->method ? req->method : "GET";
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }

    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    if (req->cancel || req->idle_timeout_ms > 0) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }

    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    if (cc == CURLE_OK) {
        rc = CS_OK;
    } else if (t.too_big) {
        rc = cs_err_set(err, CS_ETOOBIG, resp->status, "%s %s: response larger than %zu bytes",
                        method, req->url, t.max_body);
    } else if (t.stopped_by_receiver) {
        rc = cs_err_set(err, CS_ECANCELED, resp->status, "%s %s: stopped by receiver", method,
                        req->url);
    } else if (t.idle_expired) {
        rc = cs_err_set(err, CS_ETIMEDOUT, resp->status, "%s %s: no data for %ld ms", method,
                        req->url, req->idle_timeout_ms);
    } else if (cc == CURLE_ABORTED_BY_CALLBACK) {
        rc = cs_err_set(err, CS_ECANCELED, resp->status, "%s %s: canceled", method, req->url);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = cs_err_set(err, CS_ETIMEDOUT, resp->status, "%s %s: %s", method, req->url,
                        curl_easy_strerror(cc));
    } else {
        rc = cs_err_set(err, CS_EIO, resp->status, "%s %s: %s", method, req->url,
                        curl_easy_strerror(cc));
    }
out:
    /* Headers and TLS material must not stay reachable from a pooled handle. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    free_headers_cleansed(hdrs);
    curl_slist_free_all(connect_to);
    free(rewritten);
    give_back(c, h);
    return rc;
}
