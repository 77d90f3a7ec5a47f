/* lease.c -- leader election on a Lease (see lease.h). */
#include "k8s/lease.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

struct k8s_elector {
    struct k8s_client *client;
    struct k8s_elector_opts o;
    char *ns, *name, *identity;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_bool leading;
    atomic_uint_fast64_t last_renew_ms;
    pthread_mutex_t lock; /* guards the observed_* fields and pairs with wake */
    pthread_cond_t wake;
    cJSON *observed;        /* the lease as last read or written */
    char *observed_record;  /* its spec, printed: changes are detected on this */
    uint64_t observed_ms;   /* local clock when observed_record last changed */
};

static uint64_t now_ms(struct k8s_elector *e)
{
    return e->o.clock_ms ? e->o.clock_ms(e->o.clock_ud) : cs_now_ms();
}

static const char *observed_holder_locked(struct k8s_elector *e)
{
    const char *h = cs_json_path_str(e->observed, "spec.holderIdentity");
    return h ? h : "";
}

/* Records lease (taking ownership) as observed at time now. */
static void observe(struct k8s_elector *e, cJSON *lease, uint64_t now)
{
    char *record = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(lease, "spec"));
    pthread_mutex_lock(&e->lock);
    if (!record || !e->observed_record || strcmp(record, e->observed_record) != 0) {
        e->observed_ms = now;
        cJSON_free(e->observed_record);
        e->observed_record = record;
        record = NULL;
    }
    cJSON_Delete(e->observed);
    e->observed = lease;
    pthread_mutex_unlock(&e->lock);
    cJSON_free(record);
}

static enum cs_code call(struct k8s_elector *e, const char *method, const char *name,
                         const cJSON *body, cJSON **out, struct cs_err *err)
{
    struct k8s_call c = {.method = method,
                         .res = &k8s_res_leases,
                         .ns = e->ns,
                         .name = name,
                         .body = body,
                         .timeout_ms = (long)e->o.renew_deadline_ms};
    return k8s_do(e->client, &c, out, err);
}

static cJSON *new_spec(struct k8s_elector *e, const char *holder, long duration_s,
                       const char *acquire, long transitions, const char *renew)
{
    cJSON *spec = cJSON_CreateObject();
    if (!spec)
        return NULL;
    if (!cJSON_AddStringToObject(spec, "holderIdentity", holder) ||
        !cJSON_AddNumberToObject(spec, "leaseDurationSeconds", (double)duration_s) ||
        !cJSON_AddStringToObject(spec, "acquireTime", acquire) ||
        !cJSON_AddStringToObject(spec, "renewTime", renew) ||
        !cJSON_AddNumberToObject(spec, "leaseTransitions", (double)transitions)) {
        cJSON_Delete(spec);
        return NULL;
    }
    return spec;
}

static long duration_s(struct k8s_elector *e)
{
    long s = (long)((e->o.lease_duration_ms + 999) / 1000);
    return s < 1 ? 1 : s;
}

enum cs_code k8s_elector_try(struct k8s_elector *e, bool *acquired, struct cs_err *err)
{
    enum cs_code rc;
    cJSON *lease = NULL, *update = NULL, *answer = NULL;
    char stamp[32];
    uint64_t now = now_ms(e);
    cs_format_time(cs_wall_ms(), true, stamp);
    *acquired = false;

