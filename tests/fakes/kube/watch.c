/* watch.c -- watch streams as the real API server writes them: one JSON event per line,
 * ADDED/MODIFIED/DELETED with kind and apiVersion, DELETED carrying the last state, an object
 * leaving a watcher's selector reaching it as DELETED (its previous state at the new RV, as
 * the watch cache does), BOOKMARKs with only metadata.resourceVersion, and a single 410
 * ERROR event for a resourceVersion older than the history. A watcher reads the shared event
 * list through a cursor; each event's line is formatted once and shared. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/kube/fk.h"

#define OUT_BATCH (64 * 1024)
#define MAX_LAG 200000 /* events a watcher may fall behind before it is closed */

enum { LINE_ASIS = 0, LINE_ADDED = 1, LINE_DELETED = 2 };

struct fk_watch {
    struct fk_server *srv;
    struct fk_watch_opts o;
    struct fk_event *cursor; /* last event considered (reference held) */
    struct fk_obj **initial; /* synthetic ADDED events still to send (references) */
    size_t ninitial, initial_pos;
    struct cs_buf out; /* bytes ready to send; secret: Secret data passes through */
    size_t out_off;
    uint64_t drop_gen;
    uint64_t start_ms, deadline_ms, next_bookmark_ms;
    int end; /* 0 running, 1 normal end, 2 cut */
};

static const char *type_name(enum fk_event_type t)
{
    switch (t) {
    case FK_EV_ADDED:
        return "ADDED";
    case FK_EV_MODIFIED:
        return "MODIFIED";
    case FK_EV_DELETED:
        return "DELETED";
    default:
        return "ERROR";
    }
}

static enum cs_code append_line(struct cs_buf *b, const char *type, const struct fk_obj *o)
{
    enum cs_code rc = cs_buf_addf(b, "{\"type\":\"%s\",\"object\":", type);
    if (rc == CS_OK)
        rc = fk_obj_append_full(b, o);
    if (rc == CS_OK)
        rc = cs_buf_adds(b, "}\n");
    return rc;
}

/* The line for an event, formatted on first use and shared by every watcher (lock held). */
static const char *event_line(struct fk_event *e, int which, size_t *len)
{
    if (e->line[which]) {
        *len = e->line_len[which];
        return e->line[which];
    }
    struct cs_buf b;
    cs_buf_init_secret(&b, 0);
    enum cs_code rc = CS_ENOMEM;
    struct fk_obj *tmp = NULL;
    if (which == LINE_ASIS) {
        rc = append_line(&b, type_name(e->type), e->obj);
    } else if (which == LINE_ADDED) {
        rc = append_line(&b, "ADDED", e->obj);
    } else if (e->prev) {
        /* The previous state, at the event's resourceVersion. */
        cJSON *j = fk_obj_parse(e->prev);
        if (j && fk_obj_build(e->prev->type, j, e->rv, &tmp, NULL) == CS_OK)
            rc = append_line(&b, "DELETED", tmp);
        cJSON_Delete(j);
        fk_obj_unref(tmp);
    }
    if (rc != CS_OK) {
        cs_buf_free(&b);
        return NULL;
    }
    e->line_len[which] = b.len;
    e->line[which] = cs_buf_take(&b);
    cs_buf_free(&b);
    *len = e->line_len[which];
    return e->line[which];
}

static bool watch_matches(const struct fk_watch *w, const struct fk_obj *o)
{
    if (!o || o->type != w->o.type)
        return false;
    if (w->o.ns && strcmp(o->ns, w->o.ns) != 0)
        return false;
    struct fk_fields f;
    fk_obj_fields(o, &f);
    return fk_label_selector_match(w->o.labels, o->labels) &&
           fk_field_selector_match(w->o.fields, &f);
}

/* Which line of e this watcher gets, or -1 for none. */
static int line_for(const struct fk_watch *w, const struct fk_event *e)
{
    if (!e->obj || e->obj->type != w->o.type)
        return -1;
    bool now = watch_matches(w, e->obj);
    switch (e->type) {
    case FK_EV_ADDED:
    case FK_EV_DELETED:
        return now ? LINE_ASIS : -1;
    case FK_EV_MODIFIED: {
        bool before = watch_matches(w, e->prev);
        if (before && now)
            return LINE_ASIS;
        if (now)
            return LINE_ADDED;
        if (before)
            return LINE_DELETED;
        return -1;
    }
    default:
        return -1;
    }
}

