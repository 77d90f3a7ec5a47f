/* store.c -- the fake's etcd: one skip list of object versions per resource type, ordered by
 * "namespace/name" as etcd orders keys; one global resourceVersion counter (etcd's revision);
 * a bounded history of events that watches read and that paged lists use to serve later
 * pages at the first page's resourceVersion (undoing the changes made since), as etcd serves
 * them from its MVCC store. Everything here runs with the store lock held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/kube/fk.h"

/* ---- skip list ---- */

#define SL_MAX 24

struct fk_sl_node {
    struct fk_obj *obj;
    int level;
    struct fk_sl_node *next[];
};

struct fk_skiplist {
    struct fk_sl_node *head;
    int level;
};

struct fk_skiplist *fk_skiplist_new(void)
{
    struct fk_skiplist *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->head = calloc(1, sizeof(struct fk_sl_node) + SL_MAX * sizeof(struct fk_sl_node *));
    if (!l->head) {
        free(l);
        return NULL;
    }
    l->head->level = SL_MAX;
    l->level = 1;
    return l;
}

void fk_skiplist_free(struct fk_skiplist *l)
{
    if (!l)
        return;
    struct fk_sl_node *n = l->head->next[0];
    while (n) {
        struct fk_sl_node *next = n->next[0];
        fk_obj_unref(n->obj);
        free(n);
        n = next;
    }
    free(l->head);
    free(l);
}

/* Fills update[] with the last node before key at each level. */
static struct fk_sl_node *find(const struct fk_skiplist *l, const char *key,
                               struct fk_sl_node **update)
{
    struct fk_sl_node *x = l->head;
    for (int i = l->level - 1; i >= 0; i--) {
        while (x->next[i] && strcmp(x->next[i]->obj->key, key) < 0)
            x = x->next[i];
        if (update)
            update[i] = x;
    }
    return x->next[0];
}

static int random_level(void)
{
    int lvl = 1;
    uint64_t r = cs_rand_u64();
    while (lvl < SL_MAX && (r & 3) == 0) { /* p = 1/4 */
        lvl++;
        r >>= 2;
    }
    return lvl;
}

struct fk_obj *fk_skiplist_put(struct fk_skiplist *l, struct fk_obj *obj)
{
    struct fk_sl_node *update[SL_MAX];
    struct fk_sl_node *x = find(l, obj->key, update);
    if (x && strcmp(x->obj->key, obj->key) == 0) {
        struct fk_obj *old = x->obj;
        x->obj = obj;
        return old;
    }
    int lvl = random_level();
    struct fk_sl_node *n = calloc(1, sizeof(*n) + (size_t)lvl * sizeof(n->next[0]));
    if (!n)
        return obj; /* signals failure: the caller keeps its reference */
    if (lvl > l->level) {
        for (int i = l->level; i < lvl; i++)
            update[i] = l->head;
        l->level = lvl;
    }
    n->obj = obj;
    n->level = lvl;
    for (int i = 0; i < lvl; i++) {
        n->next[i] = update[i]->next[i];
        update[i]->next[i] = n;
    }
    return NULL;
}

struct fk_obj *fk_skiplist_del(struct fk_skiplist *l, const char *key)
{
    struct fk_sl_node *update[SL_MAX];
    struct fk_sl_node *x = find(l, key, update);
    if (!x || strcmp(x->obj->key, key) != 0)
        return NULL;
    for (int i = 0; i < l->level; i++) {
        if (update[i]->next[i] != x)
            break;
        update[i]->next[i] = x->next[i];
    }
    while (l->level > 1 && !l->head->next[l->level - 1])
        l->level--;
    struct fk_obj *o = x->obj;
    free(x);
    return o;
}

struct fk_obj *fk_skiplist_get(const struct fk_skiplist *l, const char *key)
{
    struct fk_sl_node *x = find(l, key, NULL);
    return x && strcmp(x->obj->key, key) == 0 ? x->obj : NULL;
}

