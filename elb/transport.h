/* transport.h -- the HTTP transport shared by the ELB backends (internal to elb/).
 *
 * On common/http.h: a client-side token bucket (qps/burst), per-request timeouts, and retries
 * with jittered exponential back-off. Throttled calls are retried whatever the operation (the
 * cloud refused them, nothing happened), honouring Retry-After up to a cap; transport errors,
 * timeouts and 5xx are retried only for idempotent calls. A create is never retried blindly:
 * its backend looks the certificate up by name after a lost answer (see huawei.c, ucloud.c). */
#ifndef ELB_TRANSPORT_H
#define ELB_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/backoff.h"
#include "common/http.h"
#include "elb/elb.h"

struct elb_transport {
    struct cs_http_client *http;
    struct cs_token_bucket bucket;
    long timeout_ms;
    int max_retries;
    uint64_t backoff_initial_ms;
    uint64_t backoff_max_ms;
    long max_retry_after_ms;
    char *ca_file; /* for the one-shot clients of non-idempotent calls */
};

/* One logical request, sent one or more times. */
struct elb_call {
    bool idempotent;
    /* Fills req for one attempt: called again before every retry so that signatures carry a
     * fresh date. Whatever req points to must stay valid until the next prepare or the end. */
    enum cs_code (*prepare)(void *ud, struct cs_http_request *req, struct cs_err *err);
    /* Maps an HTTP answer to CS_OK or an error (err filled, retry_after_ms when known). */
    enum cs_code (*classify)(void *ud, const struct cs_http_response *resp,
                             struct cs_err *err);
    void *ud;
};

/* Why a failed attempt is or is not tried again: pure, for tests. */
bool elb_transport_should_retry(enum cs_code code, bool idempotent);
/* The delay before the next attempt: the back-off's, or Retry-After when longer. Returns false
 * when Retry-After exceeds max_retry_after_ms (give up, let the caller requeue). */
bool elb_transport_retry_delay(uint64_t backoff_ms, long retry_after_ms,
                               long max_retry_after_ms, uint64_t *delay_ms);

enum cs_code elb_transport_init(struct elb_transport *t, const struct elb_provider_config *cfg,
                                struct cs_err *err);
void elb_transport_cleanup(struct elb_transport *t);

/* Sends the call with rate limiting and retries. On CS_OK resp holds the final answer (the
 * caller cleans it up in every case). */
enum cs_code elb_transport_call(struct elb_transport *t, const struct elb_call *call,
                                struct cs_http_response *resp, struct cs_err *err);

/* Splits a base URL into scheme+authority ("https://h:8443"), the Host value to sign (the
 * port dropped when it is the scheme's default) and a path prefix (no trailing '/'). The
 * "{region}" placeholder is replaced by region first. All outputs malloc'd. */
enum cs_code elb_endpoint_parse(const char *endpoint, const char *region, char **origin,
                                char **host, char **prefix, struct cs_err *err);

#endif
