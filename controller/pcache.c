/* pcache.c -- per-region provider view with indexes.
 *
 * A refresh lists without the lock and swaps the new view in after; the controller's own
 * writes in between (a certificate created and bound while the lists were in flight) would be
 * lost with the old view. So while a region has a refresh in flight, every write is also
 * journaled, and each refresh replays, onto its new view before the swap, the entries made
 * since it started. Replaying a write the lists already show changes nothing. */
#include "controller/pcache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/map.h"
#include "common/util.h"
#include "controller/certcheck.h"
#include "controller/naming.h"

struct region {
    char *name;
    uint64_t loaded_at;
    struct cs_map certs;     /* id -> struct elb_cert * */
    struct cs_map by_name;   /* name -> set of ids */
    struct cs_map by_secret; /* "s:ns/name", "h:<hash>", "r:<readable>" -> set of ids (ours) */
    struct cs_map listeners; /* id -> struct elb_listener * */
    struct cs_map by_port;   /* "lb\x1fport" -> listener id (char *) */
    struct cs_map bound_by;  /* cert id -> set of listener ids */
    size_t n_ours;
};

enum jop { J_PUT, J_REMOVE, J_RENAME, J_BIND, J_FORGET };

/* One write made while a refresh of its region was in flight. */
struct jentry {
    struct jentry *next;
    uint64_t seq;
    enum jop op;
    char *region;
    struct elb_cert cert;  /* J_PUT */
    char *id;              /* certificate (J_REMOVE, J_RENAME) or listener (J_BIND, J_FORGET) */
    char *name;            /* J_RENAME */
    char *def;             /* J_BIND */
    char **sni;            /* J_BIND */
    size_t n_sni;
};

struct ctl_pcache {
    struct elb_provider *provider;
    char *cluster_id;
    pthread_mutex_t lock; /* guards regions and everything in them, and the journal */
    struct cs_map regions; /* name -> struct region * */
    struct cs_map refreshing; /* region name -> refreshes in flight (as uintptr_t) */
    struct jentry *journal, **journal_tail; /* oldest first */
    uint64_t seq;          /* of the next journal entry */
    uint64_t journal_lost; /* entries that could not be recorded (out of memory) */
};

static void free_cert(void *p)
{
    if (p) {
        elb_cert_cleanup(p);
        free(p);
    }
}

static void free_listener(void *p)
{
    if (p) {
        elb_listener_cleanup(p);
        free(p);
    }
}

static void region_free(void *p)
{
    struct region *r = p;
    if (!r)
        return;
    cs_map_cleanup(&r->certs, free_cert);
    cs_map_cleanup(&r->by_name, cs_strset_free);
    cs_map_cleanup(&r->by_secret, cs_strset_free);
    cs_map_cleanup(&r->listeners, free_listener);
    cs_map_cleanup(&r->by_port, free);
    cs_map_cleanup(&r->bound_by, cs_strset_free);
    free(r->name);
    free(r);
}

static struct region *region_new(const char *name)
{
    struct region *r = calloc(1, sizeof(*r));
    if (!r || !(r->name = strdup(name))) {
        free(r);
        return NULL;
    }
    cs_map_init(&r->certs);
    cs_map_init(&r->by_name);
    cs_map_init(&r->by_secret);
    cs_map_init(&r->listeners);
    cs_map_init(&r->by_port);
    cs_map_init(&r->bound_by);
    return r;
}

struct ctl_pcache *ctl_pcache_new(struct elb_provider *p, const char *cluster_id)
{
    struct ctl_pcache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->provider = p;
    c->cluster_id = strdup(cluster_id);
    if (!c->cluster_id) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    cs_map_init(&c->regions);
    cs_map_init(&c->refreshing);
    c->journal_tail = &c->journal;
    return c;
}

static void jentry_free(struct jentry *e)
{
    if (!e)
        return;
    free(e->region);
    elb_cert_cleanup(&e->cert);
    free(e->id);
    free(e->name);
    free(e->def);
    for (size_t i = 0; i < e->n_sni; i++)
        free(e->sni[i]);
    free(e->sni);
    free(e);
}