struct fk_sl_node *fk_skiplist_seek(const struct fk_skiplist *l, const char *key, bool inclusive)
{
    struct fk_sl_node *x = find(l, key, NULL);
    if (x && !inclusive && strcmp(x->obj->key, key) == 0)
        x = x->next[0];
    return x;
}

struct fk_sl_node *fk_skiplist_next(const struct fk_sl_node *n)
{
    return n ? n->next[0] : NULL;
}

struct fk_obj *fk_skiplist_obj(const struct fk_sl_node *n)
{
    return n ? n->obj : NULL;
}

/* ---- object versions ---- */

void fk_obj_ref(struct fk_obj *o)
{
    if (o)
        o->refs++;
}

void fk_obj_unref(struct fk_obj *o)
{
    if (o && --o->refs == 0)
        cs_secure_free(o, o->alloc_len); /* Secret bodies hold private keys */
}

cJSON *fk_obj_parse(const struct fk_obj *o)
{
    return cJSON_ParseWithLength(o->body, o->body_len);
}

enum cs_code fk_obj_append_full(struct cs_buf *b, const struct fk_obj *o)
{
    enum cs_code rc = cs_buf_addf(b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",", o->type->kind,
                                  o->type->api_version);
    if (rc == CS_OK)
        rc = cs_buf_add(b, o->body + 1, o->body_len - 1);
    return rc;
}

void fk_obj_fields(const struct fk_obj *o, struct fk_fields *f)
{
    f->name = o->name;
    f->ns = o->ns;
    f->extra = o->extra;
}

/* Appends "k\0v\0" to a packed set. */
static enum cs_code pack(struct cs_buf *b, const char *k, const char *v)
{
    enum cs_code rc = cs_buf_add(b, k, strlen(k) + 1);
    if (rc == CS_OK)
        rc = cs_buf_add(b, v ? v : "", strlen(v ? v : "") + 1);
    return rc;
}

static enum cs_code extra_fields(const struct fk_type *t, const cJSON *json, struct cs_buf *b)
{
    enum cs_code rc = CS_OK;
    switch (t->fields) {
    case FK_FIELDS_SECRET:
        rc = pack(b, "type", cs_json_str(json, "type"));
        break;
    case FK_FIELDS_NAMESPACE:
        rc = pack(b, "status.phase", cs_json_path_str(json, "status.phase"));
        break;
    case FK_FIELDS_EVENT: {
        static const char *const io[] = {"kind", "namespace", "name", "uid", "apiVersion",
                                         "resourceVersion", "fieldPath"};
        const cJSON *inv = cJSON_GetObjectItemCaseSensitive(json, "involvedObject");
        char k[64];
        for (size_t i = 0; rc == CS_OK && i < sizeof(io) / sizeof(io[0]); i++) {
            snprintf(k, sizeof(k), "involvedObject.%s", io[i]);
            rc = pack(b, k, cs_json_str(inv, io[i]));
        }
        if (rc == CS_OK)
            rc = pack(b, "reason", cs_json_str(json, "reason"));
        if (rc == CS_OK)
            rc = pack(b, "reportingComponent", cs_json_str(json, "reportingComponent"));
        if (rc == CS_OK)
            rc = pack(b, "source", cs_json_path_str(json, "source.component"));
        if (rc == CS_OK)
            rc = pack(b, "type", cs_json_str(json, "type"));
        break;
    }
    default:
        break;
    }
    return rc;
}

