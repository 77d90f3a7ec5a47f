/* store.h -- client-go's Store: objects by "namespace/name" ("name" when cluster-scoped),
 * holding only what the caller's extract function keeps from each object.
 *
 * The store never keeps the JSON: extract(obj) returns the caller's item (for Secrets, a
 * fingerprint and a verdict, not the key), and free_item releases it. Entries are immutable
 * and reference-counted: a reader on any thread takes a reference (k8s_store_get/list)
 * without copying and uses it without holding any lock; a change replaces the entry. The
 * handlers (on_add, on_update, on_delete) are called with no store lock held, in the order
 * of the changes; mutations (apply, replace) are expected from one thread, the reflector's. */
#ifndef K8S_STORE_H
#define K8S_STORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "k8s/watch.h"

struct k8s_obj;

const char *k8s_obj_key(const struct k8s_obj *o);       /* "ns/name" or "name" */
const char *k8s_obj_namespace(const struct k8s_obj *o); /* "" when cluster-scoped */
const char *k8s_obj_name(const struct k8s_obj *o);
const char *k8s_obj_rv(const struct k8s_obj *o); /* metadata.resourceVersion, "" if none */
/* The caller's item (what extract returned): immutable while referenced. */
const void *k8s_obj_item(const struct k8s_obj *o);
/* Another reference to o; give it back with k8s_obj_unref. Both are thread-safe. */
struct k8s_obj *k8s_obj_ref(const struct k8s_obj *o);
void k8s_obj_unref(struct k8s_obj *o);

/* Returns what to keep of obj, or NULL to leave the object out (as if it did not exist: a
 * filter). It must not keep pointers into obj. */
typedef void *(*k8s_extract_fn)(const cJSON *obj, void *ud);
typedef void (*k8s_item_free_fn)(void *item, void *ud);

/* Objects passed to handlers are borrowed for the call; take a reference to keep one. */
struct k8s_handlers {
    void (*on_add)(const struct k8s_obj *obj, void *ud);
    void (*on_update)(const struct k8s_obj *old, const struct k8s_obj *obj, void *ud);
    void (*on_delete)(const struct k8s_obj *old, void *ud);
    void *ud;
};

struct k8s_store_opts {
    k8s_extract_fn extract;     /* required */
    k8s_item_free_fn free_item; /* may be NULL */
    void *ud;                   /* for both; must outlive every reference */
    struct k8s_handlers handlers;
};

struct k8s_store;

enum cs_code k8s_store_new(const struct k8s_store_opts *opts, struct k8s_store **out,
                           struct cs_err *err);
/* Drops the store's references; objects still referenced elsewhere live on. */
void k8s_store_free(struct k8s_store *s);

/* A new reference, or NULL. */
struct k8s_obj *k8s_store_get(struct k8s_store *s, const char *key);
struct k8s_obj *k8s_store_get_by_name(struct k8s_store *s, const char *ns, const char *name);
size_t k8s_store_len(struct k8s_store *s);
/* References to every object, sorted by key. Free with k8s_store_list_free. */
enum cs_code k8s_store_list(struct k8s_store *s, struct k8s_obj ***out, size_t *n,
                            struct cs_err *err);
void k8s_store_list_free(struct k8s_obj **objs, size_t n);

/* A watch event: ADDED/MODIFIED insert or replace (on_add or on_update), DELETED removes
 * (on_delete; for an unknown key, with the event's last state if extract keeps it). Other
 * types are ignored. CS_EPROTO for an object without metadata.name. */
enum cs_code k8s_store_apply(struct k8s_store *s, enum k8s_watch_type type, const cJSON *obj,
                             struct cs_err *err);

/* A relist: the store becomes exactly items (a JSON array of objects). Keys that vanished
 * get on_delete; the others on_add or on_update (every existing key, as client-go's
 * Replace does: compare k8s_obj_rv to skip unchanged ones). On error nothing changes. */
enum cs_code k8s_store_replace(struct k8s_store *s, const cJSON *items, struct cs_err *err);

#endif
