/* store.c -- a thread-safe hash map of immutable, reference-counted entries (see store.h). */
#include "k8s/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

struct k8s_obj {
    atomic_uint refs;
    void *item;
    k8s_item_free_fn free_item;
    void *ud;
    const char *ns;   /* points into text */
    const char *name; /* points into key */
    const char *rv;   /* points into text */
    char key[];       /* "ns/name\0" then "ns\0" then "rv\0" */
};

struct entry {
    struct k8s_obj *obj;
    uint64_t gen; /* the replace generation that last set it */
    struct entry *next;
};

struct k8s_store {
    struct k8s_store_opts opts;
    pthread_mutex_t lock; /* guards buckets, n_buckets, count, gen */
    struct entry **buckets;
    size_t n_buckets; /* a power of two */
    size_t count;
    uint64_t gen;
};

/* A change to report once the lock is released. */
struct change {
    struct k8s_obj *old; /* owned references, either may be NULL */
    struct k8s_obj *obj;
};

const char *k8s_obj_key(const struct k8s_obj *o) { return o->key; }
const char *k8s_obj_namespace(const struct k8s_obj *o) { return o->ns; }
const char *k8s_obj_name(const struct k8s_obj *o) { return o->name; }
const char *k8s_obj_rv(const struct k8s_obj *o) { return o->rv; }
const void *k8s_obj_item(const struct k8s_obj *o) { return o->item; }

