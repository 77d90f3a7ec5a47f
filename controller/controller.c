/* controller.c -- informers, indexes, queue, workers, resync, readiness. */
#include "controller/controller.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"
#include "controller/annotations.h"
#include "controller/desired.h"
#include "controller/naming.h"
#include "controller/objects.h"
#include "controller/pcache.h"
#include "controller/queue.h"
#include "controller/reconcile.h"
#include "k8s/reflector.h"
#include "k8s/store.h"

#define MAX_WORKERS 64
#define DEFAULT_CLASS_ANNOTATION "ingressclass.kubernetes.io/is-default-class"
#define PROTECTION_REASON_MAX 255

/* What the index remembers of one Ingress. */
struct ing_entry {
    char *listener_key;       /* NULL when its annotations map it to no listener */
    char *uid;                /* for Events after it is gone (former) */
    struct cs_strset secrets; /* "ns/name" of its spec.tls Secrets */
};

/* What the IngressClass store keeps. */
struct class_item {
    char *name;
    bool is_default;
};

struct ctl_controller {
    const struct ctl_config *cfg;
    struct k8s_client *kube;
    struct elb_provider *provider;
    struct ctl_metrics *metrics;
    struct k8s_recorder *recorder;

    struct ctl_settings settings; /* template: now_ms is set per reconcile */
    struct ctl_objects_ctx objects;
    char protection_reason[PROTECTION_REASON_MAX + 1];

    struct k8s_store *ingresses, *secrets, *secrets_cce, *classes;
    struct k8s_reflector *r_ingresses, *r_secrets, *r_secrets_cce, *r_classes;

    pthread_mutex_t index_lock; /* guards ing_index, listener_ings, secret_ings, regions, former */
    struct cs_map ing_index;    /* ingress key -> struct ing_entry * */
    struct cs_map listener_ings; /* listener key -> set of ingress keys */
    struct cs_map secret_ings;  /* "ns/name" -> set of ingress keys */
    struct cs_map former;       /* listener key -> "ns/name uid" of the last Ingress that left */
    struct cs_strset regions;   /* regions some Ingress uses, and the default */
    atomic_bool default_class_ours;

    pthread_mutex_t record_lock; /* guards records */
    struct cs_map records;       /* listener key -> replaced certificate ID (char *) */

    struct ctl_pcache *pcache;
    struct ctl_reconciler reconciler;
    struct ctl_queue *queue;

    pthread_t workers[MAX_WORKERS];
    int n_workers;
    pthread_t resync_thread;
    bool resync_running;
    pthread_mutex_t run_lock; /* guards stop_requested with run_cond; workers_live */
    pthread_cond_t run_cond;
    bool stop_requested;
    int workers_live;
    atomic_bool leading;
    atomic_bool first_sync_done;

    struct ctl_metric *m_queue_depth, *m_leader, *m_managed, *m_expiry, *m_last_sync;
};

/* ---- Events ------------------------------------------------------------------------- */

static void emit_event(void *ud, const char *ns, const char *name, const char *uid,
                       const char *type, const char *reason, const char *message)
{
    struct ctl_controller *c = ud;
    if (!c->recorder || !atomic_load(&c->leading))
        return;
    struct k8s_object_ref ref = {.kind = "Ingress",
                                 .api_version = "networking.k8s.io/v1",
                                 .ns = ns,
                                 .name = name,
                                 .uid = uid};
    k8s_recorder_emit(c->recorder, &ref,
                      strcmp(type, "Warning") == 0 ? K8S_EVENT_WARNING : K8S_EVENT_NORMAL, reason,
                      message);
}

/* ---- Replaced-default records (in memory; see README: a restart forgets them where the
 * provider has no description to carry them) ---------------------------------------------- */

static const char *record_get(void *ud, const char *key)
{
    struct ctl_controller *c = ud;
    pthread_mutex_lock(&c->record_lock);
    const char *v = cs_map_get(&c->records, key);
    pthread_mutex_unlock(&c->record_lock);
    /* The value is only replaced by the worker holding this listener's key: stable for the
     * caller's reconcile. */
    return v;
}

static enum cs_code record_set(void *ud, const char *key, const char *cert_id)
{
    struct ctl_controller *c = ud;
    enum cs_code rc = CS_OK;
    pthread_mutex_lock(&c->record_lock);
    if (cert_id) {
        char *v = strdup(cert_id);
        void *old = NULL;
        if (!v || cs_map_put(&c->records, key, v, &old) != CS_OK) {
            free(v);
            rc = CS_ENOMEM;
        }
        free(old);
    } else {
        free(cs_map_remove(&c->records, key));
    }
    pthread_mutex_unlock(&c->record_lock);
    return rc;
}

