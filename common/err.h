/* err.h -- the one error convention of elb-certsync.
 *
 * Functions that can fail return an enum cs_code and fill an optional last-argument
 * struct cs_err. They never print: the caller decides whether to log, retry or give up.
 * The enum is only ever appended to. Messages must never contain key material. */
#ifndef CS_ERR_H
#define CS_ERR_H

#include <stdbool.h>

enum cs_code {
    CS_OK = 0,
    CS_ENOMEM,       /* allocation failed */
    CS_EINVAL,       /* bad input from the caller or the user (config, PEM, flags) */
    CS_EIO,          /* transport failure: connect, TLS, reset */
    CS_ETIMEDOUT,    /* no answer in time (the request may still have happened) */
    CS_EPROTO,       /* the peer answered something we cannot parse */
    CS_ENOTFOUND,    /* 404 or the provider's not-found code */
    CS_ECONFLICT,    /* 409: already exists, stale resourceVersion */
    CS_EINUSE,       /* certificate still bound: refused to delete */
    CS_ETHROTTLED,   /* 429 or the provider's throttling code; see retry_after_ms */
    CS_EAUTH,        /* 401/403, bad signature, bad credentials */
    CS_EGONE,        /* Kubernetes 410 Expired/Gone: relist */
    CS_EQUOTA,       /* provider quota exhausted */
    CS_ESERVER,      /* 5xx or the provider's internal error: transient */
    CS_EUNSUPPORTED, /* a feature we do not implement (kubeconfig exec plugin, ...) */
    CS_ECANCELED,    /* stopped on request */
    CS_ETOOBIG,      /* a size limit was exceeded */
};

struct cs_err {
    enum cs_code code;
    long http_status;      /* 0 when there was no HTTP answer */
    bool retryable;        /* worth trying again later */
    long retry_after_ms;   /* >0 when the peer said how long to wait */
    char reason[64];       /* Kubernetes Status reason, e.g. "Expired" */
    char provider_code[64];/* provider's own code, e.g. "ELB.8902" or "4108" */
    char message[512];     /* short human text: never key material */
};

/* Stable lowercase name of a code, e.g. "not_found". */
const char *cs_code_name(enum cs_code code);

/* Whether a code is, by default, worth a retry (transport, timeout, throttling, 5xx). */
bool cs_code_retryable(enum cs_code code);

/* Clears *err (NULL allowed). */
void cs_err_clear(struct cs_err *err);

/* Fills err (NULL allowed) and returns code, so that `return cs_err_set(...)` works.
 * retryable is derived from the code. */
enum cs_code cs_err_set(struct cs_err *err, enum cs_code code, long http_status, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));

/* Prefixes err->message with "what: " (for adding context on the way up). */
void cs_err_prefix(struct cs_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
