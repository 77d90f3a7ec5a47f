/* client.h -- a small, typed-enough Kubernetes REST client on common/http.h.
 *
 * Resources are described by a struct k8s_resource (group/version path, plural, namespaced),
 * not generated: get, list (one page), create, update, merge-patch, delete and watch work for
 * any of them. Bodies are cJSON (parse with the cleansing allocator: call cs_json_init()).
 *
 * Errors: every non-2xx answer becomes the Status object's code, reason and message in
 * struct cs_err (k8s_status_to_err): 404 CS_ENOTFOUND, 409 CS_ECONFLICT (reason
 * "AlreadyExists" or "Conflict" kept), 410 CS_EGONE, 429 CS_ETHROTTLED (retry_after_ms),
 * 401/403 CS_EAUTH, 5xx CS_ESERVER, 400/422 CS_EINVAL.
 *
 * Authentication: client certificate, or a bearer token; a token file is re-read at least
 * every 60 s and after a 401 (then the request is retried once), as bound service-account
 * tokens rotate. The client is thread-safe. */
#ifndef K8S_CLIENT_H
#define K8S_CLIENT_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "k8s/config.h"
#include "k8s/watch.h"

struct k8s_resource {
    const char *gv_path;  /* "api/v1" or "apis/networking.k8s.io/v1" */
    const char *plural;   /* "secrets" */
    const char *kind;     /* "Secret" */
    const char *api_version; /* "v1", "networking.k8s.io/v1" */
    bool namespaced;
    bool sensitive;       /* bodies hold key material: cleansed buffers */
};

extern const struct k8s_resource k8s_res_secrets;
extern const struct k8s_resource k8s_res_ingresses;      /* networking.k8s.io/v1 */
extern const struct k8s_resource k8s_res_ingressclasses; /* networking.k8s.io/v1 */
extern const struct k8s_resource k8s_res_events;         /* core/v1 */
extern const struct k8s_resource k8s_res_leases;         /* coordination.k8s.io/v1 */
extern const struct k8s_resource k8s_res_namespaces;
extern const struct k8s_resource k8s_res_configmaps;

struct k8s_client_opts {
    long timeout_ms;            /* per request (not watches); 0: 30 s */
    long connect_timeout_ms;    /* 0: 10 s */
    uint64_t token_refresh_ms;  /* re-read the token file this often; 0: 60 s */
    const char *user_agent;     /* NULL: "elb-certsync" */
};

struct k8s_client;

/* cfg is copied: it may be freed afterwards. */
enum cs_code k8s_client_new(const struct k8s_config *cfg, const struct k8s_client_opts *opts,
                            struct k8s_client **out, struct cs_err *err);
void k8s_client_free(struct k8s_client *c);
/* The configuration's namespace ("default" when it named none). */
const char *k8s_client_namespace(const struct k8s_client *c);

/* One call. ns is ignored for cluster-scoped resources; name and subresource may be NULL.
 * query is already encoded ("a=b&c=d") or NULL. body NULL: no body. timeout_ms 0: the
 * client's. *out (may be NULL) receives the parsed answer when there is one. */
struct k8s_call {
    const char *method;
    const struct k8s_resource *res;
    const char *ns;
    const char *name;
    const char *subresource; /* "status" */
    const char *query;
    const cJSON *body;
    const char *content_type; /* default application/json */
    long timeout_ms;
    const atomic_bool *cancel; /* optional: stop promptly (CS_ECANCELED) */
};
enum cs_code k8s_do(struct k8s_client *c, const struct k8s_call *call, cJSON **out,
                    struct cs_err *err);

struct k8s_list_opts {
    const char *label_selector;
    const char *field_selector;
    const char *resource_version; /* "0": from the cache; NULL: consistent read */
    const char *continue_token;
    long limit; /* 0: no limit */
    long timeout_ms;           /* 0: the client's */
    const atomic_bool *cancel; /* optional */
};

enum cs_code k8s_get(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                     const char *name, cJSON **out, struct cs_err *err);
/* One page: the List object (items, metadata.resourceVersion, metadata.continue). */
enum cs_code k8s_list(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                      const struct k8s_list_opts *opts, cJSON **out, struct cs_err *err);
enum cs_code k8s_create(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                        const cJSON *obj, cJSON **out, struct cs_err *err);
/* PUT: obj carries metadata.resourceVersion; a stale one is CS_ECONFLICT reason Conflict. */
enum cs_code k8s_update(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                        const char *name, const cJSON *obj, cJSON **out, struct cs_err *err);
/* PATCH application/merge-patch+json. */
enum cs_code k8s_patch_merge(struct k8s_client *c, const struct k8s_resource *res,
                             const char *ns, const char *name, const cJSON *patch, cJSON **out,
                             struct cs_err *err);
enum cs_code k8s_delete(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                        const char *name, struct cs_err *err);

struct k8s_watch_opts {
    const char *resource_version;
    const char *label_selector;
    const char *field_selector;
    long timeout_seconds;      /* server-side timeoutSeconds; 0: none sent */
    bool allow_bookmarks;
    long idle_timeout_ms;      /* no byte for this long: CS_ETIMEDOUT; 0: none */
    size_t max_event;          /* 0: 16 MiB */
    const atomic_bool *cancel; /* stop promptly: CS_ECANCELED */
};

/* Streams a watch until the server closes it (CS_OK), the handler stops it, or an error. A
 * non-200 answer is mapped as for other calls (410 CS_EGONE, 429 CS_ETHROTTLED, ...). */
enum cs_code k8s_watch(struct k8s_client *c, const struct k8s_resource *res, const char *ns,
                       const struct k8s_watch_opts *opts, k8s_watch_fn fn, void *ud,
                       struct cs_err *err);

/* Maps an HTTP status and a body (a Status object, or anything) to an error. Pure. */
enum cs_code k8s_status_to_err(long http_status, const char *body, size_t len,
                               long retry_after_ms, struct cs_err *err);
/* Same from an already parsed Status (watch ERROR events); http_status 0 uses its code. */
enum cs_code k8s_status_json_to_err(long http_status, const cJSON *status, long retry_after_ms,
                                    struct cs_err *err);

#endif