/* Lock held. Drops region's entries (region NULL: all). */
static void journal_drop(struct ctl_pcache *c, const char *region)
{
    struct jentry **pp = &c->journal;
    c->journal_tail = &c->journal;
    while (*pp) {
        struct jentry *e = *pp;
        if (!region || strcmp(e->region, region) == 0) {
            *pp = e->next;
            jentry_free(e);
        } else {
            pp = &e->next;
            c->journal_tail = &e->next;
        }
    }
}

/* Lock held. A new entry for region when a refresh of it is in flight (NULL otherwise, or
 * when out of memory: then counted in journal_lost, which fails the refreshes in flight). */
static struct jentry *journal_add(struct ctl_pcache *c, const char *region, enum jop op,
                                  const char *id)
{
    if (!cs_map_get(&c->refreshing, region))
        return NULL;
    struct jentry *e = calloc(1, sizeof(*e));
    if (!e || !(e->region = strdup(region)) || (id && !(e->id = strdup(id)))) {
        jentry_free(e);
        c->journal_lost++;
        return NULL;
    }
    e->op = op;
    e->seq = c->seq++;
    *c->journal_tail = e;
    c->journal_tail = &e->next;
    return e;
}

/* Lock held. Undoes journal_add of the last entry (its details could not be copied). */
static void journal_undo_last(struct ctl_pcache *c, struct jentry *e)
{
    struct jentry **pp = &c->journal;
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = NULL;
        c->journal_tail = pp;
    }
    jentry_free(e);
    c->journal_lost++;
}

void ctl_pcache_free(struct ctl_pcache *c)
{
    if (!c)
        return;
    cs_map_cleanup(&c->regions, region_free);
    cs_map_cleanup(&c->refreshing, NULL);
    journal_drop(c, NULL);
    pthread_mutex_destroy(&c->lock);
    free(c->cluster_id);
    free(c);
}

/* The secret-index keys of an owned certificate (up to 3), into keys[]. */
static size_t secret_keys(const struct ctl_pcache *c, const struct elb_cert *cert,
                          char keys[3][600])
{
    size_t n = 0;
    struct ctl_record rec;
    memset(&rec, 0, sizeof(rec));
    const struct elb_limits *lim = elb_limits(c->provider);
    if (!ctl_cert_is_ours(cert, c->cluster_id, lim, &rec))
        return 0;
    if (rec.secret_ns && rec.secret_name)
        snprintf(keys[n++], 600, "s:%s/%s", rec.secret_ns, rec.secret_name);
    else if (rec.secret_hash[0])
        snprintf(keys[n++], 600, "h:%s", rec.secret_hash);
    ctl_record_cleanup(&rec);
    struct ctl_name_parts np;
    if (cert->name && ctl_name_parse(cert->name, &np))
        snprintf(keys[n++], 600, "r:%s", np.readable);
    if (n == 0)
        snprintf(keys[n++], 600, "o:"); /* ours, with nothing to find it by */
    return n;
}

static void index_cert(struct ctl_pcache *c, struct region *r, struct elb_cert *cert)
{
    if (cert->name)
        cs_map_set_add(&r->by_name, cert->name, cert->id);
    char keys[3][600];
    size_t n = secret_keys(c, cert, keys);
    for (size_t i = 0; i < n; i++)
        cs_map_set_add(&r->by_secret, keys[i], cert->id);
    if (n)
        r->n_ours++;
}

static void unindex_cert(struct ctl_pcache *c, struct region *r, struct elb_cert *cert)
{
    if (cert->name)
        cs_map_set_remove(&r->by_name, cert->name, cert->id);
    char keys[3][600];
    size_t n = secret_keys(c, cert, keys);
    for (size_t i = 0; i < n; i++)
        cs_map_set_remove(&r->by_secret, keys[i], cert->id);
    if (n && r->n_ours)
        r->n_ours--;
}