enum cs_code fk_obj_build(const struct fk_type *t, cJSON *json, uint64_t rv, struct fk_obj **out,
                          struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    char *body = NULL;
    struct cs_buf labels, extra;
    cs_buf_init(&labels, 0);
    cs_buf_init(&extra, 0);

    cJSON *meta = cJSON_GetObjectItemCaseSensitive(json, "metadata");
    const char *name = cs_json_str(meta, "name");
    const char *ns = cs_json_str(meta, "namespace");
    if (!name || (t->namespaced && !ns)) {
        rc = cs_err_set(err, CS_EINVAL, 500, "object without name or namespace");
        goto out;
    }
    char rvs[32];
    snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)rv);
    cJSON *rvj = cJSON_CreateString(rvs);
    if (!rvj || !(cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion")
                      ? cJSON_ReplaceItemInObjectCaseSensitive(meta, "resourceVersion", rvj)
                      : cJSON_AddItemToObject(meta, "resourceVersion", rvj))) {
        cJSON_Delete(rvj);
        rc = cs_err_set(err, CS_ENOMEM, 500, "out of memory");
        goto out;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(json, "kind");
    cJSON_DeleteItemFromObjectCaseSensitive(json, "apiVersion");

    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(meta, "labels"))
    {
        if (cJSON_IsString(l) && (rc = pack(&labels, l->string, l->valuestring)) != CS_OK)
            goto oom;
    }
    if ((rc = cs_buf_addc(&labels, '\0')) != CS_OK || (rc = extra_fields(t, json, &extra)) != CS_OK ||
        (rc = cs_buf_addc(&extra, '\0')) != CS_OK)
        goto oom;
    if (!(body = cJSON_PrintUnformatted(json)))
        goto oom;

    size_t ns_len = t->namespaced ? strlen(ns) : 0;
    size_t name_len = strlen(name);
    size_t key_len = (t->namespaced ? ns_len + 1 : 0) + name_len;
    size_t body_len = strlen(body);
    size_t total = sizeof(struct fk_obj) + (key_len + 1) + (ns_len + 1) + (name_len + 1) +
                   labels.len + 1 + extra.len + 1 + body_len + 1;
    struct fk_obj *o = calloc(1, total);
    if (!o)
        goto oom;
    char *p = (char *)(o + 1);
    o->refs = 1;
    o->type = t;
    o->rv = rv;
    o->alloc_len = total;
    o->key = p;
    if (t->namespaced)
        p += sprintf(p, "%s/%s", ns, name) + 1;
    else
        p += sprintf(p, "%s", name) + 1;
    o->ns = p;
    memcpy(p, t->namespaced ? ns : "", ns_len + 1);
    p += ns_len + 1;
    o->name = p;
    memcpy(p, name, name_len + 1);
    p += name_len + 1;
    o->labels = p;
    memcpy(p, cs_buf_str(&labels), labels.len);
    p[labels.len] = '\0';
    p += labels.len + 1;
    o->extra = p;
    memcpy(p, cs_buf_str(&extra), extra.len);
    p[extra.len] = '\0';
    p += extra.len + 1;
    o->body = p;
    o->body_len = body_len;
    memcpy(p, body, body_len + 1);
    *out = o;
    goto out;
oom:
    rc = cs_err_set(err, CS_ENOMEM, 500, "out of memory");
out:
    cJSON_free(body); /* the cleansing allocator wipes it */
    cs_buf_free(&labels);
    cs_buf_free(&extra);
    return rc;
}

/* ---- events and history ---- */

void fk_event_ref(struct fk_event *e)
{
    if (e)
        e->refs++;
}

void fk_event_unref(struct fk_event *e)
{
    /* Iterative: dropping the oldest of a long chain must not recurse. */
    while (e && --e->refs == 0) {
        struct fk_event *next = e->next;
        fk_obj_unref(e->obj);
        fk_obj_unref(e->prev);
        for (int i = 0; i < 3; i++)
            cs_secure_free(e->line[i], e->line_len[i]);
        free(e);
        e = next;
    }
}

enum cs_code fk_store_init(struct fk_store *s, size_t hist_max)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->changed, &ca);
    pthread_condattr_destroy(&ca);
    s->hist_max = hist_max;
    for (size_t i = 0; i < FK_NTYPES; i++)
        if (!(s->items[i] = fk_skiplist_new()))
            goto oom;
    /* A sentinel at RV 0, so that the list is never empty and cursors always have a node. */
    if (!(s->head = calloc(1, sizeof(*s->head))))
        goto oom;
    s->head->refs = 1;
    s->tail = s->head;
    s->hist_len = 1;
    return CS_OK;
