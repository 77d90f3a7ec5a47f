/* elb.h -- the load-balancer provider interface (types and operations).
 *
 * One interface, two clouds (Huawei Cloud ELB v3, UCloud ULB), chosen by configuration, as
 * curl's vtls backends are. Callers never test which backend they have: a backend that lacks
 * a feature returns CS_EUNSUPPORTED, and its limits say what it accepts. This module knows
 * nothing of Kubernetes.
 *
 * Ownership: every struct returned through an out parameter belongs to the caller, who frees
 * it with the matching *_cleanup / *_free. Strings inside are malloc'd. Private keys are only
 * ever inputs (struct elb_cert_spec) and are never stored, logged or echoed by a provider. */
#ifndef ELB_ELB_H
#define ELB_ELB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum elb_cert_source {
    ELB_CERT_SOURCE_UPLOADED = 0, /* content uploaded to the load balancer's store */
    ELB_CERT_SOURCE_IMPORTED,     /* imported from the cloud's certificate service (SCM/USSL) */
};

/* Where a certificate is bound, when the provider says so in its certificate answer
 * (UCloud BindedTargetSet / Relations). Huawei does not: derive it from listeners. */
struct elb_binding {
    char *lb_id;
    char *listener_id;
    bool is_default;
};

struct elb_cert {
    char *id;
    char *name;
    char *description;  /* Huawei description (the ownership record); NULL elsewhere */
    char *fingerprint;  /* provider's fingerprint or content hash when given; may be NULL */
    char *certificate;  /* PEM chain as read back; may be NULL. Never a private key. */
    char *chain_digest; /* never set by providers: a cache may keep the chain's digest here
                           and drop certificate (memory at 10,000 certificates) */
    char *domains;      /* comma-separated names; may be NULL */
    int64_t not_after_ms;  /* expiry, ms since the epoch; 0 when unknown */
    int64_t created_ms;    /* 0 when unknown */
    enum elb_cert_source source;
    char *imported_id;  /* scm_certificate_id / USSLId for imported ones */
    bool protected_;    /* Huawei protection_status == consoleProtection */
    struct elb_binding *bindings; /* NULL/0 when the provider does not report them */
    size_t n_bindings;
    bool bindings_known;          /* true when the provider reports bindings at all */
};

struct elb_cert_list {
    struct elb_cert *items;
    size_t n;
};

/* What to create. Either certificate_pem + private_key_pem, or imported_id. */
struct elb_cert_spec {
    const char *name;
    const char *description;       /* ownership record; ignored where unsupported */
    const char *certificate_pem;   /* site certificate first, then the chain */
    const char *private_key_pem;   /* secret: never logged or kept */
    const char *imported_id;       /* import from SCM/USSL instead of uploading content */
    const char *protection_reason; /* Huawei: set with consoleProtection */
};

enum elb_listener_kind {
    ELB_LISTENER_SNI = 0, /* default certificate plus SNI certificates (Huawei, UCloud ALB) */
    ELB_LISTENER_SINGLE,  /* exactly one certificate (UCloud classic ULB VServer) */
};

struct elb_listener {
    char *id;
    char *lb_id;
    char *name;
    char *protocol; /* "HTTPS", "TERMINATED_HTTPS", ... as the provider says */
    int port;
    enum elb_listener_kind kind;
    char *default_cert_id; /* NULL when none */
    char **sni_cert_ids;
    size_t n_sni;
};

struct elb_listener_list {
    struct elb_listener *items;
    size_t n;
};

/* Which listener: by ID, or the HTTPS listener on port of load balancer lb_id. */
struct elb_listener_ref {
    const char *lb_id;
    const char *listener_id; /* when set, port is ignored */
    int port;
};

/* What a provider accepts. */
struct elb_limits {
    size_t name_max;             /* longest certificate name */
    const char *name_extra_chars; /* allowed besides ASCII letters and digits, e.g. "-_." */
    size_t description_max;      /* 0: no description field */
    size_t max_sni;              /* SNI certificates per listener (0: no SNI) */
    size_t cert_pem_max;         /* longest certificate PEM accepted */
    size_t key_pem_max;
    size_t chain_max;            /* certificates in one chain */
    bool rsa;                    /* key types accepted */
    bool ecdsa;
    int rsa_min_bits;
    int rsa_max_bits;
    bool can_rename;
    bool can_import;             /* from the cloud's certificate service */
    bool reports_bindings;       /* certificate answers say where they are bound */
};

/* Called after every provider request, for metrics: op is a stable name ("list_certs",
 * "create_cert", ...), outcome the result, latency_ms the whole call including retries. */
typedef void (*elb_observe_fn)(void *ud, const char *op, enum cs_code outcome,
                               uint64_t latency_ms);