static void port_key(const char *lb, int port, char *out, size_t n)
{
    snprintf(out, n, "%s\x1f%d", lb ? lb : "", port);
}

static void index_listener(struct region *r, struct elb_listener *l)
{
    char pk[300];
    port_key(l->lb_id, l->port, pk, sizeof(pk));
    char *id = strdup(l->id);
    void *old = NULL;
    if (id && cs_map_put(&r->by_port, pk, id, &old) != CS_OK)
        free(id);
    free(old);
    if (l->default_cert_id)
        cs_map_set_add(&r->bound_by, l->default_cert_id, l->id);
    for (size_t i = 0; i < l->n_sni; i++)
        cs_map_set_add(&r->bound_by, l->sni_cert_ids[i], l->id);
}

static void unindex_listener(struct region *r, struct elb_listener *l)
{
    char pk[300];
    port_key(l->lb_id, l->port, pk, sizeof(pk));
    char *id = cs_map_get(&r->by_port, pk);
    if (id && strcmp(id, l->id) == 0)
        free(cs_map_remove(&r->by_port, pk));
    if (l->default_cert_id)
        cs_map_set_remove(&r->bound_by, l->default_cert_id, l->id);
    for (size_t i = 0; i < l->n_sni; i++)
        cs_map_set_remove(&r->bound_by, l->sni_cert_ids[i], l->id);
}

/* The view keeps a certificate's chain digest (what plans compare), not its PEM: about 3.5 KB
 * less per certificate, 70 MB at 20,000. */
static void digest_cert(struct elb_cert *cert)
{
    if (!cert->certificate)
        return;
    char d[65];
    if (!cert->chain_digest &&
        ctl_chain_digest(cert->certificate, strlen(cert->certificate), d, NULL) == CS_OK)
        cert->chain_digest = strdup(d);
    free(cert->certificate);
    cert->certificate = NULL;
}

/* Takes ownership of cert (heap) into r, replacing any of the same id. */
static void insert_cert(struct ctl_pcache *c, struct region *r, struct elb_cert *cert)
{
    void *old = NULL;
    digest_cert(cert);
    struct elb_cert *prev = cs_map_get(&r->certs, cert->id);
    if (prev)
        unindex_cert(c, r, prev);
    if (cs_map_put(&r->certs, cert->id, cert, &old) != CS_OK) {
        free_cert(cert);
        return;
    }
    free_cert(old);
    index_cert(c, r, cert);
}

static void insert_listener(struct region *r, struct elb_listener *l)
{
    struct elb_listener *prev = cs_map_get(&r->listeners, l->id);
    if (prev)
        unindex_listener(r, prev);
    void *old = NULL;
    if (cs_map_put(&r->listeners, l->id, l, &old) != CS_OK) {
        free_listener(l);
        return;
    }
    free_listener(old);
    index_listener(r, l);
}

static void journal_replay(struct ctl_pcache *c, struct region *r, uint64_t since);

/* Lock held. Counts a refresh of region in or out; the last one out drops its journal. */
static enum cs_code refreshing_inc(struct ctl_pcache *c, const char *region)
{
    uintptr_t n = (uintptr_t)cs_map_get(&c->refreshing, region);
    return cs_map_put(&c->refreshing, region, (void *)(n + 1), NULL);
}

static void refreshing_dec(struct ctl_pcache *c, const char *region)
{
    uintptr_t n = (uintptr_t)cs_map_get(&c->refreshing, region);
    if (n > 1) {
        cs_map_put(&c->refreshing, region, (void *)(n - 1), NULL); /* replaces: no allocation */
        return;
    }
    cs_map_remove(&c->refreshing, region);
    journal_drop(c, region);
}

