/* fk.h -- internal interfaces of fake-kube-apiserver, a loopback Kubernetes API server used
 * by the integration tests, the demo and the benchmarks.
 *
 * Layers, each in its own file and none aware of libmicrohttpd except main.c:
 *   selectors.c  label and field selectors (pure)
 *   patch.c      JSON merge patch, strategic-merge directives, JSON patch (pure)
 *   types.c      the resource types served, their discovery facts
 *   store.c      objects, the global resourceVersion, the event history, list pages
 *   watch.c      watch streams over the event history
 *   api.c        request handling: routing, verbs, Status objects (fk_api_handle: a fuzzer
 *                can drive it without a socket)
 *   discovery.c  /version, /api, /apis, resource lists
 *   tlsgen.c     an in-memory CA and server certificate
 *   main.c       flags, the HTTP server, signals, port and kubeconfig files */
#ifndef FK_H
#define FK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/err.h"

/* ---- resource types (types.c) ---- */

enum fk_field_set {
    FK_FIELDS_META,      /* metadata.name, metadata.namespace only */
    FK_FIELDS_SECRET,    /* + type */
    FK_FIELDS_NAMESPACE, /* + status.phase */
    FK_FIELDS_EVENT,     /* + involvedObject.*, reason, source, type, reportingComponent */
};

struct fk_type {
    const char *resource; /* plural, e.g. "secrets" */
    const char *singular;
    const char *kind;
    const char *list_kind;
    const char *group; /* "" for the core group */
    const char *version;
    const char *api_version; /* "v1" or "group/version" */
    const char *short_names; /* comma-separated, "" for none */
    bool namespaced;
    bool has_status;     /* a /status subresource */
    bool has_generation; /* metadata.generation, bumped by spec changes */
    bool create_on_update;
    enum fk_field_set fields;
    const char *storage_hash;
};

#define FK_NTYPES 7
extern const struct fk_type fk_types[FK_NTYPES];
/* Index of a type in fk_types (types are compared by pointer). */
size_t fk_type_index(const struct fk_type *t);
const struct fk_type *fk_type_by_resource(const char *group, const char *version,
                                          const char *resource);
const struct fk_type *fk_type_by_kind(const char *api_version, const char *kind);
/* "secrets" or "ingresses.networking.k8s.io", as the server names resources in messages. */
void fk_type_qualified(const struct fk_type *t, char *out, size_t n);

/* ---- selectors (selectors.c) ---- */

/* A label set as packed "k\0v\0k\0v\0\0"; NULL or "" is the empty set. */
const char *fk_labels_get(const char *packed, const char *key);

struct fk_label_req;
struct fk_label_selector; /* NULL matches everything */
enum cs_code fk_label_selector_parse(const char *s, struct fk_label_selector **out,
                                     struct cs_err *err);
void fk_label_selector_free(struct fk_label_selector *sel);
bool fk_label_selector_match(const struct fk_label_selector *sel, const char *packed_labels);

/* Fields an object exposes to field selectors. NULL members are absent (empty). */
struct fk_fields {
    const char *name;
    const char *ns;
    const char *extra; /* packed "field\0value\0...\0" of type-specific fields, or NULL */
};
struct fk_field_selector;
/* Parses and checks every field against the type's supported set; an unsupported field is
 * CS_EINVAL with the real server's message. */
enum cs_code fk_field_selector_parse(const char *s, enum fk_field_set set,
                                     struct fk_field_selector **out, struct cs_err *err);
void fk_field_selector_free(struct fk_field_selector *sel);
bool fk_field_selector_match(const struct fk_field_selector *sel, const struct fk_fields *f);
/* The value a selector requires for field (e.g. "metadata.name") with "=", or NULL. */
const char *fk_field_selector_exact(const struct fk_field_selector *sel, const char *field);

/* ---- patches (patch.c) ---- */

/* RFC 7386 merge patch: applies patch to *target in place (target may be replaced). */
enum cs_code fk_merge_patch(cJSON **target, const cJSON *patch, struct cs_err *err);
/* Strategic merge patch for the types served here (no list merge keys that matter): a merge
 * patch that honours and removes $patch, $retainKeys, $setElementOrder/..., and
 * $deleteFromPrimitiveList/... directives. */
enum cs_code fk_strategic_patch(cJSON **target, const cJSON *patch, struct cs_err *err);
/* RFC 6902 JSON patch (add, remove, replace, move, copy, test). */
enum cs_code fk_json_patch(cJSON **target, const cJSON *ops, struct cs_err *err);

/* ---- objects and the store (store.c) ---- */

/* One immutable version of one object. Reference-counted under the store lock. */
struct fk_obj {
    int refs;
    const struct fk_type *type;
    uint64_t rv;
    const char *key;    /* "ns/name" or "name": the list order, as etcd's key order */
    const char *ns;     /* "" when cluster-scoped */
    const char *name;
    const char *labels; /* packed, see fk_labels_get */
    const char *extra;  /* packed type-specific selector fields */
    const char *body;   /* compact JSON without kind/apiVersion: "{\"metadata\":...}" */
    size_t body_len;
    size_t alloc_len;   /* size of the one allocation holding all of the above */
};

