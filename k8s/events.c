/* events.c -- the Event recorder: bounded queue, background sender, de-duplication cache. */
#include "k8s/events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_MESSAGE 1024

struct pending {
    char *kind, *api_version, *ns, *name, *uid, *rv;
    enum k8s_event_type type;
    char *reason, *message;
    int64_t wall_ms;
};

struct cached {
    char *key;        /* object + type + reason + message */
    char *event_name; /* the Event object on the server */
    char *event_ns;
    long count;
    uint64_t last_ms; /* monotonic, for the window */
    uint64_t used;    /* use sequence number, for LRU */
};

struct k8s_recorder {
    struct k8s_client *client;
    char *component, *instance;
    size_t queue_max, cache_max;
    uint64_t window_ms;
    pthread_t thread;
    pthread_mutex_t lock; /* guards queue, head, len, busy, stop, stats */
    pthread_cond_t wake;  /* work arrived or stop */
    pthread_cond_t idle;  /* queue drained */
    struct pending *queue; /* ring of queue_max */
    size_t head, len;
    bool busy, stop;
    struct k8s_recorder_stats stats;
    struct cached *cache; /* sender thread only */
    size_t n_cache;
    uint64_t use_seq;
};

static void pending_cleanup(struct pending *p)
{
    free(p->kind);
    free(p->api_version);
    free(p->ns);
    free(p->name);
    free(p->uid);
    free(p->rv);
    free(p->reason);
    free(p->message);
    memset(p, 0, sizeof(*p));
}

/* The message as sent: never key material, at most MAX_MESSAGE bytes (on a UTF-8
 * boundary). */
static char *clean_message(const char *m)
{
    if (!m)
        m = "";
    if (strstr(m, "PRIVATE KEY") || strstr(m, "-----BEGIN"))
        return strdup("[message withheld: it looked like it contained key material]");
    size_t n = strlen(m);
    if (n > MAX_MESSAGE) {
        n = MAX_MESSAGE;
        while (n > 0 && ((unsigned char)m[n] & 0xC0) == 0x80)
            n--;
    }
    return strndup(m, n);
}

bool k8s_recorder_emit(struct k8s_recorder *r, const struct k8s_object_ref *obj,
                       enum k8s_event_type type, const char *reason, const char *message)
{
    struct pending p = {.type = type, .wall_ms = cs_wall_ms()};
    bool ok = false;
    if (!obj || !obj->name || !obj->kind || !reason)
        goto out;
    const char *ns = obj->ns && *obj->ns ? obj->ns : "";
    if (!(p.kind = strdup(obj->kind)) || !(p.name = strdup(obj->name)) ||
        !(p.ns = strdup(ns)) || !(p.api_version = strdup(obj->api_version ? obj->api_version : "")) ||
        !(p.uid = strdup(obj->uid ? obj->uid : "")) ||
        !(p.rv = strdup(obj->resource_version ? obj->resource_version : "")) ||
        !(p.reason = strdup(reason)) || !(p.message = clean_message(message)))
        goto out;
    pthread_mutex_lock(&r->lock);
    if (!r->stop && r->len < r->queue_max) {
        r->queue[(r->head + r->len) % r->queue_max] = p;
        r->len++;
        r->stats.emitted++;
        memset(&p, 0, sizeof(p));
        ok = true;
        pthread_cond_signal(&r->wake);
    }
    pthread_mutex_unlock(&r->lock);
out:
    if (!ok) {
        pthread_mutex_lock(&r->lock);
        r->stats.dropped++;
        pthread_mutex_unlock(&r->lock);
    }
    pending_cleanup(&p);
    return ok;
}

static char *cache_key(const struct pending *p)
{
    char *k = NULL;
    if (asprintf(&k, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%d\x1f%s\x1f%s", p->kind, p->api_version,
                 p->ns, p->name, p->uid, (int)p->type, p->reason, p->message) < 0)
        return NULL;
    return k;
}

static struct cached *cache_find(struct k8s_recorder *r, const char *key)
{
    for (size_t i = 0; i < r->n_cache; i++)
        if (strcmp(r->cache[i].key, key) == 0)
            return &r->cache[i];
    return NULL;
}

static void cached_cleanup(struct cached *c)
{
    free(c->key);
    free(c->event_name);
    free(c->event_ns);
    memset(c, 0, sizeof(*c));
}