oom:
    fk_store_cleanup(s);
    return CS_ENOMEM;
}

void fk_store_cleanup(struct fk_store *s)
{
    for (size_t i = 0; i < FK_NTYPES; i++) {
        fk_skiplist_free(s->items[i]);
        s->items[i] = NULL;
    }
    fk_event_unref(s->head);
    s->head = s->tail = NULL;
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->mu);
}

/* The oldest retained node is the anchor: its own change is forgotten, those after it are
 * kept, so a watch can start from its RV and no older one. */
static void drop_oldest(struct fk_store *s)
{
    struct fk_event *old = s->head;
    s->head = old->next;
    fk_event_ref(s->head);
    s->min_watch_rv = s->head->rv;
    s->hist_len--;
    fk_event_unref(old);
}

void fk_store_compact(struct fk_store *s)
{
    while (s->head != s->tail)
        drop_oldest(s);
    s->min_watch_rv = s->rv;
    pthread_cond_broadcast(&s->changed);
}

struct fk_obj *fk_store_get(struct fk_store *s, const struct fk_type *t, const char *key)
{
    return fk_skiplist_get(s->items[fk_type_index(t)], key);
}

enum cs_code fk_store_commit(struct fk_store *s, enum fk_event_type type, struct fk_obj *obj)
{
    size_t ti = fk_type_index(obj->type);
    struct fk_event *e = calloc(1, sizeof(*e));
    if (!e)
        return CS_ENOMEM;
    struct fk_obj *prev;
    if (type == FK_EV_DELETED) {
        prev = fk_skiplist_del(s->items[ti], obj->key);
        if (prev)
            s->count[ti]--;
    } else {
        fk_obj_ref(obj); /* the skip list's reference */
        prev = fk_skiplist_put(s->items[ti], obj);
        if (prev == obj) {
            obj->refs--;
            free(e);
            return CS_ENOMEM;
        }
        if (!prev)
            s->count[ti]++;
    }
    s->rv = obj->rv;
    e->refs = 1; /* the predecessor's link */
    e->rv = obj->rv;
    e->type = type;
    e->obj = obj;
    e->prev = prev;
    s->tail->next = e;
    s->tail = e;
    s->hist_len++;
    while (s->hist_len > s->hist_max + 1 && s->head != s->tail)
        drop_oldest(s);
    pthread_cond_broadcast(&s->changed);
    return CS_OK;
}

/* ---- list pages ---- */

struct override {
    const char *key;
    struct fk_obj *obj; /* the version at the snapshot, NULL when absent then */
    uint64_t rv;
};

static int override_cmp(const void *a, const void *b)
{
    const struct override *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->rv < y->rv ? -1 : x->rv > y->rv;
}

static bool in_range(const char *key, const char *prefix, size_t plen)
{
    return !prefix || strncmp(key, prefix, plen) == 0;
}

static bool matches(const struct fk_list_query *q, const struct fk_obj *o)
{
    struct fk_fields f;
    fk_obj_fields(o, &f);
    return fk_label_selector_match(q->labels, o->labels) &&
           fk_field_selector_match(q->fields, &f);
}

void fk_list_page_cleanup(struct fk_list_page *p)
{
    for (size_t i = 0; i < p->n; i++)
        fk_obj_unref(p->items[i]);
    free(p->items);
    free(p->last_key);
    memset(p, 0, sizeof(*p));
}