static bool former_get(void *ud, const char *key, char *ns, size_t ns_size, char *name,
                       size_t name_size, char *uid, size_t uid_size)
{
    struct ctl_controller *c = ud;
    bool ok = false;
    pthread_mutex_lock(&c->index_lock);
    const char *v = cs_map_get(&c->former, key);
    const char *slash = v ? strchr(v, '/') : NULL;
    const char *sp = slash ? strchr(slash, ' ') : NULL;
    if (sp && (size_t)(slash - v) < ns_size && (size_t)(sp - slash - 1) < name_size &&
        strlen(sp + 1) < uid_size) {
        snprintf(ns, ns_size, "%.*s", (int)(slash - v), v);
        snprintf(name, name_size, "%.*s", (int)(sp - slash - 1), slash + 1);
        snprintf(uid, uid_size, "%s", sp + 1);
        ok = true;
    }
    pthread_mutex_unlock(&c->index_lock);
    return ok;
}

/* ---- Index --------------------------------------------------------------------------- */

static void ing_entry_free(void *p)
{
    struct ing_entry *e = p;
    if (!e)
        return;
    free(e->listener_key);
    free(e->uid);
    cs_strset_cleanup(&e->secrets);
    free(e);
}

static void enqueue_listener(struct ctl_controller *c, const char *key)
{
    char k[600];
    snprintf(k, sizeof(k), "L|%s", key);
    ctl_queue_add(c->queue, k);
}

static void settings_now(const struct ctl_controller *c, struct ctl_settings *s)
{
    *s = c->settings;
    s->now_ms = cs_wall_ms();
}

/* An unclassed Ingress is ours when our IngressClass is the cluster's default: give the core
 * a view in which it carries our class. */
static void effective_ingress(const struct ctl_controller *c, const struct ctl_ingress *in,
                              struct ctl_ingress *out)
{
    *out = *in;
    if (!ctl_ingress_class(in) && atomic_load(&c->default_class_ours))
        out->class_name = (char *)c->settings.ingress_class;
}

/* The listener key an Ingress maps to, or NULL (not ours, or bad annotations). */
static char *listener_key_of(const struct ctl_controller *c, const struct ctl_ingress *raw)
{
    struct ctl_ingress ing;
    effective_ingress(c, raw, &ing);
    struct ctl_settings s;
    settings_now(c, &s);
    if (!ctl_ingress_is_ours(&ing, &s))
        return NULL;
    struct ctl_ingress_opts o;
    memset(&o, 0, sizeof(o));
    struct ctl_problems pr = {0};
    char *key = NULL;
    if (ctl_annotations_parse(&ing, &s, &o, &pr, NULL) == CS_OK)
        key = ctl_listener_key(o.region, o.lb_id, o.listener_id, o.port);
    ctl_ingress_opts_cleanup(&o);
    ctl_problems_cleanup(&pr);
    return key;
}

static bool is_ours(const struct ctl_controller *c, const struct ctl_ingress *raw)
{
    struct ctl_ingress ing;
    effective_ingress(c, raw, &ing);
    struct ctl_settings s;
    settings_now(c, &s);
    return ctl_ingress_is_ours(&ing, &s);
}

static void region_of_key(const char *key, char *out, size_t n)
{
    const char *slash = strchr(key, '/');
    size_t len = slash ? (size_t)(slash - key) : strlen(key);
    if (len >= n)
        len = n - 1;
    memcpy(out, key, len);
    out[len] = '\0';
}

/* Index lock held. Removes ingress key from the index; returns its entry (caller frees). */
static struct ing_entry *unindex_ingress(struct ctl_controller *c, const char *ikey)
{
    struct ing_entry *e = cs_map_remove(&c->ing_index, ikey);
    if (!e)
        return NULL;
    if (e->listener_key)
        cs_map_set_remove(&c->listener_ings, e->listener_key, ikey);
    for (size_t i = 0; i < e->secrets.n; i++)
        cs_map_set_remove(&c->secret_ings, e->secrets.items[i], ikey);
    return e;
}

/* Re-indexes one Ingress (NULL: deleted) and queues what it affects. */
static void index_ingress(struct ctl_controller *c, const char *ikey,
                          const struct ctl_ingress *ing)
{
    struct ing_entry *fresh = NULL;
    if (ing && is_ours(c, ing)) {
        fresh = calloc(1, sizeof(*fresh));
        if (fresh) {
            fresh->listener_key = listener_key_of(c, ing);
            fresh->uid = ing->uid ? strdup(ing->uid) : NULL;
            for (size_t i = 0; i < ing->n_tls; i++) {
                const char *sn = ing->tls[i].secret_name;
                if (!sn || strchr(sn, '/'))
                    continue; /* cross-namespace: refused, never read */
                char sk[600];
                snprintf(sk, sizeof(sk), "%s/%s", ing->ns, sn);
                cs_strset_add(&fresh->secrets, sk);
            }
        }
    }
    pthread_mutex_lock(&c->index_lock);
    struct ing_entry *old = unindex_ingress(c, ikey);
    if (fresh) {
        if (cs_map_put(&c->ing_index, ikey, fresh, NULL) != CS_OK) {
            ing_entry_free(fresh);
            fresh = NULL;
        } else {
            if (fresh->listener_key) {
                cs_map_set_add(&c->listener_ings, fresh->listener_key, ikey);
                char region[128];
                region_of_key(fresh->listener_key, region, sizeof(region));
                cs_strset_add(&c->regions, region);
            }
            for (size_t i = 0; i < fresh->secrets.n; i++)
                cs_map_set_add(&c->secret_ings, fresh->secrets.items[i], ikey);
        }
    }
    if (old && old->listener_key &&
        !(fresh && fresh->listener_key && strcmp(fresh->listener_key, old->listener_key) == 0)) {
        /* It leaves this listener: remember it for the Events of the listener's release. */
        size_t n = strlen(ikey) + 2 + (old->uid ? strlen(old->uid) : 0);
        char *v = malloc(n);
        void *prev = NULL;
        if (v) {
            snprintf(v, n, "%s %s", ikey, old->uid ? old->uid : "");
            if (cs_map_put(&c->former, old->listener_key, v, &prev) != CS_OK)
                free(v);
            free(prev);
        }
    }
    char *old_key = old && old->listener_key ? strdup(old->listener_key) : NULL;
    char *new_key = fresh && fresh->listener_key ? strdup(fresh->listener_key) : NULL;
    bool unmapped = fresh && !fresh->listener_key;
    pthread_mutex_unlock(&c->index_lock);
    ing_entry_free(old);
    if (old_key)
        enqueue_listener(c, old_key);
    if (new_key && (!old_key || strcmp(old_key, new_key) != 0))
        enqueue_listener(c, new_key);
    if (unmapped) {
        char k[600];
        snprintf(k, sizeof(k), "I|%s", ikey);
        ctl_queue_add(c->queue, k);
    }
    free(old_key);
    free(new_key);
}

