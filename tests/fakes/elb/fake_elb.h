/* fake_elb.h -- internals of fake-elb, the loopback emulator of Huawei Cloud ELB v3 and UCloud
 * ULB (design.md §5, §6; README.md beside this file lists every behaviour and error code).
 *
 * The emulator is a pure request handler (fe_server_handle: one request in, one response out)
 * behind a thin libmicrohttpd front end (main.c), so that unit tests and the fuzzer drive the
 * same code the binary runs. All state sits behind one lock in struct fe_server. */
#ifndef FAKE_ELB_H
#define FAKE_ELB_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/http.h"
#include "elb/param.h"

/* ---- parameters (query strings, form bodies): owned, cleansed on free ---- */

struct fe_kv {
    char *key;
    char *value;
};

struct fe_params {
    struct fe_kv *items;
    size_t n;
    size_t cap;
};

void fe_params_free(struct fe_params *p);
enum cs_code fe_params_add(struct fe_params *p, const char *key, size_t klen, const char *value,
                           size_t vlen);
/* The first value of key, or NULL. */
const char *fe_params_get(const struct fe_params *p, const char *key);
/* Parses "a=1&b=2" percent-decoding names and values; plus_is_space for form encoding.
 * Malformed escapes are an error (CS_EINVAL). */
enum cs_code fe_params_parse(const char *s, size_t len, bool plus_is_space, struct fe_params *out);
/* Percent-decodes into out (NUL-terminated, malloc'd). */
enum cs_code fe_url_decode(const char *s, size_t len, bool plus_is_space, char **out);

/* ---- PEM inspection (pem.c) ---- */

#define FE_CHAIN_MAX 11 /* Huawei: chains of at most 11 certificates */

struct fe_pem_info {
    char common_name[256];
    char *sans;          /* comma-separated DNS names of the leaf, malloc'd ("" when none) */
    size_t n_sans;
    int64_t not_before_ms;
    int64_t not_after_ms;
    char sha1_hex[41];   /* SHA-1 over the leaf's DER: the fingerprint we report */
    int chain_len;       /* certificates in the PEM */
};

void fe_pem_info_cleanup(struct fe_pem_info *info);

/* Checks a certificate chain (and, when key_pem is non-NULL, its private key): the PEM
 * parses, holds 1..FE_CHAIN_MAX certificates, the key is not passphrase-protected and matches
 * the first certificate. Fills info on success. why receives a short reason on failure, never
 * key material. */
enum cs_code fe_pem_check(const char *cert_pem, const char *key_pem, struct fe_pem_info *info,
                          char *why, size_t why_size);

/* Splits an all-in-one PEM (UCloud SSLContent: certificates and a key in any order) into its
 * certificates (in order) and its key. *key_out is cleansed memory the caller frees with
 * cs_secure_free_str. CS_EINVAL when there is no certificate or no key, or several keys. */
enum cs_code fe_pem_split(const char *content, char **certs_out, char **key_out);

/* ---- faults and statistics (faults.c) ---- */

struct fe_faults {
    uint64_t latency_ms;
    double error_500_rate;
    double throttle_rate;
    double lost_response_rate;
};

enum fe_cloud { FE_HUAWEI = 0, FE_UCLOUD = 1 };

struct fe_stat_outcome {
    char *outcome; /* "ok", an error code ("ELB.8902", "4108"), or "lost" */
    uint64_t count;
};

struct fe_stat {
    enum fe_cloud cloud;
    char *op;
    uint64_t count;
    struct fe_stat_outcome *outcomes;
    size_t n_outcomes;
};

struct fe_stats {
    struct fe_stat *items;
    size_t n;
};

void fe_stats_cleanup(struct fe_stats *s);
void fe_stats_count(struct fe_stats *s, enum fe_cloud cloud, const char *op, const char *outcome);
cJSON *fe_stats_to_json(const struct fe_stats *s);
/* Reads {"latency_ms":N,"error_500_rate":F,...} over f (absent fields keep their value). */
enum cs_code fe_faults_from_json(const cJSON *j, struct fe_faults *f, struct cs_err *err);
cJSON *fe_faults_to_json(const struct fe_faults *f);

/* ---- the server ---- */

struct fe_state; /* state.c */