enum fk_event_type { FK_EV_NONE = 0, FK_EV_ADDED, FK_EV_MODIFIED, FK_EV_DELETED };

/* One change. Events form a singly-linked list in RV order; each node holds a reference on
 * its successor, the store holds the oldest retained one, a watcher holds its cursor: a
 * slow watcher keeps alive only what it has not read, and nothing is copied per watcher. */
struct fk_event {
    int refs;
    struct fk_event *next;
    uint64_t rv;
    enum fk_event_type type;
    struct fk_obj *obj;  /* new state; for DELETED the last state with the delete RV */
    struct fk_obj *prev; /* state before the change; NULL for ADDED */
    char *line[3];       /* lazily formatted watch lines: as-is, as ADDED, as DELETED */
    size_t line_len[3];
};

struct fk_skiplist;

struct fk_store {
    pthread_mutex_t mu; /* guards everything below and every refcount */
    pthread_cond_t changed; /* broadcast on every change, drop, fault change and shutdown */
    uint64_t rv;            /* last assigned resourceVersion (etcd's revision) */
    struct fk_skiplist *items[FK_NTYPES];
    size_t count[FK_NTYPES];
    struct fk_event *head; /* oldest retained event (reference held) */
    struct fk_event *tail; /* newest event (no extra reference) */
    size_t hist_len, hist_max;
    uint64_t min_watch_rv; /* a watch or continue from rv < this is too old (410) */
    uint64_t drop_gen;     /* bumped by drop-watches: every open watch closes */
    bool shutting_down;
    int watches_open;
};

enum cs_code fk_store_init(struct fk_store *s, size_t hist_max);
void fk_store_cleanup(struct fk_store *s);
/* Drops all history: a watch or continue token from any older RV gets 410. */
void fk_store_compact(struct fk_store *s);

/* Creates an object version from a normalised JSON object (metadata.resourceVersion is
 * overwritten with rv). Returns a new reference. Caller holds the lock or owns obj alone. */
enum cs_code fk_obj_build(const struct fk_type *t, cJSON *json, uint64_t rv, struct fk_obj **out,
                          struct cs_err *err);
void fk_obj_ref(struct fk_obj *o);
void fk_obj_unref(struct fk_obj *o);
/* Parses an object's body (without kind/apiVersion). */
cJSON *fk_obj_parse(const struct fk_obj *o);
/* Appends the object with kind and apiVersion in front. */
enum cs_code fk_obj_append_full(struct cs_buf *b, const struct fk_obj *o);
void fk_obj_fields(const struct fk_obj *o, struct fk_fields *f);

/* With the lock held. */
struct fk_obj *fk_store_get(struct fk_store *s, const struct fk_type *t, const char *key);
/* With the lock held: makes obj (built with rv == s->rv + 1) the current version of its key
 * (ADDED, MODIFIED) or removes its key (DELETED: obj is the last state with the delete RV),
 * records the event and wakes the watchers. The caller's reference on obj passes to the
 * store. */
enum cs_code fk_store_commit(struct fk_store *s, enum fk_event_type type, struct fk_obj *obj);
void fk_event_ref(struct fk_event *e);
void fk_event_unref(struct fk_event *e);

/* A page of a list, with the lock held. */
struct fk_list_query {
    const struct fk_type *type;
    const char *ns; /* NULL: all namespaces */
    const struct fk_label_selector *labels;
    const struct fk_field_selector *fields;
    long limit;            /* 0: no limit */
    const char *start_after; /* key to start after, or NULL */
    uint64_t snapshot_rv;  /* 0: the current state */
};
struct fk_list_page {
    struct fk_obj **items; /* references */
    size_t n;
    uint64_t rv;         /* the list's resourceVersion */
    bool more;           /* keys remain after the last item */
    char *last_key;      /* key of the last item when more */
    long remaining;      /* remainingItemCount, -1 when not reported */
};
/* Returns CS_EGONE when snapshot_rv is older than the history. */
enum cs_code fk_store_list(struct fk_store *s, const struct fk_list_query *q,
                           struct fk_list_page *out, struct cs_err *err);
void fk_list_page_cleanup(struct fk_list_page *p);

/* Continue tokens, in the real server's format: base64 of
 * {"v":"meta.k8s.io/v1","rv":N,"start":"key\u0000"}. rv -1 means "the current state". */
char *fk_continue_encode(int64_t rv, const char *last_key);
enum cs_code fk_continue_decode(const char *token, int64_t *rv, char **start_after,
                                struct cs_err *err);

