/* http.h -- the HTTP layer every client in elb-certsync uses, on libcurl.
 *
 * A client holds TLS settings and a pool of curl handles sharing one connection cache, so
 * that connections are reused across threads; cs_http_do may be called from any thread.
 * TLS verification is on unless insecure_skip_verify is set explicitly. Client keys are
 * handed to curl as memory (CURLOPT_SSLKEY_BLOB), never written to disk, and cleansed when
 * the client is freed. Request headers are cleansed after each request (they may carry a
 * bearer token or a signature). */
#ifndef CS_HTTP_H
#define CS_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct cs_http_tls {
    const char *ca_file;         /* PEM bundle to trust instead of the system's */
    const char *ca_pem;          /* or the bundle itself, in memory */
    size_t ca_pem_len;
    const char *client_cert_pem; /* client certificate (PEM, in memory) */
    size_t client_cert_len;
    const char *client_key_pem;  /* its key (PEM, in memory): copied into cleansed memory */
    size_t client_key_len;
    bool insecure_skip_verify;   /* only when configuration says so explicitly */
    const char *server_name;     /* verify the server as this name (kubeconfig tls-server-name) */
};

struct cs_http_client_opts {
    struct cs_http_tls tls;
    long connect_timeout_ms; /* 0: 10 s */
    const char *user_agent;  /* NULL: "elb-certsync" */
    bool accept_gzip;        /* advertise and decode gzip/deflate */
};

struct cs_http_header {
    const char *name;
    const char *value;
};

/* Streaming receiver: gets the body as it arrives. Return false to stop the transfer (the
 * request then ends with CS_ECANCELED). */
typedef bool (*cs_http_data_fn)(const char *data, size_t len, void *ud);

struct cs_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *url;
    const struct cs_http_header *headers;
    size_t n_headers;
    const void *body; /* not copied: must live until cs_http_do returns */
    size_t body_len;
    long timeout_ms;      /* whole request; 0: no limit (watches) */
    long idle_timeout_ms; /* abort when no byte arrives for this long; 0: no limit */
    size_t max_body;      /* 0: 64 MiB */
    cs_http_data_fn on_data; /* when set, the body goes here, not into the response */
    void *ud;
    const atomic_bool *cancel; /* when it becomes true the transfer stops (CS_ECANCELED) */
    bool secret_response; /* the body holds key material (a Secret): keep it in a cleansed
                             buffer */
    bool fresh_connection; /* a new connection, closed afterwards: for non-idempotent calls,
                              which libcurl would otherwise re-send on its own when a reused
                              connection dies before the answer */
};

struct cs_http_response {
    long status;
    struct cs_buf body;    /* empty when streaming */
    struct cs_buf headers; /* raw "Name: value\r\n" lines of the final response */
};

struct cs_http_client;

/* Process-wide libcurl initialisation; called by cs_http_client_new, safe to call again. */
void cs_http_global_init(void);

enum cs_code cs_http_client_new(const struct cs_http_client_opts *opts,
                                struct cs_http_client **out, struct cs_err *err);
void cs_http_client_free(struct cs_http_client *c);

void cs_http_response_init(struct cs_http_response *r);
void cs_http_response_cleanup(struct cs_http_response *r);
/* The value of response header name (case-insensitive) copied into out; false if absent. */
bool cs_http_response_header(const struct cs_http_response *r, const char *name, char *out,
                             size_t out_size);
/* Retry-After in milliseconds (seconds form only), 0 when absent or unparsable. */
long cs_http_retry_after_ms(const struct cs_http_response *r);

/* Performs one request. Returns CS_OK whenever an HTTP response arrived, whatever its status
 * (the caller maps statuses to errors); CS_EIO, CS_ETIMEDOUT, CS_ECANCELED, CS_ETOOBIG
 * otherwise, with err filled. */
enum cs_code cs_http_do(struct cs_http_client *c, const struct cs_http_request *req,
                        struct cs_http_response *resp, struct cs_err *err);

#endif