enum cs_code fk_store_list(struct fk_store *s, const struct fk_list_query *q,
                           struct fk_list_page *out, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct override *ov = NULL;
    size_t nov = 0, cap_ov = 0;
    struct fk_list_page page = {.remaining = -1};
    size_t cap = 0;
    char prefix_buf[300];
    const char *prefix = NULL;
    size_t plen = 0;
    if (q->type->namespaced && q->ns) {
        snprintf(prefix_buf, sizeof(prefix_buf), "%s/", q->ns);
        prefix = prefix_buf;
        plen = strlen(prefix);
    }
    uint64_t snap = q->snapshot_rv ? q->snapshot_rv : s->rv;
    if (snap > s->rv)
        snap = s->rv;
    if (snap < s->rv) {
        if (snap < s->min_watch_rv) {
            rc = cs_err_set(err, CS_EGONE, 410, "snapshot too old");
            goto out;
        }
        /* The state at snap: undo every later change of this type (first one per key). */
        for (struct fk_event *e = s->head; e; e = e->next) {
            if (e->rv <= snap || !e->obj || e->obj->type != q->type ||
                !in_range(e->obj->key, prefix, plen))
                continue;
            if (nov == cap_ov) {
                size_t nc = cap_ov ? cap_ov * 2 : 64;
                struct override *n2 = realloc(ov, nc * sizeof(*n2));
                if (!n2)
                    goto oom;
                ov = n2;
                cap_ov = nc;
            }
            ov[nov++] = (struct override){.key = e->obj->key, .obj = e->prev, .rv = e->rv};
        }
        qsort(ov, nov, sizeof(*ov), override_cmp);
        size_t w = 0;
        for (size_t i = 0; i < nov; i++)
            if (w == 0 || strcmp(ov[w - 1].key, ov[i].key) != 0)
                ov[w++] = ov[i];
        nov = w;
    }
    page.rv = snap;

    const struct fk_skiplist *l = s->items[fk_type_index(q->type)];
    /* Keys wanted: > start_after, or >= "ns/" (all when neither). */
    const char *lo = prefix;
    bool lo_incl = true;
    if (q->start_after && (!lo || strcmp(q->start_after, lo) >= 0)) {
        lo = q->start_after;
        lo_incl = false;
    }
    struct fk_sl_node *node = fk_skiplist_seek(l, lo ? lo : "", lo_incl);
    size_t oi = 0;
    while (oi < nov && lo && (lo_incl ? strcmp(ov[oi].key, lo) < 0 : strcmp(ov[oi].key, lo) <= 0))
        oi++;

    bool counting = false;
    long remaining = 0;
    for (;;) {
        struct fk_obj *cur = fk_skiplist_obj(node);
        if (cur && !in_range(cur->key, prefix, plen))
            cur = NULL, node = NULL;
        const char *ok = oi < nov ? ov[oi].key : NULL;
        if (ok && !in_range(ok, prefix, plen))
            ok = NULL, oi = nov;
        if (!cur && !ok)
            break;
        struct fk_obj *cand;
        int c = !cur ? 1 : !ok ? -1 : strcmp(cur->key, ok);
        if (c < 0) {
            cand = cur;
            node = fk_skiplist_next(node);
        } else if (c > 0) {
            cand = ov[oi++].obj;
        } else {
            cand = ov[oi++].obj;
            node = fk_skiplist_next(node);
        }
        if (!cand)
            continue;
        if (counting) {
            remaining++;
            continue;
        }
        if (q->limit > 0 && page.n == (size_t)q->limit) {
            page.more = true;
            if (!(page.last_key = strdup(page.items[page.n - 1]->key)))
                goto oom;
            if (q->labels || q->fields)
                break; /* the real server reports no count for a filtered list */
            counting = true;
            remaining = 1;
            continue;
        }
        if (!matches(q, cand))
            continue;
        if (page.n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct fk_obj **n2 = realloc(page.items, nc * sizeof(*n2));
            if (!n2)
                goto oom;
            page.items = n2;
            cap = nc;
        }
        fk_obj_ref(cand);
        page.items[page.n++] = cand;
    }
    if (counting)
        page.remaining = remaining;
    *out = page;
    memset(&page, 0, sizeof(page));
    goto out;
oom:
    rc = cs_err_set(err, CS_ENOMEM, 500, "out of memory");
out:
    fk_list_page_cleanup(&page);
    free(ov);
    return rc;
}

/* ---- continue tokens ---- */

