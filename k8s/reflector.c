/* reflector.c -- list + watch into a store on a background thread (see reflector.h). */
#include "k8s/reflector.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/backoff.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

/* How often an expired continue token may restart a list before it counts as a failure. */
#define MAX_LIST_RESTARTS 3
/* A watch that ends normally this fast with no event is suspicious (client-go: "very short
 * watch"): back off instead of hammering the server. */
#define SHORT_WATCH_MS 1000

struct k8s_reflector {
    struct k8s_client *client;
    struct k8s_store *store;
    struct k8s_reflector_opts o;
    char *ns, *label_selector, *field_selector;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_bool synced;
    pthread_mutex_t lock; /* guards rv, stats, and pairs with wake */
    pthread_cond_t wake;  /* signalled on stop and on first sync */
    char *rv;
    struct k8s_reflector_stats stats;
    struct cs_backoff backoff; /* reflector thread only */
};

static void set_rv(struct k8s_reflector *r, const char *rv)
{
    char *copy = strdup(rv);
    if (!copy)
        return; /* keep the older RV: a re-watch from it is still correct */
    pthread_mutex_lock(&r->lock);
    free(r->rv);
    r->rv = copy;
    pthread_mutex_unlock(&r->lock);
}

static void count(struct k8s_reflector *r, uint64_t *field)
{
    pthread_mutex_lock(&r->lock);
    (*field)++;
    pthread_mutex_unlock(&r->lock);
}