static void on_ingress_add(const struct k8s_obj *o, void *ud)
{
    index_ingress(ud, k8s_obj_key(o), k8s_obj_item(o));
}

static void on_ingress_update(const struct k8s_obj *old, const struct k8s_obj *o, void *ud)
{
    index_ingress(ud, k8s_obj_key(o), k8s_obj_item(o));
}

static void on_ingress_delete(const struct k8s_obj *old, void *ud)
{
    index_ingress(ud, k8s_obj_key(old), NULL);
}

/* A Secret changed: every listener of every Ingress using it. */
static void secret_changed(struct ctl_controller *c, const struct k8s_obj *o, bool deleted)
{
    const char *key = k8s_obj_key(o);
    const struct ctl_secret *s = k8s_obj_item(o);
    const char *labels[] = {k8s_obj_namespace(o), k8s_obj_name(o)};
    if (deleted || !s || s->not_after_ms <= 0)
        ctl_metric_remove(c->m_expiry, labels);
    else
        ctl_metric_set(c->m_expiry, labels, (double)s->not_after_ms / 1000.0);

    struct cs_strset keys = {0};
    pthread_mutex_lock(&c->index_lock);
    const struct cs_strset *ings = cs_map_get(&c->secret_ings, key);
    for (size_t i = 0; ings && i < ings->n; i++) {
        const struct ing_entry *e = cs_map_get(&c->ing_index, ings->items[i]);
        if (e && e->listener_key)
            cs_strset_add(&keys, e->listener_key);
    }
    pthread_mutex_unlock(&c->index_lock);
    for (size_t i = 0; i < keys.n; i++)
        enqueue_listener(c, keys.items[i]);
    cs_strset_cleanup(&keys);
}

static void on_secret_add(const struct k8s_obj *o, void *ud)
{
    secret_changed(ud, o, false);
}

static void on_secret_update(const struct k8s_obj *old, const struct k8s_obj *o, void *ud)
{
    const struct ctl_secret *a = k8s_obj_item(old), *b = k8s_obj_item(o);
    /* A resync or a metadata-only change: nothing the controller uses moved. */
    if (a && b && a->status == b->status && strcmp(a->fingerprint, b->fingerprint) == 0 &&
        (a->type && b->type && strcmp(a->type, b->type) == 0))
        return;
    secret_changed(ud, o, false);
}

static void on_secret_delete(const struct k8s_obj *old, void *ud)
{
    secret_changed(ud, old, true);
}

/* IngressClasses: only whether ours is the default matters. */
static void *class_extract(const cJSON *obj, void *ud)
{
    struct class_item *it = calloc(1, sizeof(*it));
    const char *name = cs_json_path_str(obj, "metadata.name");
    if (!it || !name || !(it->name = strdup(name))) {
        free(it);
        return NULL;
    }
    /* The annotation's key holds dots: look it up in the annotations object itself. */
    const char *d = cs_json_str(cs_json_path(obj, "metadata.annotations"),
                                DEFAULT_CLASS_ANNOTATION);
    it->is_default = d && strcmp(d, "true") == 0;
    return it;
}

static void class_free(void *item, void *ud)
{
    struct class_item *it = item;
    if (it)
        free(it->name);
    free(it);
}

static void reindex_all(struct ctl_controller *c)
{
    struct k8s_obj **objs = NULL;
    size_t n = 0;
    if (k8s_store_list(c->ingresses, &objs, &n, NULL) != CS_OK)
        return;
    for (size_t i = 0; i < n; i++)
        index_ingress(c, k8s_obj_key(objs[i]), k8s_obj_item(objs[i]));
    k8s_store_list_free(objs, n);
}