    rc = call(e, "GET", e->name, NULL, &lease, err);
    if (rc == CS_ENOTFOUND) {
        if (!(update = cJSON_CreateObject()) ||
            !cJSON_AddStringToObject(update, "apiVersion", "coordination.k8s.io/v1") ||
            !cJSON_AddStringToObject(update, "kind", "Lease")) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
        cJSON *md = cJSON_AddObjectToObject(update, "metadata");
        cJSON *spec = new_spec(e, e->identity, duration_s(e), stamp, 0, stamp);
        if (!md || !spec || !cJSON_AddStringToObject(md, "name", e->name) ||
            !cJSON_AddStringToObject(md, "namespace", e->ns)) {
            cJSON_Delete(spec);
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
        cJSON_AddItemToObject(update, "spec", spec);
        rc = call(e, "POST", NULL, update, &answer, err);
        if (rc == CS_ECONFLICT) { /* someone else created it first */
            rc = CS_OK;
            goto out;
        }
        if (rc != CS_OK)
            goto out;
        observe(e, answer, now);
        answer = NULL;
        *acquired = true;
        goto out;
    }
    if (rc != CS_OK)
        goto out;

    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
    const char *holder = cs_json_str(spec, "holderIdentity");
    const char *acquire = cs_json_str(spec, "acquireTime");
    long transitions = (long)cs_json_int(spec, "leaseTransitions", 0);
    long dur = (long)cs_json_int(spec, "leaseDurationSeconds", duration_s(e));
    bool mine = holder && strcmp(holder, e->identity) == 0;
    bool held = holder && *holder && !mine;
    cJSON *read = cJSON_Duplicate(lease, true);
    if (!read) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    observe(e, read, now);
    pthread_mutex_lock(&e->lock);
    uint64_t since = e->observed_ms;
    pthread_mutex_unlock(&e->lock);
    /* Held by another and not expired by OUR clock since we saw the record change. */
    if (held && since + (uint64_t)dur * 1000 > now)
        goto out;

    cJSON *nspec = new_spec(e, e->identity, duration_s(e), mine && acquire ? acquire : stamp,
                            mine ? transitions : transitions + 1, stamp);
    if (!nspec) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    /* PUT what we read with our spec: its metadata.resourceVersion makes it conditional. */
    cJSON_ReplaceItemInObjectCaseSensitive(lease, "spec", nspec);
    if (!cJSON_GetObjectItemCaseSensitive(lease, "spec")) {
        cJSON_Delete(nspec);
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    rc = call(e, "PUT", e->name, lease, &answer, err);
    if (rc == CS_ECONFLICT) { /* stale resourceVersion: someone wrote it after our read */
        rc = CS_OK;
        goto out;
    }
    if (rc != CS_OK)
        goto out;
    observe(e, answer, now);
    answer = NULL;
    *acquired = true;
out:
    cJSON_Delete(lease);
    cJSON_Delete(update);
    cJSON_Delete(answer);
    return rc;
}

enum cs_code k8s_elector_release(struct k8s_elector *e, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    cJSON *lease = NULL, *answer = NULL;
    char stamp[32];
    cs_format_time(cs_wall_ms(), true, stamp);
    pthread_mutex_lock(&e->lock);
    if (e->observed && strcmp(observed_holder_locked(e), e->identity) == 0)
        lease = cJSON_Duplicate(e->observed, true);
    pthread_mutex_unlock(&e->lock);
    if (!lease)
        return CS_OK; /* not ours */
    long transitions = (long)cs_json_int(cJSON_GetObjectItemCaseSensitive(lease, "spec"),
                                         "leaseTransitions", 0);
    /* As client-go: an empty holder, a 1 s duration; the next candidate takes it at once. */
    cJSON *nspec = new_spec(e, "", 1, stamp, transitions, stamp);
    if (!nspec) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(lease, "spec", nspec);
    rc = call(e, "PUT", e->name, lease, &answer, err);
    if (rc == CS_OK) {
        observe(e, answer, now_ms(e));
        answer = NULL;
    } else if (rc == CS_ECONFLICT) {
        rc = CS_OK; /* already changed by someone else: nothing to release */
    }
out:
    cJSON_Delete(lease);
    cJSON_Delete(answer);
    return rc;
}

/* Sleeps up to ms, returning early on stop. False when stopping. */
static bool wait_ms(struct k8s_elector *e, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->lock);
    while (!atomic_load(&e->stop))
        if (pthread_cond_timedwait(&e->wake, &e->lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&e->lock);
    return !atomic_load(&e->stop);
}

static void log_err(const char *msg, const struct cs_err *err)
{
    cs_log_warn(msg, "code", cs_code_name(err->code), "error", err->message);
}

static void *run(void *p)
{
    struct k8s_elector *e = p;
    while (!atomic_load(&e->stop)) {
        /* candidate: try every retry period, jittered by up to 20% as client-go does */
        bool acquired = false;
        for (;;) {
            struct cs_err err;
            if (k8s_elector_try(e, &acquired, &err) != CS_OK)
                log_err("leader election: acquire failed", &err);
            if (acquired || atomic_load(&e->stop))
                break;
            uint64_t d = e->o.retry_period_ms +
                         (uint64_t)(cs_rand_unit() * 0.2 * (double)e->o.retry_period_ms);
            if (!wait_ms(e, d))
                break;
        }
        if (!acquired)
            break;
        atomic_store(&e->last_renew_ms, now_ms(e));
        atomic_store(&e->leading, true);
        cs_log_info("leader election: started leading", "lease", e->name, "identity",
                    e->identity);
        if (e->o.on_started_leading)
            e->o.on_started_leading(e->o.ud);

        /* leader: renew every retry period until the renew deadline passes without one */
        bool lost = false;
        while (wait_ms(e, e->o.retry_period_ms)) {
            struct cs_err err;
            bool renewed = false;
            enum cs_code rc = k8s_elector_try(e, &renewed, &err);
            if (renewed) {
                atomic_store(&e->last_renew_ms, now_ms(e));
                continue;
            }
            if (rc != CS_OK)
                log_err("leader election: renew failed", &err);
            char holder[256];
            k8s_elector_holder(e, holder, sizeof(holder));
            if ((rc == CS_OK && strcmp(holder, e->identity) != 0) ||
                now_ms(e) - atomic_load(&e->last_renew_ms) >= e->o.renew_deadline_ms) {
                lost = true;
                break;
            }
        }
        /* Not the leader any more before anything else happens (release included). */
        atomic_store(&e->leading, false);
        if (!lost) {
            struct cs_err err;
            if (k8s_elector_release(e, &err) != CS_OK)
                log_err("leader election: release failed", &err);
        }
        cs_log_info(lost ? "leader election: lost the lease" : "leader election: released",
                    "lease", e->name, "identity", e->identity);
        if (e->o.on_stopped_leading)
            e->o.on_stopped_leading(e->o.ud);
    }
    return NULL;
}

enum cs_code k8s_elector_new(struct k8s_client *client, const struct k8s_elector_opts *opts,
                             struct k8s_elector **out, struct cs_err *err)
{
    if (!client || !opts || !opts->ns || !*opts->ns || !opts->name || !*opts->name ||
        !opts->identity || !*opts->identity)
        return cs_err_set(err, CS_EINVAL, 0,
                          "leader election: namespace, name and identity are required");
    struct k8s_elector *e = calloc(1, sizeof(*e));
    if (!e)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    e->client = client;
    e->o = *opts;
    e->o.lease_duration_ms = opts->lease_duration_ms ? opts->lease_duration_ms : 15000;
    e->o.renew_deadline_ms = opts->renew_deadline_ms ? opts->renew_deadline_ms : 10000;
    e->o.retry_period_ms = opts->retry_period_ms ? opts->retry_period_ms : 2000;
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (!(e->ns = strdup(opts->ns)) || !(e->name = strdup(opts->name)) ||
        !(e->identity = strdup(opts->identity))) {
        k8s_elector_free(e);
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    }
    if (e->o.renew_deadline_ms >= e->o.lease_duration_ms ||
        e->o.retry_period_ms >= e->o.renew_deadline_ms) {
        k8s_elector_free(e);
        return cs_err_set(err, CS_EINVAL, 0,
                          "leader election: need retry period < renew deadline < lease "
                          "duration");
    }
    *out = e;
    return CS_OK;
}

enum cs_code k8s_elector_start(struct k8s_elector *e, struct cs_err *err)
{
    if (e->running)
        return cs_err_set(err, CS_EINVAL, 0, "elector already started");
    atomic_store(&e->stop, false);
    if (pthread_create(&e->thread, NULL, run, e) != 0)
        return cs_err_set(err, CS_ENOMEM, 0, "leader election: cannot start a thread");
    e->running = true;
    return CS_OK;
}

void k8s_elector_stop(struct k8s_elector *e)
{
    if (!e || !e->running)
        return;
    pthread_mutex_lock(&e->lock);
    atomic_store(&e->stop, true);
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    e->running = false;
}

void k8s_elector_free(struct k8s_elector *e)
{
    if (!e)
        return;
    k8s_elector_stop(e);
    pthread_cond_destroy(&e->wake);
    pthread_mutex_destroy(&e->lock);
    cJSON_Delete(e->observed);
    cJSON_free(e->observed_record);
    free(e->ns);
    free(e->name);
    free(e->identity);
    free(e);
}

bool k8s_elector_is_leader(struct k8s_elector *e)
{
    return atomic_load(&e->leading) &&
           now_ms(e) - atomic_load(&e->last_renew_ms) < e->o.renew_deadline_ms;
}

void k8s_elector_holder(struct k8s_elector *e, char *out, size_t n)
{
    pthread_mutex_lock(&e->lock);
    snprintf(out, n, "%s", e->observed ? observed_holder_locked(e) : "");
    pthread_mutex_unlock(&e->lock);
}