/* Sleeps up to ms, returning early on stop. False when stopping. */
static bool wait_ms(struct k8s_reflector *r, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    while (!atomic_load(&r->stop)) {
        if (pthread_cond_timedwait(&r->wake, &r->lock, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&r->lock);
    return !atomic_load(&r->stop);
}

/* ---- list ---- */

static enum cs_code list_all(struct k8s_reflector *r, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    cJSON *acc = NULL, *page = NULL;
    char *cont = NULL, *rv = NULL;
    int restarts = 0;
    for (;;) {
        if (!acc && !(acc = cJSON_CreateArray())) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
        struct k8s_list_opts lo = {
            .label_selector = r->label_selector,
            .field_selector = r->field_selector,
            /* the API refuses a resourceVersion together with continue */
            .resource_version = cont ? NULL : "0",
            .continue_token = cont,
            .limit = r->o.page_size,
            .cancel = &r->stop,
        };
        rc = k8s_list(r->client, r->o.res, r->ns, &lo, &page, err);
        if (rc == CS_EGONE && cont && ++restarts <= MAX_LIST_RESTARTS) {
            /* the continue token expired: start over */
            cJSON_Delete(acc);
            acc = NULL;
            free(cont);
            cont = NULL;
            continue;
        }
        if (rc != CS_OK)
            goto out;
        cJSON *items = cJSON_GetObjectItemCaseSensitive(page, "items");
        if (items && !cJSON_IsArray(items) && !cJSON_IsNull(items)) {
            rc = cs_err_set(err, CS_EPROTO, 0, "list %s: items is not an array",
                            r->o.res->plural);
            goto out;
        }
        cJSON *it;
        while (cJSON_IsArray(items) && (it = items->child)) {
            cJSON_DetachItemViaPointer(items, it);
            cJSON_AddItemToArray(acc, it);
        }
        const char *prv = cs_json_path_str(page, "metadata.resourceVersion");
        const char *pc = cs_json_path_str(page, "metadata.continue");
        if (!prv || !*prv) {
            rc = cs_err_set(err, CS_EPROTO, 0, "list %s: no metadata.resourceVersion",
                            r->o.res->plural);
            goto out;
        }
        free(rv);
        free(cont);
        bool more = pc && *pc;
        rv = strdup(prv);
        cont = more ? strdup(pc) : NULL;
        cJSON_Delete(page);
        page = NULL;
        if (!rv || (more && !cont)) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
        if (!cont)
            break;
    }
    if ((rc = k8s_store_replace(r->store, acc, err)) != CS_OK)
        goto out;
    set_rv(r, rv);
    pthread_mutex_lock(&r->lock);
    r->stats.lists++;
    atomic_store(&r->synced, true);
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
out:
    cJSON_Delete(page);
    cJSON_Delete(acc);
    free(cont);
    free(rv);
    return rc;
}

/* ---- watch ---- */

static enum cs_code on_event(enum k8s_watch_type t, const cJSON *obj, void *ud,
                             struct cs_err *err)
{
    struct k8s_reflector *r = ud;
    if (t == K8S_WATCH_ERROR)
        return k8s_status_json_to_err(0, obj, 0, err);
    if (t != K8S_WATCH_BOOKMARK) {
        struct cs_err aerr;
        enum cs_code rc = k8s_store_apply(r->store, t, obj, &aerr);
        if (rc == CS_ENOMEM) {
            if (err)
                *err = aerr;
            return rc; /* re-watch from the last RV: nothing is lost */
        }
        if (rc != CS_OK)
            cs_log_warn("watch event skipped", "resource", r->o.res->plural, "error",
                        aerr.message);
    }
    const char *rv = cs_json_path_str(obj, "metadata.resourceVersion");
    if (rv && *rv)
        set_rv(r, rv);
    count(r, &r->stats.events);
    return CS_OK;
}

/* *short_watch: ended without error, fast and without events. *dropped: the connection broke
 * (or went silent) after the watch had lasted or delivered events -- client-go's "probable
 * EOF": re-watch from the last RV at once, as for a normal close. */
static enum cs_code watch_once(struct k8s_reflector *r, bool *short_watch, bool *dropped,
                               struct cs_err *err)
{
    char *rv = NULL;
    pthread_mutex_lock(&r->lock);
    rv = strdup(r->rv ? r->rv : "");
    pthread_mutex_unlock(&r->lock);
    if (!rv)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    long span = r->o.watch_timeout_max_s - r->o.watch_timeout_min_s;
    long timeout_s = r->o.watch_timeout_min_s +
                     (span > 0 ? (long)(cs_rand_u64() % (uint64_t)span) : 0);
    struct k8s_watch_opts wo = {
        .resource_version = rv,
        .label_selector = r->label_selector,
        .field_selector = r->field_selector,
        .timeout_seconds = timeout_s,
        .allow_bookmarks = true,
        .idle_timeout_ms = timeout_s * 1000 + r->o.idle_margin_ms,
        .max_event = r->o.max_event,
        .cancel = &r->stop,
    };
    uint64_t events_before, events_after, t0 = cs_now_ms();
    pthread_mutex_lock(&r->lock);
    r->stats.watches++;
    events_before = r->stats.events;
    pthread_mutex_unlock(&r->lock);
    enum cs_code rc = k8s_watch(r->client, r->o.res, r->ns, &wo, on_event, r, err);
    pthread_mutex_lock(&r->lock);
    events_after = r->stats.events;
    pthread_mutex_unlock(&r->lock);
    bool quiet_and_fast = events_after == events_before && cs_now_ms() - t0 < SHORT_WATCH_MS;
    *short_watch = rc == CS_OK && quiet_and_fast;
    *dropped = (rc == CS_EIO || rc == CS_ETIMEDOUT) && !quiet_and_fast;
    free(rv);
    return rc;
}

static void *run(void *p)
{
    struct k8s_reflector *r = p;
    bool need_list = true;
    while (!atomic_load(&r->stop)) {
        struct cs_err err;
        enum cs_code rc;
        bool short_watch = false, dropped = false;
        cs_err_clear(&err);
        if (need_list) {
            rc = list_all(r, &err);
            if (rc == CS_OK)
                need_list = false;
        } else {
            rc = watch_once(r, &short_watch, &dropped, &err);
            if (rc == CS_OK && !short_watch)
                continue; /* a normal close: re-watch from the last RV */
            if (dropped) {
                count(r, &r->stats.drops);
                cs_log_debug("watch dropped: re-watching", "resource", r->o.res->plural,
                             "error", err.message);
                continue;
            }
            if (rc == CS_OK)
                cs_err_set(&err, CS_EIO, 0, "watch closed at once without events");
        }
        if (rc == CS_OK)
            continue;
        if (rc == CS_ECANCELED && atomic_load(&r->stop))
            break;
        if (rc == CS_EGONE) {
            need_list = true;
            count(r, &r->stats.gone);
        } else {
            count(r, &r->stats.errors);
        }
        uint64_t delay = cs_backoff_next(&r->backoff, cs_now_ms());
        if (err.retry_after_ms > 0 && (uint64_t)err.retry_after_ms > delay)
            delay = (uint64_t)err.retry_after_ms;
        char delay_s[32];
        snprintf(delay_s, sizeof(delay_s), "%llu", (unsigned long long)delay);
        cs_log_warn(need_list ? "list/relist needed" : "watch failed", "resource",
                    r->o.res->plural, "code", cs_code_name(rc), "error", err.message,
                    "retry_in_ms", delay_s);
        if (!wait_ms(r, delay))
            break;
    }
    return NULL;
}

/* ---- lifecycle ---- */

enum cs_code k8s_reflector_new(struct k8s_client *client, struct k8s_store *store,
                               const struct k8s_reflector_opts *opts,
                               struct k8s_reflector **out, struct cs_err *err)
{
    if (!client || !store || !opts || !opts->res)
        return cs_err_set(err, CS_EINVAL, 0, "reflector: client, store and resource required");
    struct k8s_reflector *r = calloc(1, sizeof(*r));
    if (!r)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    r->client = client;
    r->store = store;
    r->o = *opts;
    r->o.page_size = opts->page_size > 0 ? opts->page_size : 500;
    r->o.backoff_initial_ms = opts->backoff_initial_ms ? opts->backoff_initial_ms : 800;
    r->o.backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : 30000;
    r->o.backoff_reset_ms = opts->backoff_reset_ms ? opts->backoff_reset_ms : 120000;
    r->o.watch_timeout_min_s = opts->watch_timeout_min_s > 0 ? opts->watch_timeout_min_s : 300;
    r->o.watch_timeout_max_s = opts->watch_timeout_max_s > r->o.watch_timeout_min_s
                                   ? opts->watch_timeout_max_s
                                   : (opts->watch_timeout_max_s > 0 ? r->o.watch_timeout_min_s
                                                                    : 600);
    r->o.idle_margin_ms = opts->idle_margin_ms > 0 ? opts->idle_margin_ms : 30000;
    cs_backoff_init(&r->backoff, r->o.backoff_initial_ms, r->o.backoff_max_ms, 2.0, 1.0,
                    r->o.backoff_reset_ms);
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    if ((opts->ns && *opts->ns && !(r->ns = strdup(opts->ns))) ||
        (opts->label_selector && !(r->label_selector = strdup(opts->label_selector))) ||
        (opts->field_selector && !(r->field_selector = strdup(opts->field_selector)))) {
        k8s_reflector_free(r);
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    }
    *out = r;
    return CS_OK;
}

enum cs_code k8s_reflector_start(struct k8s_reflector *r, struct cs_err *err)
{
    if (r->running)
        return cs_err_set(err, CS_EINVAL, 0, "reflector already started");
    atomic_store(&r->stop, false);
    if (pthread_create(&r->thread, NULL, run, r) != 0)
        return cs_err_set(err, CS_ENOMEM, 0, "reflector: cannot start a thread");
    r->running = true;
    return CS_OK;
}

void k8s_reflector_stop(struct k8s_reflector *r)
{
    if (!r || !r->running)
        return;
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stop, true);
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->running = false;
}

void k8s_reflector_free(struct k8s_reflector *r)
{
    if (!r)
        return;
    k8s_reflector_stop(r);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r->rv);
    free(r->ns);
    free(r->label_selector);
    free(r->field_selector);
    free(r);
}

bool k8s_reflector_has_synced(struct k8s_reflector *r)
{
    return atomic_load(&r->synced);
}

bool k8s_reflector_wait_synced(struct k8s_reflector *r, uint64_t timeout_ms)
{
    uint64_t deadline = cs_now_ms() + timeout_ms;
    while (!atomic_load(&r->synced) && !atomic_load(&r->stop)) {
        uint64_t now = cs_now_ms();
        if (now >= deadline)
            break;
        uint64_t step = deadline - now < 50 ? deadline - now : 50;
        wait_ms(r, step);
    }
    return atomic_load(&r->synced);
}

void k8s_reflector_last_rv(struct k8s_reflector *r, char *out, size_t n)
{
    pthread_mutex_lock(&r->lock);
    snprintf(out, n, "%s", r->rv ? r->rv : "");
    pthread_mutex_unlock(&r->lock);
}

void k8s_reflector_get_stats(struct k8s_reflector *r, struct k8s_reflector_stats *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}