char *fk_continue_encode(int64_t rv, const char *last_key)
{
    char *out = NULL;
    struct cs_buf b64;
    cs_buf_init(&b64, 0);
    cJSON *j = cJSON_CreateObject();
    size_t kl = strlen(last_key);
    char *start = malloc(kl + 2);
    if (!j || !start)
        goto out;
    /* The key after which to continue, plus "\0": the smallest key greater than it. */
    memcpy(start, last_key, kl);
    start[kl] = '\x01'; /* placeholder, replaced by \u0000 in the JSON text below */
    start[kl + 1] = '\0';
    if (!cJSON_AddStringToObject(j, "v", "meta.k8s.io/v1") ||
        !cJSON_AddNumberToObject(j, "rv", (double)rv) ||
        !cJSON_AddStringToObject(j, "start", start))
        goto out;
    char *txt = cJSON_PrintUnformatted(j);
    if (!txt)
        goto out;
    struct cs_buf t;
    cs_buf_init(&t, 0);
    for (char *p = txt; *p; p++) {
        if (p[0] == '\\' && strncmp(p, "\\u0001", 6) == 0) {
            cs_buf_adds(&t, "\\u0000");
            p += 5;
        } else {
            cs_buf_addc(&t, *p);
        }
    }
    cJSON_free(txt);
    if (cs_base64_encode(t.ptr, t.len, &b64) == CS_OK) {
        /* base64.RawURLEncoding, as the real server */
        size_t w = 0;
        for (size_t i = 0; i < b64.len; i++) {
            char c = b64.ptr[i];
            if (c == '=')
                continue;
            b64.ptr[w++] = c == '+' ? '-' : c == '/' ? '_' : c;
        }
        b64.ptr[w] = '\0';
        b64.len = w;
        out = cs_buf_take(&b64);
    }
    cs_buf_free(&t);
out:
    cJSON_Delete(j);
    free(start);
    cs_buf_free(&b64);
    return out;
}

enum cs_code fk_continue_decode(const char *token, int64_t *rv, char **start_after,
                                struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct cs_buf in, dec;
    cs_buf_init(&in, 4096);
    cs_buf_init(&dec, 4096);
    cJSON *j = NULL;
    for (const char *p = token; *p; p++) {
        char c = *p == '-' ? '+' : *p == '_' ? '/' : *p;
        if (c == '+' || c == '/' || c == '=' ? false : !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                                          (c >= '0' && c <= '9')))
            goto bad;
        if (cs_buf_addc(&in, c) != CS_OK)
            goto bad;
    }
    while (in.len % 4)
        if (cs_buf_addc(&in, '=') != CS_OK)
            goto bad;
    if (in.len == 0 || cs_base64_decode(in.ptr, in.len, &dec, NULL) != CS_OK)
        goto bad;
    if (!(j = cJSON_ParseWithLength(dec.ptr, dec.len)))
        goto bad;
    const char *v = cs_json_str(j, "v");
    const cJSON *rvj = cJSON_GetObjectItemCaseSensitive(j, "rv");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "start");
    if (!v || strcmp(v, "meta.k8s.io/v1") != 0 || !cJSON_IsNumber(rvj) || !cJSON_IsString(st)) {
        rc = cs_err_set(err, CS_EINVAL, 400,
                        "continue key is not valid: incorrect encoded start resourceVersion "
                        "(version meta.k8s.io/v1)");
        goto out;
    }
    /* The key is followed by "\0" (cJSON stops the string there). */
    const char *key = st->valuestring;
    if (!*key || strstr(key, "/../") || key[0] == '/') {
        rc = cs_err_set(err, CS_EINVAL, 400, "continue key is not valid: invalid start key");
        goto out;
    }
    char *k = strdup(key);
    if (!k) {
        rc = cs_err_set(err, CS_ENOMEM, 500, "out of memory");
        goto out;
    }
    *rv = (int64_t)rvj->valuedouble;
    *start_after = k;
    goto out;
bad:
    rc = cs_err_set(err, CS_EINVAL, 400,
                    "continue key is not valid: illegal base64 data or malformed JSON");
out:
    cJSON_Delete(j);
    cs_buf_free(&in);
    cs_buf_free(&dec);
    return rc;
}