static void class_changed(struct ctl_controller *c)
{
    struct k8s_obj *o = k8s_store_get_by_name(c->classes, NULL, c->settings.ingress_class);
    if (!o)
        o = k8s_store_get(c->classes, c->settings.ingress_class);
    const struct class_item *it = o ? k8s_obj_item(o) : NULL;
    bool now = it && it->is_default;
    k8s_obj_unref(o);
    if (atomic_exchange(&c->default_class_ours, now) != now) {
        cs_log_info("default IngressClass changed", "class", c->settings.ingress_class,
                    "default", now ? "true" : "false");
        reindex_all(c);
    }
}

static void on_class_add(const struct k8s_obj *o, void *ud)
{
    class_changed(ud);
}

static void on_class_update(const struct k8s_obj *old, const struct k8s_obj *o, void *ud)
{
    class_changed(ud);
}

static void on_class_delete(const struct k8s_obj *old, void *ud)
{
    class_changed(ud);
}

/* ---- Reconcile ----------------------------------------------------------------------- */

/* Object references held for one reconcile. */
struct held {
    struct k8s_obj **objs;
    size_t n, cap;
};

static void hold(struct held *h, struct k8s_obj *o)
{
    if (!o)
        return;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        struct k8s_obj **g = realloc(h->objs, cap * sizeof(*g));
        if (!g) {
            k8s_obj_unref(o);
            return;
        }
        h->objs = g;
        h->cap = cap;
    }
    h->objs[h->n++] = o;
}

static void release(struct held *h)
{
    for (size_t i = 0; i < h->n; i++)
        k8s_obj_unref(h->objs[i]);
    free(h->objs);
    memset(h, 0, sizeof(*h));
}

struct lookup_ctx {
    struct ctl_controller *c;
    struct held held;
};

static const struct ctl_secret *lookup_secret(void *ud, const char *ns, const char *name)
{
    struct lookup_ctx *lc = ud;
    struct k8s_obj *o = k8s_store_get_by_name(lc->c->secrets, ns, name);
    if (!o && lc->c->secrets_cce)
        o = k8s_store_get_by_name(lc->c->secrets_cce, ns, name);
    if (!o)
        return NULL;
    hold(&lc->held, o);
    return k8s_obj_item(o);
}

/* The Ingresses a reconcile of listener key needs: those on it, and those sharing one of
 * their Secrets (the desired state must know what other listeners still want). */
static void gather(struct ctl_controller *c, const char *key, struct held *h,
                   struct ctl_ingress **out, size_t *n_out)
{
    struct cs_strset keys = {0};
    pthread_mutex_lock(&c->index_lock);
    const struct cs_strset *on = cs_map_get(&c->listener_ings, key);
    for (size_t i = 0; on && i < on->n; i++) {
        cs_strset_add(&keys, on->items[i]);
        const struct ing_entry *e = cs_map_get(&c->ing_index, on->items[i]);
        for (size_t j = 0; e && j < e->secrets.n; j++) {
            const struct cs_strset *sharing = cs_map_get(&c->secret_ings, e->secrets.items[j]);
            for (size_t k = 0; sharing && k < sharing->n; k++)
                cs_strset_add(&keys, sharing->items[k]);
        }
    }
    pthread_mutex_unlock(&c->index_lock);
    struct ctl_ingress *ings = calloc(keys.n ? keys.n : 1, sizeof(*ings));
    size_t n = 0;
    for (size_t i = 0; ings && i < keys.n; i++) {
        struct k8s_obj *o = k8s_store_get(c->ingresses, keys.items[i]);
        if (!o)
            continue;
        hold(h, o);
        effective_ingress(c, k8s_obj_item(o), &ings[n++]);
    }
    cs_strset_cleanup(&keys);
    *out = ings;
    *n_out = ings ? n : 0;
}

/* Every Ingress of the class (for region-wide garbage collection). */
static void gather_all(struct ctl_controller *c, struct held *h, struct ctl_ingress **out,
                       size_t *n_out)
{
    struct k8s_obj **objs = NULL;
    size_t n = 0;
    *out = NULL;
    *n_out = 0;
    if (k8s_store_list(c->ingresses, &objs, &n, NULL) != CS_OK)
        return;
    struct ctl_ingress *ings = calloc(n ? n : 1, sizeof(*ings));
    for (size_t i = 0; i < n; i++) {
        if (ings)
            effective_ingress(c, k8s_obj_item(objs[i]), &ings[i]);
        hold(h, objs[i]);
    }
    free(objs); /* the references now live in h */
    *out = ings;
    *n_out = ings ? n : 0;
}

