/* huawei_sign.h -- Huawei Cloud AK/SK request signing, SDK-HMAC-SHA256 (design.md §6).
 *
 * Used by the ELB client to sign, and by fake-elb to verify. Reproduces every vector in
 * shared/test-vectors/huawei-sdk-hmac-sha256.json. */
#ifndef ELB_HUAWEI_SIGN_H
#define ELB_HUAWEI_SIGN_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http.h"
#include "elb/param.h"

struct elb_hw_sign_input {
    const char *method;
    const char *host; /* "host" or "host:port" as sent in the Host header */
    const char *path; /* not encoded, e.g. "/v3/PROJECT/elb/certificates" */
    const struct elb_query_param *query; /* a key may repeat: its values are sorted */
    size_t n_query;
    /* The headers to sign besides host (X-Sdk-Date is required among them). Names in any
     * case; the signed-header list is their lowercase names plus "host", sorted. */
    const struct cs_http_header *headers;
    size_t n_headers;
    const void *body;
    size_t body_len;
};

/* The canonical request (for debugging and tests); out is appended to. */
enum cs_code elb_hw_canonical_request(const struct elb_hw_sign_input *in, struct cs_buf *out,
                                      struct cs_err *err);

/* The full Authorization header value:
 * "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex". */
enum cs_code elb_hw_sign(const struct elb_hw_sign_input *in, const char *ak, const char *sk,
                         struct cs_buf *authorization, struct cs_err *err);

#endif