enum cs_code ctl_pcache_refresh(struct ctl_pcache *c, const char *region, struct cs_err *err)
{
    struct elb_cert_list certs = {0};
    struct elb_listener_list ls = {0};
    struct region *r = NULL, *old = NULL;
    pthread_mutex_lock(&c->lock);
    enum cs_code rc = refreshing_inc(c, region);
    const uint64_t since = c->seq, lost = c->journal_lost;
    pthread_mutex_unlock(&c->lock);
    if (rc != CS_OK)
        return cs_err_set(err, rc, 0, "out of memory");
    if ((rc = elb_list_certs(c->provider, region, &certs, err)) != CS_OK)
        goto out;
    if ((rc = elb_list_listeners(c->provider, region, &ls, err)) != CS_OK)
        goto out;
    if (!(r = region_new(region))) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    /* Move the items into heap cells owned by the maps. */
    for (size_t i = 0; i < certs.n; i++) {
        struct elb_cert *cert = malloc(sizeof(*cert));
        if (!cert) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
        *cert = certs.items[i];
        memset(&certs.items[i], 0, sizeof(certs.items[i]));
        if (!cert->id) {
            free_cert(cert);
            continue;
        }
        insert_cert(c, r, cert);
    }
    for (size_t i = 0; i < ls.n; i++) {
        struct elb_listener *l = malloc(sizeof(*l));
        if (!l) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
        *l = ls.items[i];
        memset(&ls.items[i], 0, sizeof(ls.items[i]));
        if (!l->id) {
            free_listener(l);
            continue;
        }
        insert_listener(r, l);
    }
    r->loaded_at = cs_now_ms();
out:
    pthread_mutex_lock(&c->lock);
    if (rc == CS_OK && c->journal_lost != lost)
        /* A write made meanwhile could not be recorded: the old view has it, keep that. */
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory (write during refresh not recorded)");
    if (rc == CS_OK) {
        journal_replay(c, r, since);
        if (cs_map_put(&c->regions, region, r, (void **)&old) == CS_OK)
            r = NULL;
        else
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    }
    refreshing_dec(c, region);
    pthread_mutex_unlock(&c->lock);
    region_free(old);
    region_free(r);
    elb_cert_list_cleanup(&certs);
    elb_listener_list_cleanup(&ls);
    return rc;
}

uint64_t ctl_pcache_loaded_at(struct ctl_pcache *c, const char *region)
{
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    uint64_t t = r ? r->loaded_at : 0;
    pthread_mutex_unlock(&c->lock);
    return t;
}

enum cs_code ctl_pcache_ensure(struct ctl_pcache *c, const char *region, struct cs_err *err)
{
    if (ctl_pcache_loaded_at(c, region))
        return CS_OK;
    return ctl_pcache_refresh(c, region, err);
}

char **ctl_pcache_regions(struct ctl_pcache *c)
{
    pthread_mutex_lock(&c->lock);
    char **out = calloc(c->regions.len + 1, sizeof(*out));
    size_t n = 0;
    struct cs_map_iter it;
    for (struct cs_map_entry *e = cs_map_first(&c->regions, &it); out && e;
         e = cs_map_next(&c->regions, &it))
        if ((out[n] = strdup(e->key)))
            n++;
    pthread_mutex_unlock(&c->lock);
    return out;
}

void ctl_pcache_regions_free(char **regions)
{
    for (size_t i = 0; regions && regions[i]; i++)
        free(regions[i]);
    free(regions);
}

void ctl_pcache_slice_cleanup(struct ctl_pcache_slice *s)
{
    elb_listener_cleanup(&s->listener);
    elb_cert_list_cleanup(&s->certs);
    elb_listener_list_cleanup(&s->listeners);
    memset(s, 0, sizeof(*s));
}

static void add_set(struct cs_strset *dst, const struct cs_strset *src)
{
    for (size_t i = 0; src && i < src->n; i++)
        cs_strset_add(dst, src->items[i]);
}

static struct elb_listener *find_listener_locked(struct region *r, const char *lb_id,
                                                 const char *listener_id, int port)
{
    if (listener_id)
        return cs_map_get(&r->listeners, listener_id);
    char pk[300];
    port_key(lb_id, port, pk, sizeof(pk));
    const char *id = cs_map_get(&r->by_port, pk);
    return id ? cs_map_get(&r->listeners, id) : NULL;
}