static void report_unmapped(struct ctl_controller *c, const char *ikey)
{
    struct k8s_obj *o = k8s_store_get(c->ingresses, ikey);
    if (!o)
        return;
    struct ctl_ingress ing;
    effective_ingress(c, k8s_obj_item(o), &ing);
    struct ctl_settings s;
    settings_now(c, &s);
    struct ctl_ingress_opts opts;
    memset(&opts, 0, sizeof(opts));
    struct ctl_problems pr = {0};
    if (ctl_ingress_is_ours(&ing, &s) &&
        ctl_annotations_parse(&ing, &s, &opts, &pr, NULL) != CS_OK) {
        for (size_t i = 0; i < pr.n; i++) {
            emit_event(c, ing.ns, ing.name, ing.uid, "Warning",
                       ctl_problem_reason(pr.items[i].kind), pr.items[i].message);
            cs_log_warn(pr.items[i].message, "ingress", ing.name, "namespace", ing.ns);
        }
    }
    ctl_ingress_opts_cleanup(&opts);
    ctl_problems_cleanup(&pr);
    k8s_obj_unref(o);
}

static void process(struct ctl_controller *c, const char *qkey)
{
    struct ctl_reconcile_result res;
    memset(&res, 0, sizeof(res));
    struct ctl_settings s;
    settings_now(c, &s);
    struct lookup_ctx lc = {.c = c};
    struct ctl_ingress *ings = NULL;
    size_t n = 0;
    if (strncmp(qkey, "L|", 2) == 0) {
        gather(c, qkey + 2, &lc.held, &ings, &n);
        ctl_reconcile_listener(&c->reconciler, &s, qkey + 2, ings, n, lookup_secret, &lc, &res);
    } else if (strncmp(qkey, "G|", 2) == 0) {
        gather_all(c, &lc.held, &ings, &n);
        ctl_reconcile_gc(&c->reconciler, &s, qkey + 2, ings, n, lookup_secret, &lc, &res);
    } else if (strncmp(qkey, "I|", 2) == 0) {
        report_unmapped(c, qkey + 2);
        res.status = CTL_RECONCILE_DONE;
    }
    free(ings);
    release(&lc.held);
    if (res.writes > 0 && (qkey[0] == 'L' || qkey[0] == 'G')) {
        /* The managed-certificates gauge follows the writes, not only the resyncs. */
        char region[128];
        region_of_key(qkey + 2, region, sizeof(region));
        size_t ours = 0, all = 0;
        ctl_pcache_counts(c->pcache, region, &ours, &all);
        const char *v[] = {region};
        ctl_metric_set(c->m_managed, v, (double)ours);
    }

    switch (res.status) {
    case CTL_RECONCILE_DONE:
        ctl_queue_forget(c->queue, qkey);
        break;
    case CTL_RECONCILE_REQUEUE:
        ctl_queue_forget(c->queue, qkey);
        ctl_queue_add_after(c->queue, qkey, res.retry_after_ms);
        break;
    case CTL_RECONCILE_RETRY: {
        uint64_t d = ctl_queue_add_rate_limited(c->queue, qkey);
        char delay[32];
        snprintf(delay, sizeof(delay), "%llu", (unsigned long long)d);
        cs_log_warn("reconcile failed, will retry", "key", qkey, "error", res.err.message,
                    "code", cs_code_name(res.err.code), "provider_code", res.err.provider_code,
                    "retry_in_ms", delay);
        break;
    }
    case CTL_RECONCILE_GIVE_UP:
        ctl_queue_forget(c->queue, qkey);
        cs_log_error("reconcile failed; waiting for a change", "key", qkey, "error",
                     res.err.message, "code", cs_code_name(res.err.code));
        break;
    }
}

static void *worker_main(void *p)
{
    struct ctl_controller *c = p;
    char *key;
    while ((key = ctl_queue_get(c->queue)) != NULL) {
        process(c, key);
        ctl_queue_done(c->queue, key);
        free(key);
        ctl_metric_set(c->m_queue_depth, NULL, (double)ctl_queue_len(c->queue));
    }
    pthread_mutex_lock(&c->run_lock);
    c->workers_live--;
    pthread_cond_broadcast(&c->run_cond);
    pthread_mutex_unlock(&c->run_lock);
    return NULL;
}

/* ---- Resync -------------------------------------------------------------------------- */

static void full_sync(struct ctl_controller *c)
{
    struct cs_strset regions = {0}, keys = {0};
    pthread_mutex_lock(&c->index_lock);
    for (size_t i = 0; i < c->regions.n; i++)
        cs_strset_add(&regions, c->regions.items[i]);
    struct cs_map_iter it;
    for (struct cs_map_entry *e = cs_map_first(&c->listener_ings, &it); e;
         e = cs_map_next(&c->listener_ings, &it))
        cs_strset_add(&keys, e->key);
    pthread_mutex_unlock(&c->index_lock);
    bool ok = true;
    for (size_t i = 0; i < regions.n; i++) {
        struct cs_err e;
        cs_err_clear(&e);
        const char *region = regions.items[i];
        if (ctl_pcache_refresh(c->pcache, region, &e) != CS_OK) {
            ok = false;
            cs_log_warn("cannot list the provider's certificates and listeners", "region", region,
                        "error", e.message, "code", cs_code_name(e.code));
            continue;
        }
        size_t ours = 0, all = 0;
        ctl_pcache_counts(c->pcache, region, &ours, &all);
        const char *v[] = {region};
        ctl_metric_set(c->m_managed, v, (double)ours);
        /* Listeners still holding our certificates that no Ingress maps to any more. */
        char **orphans = ctl_pcache_listeners_with_ours(c->pcache, region);
        for (size_t j = 0; orphans && orphans[j]; j++)
            cs_strset_add(&keys, orphans[j]);
        ctl_pcache_regions_free(orphans);
    }
    for (size_t i = 0; i < keys.n; i++)
        enqueue_listener(c, keys.items[i]);
    for (size_t i = 0; i < regions.n; i++) {
        char k[300];
        snprintf(k, sizeof(k), "G|%s", regions.items[i]);
        /* After the listeners: a certificate they unbind is collected in the same sync. */
        ctl_queue_add_after(c->queue, k, 2000);
    }
    char n_keys[32];
    snprintf(n_keys, sizeof(n_keys), "%zu", keys.n);
    cs_log_info("full sync queued", "listeners", n_keys);
    ctl_metric_set(c->m_last_sync, NULL, (double)cs_wall_ms() / 1000.0);
    if (ok)
        atomic_store(&c->first_sync_done, true);
    cs_strset_cleanup(&regions);
    cs_strset_cleanup(&keys);
}