struct k8s_obj *k8s_obj_ref(const struct k8s_obj *o)
{
    struct k8s_obj *m = (struct k8s_obj *)o;
    if (m)
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void k8s_obj_unref(struct k8s_obj *o)
{
    if (!o || atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (o->free_item && o->item)
        o->free_item(o->item, o->ud);
    free(o);
}

/* Builds an entry from a JSON object. *out is NULL (and CS_OK) when extract filters it out;
 * *key_out always receives the key (malloc'd) so that a filtered object can still delete. */
static enum cs_code make_obj(struct k8s_store *s, const cJSON *json, struct k8s_obj **out,
                             char **key_out, struct cs_err *err)
{
    const char *name = cs_json_path_str(json, "metadata.name");
    const char *ns = cs_json_path_str(json, "metadata.namespace");
    const char *rv = cs_json_path_str(json, "metadata.resourceVersion");
    *out = NULL;
    if (!name || !*name)
        return cs_err_set(err, CS_EPROTO, 0, "object without metadata.name");
    ns = ns ? ns : "";
    rv = rv ? rv : "";
    size_t nl = strlen(ns), ml = strlen(name), rl = strlen(rv);
    size_t kl = nl ? nl + 1 + ml : ml;
    struct k8s_obj *o = malloc(sizeof(*o) + kl + 1 + nl + 1 + rl + 1);
    if (!o)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    char *p = o->key;
    if (nl) {
        memcpy(p, ns, nl);
        p[nl] = '/';
        p += nl + 1;
    }
    o->name = p;
    memcpy(p, name, ml + 1);
    p += ml + 1;
    o->ns = p;
    memcpy(p, ns, nl + 1);
    p += nl + 1;
    o->rv = p;
    memcpy(p, rv, rl + 1);
    atomic_init(&o->refs, 1);
    o->free_item = s->opts.free_item;
    o->ud = s->opts.ud;
    if (!(*key_out = strdup(o->key))) {
        free(o);
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    }
    o->item = s->opts.extract(json, s->opts.ud);
    if (!o->item) {
        free(o);
        return CS_OK;
    }
    *out = o;
    return CS_OK;
}

static uint64_t hash(const char *k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    return h;
}

static struct entry **slot(struct k8s_store *s, const char *key)
{
    struct entry **e = &s->buckets[hash(key) & (s->n_buckets - 1)];
    while (*e && strcmp((*e)->obj->key, key) != 0)
        e = &(*e)->next;
    return e;
}

static void grow(struct k8s_store *s)
{
    size_t n = s->n_buckets * 2;
    struct entry **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < s->n_buckets; i++) {
        struct entry *e = s->buckets[i];
        while (e) {
            struct entry *next = e->next;
            size_t j = hash(e->obj->key) & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = n;
}

/* Puts obj (taking the caller's reference) under its key; returns the old one (owned) or
 * NULL. Caller holds the lock. Fails only on allocation. */
static enum cs_code put_locked(struct k8s_store *s, struct k8s_obj *obj, uint64_t gen,
                              struct k8s_obj **old)
{
    struct entry **e = slot(s, obj->key);
    *old = NULL;
    if (*e) {
        *old = (*e)->obj;
        (*e)->obj = obj;
        (*e)->gen = gen;
        return CS_OK;
    }
    struct entry *n = malloc(sizeof(*n));
    if (!n)
        return CS_ENOMEM;
    n->obj = obj;
    n->gen = gen;
    n->next = NULL;
    *e = n;
    if (++s->count > s->n_buckets)
        grow(s);
    return CS_OK;
}

static struct k8s_obj *remove_locked(struct k8s_store *s, const char *key)
{
    struct entry **e = slot(s, key);
    if (!*e)
        return NULL;
    struct entry *d = *e;
    struct k8s_obj *o = d->obj;
    *e = d->next;
    free(d);
    s->count--;
    return o;
}

static void emit(struct k8s_store *s, struct change *c)
{
    const struct k8s_handlers *h = &s->opts.handlers;
    if (c->old && c->obj) {
        if (h->on_update)
            h->on_update(c->old, c->obj, h->ud);
    } else if (c->obj) {
        if (h->on_add)
            h->on_add(c->obj, h->ud);
    } else if (c->old) {
        if (h->on_delete)
            h->on_delete(c->old, h->ud);
    }
    k8s_obj_unref(c->old);
    k8s_obj_unref(c->obj);
}

enum cs_code k8s_store_new(const struct k8s_store_opts *opts, struct k8s_store **out,
                           struct cs_err *err)
{
    if (!opts || !opts->extract)
        return cs_err_set(err, CS_EINVAL, 0, "store: an extract function is required");
    struct k8s_store *s = calloc(1, sizeof(*s));
    if (!s)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    s->opts = *opts;
    s->n_buckets = 64;
    if (!(s->buckets = calloc(s->n_buckets, sizeof(*s->buckets)))) {
        free(s);
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    }
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return CS_OK;
}

void k8s_store_free(struct k8s_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_buckets; i++) {
        struct entry *e = s->buckets[i];
        while (e) {
            struct entry *next = e->next;
            k8s_obj_unref(e->obj);
            free(e);
            e = next;
        }
    }
    free(s->buckets);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

struct k8s_obj *k8s_store_get(struct k8s_store *s, const char *key)
{
    pthread_mutex_lock(&s->lock);
    struct entry **e = slot(s, key);
    struct k8s_obj *o = *e ? k8s_obj_ref((*e)->obj) : NULL;
    pthread_mutex_unlock(&s->lock);
    return o;
}

struct k8s_obj *k8s_store_get_by_name(struct k8s_store *s, const char *ns, const char *name)
{
    char stack[512];
    char *key = stack;
    size_t need = (ns ? strlen(ns) : 0) + strlen(name) + 2;
    if (need > sizeof(stack) && !(key = malloc(need)))
        return NULL;
    if (ns && *ns)
        snprintf(key, need, "%s/%s", ns, name);
    else
        snprintf(key, need, "%s", name);
    struct k8s_obj *o = k8s_store_get(s, key);
    if (key != stack)
        free(key);
    return o;
}

size_t k8s_store_len(struct k8s_store *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static int cmp_key(const void *a, const void *b)
{
    const struct k8s_obj *x = *(struct k8s_obj *const *)a, *y = *(struct k8s_obj *const *)b;
    return strcmp(x->key, y->key);
}

enum cs_code k8s_store_list(struct k8s_store *s, struct k8s_obj ***out, size_t *n,
                            struct cs_err *err)
{
    pthread_mutex_lock(&s->lock);
    size_t count = s->count, i = 0;
    struct k8s_obj **v = malloc((count ? count : 1) * sizeof(*v));
    if (v)
        for (size_t b = 0; b < s->n_buckets; b++)
            for (struct entry *e = s->buckets[b]; e; e = e->next)
                v[i++] = k8s_obj_ref(e->obj);
    pthread_mutex_unlock(&s->lock);
    if (!v)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    qsort(v, count, sizeof(*v), cmp_key);
    *out = v;
    *n = count;
    return CS_OK;
}

void k8s_store_list_free(struct k8s_obj **objs, size_t n)
{
    for (size_t i = 0; objs && i < n; i++)
        k8s_obj_unref(objs[i]);
    free(objs);
}

enum cs_code k8s_store_apply(struct k8s_store *s, enum k8s_watch_type type, const cJSON *obj,
                             struct cs_err *err)
{
    if (type != K8S_WATCH_ADDED && type != K8S_WATCH_MODIFIED && type != K8S_WATCH_DELETED)
        return CS_OK;
    struct k8s_obj *o = NULL;
    char *key = NULL;
    enum cs_code rc = make_obj(s, obj, &o, &key, err);
    struct change c = {0};
    if (rc != CS_OK)
        goto out;
    pthread_mutex_lock(&s->lock);
    if (type == K8S_WATCH_DELETED || !o) {
        /* deleted, or no longer passing the filter */
        c.old = remove_locked(s, key);
        if (!c.old && type == K8S_WATCH_DELETED)
            c.old = o; /* unknown: report the last state */
        else
            k8s_obj_unref(o);
        o = NULL;
    } else if ((rc = put_locked(s, o, s->gen, &c.old)) == CS_OK) {
        c.obj = k8s_obj_ref(o); /* the store keeps o's reference; this one is for emit */
        o = NULL;
    } else {
        cs_err_set(err, rc, 0, "out of memory");
    }
    pthread_mutex_unlock(&s->lock);
    if (rc == CS_OK)
        emit(s, &c);
out:
    k8s_obj_unref(o);
    free(key);
    return rc;
}

static int cmp_change(const void *a, const void *b)
{
    const struct change *x = a, *y = b;
    return strcmp(x->old->key, y->old->key);
}

enum cs_code k8s_store_replace(struct k8s_store *s, const cJSON *items, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    size_t n = 0, n_changes = 0, cap;
    struct k8s_obj **objs = NULL;
    struct change *changes = NULL;
    if (items && !cJSON_IsArray(items))
        return cs_err_set(err, CS_EPROTO, 0, "list items: not an array");
    n = (size_t)cJSON_GetArraySize(items);
    /* Build everything first, outside the lock: on error nothing changes. */
    if (!(objs = calloc(n ? n : 1, sizeof(*objs)))) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
        char *key = NULL;
        if ((rc = make_obj(s, it, &objs[i], &key, err)) != CS_OK)
            goto out;
        free(key);
        i++;
    }
    pthread_mutex_lock(&s->lock);
    cap = n + s->count;
    if (!(changes = calloc(cap ? cap : 1, sizeof(*changes)))) {
        pthread_mutex_unlock(&s->lock);
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    uint64_t gen = ++s->gen;
    for (i = 0; i < n; i++) {
        if (!objs[i])
            continue;
        struct k8s_obj *old = NULL;
        if (put_locked(s, objs[i], gen, &old) != CS_OK) {
            /* Out of memory half-way: the store keeps the previous state for the rest;
             * the next relist repairs it. Report what was applied. */
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            break;
        }
        changes[n_changes++] = (struct change){.old = old, .obj = k8s_obj_ref(objs[i])};
        objs[i] = NULL;
    }
    size_t first_delete = n_changes;
    if (rc == CS_OK) {
        for (size_t b = 0; b < s->n_buckets; b++) {
            struct entry **e = &s->buckets[b];
            while (*e) {
                if ((*e)->gen != gen) {
                    struct entry *d = *e;
                    *e = d->next;
                    changes[n_changes++] = (struct change){.old = d->obj};
                    free(d);
                    s->count--;
                } else {
                    e = &(*e)->next;
                }
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    /* deletes in key order, so that handlers see a deterministic sequence */
    qsort(changes + first_delete, n_changes - first_delete, sizeof(*changes), cmp_change);
    for (i = 0; i < n_changes; i++)
        emit(s, &changes[i]);
out:
    for (i = 0; objs && i < n; i++)
        k8s_obj_unref(objs[i]);
    free(objs);
    free(changes);
    return rc;
}