/* Copies the certificates with the given ids, and the listeners with the given ids. */
static enum cs_code copy_out(struct region *r, const struct cs_strset *cert_ids,
                             const struct cs_strset *listener_ids, struct elb_cert_list *certs,
                             struct elb_listener_list *ls)
{
    certs->items = calloc(cert_ids->n ? cert_ids->n : 1, sizeof(*certs->items));
    ls->items = calloc(listener_ids->n ? listener_ids->n : 1, sizeof(*ls->items));
    if (!certs->items || !ls->items)
        return CS_ENOMEM;
    for (size_t i = 0; i < cert_ids->n; i++) {
        const struct elb_cert *cert = cs_map_get(&r->certs, cert_ids->items[i]);
        if (!cert)
            continue; /* a binding to a certificate the list did not show */
        if (elb_cert_copy(cert, &certs->items[certs->n]) != CS_OK)
            return CS_ENOMEM;
        certs->n++;
    }
    for (size_t i = 0; i < listener_ids->n; i++) {
        const struct elb_listener *l = cs_map_get(&r->listeners, listener_ids->items[i]);
        if (!l)
            continue;
        if (elb_listener_copy(l, &ls->items[ls->n]) != CS_OK)
            return CS_ENOMEM;
        ls->n++;
    }
    return CS_OK;
}

/* Lock held. Collects the ids of every certificate the slice needs. */
static void collect_certs(struct ctl_pcache *c, struct region *r, const struct elb_listener *l,
                          const struct ctl_listener_want *want, struct cs_strset *ids)
{
    if (l->default_cert_id)
        cs_strset_add(ids, l->default_cert_id);
    for (size_t i = 0; i < l->n_sni; i++)
        cs_strset_add(ids, l->sni_cert_ids[i]);
    for (size_t i = 0; want && i < want->n_certs; i++) {
        const struct ctl_cert_want *w = &want->certs[i];
        char key[600];
        if (w->name)
            add_set(ids, cs_map_get(&r->by_name, w->name));
        if (w->cert_id)
            cs_strset_add(ids, w->cert_id);
        if (w->secret_ns && w->secret_name) {
            snprintf(key, sizeof(key), "s:%s/%s", w->secret_ns, w->secret_name);
            add_set(ids, cs_map_get(&r->by_secret, key));
            char h[CTL_SECRET_HASH_LEN + 1];
            ctl_secret_hash(w->secret_ns, w->secret_name, h);
            snprintf(key, sizeof(key), "h:%s", h);
            add_set(ids, cs_map_get(&r->by_secret, key));
        }
        if (w->readable) {
            snprintf(key, sizeof(key), "r:%s", w->readable);
            add_set(ids, cs_map_get(&r->by_secret, key));
        }
    }
    /* The certificates our bound certificates' records say they replaced (to restore).
     * Collected apart and merged after: ids is sorted, so adding to it while walking it by
     * index would shift entries past the walk. */
    const struct elb_limits *lim = elb_limits(c->provider);
    struct cs_strset replaced = {0};
    for (size_t i = 0; i < ids->n; i++) {
        const struct elb_cert *cert = cs_map_get(&r->certs, ids->items[i]);
        struct ctl_record rec;
        memset(&rec, 0, sizeof(rec));
        if (cert && ctl_cert_is_ours(cert, c->cluster_id, lim, &rec)) {
            if (rec.replaced_cert)
                cs_strset_add(&replaced, rec.replaced_cert);
            ctl_record_cleanup(&rec);
        }
    }
    add_set(ids, &replaced);
    cs_strset_cleanup(&replaced);
}

enum cs_code ctl_pcache_slice(struct ctl_pcache *c, const char *region, const char *lb_id,
                              const char *listener_id, int port,
                              const struct ctl_listener_want *want,
                              struct ctl_pcache_slice *out, struct cs_err *err)
{
    return ctl_pcache_slice_extra(c, region, lb_id, listener_id, port, want, NULL, out, err);
}