static void opts_cleanup(struct fk_watch_opts *o)
{
    free(o->ns);
    fk_label_selector_free(o->labels);
    fk_field_selector_free(o->fields);
    memset(o, 0, sizeof(*o));
}

struct fk_watch *fk_watch_new(struct fk_server *srv, struct fk_watch_opts *opts)
{
    struct fk_watch *w = calloc(1, sizeof(*w));
    if (!w) {
        opts_cleanup(opts);
        return NULL;
    }
    w->srv = srv;
    w->o = *opts;
    memset(opts, 0, sizeof(*opts));
    cs_buf_init_secret(&w->out, 0);
    w->start_ms = cs_now_ms();
    if (w->o.timeout_s > 0)
        w->deadline_ms = w->start_ms + (uint64_t)w->o.timeout_s * 1000u;

    pthread_mutex_lock(&srv->cfg_mu);
    long interval = srv->bookmark_interval_ms;
    pthread_mutex_unlock(&srv->cfg_mu);
    w->next_bookmark_ms = w->start_ms + (uint64_t)(interval > 0 ? interval : 60000);

    struct fk_store *s = &srv->store;
    pthread_mutex_lock(&s->mu);
    s->watches_open++;
    w->drop_gen = s->drop_gen;
    if (w->o.has_rv && w->o.rv != 0) {
        if (w->o.rv < s->min_watch_rv) {
            cs_buf_addf(&w->out,
                        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
                        "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
                        "resource version: %llu (%llu)\",\"reason\":\"Expired\",\"code\":410}}\n",
                        (unsigned long long)w->o.rv, (unsigned long long)s->min_watch_rv);
            w->end = 1;
        } else {
            struct fk_event *e = s->head;
            while (e->next && e->rv < w->o.rv)
                e = e->next;
            w->cursor = e;
            fk_event_ref(e);
        }
    } else {
        /* No RV or "0": the current state as ADDED events, then what follows. */
        const struct fk_skiplist *l = s->items[fk_type_index(w->o.type)];
        char prefix[300] = "";
        if (w->o.ns)
            snprintf(prefix, sizeof(prefix), "%s/", w->o.ns);
        size_t cap = 0;
        for (struct fk_sl_node *n = fk_skiplist_seek(l, prefix, true); n;
             n = fk_skiplist_next(n)) {
            struct fk_obj *o = fk_skiplist_obj(n);
            if (w->o.ns && strncmp(o->key, prefix, strlen(prefix)) != 0)
                break;
            if (!watch_matches(w, o))
                continue;
            if (w->ninitial == cap) {
                size_t nc = cap ? cap * 2 : 64;
                struct fk_obj **n2 = realloc(w->initial, nc * sizeof(*n2));
                if (!n2)
                    break;
                w->initial = n2;
                cap = nc;
            }
            fk_obj_ref(o);
            w->initial[w->ninitial++] = o;
        }
        w->cursor = s->tail;
        fk_event_ref(s->tail);
    }
    pthread_mutex_unlock(&s->mu);
    return w;
}

void fk_watch_free(struct fk_watch *w)
{
    if (!w)
        return;
    struct fk_store *s = &w->srv->store;
    pthread_mutex_lock(&s->mu);
    s->watches_open--;
    fk_event_unref(w->cursor);
    for (size_t i = w->initial_pos; i < w->ninitial; i++)
        fk_obj_unref(w->initial[i]);
    pthread_mutex_unlock(&s->mu);
    free(w->initial);
    cs_buf_free(&w->out);
    opts_cleanup(&w->o);
    free(w);
}