struct fe_request {
    const char *method;
    const char *target;   /* the request target as received: path and optional "?query" */
    const struct cs_http_header *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
    bool body_too_big;    /* the front end stopped reading at the limit: answer 413 */
    int64_t now_ms;       /* wall clock, ms since the epoch (for X-Sdk-Date checks) */
};

struct fe_response {
    int status;
    struct cs_buf body;
    char request_id[33];  /* Huawei X-Request-Id; "" for none */
    bool lose;            /* carry on as if answered, but close the connection silently */
    uint64_t delay_ms;    /* wait this long before answering (injected latency) */
};

void fe_response_init(struct fe_response *r);
void fe_response_cleanup(struct fe_response *r);

struct fe_server {
    pthread_mutex_t lock; /* guards state, stats, faults */
    cJSON *seed;          /* the parsed seed, for /_fake/reset */
    struct fe_state *state;
    struct fe_stats stats;
    struct fe_faults faults;
};

enum cs_code fe_server_new(const char *seed_json, size_t len, const struct fe_faults *faults,
                           struct fe_server **out, struct cs_err *err);
void fe_server_free(struct fe_server *s);
/* Handles one request; resp must be initialised. Thread-safe. */
void fe_server_handle(struct fe_server *s, const struct fe_request *req, struct fe_response *resp);

/* The value of header name (case-insensitive) in req, or NULL. */
const char *fe_req_header(const struct fe_request *req, const char *name);

/* ---- state (state.c), used by the API handlers under the server lock ---- */

struct fe_hw_cred {
    char *ak;
    char *sk; /* secret */
    char *security_token; /* secret; NULL when none */
    bool console;
};

struct fe_hw_project {
    char *id;
    char *region;
};

struct fe_hw_cert {
    char id[65]; /* Huawei: 32 lowercase hex; seeds may use any [A-Za-z0-9_-]{1,64} */
    char *project_id;
    char *name;
    char *description;
    char *type; /* server | client | server_sm */
    char *certificate;
    char *private_key; /* secret; may be NULL (seeded without a key) */
    char *domain;
    char *source;
    char *scm_certificate_id;
    char *protection_status;
    char *protection_reason;
    char *enterprise_project_id;
    char created_at[32];
    char updated_at[32];
    char expire_time[32];
    char *common_name;
    char *fingerprint;
    char *sans; /* comma-separated */
};

struct fe_hw_listener {
    char *id;
    char *name;
    char *protocol;
    int port;
    char *default_tls; /* NULL when none */
    char **sni;
    size_t n_sni;
    char *sni_match_algo;
    char created_at[32];
    char updated_at[32];
    struct fe_hw_lb *lb; /* borrowed */
};

struct fe_hw_lb {
    char *id;
    char *project_id;
    char *name;
    struct fe_hw_listener *listeners;
    size_t n_listeners;
};

struct fe_uc_cred {
    char *public_key;
    char *private_key; /* secret */
    bool console;
};

struct fe_uc_cert {
    char *id;
    char *region;
    char *project;
    char *name;
    char *user_cert;
    char *ca_cert;     /* may be NULL */
    char *private_key; /* secret; NULL for USSL imports and keyless seeds */
    int source;        /* 0 ULB, 1 USSL */
    char *ussl_id;
    char *domains;     /* comma-separated */
    char hash[33];
    int64_t create_time; /* seconds */
    int64_t not_before;
    int64_t not_after;
    uint64_t seq;      /* creation order: DescribeSSL lists by it */
};

/* A classic ULB VServer, or an ALB listener (the same shape: ALB listeners are seeded as
 * "VServers" of a ULB with "ULBType": "alb"). ssl_ids[0] is the default certificate; on an
 * ALB listener ssl_ids[1..] are its SNI ("extension") certificates. */
struct fe_uc_vserver {
    char *id;
    char *name;
    char *remark; /* ALB listener Remark (UpdateListenerAttribute); NULL when never set */
    char *protocol;
    int port;
    char **ssl_ids;
    size_t n_ssl;
};

#define FE_UC_ALB_CERTS_MAX 26 /* ALB listener: a default certificate and up to 25 SNI ones */