/* Adds each space-separated ID of s to ids. */
static void add_ids(struct cs_strset *ids, const char *s)
{
    while (s && *s) {
        const char *sp = strchr(s, ' ');
        size_t n = sp ? (size_t)(sp - s) : strlen(s);
        char id[CTL_ID_MAX + 1];
        if (n > 0 && n <= CTL_ID_MAX) {
            memcpy(id, s, n);
            id[n] = '\0';
            cs_strset_add(ids, id);
        }
        s = sp ? sp + 1 : NULL;
    }
}

enum cs_code ctl_pcache_slice_extra(struct ctl_pcache *c, const char *region, const char *lb_id,
                                    const char *listener_id, int port,
                                    const struct ctl_listener_want *want, const char *extra_ids,
                                    struct ctl_pcache_slice *out, struct cs_err *err)
{
    enum cs_code rc = ctl_pcache_ensure(c, region, err);
    if (rc != CS_OK)
        return rc;
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    struct elb_listener *l = r ? find_listener_locked(r, lb_id, listener_id, port) : NULL;
    pthread_mutex_unlock(&c->lock);
    if (!l) {
        /* Not in the view (created since the last list, or never HTTPS): ask the provider. */
        struct elb_listener fresh;
        memset(&fresh, 0, sizeof(fresh));
        struct elb_listener_ref ref = {.lb_id = lb_id, .listener_id = listener_id, .port = port};
        if ((rc = elb_find_listener(c->provider, region, &ref, &fresh, err)) != CS_OK)
            return rc;
        struct elb_listener *heap = malloc(sizeof(*heap));
        if (!heap) {
            elb_listener_cleanup(&fresh);
            return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        }
        *heap = fresh;
        pthread_mutex_lock(&c->lock);
        r = cs_map_get(&c->regions, region);
        if (r)
            insert_listener(r, heap);
        else
            free_listener(heap);
        pthread_mutex_unlock(&c->lock);
    }

    struct cs_strset cert_ids = {0}, listener_ids = {0};
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&c->lock);
    r = cs_map_get(&c->regions, region);
    l = r ? find_listener_locked(r, lb_id, listener_id, port) : NULL;
    if (!l) {
        pthread_mutex_unlock(&c->lock);
        return cs_err_set(err, CS_ENOTFOUND, 0, "listener vanished from the view");
    }
    collect_certs(c, r, l, want, &cert_ids);
    add_ids(&cert_ids, extra_ids);
    cs_strset_add(&listener_ids, l->id);
    for (size_t i = 0; i < cert_ids.n; i++)
        add_set(&listener_ids, cs_map_get(&r->bound_by, cert_ids.items[i]));
    rc = elb_listener_copy(l, &out->listener);
    if (rc == CS_OK)
        rc = copy_out(r, &cert_ids, &listener_ids, &out->certs, &out->listeners);
    pthread_mutex_unlock(&c->lock);
    cs_strset_cleanup(&cert_ids);
    cs_strset_cleanup(&listener_ids);
    if (rc != CS_OK) {
        ctl_pcache_slice_cleanup(out);
        return cs_err_set(err, rc, 0, "out of memory");
    }
    return CS_OK;
}