/* A slot for a new entry: a free one, or the least recently used. */
static struct cached *cache_slot(struct k8s_recorder *r)
{
    if (r->n_cache < r->cache_max)
        return &r->cache[r->n_cache++];
    struct cached *lru = &r->cache[0];
    for (size_t i = 1; i < r->n_cache; i++)
        if (r->cache[i].used < lru->used)
            lru = &r->cache[i];
    cached_cleanup(lru);
    return lru;
}

static enum cs_code create_event(struct k8s_recorder *r, const struct pending *p,
                                 const char *key, struct cs_err *err)
{
    enum cs_code rc = CS_ENOMEM;
    char stamp[32], name[512];
    const char *ns = *p->ns ? p->ns : "default";
    cs_format_time(p->wall_ms, false, stamp);
    /* client-go: "<object name>.<hex nanoseconds>"; random low bits avoid collisions */
    snprintf(name, sizeof(name), "%.240s.%llx", p->name,
             (unsigned long long)((uint64_t)p->wall_ms * 1000000ULL + (cs_rand_u64() % 1000000ULL)));
    cJSON *ev = cJSON_CreateObject(), *md, *io, *src;
    if (!ev || !cJSON_AddStringToObject(ev, "apiVersion", "v1") ||
        !cJSON_AddStringToObject(ev, "kind", "Event") ||
        !(md = cJSON_AddObjectToObject(ev, "metadata")) ||
        !cJSON_AddStringToObject(md, "name", name) ||
        !cJSON_AddStringToObject(md, "namespace", ns) ||
        !(io = cJSON_AddObjectToObject(ev, "involvedObject")) ||
        !cJSON_AddStringToObject(io, "kind", p->kind) ||
        !cJSON_AddStringToObject(io, "name", p->name) ||
        (*p->ns && !cJSON_AddStringToObject(io, "namespace", p->ns)) ||
        (*p->api_version && !cJSON_AddStringToObject(io, "apiVersion", p->api_version)) ||
        (*p->uid && !cJSON_AddStringToObject(io, "uid", p->uid)) ||
        (*p->rv && !cJSON_AddStringToObject(io, "resourceVersion", p->rv)) ||
        !cJSON_AddStringToObject(ev, "reason", p->reason) ||
        !cJSON_AddStringToObject(ev, "message", p->message) ||
        !cJSON_AddStringToObject(ev, "type", p->type == K8S_EVENT_WARNING ? "Warning" : "Normal") ||
        !(src = cJSON_AddObjectToObject(ev, "source")) ||
        !cJSON_AddStringToObject(src, "component", r->component) ||
        !cJSON_AddStringToObject(ev, "reportingComponent", r->component) ||
        !cJSON_AddStringToObject(ev, "reportingInstance", r->instance) ||
        !cJSON_AddStringToObject(ev, "firstTimestamp", stamp) ||
        !cJSON_AddStringToObject(ev, "lastTimestamp", stamp) ||
        !cJSON_AddNumberToObject(ev, "count", 1)) {
        cs_err_set(err, rc, 0, "out of memory");
        goto out;
    }
    if ((rc = k8s_create(r->client, &k8s_res_events, ns, ev, NULL, err)) != CS_OK)
        goto out;
    struct cached *c = cache_slot(r);
    c->key = strdup(key);
    c->event_name = strdup(name);
    c->event_ns = strdup(ns);
    c->count = 1;
    c->last_ms = cs_now_ms();
    c->used = ++r->use_seq;
    if (!c->key || !c->event_name || !c->event_ns) {
        cached_cleanup(c);
        r->n_cache--; /* keep the array dense: move the last entry here */
        if (c != &r->cache[r->n_cache]) {
            *c = r->cache[r->n_cache];
            memset(&r->cache[r->n_cache], 0, sizeof(*c));
        }
    }
out:
    cJSON_Delete(ev);
    return rc;
}

static enum cs_code patch_event(struct k8s_recorder *r, struct cached *c,
                                const struct pending *p, struct cs_err *err)
{
    char stamp[32];
    cs_format_time(p->wall_ms, false, stamp);
    cJSON *patch = cJSON_CreateObject();
    enum cs_code rc;
    if (!patch || !cJSON_AddNumberToObject(patch, "count", (double)(c->count + 1)) ||
        !cJSON_AddStringToObject(patch, "lastTimestamp", stamp)) {
        cJSON_Delete(patch);
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    }
    rc = k8s_patch_merge(r->client, &k8s_res_events, c->event_ns, c->event_name, patch, NULL,
                         err);
    cJSON_Delete(patch);
    if (rc == CS_OK) {
        c->count++;
        c->last_ms = cs_now_ms();
        c->used = ++r->use_seq;
    }
    return rc;
}