struct fe_uc_ulb {
    char *id;
    char *name;
    char *region;
    char *project;
    bool alb; /* false: classic (one certificate per VServer) */
    struct fe_uc_vserver *vservers;
    size_t n_vservers;
};

struct fe_uc_ussl {
    char *id;
    char *name;
    char *user_cert;
    char *ca_cert;
    char *domains;
};

struct fe_state {
    /* Huawei */
    struct fe_hw_project *hw_projects;
    size_t n_hw_projects;
    struct fe_hw_cred *hw_creds;
    size_t n_hw_creds;
    size_t hw_quota;      /* certificates per project */
    bool hw_key_echo;     /* private_key read back as is (true) or as "*****" */
    struct fe_hw_cert **hw_certs; /* sorted by id: lists page by marker in O(log n) */
    size_t n_hw_certs;
    size_t cap_hw_certs;
    struct fe_hw_lb *hw_lbs;
    size_t n_hw_lbs;
    /* UCloud */
    char **uc_projects;
    size_t n_uc_projects;
    char **uc_regions;
    size_t n_uc_regions;
    struct fe_uc_cred *uc_creds;
    size_t n_uc_creds;
    size_t uc_quota;      /* certificates per project and region */
    struct fe_uc_cert **uc_certs; /* in creation order */
    size_t n_uc_certs;
    size_t cap_uc_certs;
    uint64_t uc_seq;
    struct fe_uc_ulb *uc_ulbs;
    size_t n_uc_ulbs;
    struct fe_uc_ussl *uc_ussl;
    size_t n_uc_ussl;
};

enum cs_code fe_state_load(const cJSON *seed, struct fe_state **out, struct cs_err *err);
void fe_state_free(struct fe_state *st);
cJSON *fe_state_to_json(const struct fe_state *st);

void fe_hw_cert_free(struct fe_hw_cert *c);
void fe_uc_cert_free(struct fe_uc_cert *c);
/* Index of the first certificate whose id is >= id (n_hw_certs when none). */
size_t fe_hw_cert_lower_bound(const struct fe_state *st, const char *id);
struct fe_hw_cert *fe_hw_cert_find(const struct fe_state *st, const char *id);
enum cs_code fe_hw_cert_insert(struct fe_state *st, struct fe_hw_cert *c);
void fe_hw_cert_remove(struct fe_state *st, const char *id);
const char *fe_hw_project_region(const struct fe_state *st, const char *project_id);
/* Fills the derived fields (common_name, fingerprint, SANs, expire_time) from the PEM. */
enum cs_code fe_hw_cert_derive(struct fe_hw_cert *c, char *why, size_t why_size);

struct fe_uc_cert *fe_uc_cert_find(const struct fe_state *st, const char *region,
                                   const char *project, const char *id);
enum cs_code fe_uc_cert_append(struct fe_state *st, struct fe_uc_cert *c);
void fe_uc_cert_remove(struct fe_state *st, const struct fe_uc_cert *c);
enum cs_code fe_uc_cert_derive(struct fe_uc_cert *c, char *why, size_t why_size);

/* Fills out with n random lowercase hex digits and a NUL. */
void fe_random_hex(char *out, size_t n);
void fe_now_string(int64_t wall_ms, char out[32]);

/* ---- the two APIs (huawei_api.c, ucloud_api.c), called with the server lock held ---- */

/* The Huawei operation named by method and path (e.g. "CreateCertificate"), or NULL when the
 * path is not one of the emulated APIs. */
const char *fe_hw_operation(const char *method, const char *path);
/* Handles a /v3/ request. *outcome receives "ok" or the error code (static string). */
void fe_hw_handle(struct fe_server *s, const struct fe_request *req, const char *path,
                  const char *query, const char *op, struct fe_response *resp,
                  const char **outcome);
void fe_hw_error(struct fe_response *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parses the UCloud parameters of req (query, form or JSON body) into params. */
enum cs_code fe_uc_params(const struct fe_request *req, const char *query,
                          struct fe_params *params);
void fe_uc_handle(struct fe_server *s, const struct fe_request *req,
                  const struct fe_params *params, struct fe_response *resp, int *retcode);
void fe_uc_error(struct fe_response *resp, int http_status, const char *action, int retcode,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Whether action is one the emulator implements. */
bool fe_uc_known_action(const char *action);

#endif