struct elb_provider_config {
    const char *kind;             /* "huawei" or "ucloud" */
    const char *endpoint;         /* base URL; NULL: the cloud's public endpoint. May hold
                                     "{region}" to be replaced per call. */
    const char *region;           /* default region */
    const char *project_id;       /* Huawei: "ID" or "region=ID,region=ID" (project IDs are
                                     per region); UCloud: the project ID */
    const char *credentials_file; /* KEY=VALUE file (see design.md §7) */
    const char *ca_file;          /* extra CA bundle for the endpoint; NULL: system */
    double qps;                   /* client-side rate limit; <= 0: unlimited */
    double burst;
    long timeout_ms;              /* per request; 0: 30 s */
    int max_retries;              /* for idempotent calls and throttling; < 0: default 4 */
    elb_observe_fn observe;
    void *observe_ud;
    /* Added by elb: retry back-off bounds (0: 200 ms initial, 10 s max), the page size of
     * list calls (0: the provider's maximum), and the longest Retry-After honoured before a
     * throttled call gives up and reports CS_ETHROTTLED with retry_after_ms (0: 30 s). */
    long retry_initial_ms;
    long retry_max_ms;
    int page_size;
    long max_retry_after_ms;
    /* Added by elb: set by elb_provider_new when the credentials file is readable by group or
     * others (the caller warns). */
    bool *loose_permissions;
};

struct elb_provider;

struct elb_provider_ops {
    const char *name;
    void (*destroy)(struct elb_provider *p);
    const struct elb_limits *(*limits)(const struct elb_provider *p);
    /* Every certificate of the region, all pages. */
    enum cs_code (*list_certs)(struct elb_provider *p, const char *region,
                               struct elb_cert_list *out, struct cs_err *err);
    enum cs_code (*get_cert)(struct elb_provider *p, const char *region, const char *id,
                             struct elb_cert *out, struct cs_err *err);
    enum cs_code (*create_cert)(struct elb_provider *p, const char *region,
                                const struct elb_cert_spec *spec, struct elb_cert *out,
                                struct cs_err *err);
    /* CS_EINUSE when still bound; CS_ENOTFOUND when already gone. */
    enum cs_code (*delete_cert)(struct elb_provider *p, const char *region, const char *id,
                                struct cs_err *err);
    enum cs_code (*rename_cert)(struct elb_provider *p, const char *region, const char *id,
                                const char *new_name, struct cs_err *err);
    /* CS_ENOTFOUND when the load balancer or the listener does not exist. */
    enum cs_code (*find_listener)(struct elb_provider *p, const char *region,
                                  const struct elb_listener_ref *ref, struct elb_listener *out,
                                  struct cs_err *err);
    /* Every HTTPS listener of the region (for "is this certificate bound anywhere"). */
    enum cs_code (*list_listeners)(struct elb_provider *p, const char *region,
                                   struct elb_listener_list *out, struct cs_err *err);
    /* Makes the listener's bindings exactly: default_id as default, sni_ids as SNI. One call
     * where the cloud allows it; never leaves the listener without a certificate (UCloud
     * classic: UpdateSSLBinding, never unbind-then-bind). current is the listener as last
     * read (its id and kind are used; its bindings tell what to change). */
    enum cs_code (*set_listener_certs)(struct elb_provider *p, const char *region,
                                       const struct elb_listener *current,
                                       const char *default_id, const char *const *sni_ids,
                                       size_t n_sni, struct cs_err *err);
};

/* The common head of every backend's provider struct. */
struct elb_provider {
    const struct elb_provider_ops *ops;
    char *default_region;
    /* Added by elb: the metrics callback, called by the dispatchers after every operation. */
    elb_observe_fn observe;
    void *observe_ud;
};

/* Creates the provider named by cfg->kind, reading its credentials file. Errors name the
 * file and the missing key, never a value. */
enum cs_code elb_provider_new(const struct elb_provider_config *cfg, struct elb_provider **out,
                              struct cs_err *err);
void elb_provider_free(struct elb_provider *p);

/* Thin dispatchers; region NULL means the provider's default region. */
const struct elb_limits *elb_limits(const struct elb_provider *p);
/* A provider kind's limits without a provider ("huawei", "ucloud"); NULL when unknown. */
const struct elb_limits *elb_limits_of(const char *kind);
enum cs_code elb_list_certs(struct elb_provider *p, const char *region, struct elb_cert_list *out,
                            struct cs_err *err);
enum cs_code elb_get_cert(struct elb_provider *p, const char *region, const char *id,
                          struct elb_cert *out, struct cs_err *err);
enum cs_code elb_create_cert(struct elb_provider *p, const char *region,
                             const struct elb_cert_spec *spec, struct elb_cert *out,
                             struct cs_err *err);
enum cs_code elb_delete_cert(struct elb_provider *p, const char *region, const char *id,
                             struct cs_err *err);
enum cs_code elb_rename_cert(struct elb_provider *p, const char *region, const char *id,
                             const char *new_name, struct cs_err *err);
enum cs_code elb_find_listener(struct elb_provider *p, const char *region,
                               const struct elb_listener_ref *ref, struct elb_listener *out,
                               struct cs_err *err);
enum cs_code elb_list_listeners(struct elb_provider *p, const char *region,
                                struct elb_listener_list *out, struct cs_err *err);
enum cs_code elb_set_listener_certs(struct elb_provider *p, const char *region,
                                    const struct elb_listener *current, const char *default_id,
                                    const char *const *sni_ids, size_t n_sni,
                                    struct cs_err *err);

void elb_cert_cleanup(struct elb_cert *c);
void elb_cert_list_cleanup(struct elb_cert_list *l);
void elb_listener_cleanup(struct elb_listener *l);
void elb_listener_list_cleanup(struct elb_listener_list *l);
/* Deep copies; CS_ENOMEM on failure (out is then left empty). */
enum cs_code elb_cert_copy(const struct elb_cert *src, struct elb_cert *out);
enum cs_code elb_listener_copy(const struct elb_listener *src, struct elb_listener *out);

#endif