static void *resync_main(void *p)
{
    struct ctl_controller *c = p;
    uint64_t retry_ms = 5000;
    for (;;) {
        full_sync(c);
        /* Until the provider could be listed once, retry sooner than the period. */
        uint64_t wait = atomic_load(&c->first_sync_done) ? c->cfg->resync_period_ms : retry_ms;
        pthread_mutex_lock(&c->run_lock);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t deadline_ns =
            (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + wait * 1000000ull;
        ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
        ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
        while (!c->stop_requested &&
               pthread_cond_timedwait(&c->run_cond, &c->run_lock, &ts) == 0) {
        }
        bool stop = c->stop_requested;
        pthread_mutex_unlock(&c->run_lock);
        if (stop)
            break;
    }
    return NULL;
}

/* ---- Life cycle ---------------------------------------------------------------------- */

static void observe_provider(void *ud, const char *op, enum cs_code outcome, uint64_t ms)
{
    (void)ud;
    (void)op;
    (void)outcome;
    (void)ms;
}

static enum cs_code new_store(struct ctl_controller *c, k8s_extract_fn ex, k8s_item_free_fn fr,
                              void *ud, void (*add)(const struct k8s_obj *, void *),
                              void (*upd)(const struct k8s_obj *, const struct k8s_obj *, void *),
                              void (*del)(const struct k8s_obj *, void *), struct k8s_store **out,
                              struct cs_err *err)
{
    struct k8s_store_opts o = {
        .extract = ex,
        .free_item = fr,
        .ud = ud,
        .handlers = {.on_add = add, .on_update = upd, .on_delete = del, .ud = c},
    };
    return k8s_store_new(&o, out, err);
}

enum cs_code ctl_controller_new(const struct ctl_controller_opts *opts,
                                struct ctl_controller **out, struct cs_err *err)
{
    (void)observe_provider;
    const struct ctl_config *cfg = opts->cfg;
    struct ctl_controller *c = calloc(1, sizeof(*c));
    if (!c)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    enum cs_code rc = CS_ENOMEM;
    c->cfg = cfg;
    c->kube = opts->kube;
    c->provider = opts->provider;
    c->metrics = opts->metrics;
    c->recorder = opts->recorder;
    pthread_mutex_init(&c->index_lock, NULL);
    pthread_mutex_init(&c->record_lock, NULL);
    pthread_mutex_init(&c->run_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->run_cond, &ca);
    pthread_condattr_destroy(&ca);
    cs_map_init(&c->ing_index);
    cs_map_init(&c->listener_ings);
    cs_map_init(&c->secret_ings);
    cs_map_init(&c->records);
    cs_map_init(&c->former);

    c->settings.cluster_id = cfg->cluster_id;
    c->settings.ingress_class = cfg->ingress_class;
    c->settings.default_region = cfg->region;
    c->settings.default_port = cfg->default_port;
    c->settings.provider =
        strcmp(cfg->provider, "ucloud") == 0 ? CTL_PROVIDER_UCLOUD : CTL_PROVIDER_HUAWEI;
    c->settings.limits = *elb_limits(opts->provider);
    c->settings.expiry_warn_days = cfg->expiry_warning_days;
    c->objects.ingress_class = cfg->ingress_class;
    c->objects.limits = elb_limits(opts->provider);
    snprintf(c->protection_reason, sizeof(c->protection_reason),
             "Managed by elb-certsync for Kubernetes cluster %s: update the TLS Secret instead",
             cfg->cluster_id);
    if (cs_strset_add(&c->regions, cfg->region) != CS_OK)
        goto fail;

    if ((rc = new_store(c, ctl_ingress_extract, ctl_ingress_item_free, &c->objects,
                        on_ingress_add, on_ingress_update, on_ingress_delete, &c->ingresses,
                        err)) != CS_OK ||
        (rc = new_store(c, ctl_secret_extract, ctl_secret_item_free, &c->objects, on_secret_add,
                        on_secret_update, on_secret_delete, &c->secrets, err)) != CS_OK ||
        (rc = new_store(c, ctl_secret_extract, ctl_secret_item_free, &c->objects, on_secret_add,
                        on_secret_update, on_secret_delete, &c->secrets_cce, err)) != CS_OK)
        goto fail;
    if (!cfg->namespace_ &&
        (rc = new_store(c, class_extract, class_free, NULL, on_class_add, on_class_update,
                        on_class_delete, &c->classes, err)) != CS_OK)
        goto fail;

    const char *ns = cfg->namespace_;
    struct k8s_reflector_opts ro = {.res = &k8s_res_ingresses, .ns = ns};
    if ((rc = k8s_reflector_new(c->kube, c->ingresses, &ro, &c->r_ingresses, err)) != CS_OK)
        goto fail;
    ro = (struct k8s_reflector_opts){.res = &k8s_res_secrets, .ns = ns,
                                     .field_selector = "type=kubernetes.io/tls"};
    if ((rc = k8s_reflector_new(c->kube, c->secrets, &ro, &c->r_secrets, err)) != CS_OK)
        goto fail;
    ro = (struct k8s_reflector_opts){.res = &k8s_res_secrets, .ns = ns,
                                     .field_selector = "type=IngressTLS"};
    if ((rc = k8s_reflector_new(c->kube, c->secrets_cce, &ro, &c->r_secrets_cce, err)) != CS_OK)
        goto fail;
    if (c->classes) {
        ro = (struct k8s_reflector_opts){.res = &k8s_res_ingressclasses};
        if ((rc = k8s_reflector_new(c->kube, c->classes, &ro, &c->r_classes, err)) != CS_OK)
            goto fail;
    }

    struct ctl_queue_opts qo = {.base_delay_ms = 1000, .max_delay_ms = 5 * 60 * 1000,
                                .qps = 50, .burst = 200};
    rc = CS_ENOMEM;
    if (!(c->queue = ctl_queue_new(&qo)) ||
        !(c->pcache = ctl_pcache_new(c->provider, cfg->cluster_id)))
        goto fail;

    double dur_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    struct ctl_metrics *m = c->metrics;
    c->reconciler = (struct ctl_reconciler){
        .provider = c->provider,
        .pcache = c->pcache,
        .kube = c->kube,
        .dry_run = cfg->dry_run,
        .protection_reason = c->protection_reason,
        .emit = emit_event,
        .emit_ud = c,
        .record_get = record_get,
        .record_set = record_set,
        .record_ud = c,
        .former = former_get,
        .former_ud = c,
        .m = {
            .reconciles = ctl_metrics_add(m, CTL_COUNTER, "elb_certsync_reconciles_total",
                                          "Listener reconciles by result.", "result", NULL, 0),
            .duration = ctl_metrics_add(m, CTL_HISTOGRAM,
                                        "elb_certsync_reconcile_duration_seconds",
                                        "Time to reconcile one listener.", NULL, dur_buckets,
                                        sizeof(dur_buckets) / sizeof(dur_buckets[0])),
            .actions = ctl_metrics_add(m, CTL_COUNTER, "elb_certsync_actions_total",
                                       "Plan actions executed, by action and outcome.",
                                       "action,outcome", NULL, 0),
            .problems = ctl_metrics_add(m, CTL_COUNTER, "elb_certsync_problems_total",
                                        "Problems reported as Warning Events, by reason.",
                                        "reason", NULL, 0),
        },
    };
    c->m_queue_depth = ctl_metrics_add(m, CTL_GAUGE, "elb_certsync_queue_depth",
                                       "Listeners waiting to be reconciled.", NULL, NULL, 0);
    c->m_managed = ctl_metrics_add(m, CTL_GAUGE, "elb_certsync_managed_certificates",
                                   "Certificates owned by this cluster on the load balancer.",
                                   "region", NULL, 0);
    c->m_expiry = ctl_metrics_add(m, CTL_GAUGE, "elb_certsync_certificate_expiry_timestamp_seconds",
                                  "Expiry (notAfter) of each TLS Secret's certificate.",
                                  "namespace,secret", NULL, 0);
    c->m_last_sync = ctl_metrics_add(m, CTL_GAUGE, "elb_certsync_last_full_sync_timestamp_seconds",
                                     "When the last full resync was queued.", NULL, NULL, 0);
    *out = c;
    return CS_OK;
fail:
    if (rc == CS_ENOMEM)
        cs_err_set(err, rc, 0, "out of memory");
    ctl_controller_free(c);
    return rc;
}

enum cs_code ctl_controller_start_informers(struct ctl_controller *c, struct cs_err *err)
{
    enum cs_code rc;
    if (c->r_classes && (rc = k8s_reflector_start(c->r_classes, err)) != CS_OK)
        return rc;
    if ((rc = k8s_reflector_start(c->r_secrets, err)) != CS_OK ||
        (rc = k8s_reflector_start(c->r_secrets_cce, err)) != CS_OK ||
        (rc = k8s_reflector_start(c->r_ingresses, err)) != CS_OK)
        return rc;
    return CS_OK;
}

bool ctl_controller_wait_synced(struct ctl_controller *c, uint64_t timeout_ms)
{
    uint64_t deadline = cs_now_ms() + timeout_ms;
    struct k8s_reflector *all[] = {c->r_classes, c->r_secrets, c->r_secrets_cce, c->r_ingresses};
    for (size_t i = 0; i < 4; i++) {
        if (!all[i])
            continue;
        if (k8s_reflector_has_synced(all[i]))
            continue;
        uint64_t now = cs_now_ms();
        if (now >= deadline || !k8s_reflector_wait_synced(all[i], deadline - now))
            return false;
    }
    return true;
}

void ctl_controller_start_leading(struct ctl_controller *c)
{
    if (atomic_exchange(&c->leading, true))
        return;
    const char *v = NULL;
    (void)v;
    pthread_mutex_lock(&c->run_lock);
    c->stop_requested = false;
    pthread_mutex_unlock(&c->run_lock);
    int n = c->cfg->workers < MAX_WORKERS ? c->cfg->workers : MAX_WORKERS;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&c->workers[i], NULL, worker_main, c) != 0)
            break;
        pthread_mutex_lock(&c->run_lock);
        c->workers_live++;
        pthread_mutex_unlock(&c->run_lock);
        c->n_workers++;
    }
    c->resync_running = pthread_create(&c->resync_thread, NULL, resync_main, c) == 0;
    char nw[16];
    snprintf(nw, sizeof(nw), "%d", c->n_workers);
    cs_log_info("leading: workers started", "workers", nw, "dry_run",
                c->cfg->dry_run ? "true" : "false");
}