static void send_one(struct k8s_recorder *r, const struct pending *p)
{
    struct cs_err err;
    enum cs_code rc = CS_ENOMEM;
    bool patched = false;
    cs_err_clear(&err);
    char *key = cache_key(p);
    if (!key)
        goto out;
    struct cached *c = cache_find(r, key);
    if (c && cs_now_ms() - c->last_ms < r->window_ms) {
        rc = patch_event(r, c, p, &err);
        patched = rc == CS_OK;
        if (rc == CS_ENOTFOUND) { /* the Event expired on the server (TTL): a new one */
            cached_cleanup(c);
            r->n_cache--;
            if (c != &r->cache[r->n_cache]) {
                *c = r->cache[r->n_cache];
                memset(&r->cache[r->n_cache], 0, sizeof(*c));
            }
            c = NULL;
        }
    } else if (c) { /* outside the window: forget it and start a new Event */
        cached_cleanup(c);
        r->n_cache--;
        if (c != &r->cache[r->n_cache]) {
            *c = r->cache[r->n_cache];
            memset(&r->cache[r->n_cache], 0, sizeof(*c));
        }
        c = NULL;
    }
    if (!c)
        rc = create_event(r, p, key, &err);
out:
    free(key);
    pthread_mutex_lock(&r->lock);
    if (rc == CS_OK && patched)
        r->stats.patched++;
    else if (rc == CS_OK)
        r->stats.created++;
    else
        r->stats.failed++;
    pthread_mutex_unlock(&r->lock);
    if (rc != CS_OK)
        cs_log_warn("event not recorded", "reason", p->reason, "object", p->name, "code",
                    cs_code_name(rc), "error", err.message);
}

static void *run(void *arg)
{
    struct k8s_recorder *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->stop && r->len == 0)
            pthread_cond_wait(&r->wake, &r->lock);
        if (r->stop)
            break;
        struct pending p = r->queue[r->head];
        memset(&r->queue[r->head], 0, sizeof(p));
        r->head = (r->head + 1) % r->queue_max;
        r->len--;
        r->busy = true;
        pthread_mutex_unlock(&r->lock);
        send_one(r, &p);
        pending_cleanup(&p);
        pthread_mutex_lock(&r->lock);
        r->busy = false;
        if (r->len == 0)
            pthread_cond_broadcast(&r->idle);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

enum cs_code k8s_recorder_new(struct k8s_client *client, const struct k8s_recorder_opts *opts,
                              struct k8s_recorder **out, struct cs_err *err)
{
    if (!client || !opts || !opts->component || !*opts->component)
        return cs_err_set(err, CS_EINVAL, 0, "event recorder: client and component required");
    struct k8s_recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    r->client = client;
    r->queue_max = opts->queue_max ? opts->queue_max : 256;
    r->cache_max = opts->cache_max ? opts->cache_max : 4096;
    r->window_ms = opts->dedup_window_ms ? opts->dedup_window_ms : 600000;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    pthread_cond_init(&r->idle, NULL);
    r->component = strdup(opts->component);
    r->instance = strdup(opts->instance ? opts->instance : "");
    r->queue = calloc(r->queue_max, sizeof(*r->queue));
    r->cache = calloc(r->cache_max, sizeof(*r->cache));
    if (!r->component || !r->instance || !r->queue || !r->cache ||
        pthread_create(&r->thread, NULL, run, r) != 0) {
        free(r->component);
        free(r->instance);
        free(r->queue);
        free(r->cache);
        pthread_cond_destroy(&r->idle);
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return cs_err_set(err, CS_ENOMEM, 0, "event recorder: out of memory");
    }
    *out = r;
    return CS_OK;
}

void k8s_recorder_free(struct k8s_recorder *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    for (size_t i = 0; i < r->len; i++)
        pending_cleanup(&r->queue[(r->head + i) % r->queue_max]);
    for (size_t i = 0; i < r->n_cache; i++)
        cached_cleanup(&r->cache[i]);
    free(r->queue);
    free(r->cache);
    free(r->component);
    free(r->instance);
    pthread_cond_destroy(&r->idle);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

bool k8s_recorder_flush(struct k8s_recorder *r, uint64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    while ((r->len > 0 || r->busy) && !r->stop)
        if (pthread_cond_timedwait(&r->idle, &r->lock, &ts) != 0)
            break;
    bool done = r->len == 0 && !r->busy;
    pthread_mutex_unlock(&r->lock);
    return done;
}

void k8s_recorder_get_stats(struct k8s_recorder *r, struct k8s_recorder_stats *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}