static void deadline_ts(uint64_t wake_ms, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    uint64_t now = cs_now_ms();
    uint64_t d = wake_ms > now ? wake_ms - now : 0;
    ts->tv_sec += (time_t)(d / 1000);
    ts->tv_nsec += (long)(d % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Fills w->out with what is ready, or waits (lock held). */
static void fill(struct fk_watch *w)
{
    struct fk_server *srv = w->srv;
    struct fk_store *s = &srv->store;
    for (;;) {
        pthread_mutex_lock(&srv->cfg_mu);
        long drop_ms = srv->faults.drop_watch_ms;
        long interval = srv->bookmark_interval_ms;
        pthread_mutex_unlock(&srv->cfg_mu);
        uint64_t now = cs_now_ms();
        if (s->shutting_down) {
            w->end = 1;
            return;
        }
        if (w->drop_gen != s->drop_gen ||
            (drop_ms > 0 && now >= w->start_ms + (uint64_t)drop_ms)) {
            w->end = 2;
            return;
        }
        if (w->deadline_ms && now >= w->deadline_ms) {
            w->end = 1;
            return;
        }
        while (w->initial_pos < w->ninitial && w->out.len < OUT_BATCH) {
            struct fk_obj *o = w->initial[w->initial_pos++];
            enum cs_code rc = append_line(&w->out, "ADDED", o);
            fk_obj_unref(o);
            if (rc != CS_OK) {
                w->end = 2;
                return;
            }
        }
        if (w->out.len)
            return;
        while (w->cursor->next && w->out.len < OUT_BATCH) {
            struct fk_event *e = w->cursor->next;
            fk_event_ref(e);
            fk_event_unref(w->cursor);
            w->cursor = e;
            int which = line_for(w, e);
            if (which < 0)
                continue;
            size_t len;
            const char *line = event_line(e, which, &len);
            if (!line || cs_buf_add(&w->out, line, len) != CS_OK) {
                w->end = 2;
                return;
            }
        }
        if (w->out.len)
            return;
        if (s->rv - w->cursor->rv > MAX_LAG) {
            w->end = 2; /* as the real server closes an unresponsive watcher */
            return;
        }
        if (w->o.bookmarks && now >= w->next_bookmark_ms) {
            cs_buf_addf(&w->out,
                        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
                        "\"metadata\":{\"resourceVersion\":\"%llu\",\"creationTimestamp\":null}}}\n",
                        w->o.type->kind, w->o.type->api_version,
                        (unsigned long long)w->cursor->rv);
            w->next_bookmark_ms = now + (uint64_t)(interval > 0 ? interval : 60000);
            return;
        }
        uint64_t wake = now + 1000; /* re-read faults at least every second */
        if (w->deadline_ms && w->deadline_ms < wake)
            wake = w->deadline_ms;
        if (drop_ms > 0 && w->start_ms + (uint64_t)drop_ms < wake)
            wake = w->start_ms + (uint64_t)drop_ms;
        if (w->o.bookmarks && w->next_bookmark_ms < wake)
            wake = w->next_bookmark_ms;
        struct timespec ts;
        deadline_ts(wake, &ts);
        int r = pthread_cond_timedwait(&s->changed, &s->mu, &ts);
        (void)r;
    }
}

long fk_watch_read(struct fk_watch *w, char *buf, size_t max)
{
    if (w->out_off >= w->out.len && !w->end) {
        cs_buf_reset(&w->out);
        w->out_off = 0;
        pthread_mutex_lock(&w->srv->store.mu);
        fill(w);
        pthread_mutex_unlock(&w->srv->store.mu);
    }
    if (w->out_off < w->out.len) {
        size_t n = w->out.len - w->out_off;
        if (n > max)
            n = max;
        pthread_mutex_lock(&w->srv->cfg_mu);
        bool split = w->srv->faults.split_chunks;
        pthread_mutex_unlock(&w->srv->cfg_mu);
        if (split) {
            /* Small random pieces, and now and then all that is ready (which may hold
             * several events) in one write. */
            uint64_t r = cs_rand_u64();
            if (r % 4 != 0) {
                size_t piece = 1 + (size_t)((r >> 8) % 48);
                if (piece < n)
                    n = piece;
            }
        }
        memcpy(buf, w->out.ptr + w->out_off, n);
        w->out_off += n;
        return (long)n;
    }
    return w->end == 2 ? -1 : 0;
}