bool ctl_controller_stop_leading(struct ctl_controller *c, uint64_t grace_ms)
{
    if (!atomic_load(&c->leading))
        return true;
    ctl_queue_shutdown(c->queue);
    pthread_mutex_lock(&c->run_lock);
    c->stop_requested = true;
    pthread_cond_broadcast(&c->run_cond);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t deadline_ns =
        (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + grace_ms * 1000000ull;
    ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
    ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
    while (c->workers_live > 0 && pthread_cond_timedwait(&c->run_cond, &c->run_lock, &ts) == 0) {
    }
    bool all_done = c->workers_live == 0;
    pthread_mutex_unlock(&c->run_lock);
    if (c->resync_running) {
        /* The resync thread only waits on run_cond or lists the provider. */
        pthread_join(c->resync_thread, NULL);
        c->resync_running = false;
    }
    if (all_done) {
        for (int i = 0; i < c->n_workers; i++)
            pthread_join(c->workers[i], NULL);
        c->n_workers = 0;
    } else {
        for (int i = 0; i < c->n_workers; i++)
            pthread_detach(c->workers[i]);
        cs_log_warn("reconciles still in flight at shutdown", "grace_ms", "exceeded");
    }
    atomic_store(&c->leading, false);
    return all_done;
}

void ctl_controller_stop_informers(struct ctl_controller *c)
{
    struct k8s_reflector *all[] = {c->r_ingresses, c->r_secrets, c->r_secrets_cce, c->r_classes};
    for (size_t i = 0; i < 4; i++)
        if (all[i])
            k8s_reflector_stop(all[i]);
}

void ctl_controller_free(struct ctl_controller *c)
{
    if (!c)
        return;
    ctl_controller_stop_informers(c);
    k8s_reflector_free(c->r_ingresses);
    k8s_reflector_free(c->r_secrets);
    k8s_reflector_free(c->r_secrets_cce);
    k8s_reflector_free(c->r_classes);
    k8s_store_free(c->ingresses);
    k8s_store_free(c->secrets);
    k8s_store_free(c->secrets_cce);
    k8s_store_free(c->classes);
    ctl_queue_free(c->queue);
    ctl_pcache_free(c->pcache);
    cs_map_cleanup(&c->ing_index, ing_entry_free);
    cs_map_cleanup(&c->listener_ings, cs_strset_free);
    cs_map_cleanup(&c->secret_ings, cs_strset_free);
    cs_map_cleanup(&c->records, free);
    cs_map_cleanup(&c->former, free);
    cs_strset_cleanup(&c->regions);
    pthread_mutex_destroy(&c->index_lock);
    pthread_mutex_destroy(&c->record_lock);
    pthread_mutex_destroy(&c->run_lock);
    pthread_cond_destroy(&c->run_cond);
    free(c);
}

bool ctl_controller_ready(struct ctl_controller *c, char *reason, size_t reason_size)
{
    struct k8s_reflector *all[] = {c->r_classes, c->r_secrets, c->r_secrets_cce, c->r_ingresses};
    for (size_t i = 0; i < 4; i++) {
        if (all[i] && !k8s_reflector_has_synced(all[i])) {
            snprintf(reason, reason_size, "waiting for the first list of Ingresses and Secrets");
            return false;
        }
    }
    if (atomic_load(&c->leading) && !atomic_load(&c->first_sync_done)) {
        snprintf(reason, reason_size, "leading: waiting for the first full sync with the provider");
        return false;
    }
    return true;
}

bool ctl_controller_is_leading(struct ctl_controller *c)
{
    return atomic_load(&c->leading);
}