enum cs_code ctl_pcache_region_copy(struct ctl_pcache *c, const char *region,
                                    struct elb_cert_list *certs,
                                    struct elb_listener_list *listeners, struct cs_err *err)
{
    enum cs_code rc = ctl_pcache_ensure(c, region, err);
    if (rc != CS_OK)
        return rc;
    struct cs_strset cert_ids = {0}, listener_ids = {0};
    memset(certs, 0, sizeof(*certs));
    memset(listeners, 0, sizeof(*listeners));
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    struct cs_map_iter it;
    for (struct cs_map_entry *e = r ? cs_map_first(&r->certs, &it) : NULL; e;
         e = cs_map_next(&r->certs, &it))
        cs_strset_add(&cert_ids, e->key);
    for (struct cs_map_entry *e = r ? cs_map_first(&r->listeners, &it) : NULL; e;
         e = cs_map_next(&r->listeners, &it))
        cs_strset_add(&listener_ids, e->key);
    rc = r ? copy_out(r, &cert_ids, &listener_ids, certs, listeners) : CS_OK;
    pthread_mutex_unlock(&c->lock);
    cs_strset_cleanup(&cert_ids);
    cs_strset_cleanup(&listener_ids);
    if (rc != CS_OK) {
        elb_cert_list_cleanup(certs);
        elb_listener_list_cleanup(listeners);
        return cs_err_set(err, rc, 0, "out of memory");
    }
    return CS_OK;
}

/* The writes on one region's view, lock held (also used to replay the journal). */
static void put_locked(struct ctl_pcache *c, struct region *r, const struct elb_cert *cert)
{
    struct elb_cert *copy = malloc(sizeof(*copy));
    if (!copy)
        return;
    if (elb_cert_copy(cert, copy) != CS_OK) {
        free(copy);
        return;
    }
    insert_cert(c, r, copy);
}

static void remove_locked(struct ctl_pcache *c, struct region *r, const char *id)
{
    struct elb_cert *cert = cs_map_get(&r->certs, id);
    if (cert) {
        unindex_cert(c, r, cert);
        free_cert(cs_map_remove(&r->certs, id));
    }
}

static void rename_locked(struct ctl_pcache *c, struct region *r, const char *id,
                          const char *name)
{
    struct elb_cert *cert = cs_map_get(&r->certs, id);
    char *dup = cert ? strdup(name) : NULL;
    if (!dup)
        return;
    unindex_cert(c, r, cert);
    free(cert->name);
    cert->name = dup;
    index_cert(c, r, cert);
}

static void forget_locked(struct region *r, const char *listener_id)
{
    struct elb_listener *l = cs_map_get(&r->listeners, listener_id);
    if (l) {
        unindex_listener(r, l);
        free_listener(cs_map_remove(&r->listeners, listener_id));
    }
}

static void bind_locked(struct region *r, const char *listener_id, const char *default_id,
                        const char *const *sni, size_t n_sni)
{
    struct elb_listener *l = cs_map_get(&r->listeners, listener_id);
    if (!l)
        return;
    char *def = default_id ? strdup(default_id) : NULL;
    char **ids = calloc(n_sni ? n_sni : 1, sizeof(*ids));
    bool ok = ids && (!default_id || def);
    for (size_t i = 0; ok && i < n_sni; i++)
        ok = (ids[i] = strdup(sni[i])) != NULL;
    if (ok) {
        unindex_listener(r, l);
        free(l->default_cert_id);
        for (size_t i = 0; i < l->n_sni; i++)
            free(l->sni_cert_ids[i]);
        free(l->sni_cert_ids);
        l->default_cert_id = def;
        l->sni_cert_ids = ids;
        l->n_sni = n_sni;
        index_listener(r, l);
        return;
    }
    /* Out of memory: forget it so the next slice reads it again. */
    forget_locked(r, listener_id);
    free(def);
    for (size_t i = 0; ids && i < n_sni; i++)
        free(ids[i]);
    free(ids);
}

/* Lock held. Replays onto r (a refresh's new view of region) the entries since seq. */
static void journal_replay(struct ctl_pcache *c, struct region *r, uint64_t since)
{
    for (const struct jentry *e = c->journal; e; e = e->next) {
        if (e->seq < since || strcmp(e->region, r->name) != 0)
            continue;
        switch (e->op) {
        case J_PUT:
            put_locked(c, r, &e->cert);
            break;
        case J_REMOVE:
            remove_locked(c, r, e->id);
            break;
        case J_RENAME:
            rename_locked(c, r, e->id, e->name);
            break;
        case J_BIND:
            bind_locked(r, e->id, e->def, (const char *const *)e->sni, e->n_sni);
            break;
        case J_FORGET:
            forget_locked(r, e->id);
            break;
        }
    }
}

