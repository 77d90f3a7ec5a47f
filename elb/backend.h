/* backend.h -- what the two backends export inside elb/ (and to its tests and fuzzers):
 * constructors, and the pure request-building and response-parsing functions, kept apart
 * from I/O so that they can be tested with tables and fuzzed. */
#ifndef ELB_BACKEND_H
#define ELB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http.h"
#include "common/json.h"
#include "common/kvfile.h"
#include "elb/elb.h"
#include "elb/param.h"

/* What each cloud accepts (elb_limits_of). */
extern const struct elb_limits elb_hw_limits;
extern const struct elb_limits elb_uc_limits;

enum cs_code elb_huawei_new(const struct elb_provider_config *cfg, struct elb_provider **out,
                            struct cs_err *err);
enum cs_code elb_ucloud_new(const struct elb_provider_config *cfg, struct elb_provider **out,
                            struct cs_err *err);

/* Loads the credentials file and checks that every key in required is present. Errors name
 * the file and the missing key, never a value. */
enum cs_code elb_credentials_load(const char *path, const char *const *required, size_t n,
                                  struct cs_kvfile **out, bool *loose_permissions,
                                  struct cs_err *err);

/* A request as a person writes it (elb-certsync api). */
struct elb_raw_request {
    const char *region; /* NULL: the provider's default */
    /* Huawei */
    const char *method;
    const char *path; /* not encoded, e.g. /v3/PROJECT/elb/certificates */
    const struct cs_http_header *headers; /* a given X-Sdk-Date is used as is */
    size_t n_headers;
    const char *body;
    size_t body_len;
    /* Huawei query, or UCloud parameters besides the common ones */
    const struct elb_query_param *query;
    size_t n_query;
    /* UCloud */
    const char *action;
    /* Print the signed request instead of sending it. */
    bool print_only;
};

/* Sends (or prints) a raw request; the answer body is appended to out whatever its status,
 * *status is the HTTP status (0 when none). Returns the mapped outcome. */
enum cs_code elb_hw_raw(struct elb_provider *p, const struct elb_raw_request *r,
                        struct cs_buf *out, long *status, struct cs_err *err);
enum cs_code elb_ucloud_raw(struct elb_provider *p, const struct elb_raw_request *r,
                            struct cs_buf *out, long *status, struct cs_err *err);

/* ---- Huawei ---------------------------------------------------------------------------- */

/* Which operation an answer belongs to: decides what 404 and 409 mean. */
enum elb_hw_op {
    ELB_HW_OP_OTHER = 0,
    ELB_HW_OP_DELETE_CERT, /* 409: still bound (CS_EINUSE) */
    ELB_HW_OP_CREATE_CERT,
};

/* Maps an HTTP status and error body ({"error_code","error_msg","request_id"}, or the older
 * {"error":{"code","message"}}) to a code, filling err (provider_code, message with the
 * request ID). Never fails on a malformed body: the status decides then. */
enum cs_code elb_hw_map_error(long status, const char *body, size_t len, const char *request_id,
                              enum elb_hw_op op, struct cs_err *err);

/* Parses one certificate object (the value of "certificate" or an item of "certificates"). */
enum cs_code elb_hw_parse_cert(const cJSON *obj, struct elb_cert *out, struct cs_err *err);
/* Parses {"certificate":{...}}. */
enum cs_code elb_hw_parse_cert_response(const char *body, size_t len, struct elb_cert *out,
                                        struct cs_err *err);
/* Parses one page of GET certificates, appending to list; *n_page is the page's item count,
 * *next_marker the marker for the next page or NULL when this was the last. */
enum cs_code elb_hw_parse_cert_page(const char *body, size_t len, int page_size,
                                    struct elb_cert_list *list, size_t *n_page,
                                    char **next_marker, struct cs_err *err);
enum cs_code elb_hw_parse_listener_response(const char *body, size_t len,
                                            struct elb_listener *out, struct cs_err *err);
enum cs_code elb_hw_parse_listener_page(const char *body, size_t len, int page_size,
                                        struct elb_listener_list *list, size_t *n_page,
                                        char **next_marker, struct cs_err *err);
/* The create body {"certificate":{...}} into a secret buffer (it holds the private key). */
enum cs_code elb_hw_build_create_body(const struct elb_cert_spec *spec, struct cs_buf *out,
                                      struct cs_err *err);
enum cs_code elb_hw_build_listener_body(const char *default_id, const char *const *sni_ids,
                                        size_t n_sni, struct cs_buf *out, struct cs_err *err);
/* The project ID of region from "ID" (default region only) or "region=ID,region=ID";
 * malloc'd into *out. */
enum cs_code elb_hw_project_for_region(const char *spec, const char *default_region,
                                       const char *region, char **out, struct cs_err *err);

/* ---- UCloud ---------------------------------------------------------------------------- */

/* Maps an HTTP answer of the UCloud API (status and body with RetCode) to a code. */
enum cs_code elb_ucloud_map_answer(long status, const char *body, size_t len, struct cs_err *err);
/* Maps a non-zero RetCode to a code (table, for tests). */
enum cs_code elb_ucloud_map_retcode(long retcode, const char *action);

/* DescribeSSL: one page appended to list; *total is TotalCount (-1 when absent). Private keys
 * found in SSLContent are dropped. */
enum cs_code elb_ucloud_parse_ssl_page(const char *body, size_t len, struct elb_cert_list *list,
                                       size_t *n_page, long *total, struct cs_err *err);
/* DescribeULB: the HTTPS VServers of one page appended to list (lb kind "classic");
 * *n_page counts load balancers. */
enum cs_code elb_ucloud_parse_ulb_page(const char *body, size_t len,
                                       struct elb_listener_list *list, size_t *n_page,
                                       long *total, struct cs_err *err);
/* DescribeListeners (ALB): the HTTPS listeners appended to list. */
enum cs_code elb_ucloud_parse_alb_listeners(const char *body, size_t len, const char *lb_id,
                                            struct elb_listener_list *list, size_t *n_page,
                                            long *total, struct cs_err *err);
/* CreateSSL: the new SSLId, malloc'd. */
enum cs_code elb_ucloud_parse_create(const char *body, size_t len, char **ssl_id,
                                     struct cs_err *err);
/* Whether a certificate name is acceptable to UCloud (1..50 of letters, digits, "-_."). */
bool elb_ucloud_name_ok(const char *name);

/* Comparison of PEM content ignoring whitespace and line breaks: certificates read back may
 * be re-wrapped. Only CERTIFICATE blocks count. */
bool elb_pem_certs_equal(const char *a, const char *b);
/* The same for the first (site) certificate only: a provider may store the chain apart. */
bool elb_pem_leaf_equal(const char *a, const char *b);

#endif