/* Skip list of objects by key (store.c; exposed for tests). */
struct fk_skiplist *fk_skiplist_new(void);
void fk_skiplist_free(struct fk_skiplist *l); /* drops the references it holds */
/* Inserts or replaces; takes obj's reference, returns the replaced one (or NULL). */
struct fk_obj *fk_skiplist_put(struct fk_skiplist *l, struct fk_obj *obj);
/* Removes and returns the object (its reference) or NULL. */
struct fk_obj *fk_skiplist_del(struct fk_skiplist *l, const char *key);
struct fk_obj *fk_skiplist_get(const struct fk_skiplist *l, const char *key);
/* Iteration: the first node with key > after (or >= from when after is NULL). */
struct fk_sl_node;
struct fk_sl_node *fk_skiplist_seek(const struct fk_skiplist *l, const char *key, bool inclusive);
struct fk_sl_node *fk_skiplist_next(const struct fk_sl_node *n);
struct fk_obj *fk_skiplist_obj(const struct fk_sl_node *n);

/* ---- faults and configuration ---- */

struct fk_faults {
    double rate_429;
    double rate_500;
    long delay_ms;
    long drop_watch_ms;
    bool split_chunks;
};

struct fk_stats;

struct fk_server {
    struct fk_store store;
    pthread_mutex_t cfg_mu; /* guards faults and stats */
    struct fk_faults faults;
    struct fk_stats *stats;
    char *token;            /* required bearer token, or NULL */
    long bookmark_interval_ms;
    bool auto_namespaces;   /* create missing namespaces instead of 404 */
    bool tls;
    int port;
};

enum cs_code fk_server_init(struct fk_server *srv, size_t hist_max);
void fk_server_cleanup(struct fk_server *srv);
/* Loads a seed file's objects (a JSON array or a List). */
enum cs_code fk_server_seed(struct fk_server *srv, const char *json, size_t len,
                            struct cs_err *err);
enum cs_code fk_faults_from_json(struct fk_faults *f, const cJSON *j, struct cs_err *err);

/* ---- requests (api.c) ---- */

struct fk_kv {
    const char *key;
    const char *value;
};

#define FK_MAX_QUERY 32
#define FK_MAX_BODY ((size_t)3 * 1024 * 1024) /* the real server's request body limit */

struct fk_request {
    const char *method;
    const char *path; /* decoded, without the query string */
    struct fk_kv query[FK_MAX_QUERY];
    size_t nquery;
    const char *authorization;
    const char *content_type;
    const char *accept;
    const char *body;
    size_t body_len;
    bool body_too_big;
};

struct fk_watch;

struct fk_response {
    int status;
    const char *content_type;
    char *body; /* malloc'd; cleansed when freed (it may hold Secret data) */
    size_t body_len;
    int retry_after; /* >0: a Retry-After header */
    struct fk_watch *watch; /* non-NULL: stream this watch instead of body */
    bool fault_injected;
};

/* Handles one request completely (faults, auth, routing). Never fails: errors are answers.
 * The caller frees the response with fk_response_cleanup. */
void fk_api_handle(struct fk_server *srv, const struct fk_request *req, struct fk_response *resp);
void fk_response_cleanup(struct fk_response *resp);

/* Status objects, as the real server sends them. */
char *fk_status_json(int code, const char *reason, const char *message, const char *name,
                     const struct fk_type *t, bool kind_is_kind);

/* ---- discovery (discovery.c) ---- */
bool fk_discovery(struct fk_server *srv, const char *path, struct fk_response *resp);

/* ---- watches (watch.c) ---- */

struct fk_watch_opts {
    const struct fk_type *type;
    char *ns;
    struct fk_label_selector *labels; /* ownership passes to the watch */
    struct fk_field_selector *fields;
    bool has_rv;
    uint64_t rv;
    bool bookmarks;
    long timeout_s; /* 0: none */
};

/* Starts a watch with the store lock NOT held. An RV older than the history gives a watch
 * whose stream is the single 410 ERROR event. */
struct fk_watch *fk_watch_new(struct fk_server *srv, struct fk_watch_opts *opts);
void fk_watch_free(struct fk_watch *w);
/* Blocks until bytes are ready; returns how many were written into buf (>0), 0 at the
 * normal end of the stream, -1 when the stream must be cut (drop). */
long fk_watch_read(struct fk_watch *w, char *buf, size_t max);

/* ---- stats ---- */
void fk_stats_count(struct fk_server *srv, const char *verb, const char *resource);
char *fk_stats_json(struct fk_server *srv);

/* ---- TLS material (tlsgen.c) ---- */
struct fk_tls {
    char *ca_pem;
    char *cert_pem;
    char *key_pem; /* cleansed on cleanup */
};
enum cs_code fk_tls_generate(struct fk_tls *out, struct cs_err *err);
void fk_tls_cleanup(struct fk_tls *t);

/* Misc helpers (api.c). */
/* Compact JSON text in malloc'd memory (cJSON's own allocator is not free()-compatible). */
char *fk_json_print(const cJSON *j);
void fk_uuid(char out[37]);
bool fk_valid_dns_subdomain(const char *s);
bool fk_valid_dns_label(const char *s);

#endif