void ctl_pcache_put_cert(struct ctl_pcache *c, const char *region, const struct elb_cert *cert)
{
    if (!cert->id)
        return;
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    if (r)
        put_locked(c, r, cert);
    struct jentry *e = journal_add(c, region, J_PUT, NULL);
    if (e && elb_cert_copy(cert, &e->cert) != CS_OK)
        journal_undo_last(c, e);
    pthread_mutex_unlock(&c->lock);
}

void ctl_pcache_remove_cert(struct ctl_pcache *c, const char *region, const char *id)
{
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    if (r)
        remove_locked(c, r, id);
    journal_add(c, region, J_REMOVE, id);
    pthread_mutex_unlock(&c->lock);
}

void ctl_pcache_rename_cert(struct ctl_pcache *c, const char *region, const char *id,
                            const char *name)
{
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    if (r)
        rename_locked(c, r, id, name);
    struct jentry *e = journal_add(c, region, J_RENAME, id);
    if (e && !(e->name = strdup(name)))
        journal_undo_last(c, e);
    pthread_mutex_unlock(&c->lock);
}

void ctl_pcache_set_bindings(struct ctl_pcache *c, const char *region, const char *listener_id,
                             const char *default_id, const char *const *sni, size_t n_sni)
{
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    if (r)
        bind_locked(r, listener_id, default_id, sni, n_sni);
    struct jentry *e = journal_add(c, region, J_BIND, listener_id);
    if (e) {
        bool ok = (!default_id || (e->def = strdup(default_id))) &&
                  (e->sni = calloc(n_sni ? n_sni : 1, sizeof(*e->sni)));
        for (size_t i = 0; ok && i < n_sni; i++) {
            ok = (e->sni[i] = strdup(sni[i])) != NULL;
            e->n_sni = i + 1;
        }
        if (!ok)
            journal_undo_last(c, e);
    }
    pthread_mutex_unlock(&c->lock);
}

void ctl_pcache_forget_listener(struct ctl_pcache *c, const char *region,
                                const char *listener_id)
{
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    if (r)
        forget_locked(r, listener_id);
    journal_add(c, region, J_FORGET, listener_id);
    pthread_mutex_unlock(&c->lock);
}

void ctl_pcache_counts(struct ctl_pcache *c, const char *region, size_t *ours, size_t *all)
{
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    *ours = r ? r->n_ours : 0;
    *all = r ? r->certs.len : 0;
    pthread_mutex_unlock(&c->lock);
}

static bool is_ours_id(struct ctl_pcache *c, struct region *r, const char *id)
{
    const struct elb_cert *cert = id ? cs_map_get(&r->certs, id) : NULL;
    return cert && ctl_cert_is_ours(cert, c->cluster_id, elb_limits(c->provider), NULL);
}

char **ctl_pcache_listeners_with_ours(struct ctl_pcache *c, const char *region)
{
    pthread_mutex_lock(&c->lock);
    struct region *r = cs_map_get(&c->regions, region);
    size_t cap = (r ? r->listeners.len : 0) + 1, n = 0;
    char **out = calloc(cap, sizeof(*out));
    struct cs_map_iter it;
    for (struct cs_map_entry *e = r && out ? cs_map_first(&r->listeners, &it) : NULL; e;
         e = cs_map_next(&r->listeners, &it)) {
        const struct elb_listener *l = e->value;
        bool ours = is_ours_id(c, r, l->default_cert_id);
        for (size_t i = 0; !ours && i < l->n_sni; i++)
            ours = is_ours_id(c, r, l->sni_cert_ids[i]);
        if (ours && l->lb_id && l->port > 0) {
            char *k = ctl_listener_key(region, l->lb_id, NULL, l->port);
            if (k)
                out[n++] = k;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return out;
}
