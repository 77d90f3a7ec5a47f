/* queue.c -- rate-limited de-duplicating work queue.
 *
 * State of a key (one hash-table entry each):
 *   queued      in the ready FIFO
 *   processing  handed to a worker
 *   dirty       added while processing: re-queued on done
 *   due_ms      > 0: waiting in the delay heap until then
 *   failures    for the back-off
 * Entries with no state left (and no heap item pointing at them) are removed, so memory
 * follows the live keys. */
#include "controller/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/backoff.h"
#include "common/util.h"

struct entry {
    char *key;
    struct entry *next_in_bucket;
    bool queued;
    bool processing;
    bool dirty;
    uint64_t due_ms; /* 0: not delayed */
    unsigned failures;
    unsigned heap_refs; /* heap items pointing here (stale ones included): keeps it alive */
};

struct heap_item {
    uint64_t due_ms;
    struct entry *e;
};

struct ctl_queue {
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;
    bool shutting_down;

    struct entry **buckets; /* key -> entry */
    size_t n_buckets;
    size_t n_entries;

    struct entry **fifo; /* ring buffer of ready keys */
    size_t fifo_head, fifo_len, fifo_cap;

    struct heap_item *heap; /* min-heap by due_ms */
    size_t heap_len, heap_cap;

    uint64_t base_delay_ms;
    uint64_t max_delay_ms;
    struct cs_token_bucket bucket;
};

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static bool rehash(struct ctl_queue *q, size_t n)
{
    struct entry **nb = calloc(n, sizeof(*nb));
    if (!nb)
        return false;
    for (size_t i = 0; i < q->n_buckets; i++) {
        struct entry *e = q->buckets[i];
        while (e) {
            struct entry *next = e->next_in_bucket;
            size_t b = hash_key(e->key) % n;
            e->next_in_bucket = nb[b];
            nb[b] = e;
            e = next;
        }
    }
    free(q->buckets);
    q->buckets = nb;
    q->n_buckets = n;
    return true;
}

static struct entry *lookup(struct ctl_queue *q, const char *key, bool create)
{
    size_t b = hash_key(key) % q->n_buckets;
    for (struct entry *e = q->buckets[b]; e; e = e->next_in_bucket)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create)
        return NULL;
    if (q->n_entries + 1 > q->n_buckets * 2) {
        rehash(q, q->n_buckets * 4); /* on failure, longer chains: still correct */
        b = hash_key(key) % q->n_buckets;
    }
    struct entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        return NULL;
    }
    e->next_in_bucket = q->buckets[b];
    q->buckets[b] = e;
    q->n_entries++;
    return e;
}

/* Drops the entry when nothing refers to it any more. */
static void maybe_release(struct ctl_queue *q, struct entry *e)
{
    if (e->queued || e->processing || e->dirty || e->due_ms || e->failures || e->heap_refs)
        return;
    size_t b = hash_key(e->key) % q->n_buckets;
    struct entry **pp = &q->buckets[b];
    while (*pp && *pp != e)
        pp = &(*pp)->next_in_bucket;
    if (*pp)
        *pp = e->next_in_bucket;
    q->n_entries--;
    free(e->key);
    free(e);
}

static bool fifo_push(struct ctl_queue *q, struct entry *e)
{
    if (q->fifo_len == q->fifo_cap) {
        size_t cap = q->fifo_cap ? q->fifo_cap * 2 : 64;
        struct entry **nf = malloc(cap * sizeof(*nf));
        if (!nf)
            return false;
        for (size_t i = 0; i < q->fifo_len; i++)
            nf[i] = q->fifo[(q->fifo_head + i) % q->fifo_cap];
        free(q->fifo);
        q->fifo = nf;
        q->fifo_cap = cap;
        q->fifo_head = 0;
    }
    q->fifo[(q->fifo_head + q->fifo_len) % q->fifo_cap] = e;
    q->fifo_len++;
    return true;
}

static struct entry *fifo_pop(struct ctl_queue *q)
{
    if (!q->fifo_len)
        return NULL;
    struct entry *e = q->fifo[q->fifo_head];
    q->fifo_head = (q->fifo_head + 1) % q->fifo_cap;
    q->fifo_len--;
    return e;
}

static void heap_swap(struct ctl_queue *q, size_t a, size_t b)
{
    struct heap_item t = q->heap[a];
    q->heap[a] = q->heap[b];
    q->heap[b] = t;
}

static bool heap_push(struct ctl_queue *q, struct entry *e, uint64_t due)
{
    if (q->heap_len == q->heap_cap) {
        size_t cap = q->heap_cap ? q->heap_cap * 2 : 64;
        struct heap_item *nh = realloc(q->heap, cap * sizeof(*nh));
        if (!nh)
            return false;
        q->heap = nh;
        q->heap_cap = cap;
    }
    size_t i = q->heap_len++;
    q->heap[i] = (struct heap_item){.due_ms = due, .e = e};
    e->heap_refs++;
    while (i > 0 && q->heap[(i - 1) / 2].due_ms > q->heap[i].due_ms) {
        heap_swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return true;
}

static struct heap_item heap_pop(struct ctl_queue *q)
{
    struct heap_item top = q->heap[0];
    q->heap[0] = q->heap[--q->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->heap_len && q->heap[l].due_ms < q->heap[m].due_ms)
            m = l;
        if (r < q->heap_len && q->heap[r].due_ms < q->heap[m].due_ms)
            m = r;
        if (m == i)
            break;
        heap_swap(q, i, m);
        i = m;
    }
    return top;
}

/* Makes e ready unless it already is, or is being processed (then: dirty). Lock held. */
static void make_ready(struct ctl_queue *q, struct entry *e)
{
    e->due_ms = 0;
    if (e->processing) {
        e->dirty = true;
        return;
    }
    if (e->queued)
        return;
    if (fifo_push(q, e)) {
        e->queued = true;
        pthread_cond_signal(&q->cond);
    }
}

/* Moves every due delayed key to the FIFO. Heap items whose entry has a different due time
 * are stale (the key was re-added sooner, or made ready) and are dropped. Lock held. */
static void promote_due(struct ctl_queue *q, uint64_t now)
{
    while (q->heap_len && q->heap[0].due_ms <= now) {
        struct heap_item it = heap_pop(q);
        it.e->heap_refs--;
        if (it.e->due_ms == it.due_ms)
            make_ready(q, it.e);
        maybe_release(q, it.e);
    }
}

struct ctl_queue *ctl_queue_new(const struct ctl_queue_opts *opts)
{
    struct ctl_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    if (!rehash(q, 64)) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    q->base_delay_ms = opts && opts->base_delay_ms ? opts->base_delay_ms : 500;
    q->max_delay_ms = opts && opts->max_delay_ms ? opts->max_delay_ms : 5 * 60 * 1000;
    cs_token_bucket_init(&q->bucket, opts && opts->qps > 0 ? opts->qps : 10.0,
                         opts && opts->burst > 0 ? opts->burst : 100.0);
    return q;
}

void ctl_queue_free(struct ctl_queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n_buckets; i++) {
        struct entry *e = q->buckets[i];
        while (e) {
            struct entry *next = e->next_in_bucket;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(q->buckets);
    free(q->fifo);
    free(q->heap);
    cs_token_bucket_cleanup(&q->bucket);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

void ctl_queue_add(struct ctl_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    if (!q->shutting_down) {
        struct entry *e = lookup(q, key, true);
        if (e)
            make_ready(q, e);
    }
    pthread_mutex_unlock(&q->lock);
}

void ctl_queue_add_after(struct ctl_queue *q, const char *key, uint64_t delay_ms)
{
    if (delay_ms == 0) {
        ctl_queue_add(q, key);
        return;
    }
    pthread_mutex_lock(&q->lock);
    if (!q->shutting_down) {
        struct entry *e = lookup(q, key, true);
        uint64_t due = cs_now_ms() + delay_ms;
        /* Already ready, or due sooner: nothing to do. */
        if (e && !e->queued && !(e->due_ms && e->due_ms <= due)) {
            if (heap_push(q, e, due)) {
                e->due_ms = due;
                pthread_cond_signal(&q->cond); /* a sleeper may need to wake sooner */
            }
        }
        if (e)
            maybe_release(q, e);
    }
    pthread_mutex_unlock(&q->lock);
}

uint64_t ctl_queue_add_rate_limited(struct ctl_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct entry *e = lookup(q, key, true);
    unsigned failures = 0;
    if (e)
        failures = e->failures++;
    pthread_mutex_unlock(&q->lock);
    uint64_t delay = q->base_delay_ms;
    for (unsigned i = 0; i < failures && delay < q->max_delay_ms; i++)
        delay *= 2;
    if (delay > q->max_delay_ms)
        delay = q->max_delay_ms;
    uint64_t overall = cs_token_bucket_reserve(&q->bucket, cs_now_ms());
    if (overall > delay)
        delay = overall;
    ctl_queue_add_after(q, key, delay);
    return delay;
}

void ctl_queue_forget(struct ctl_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct entry *e = lookup(q, key, false);
    if (e) {
        e->failures = 0;
        maybe_release(q, e);
    }
    pthread_mutex_unlock(&q->lock);
}

unsigned ctl_queue_failures(struct ctl_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct entry *e = lookup(q, key, false);
    unsigned n = e ? e->failures : 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}

static char *get_locked(struct ctl_queue *q, bool bounded, uint64_t deadline)
{
    for (;;) {
        if (q->shutting_down)
            return NULL;
        uint64_t now = cs_now_ms();
        promote_due(q, now);
        struct entry *e = fifo_pop(q);
        if (e) {
            char *key = strdup(e->key);
            if (!key) {
                fifo_push(q, e); /* put it back; it is still queued */
                return NULL;
            }
            e->queued = false;
            e->processing = true;
            return key;
        }
        uint64_t wake = UINT64_MAX;
        if (q->heap_len)
            wake = q->heap[0].due_ms;
        if (bounded) {
            if (now >= deadline)
                return NULL;
            if (deadline < wake)
                wake = deadline;
        }
        if (wake == UINT64_MAX) {
            pthread_cond_wait(&q->cond, &q->lock);
        } else {
            struct timespec ts;
            ts.tv_sec = (time_t)(wake / 1000);
            ts.tv_nsec = (long)(wake % 1000) * 1000000L;
            /* cs_now_ms is CLOCK_MONOTONIC, as is the condition variable's clock. */
            pthread_cond_timedwait(&q->cond, &q->lock, &ts);
        }
    }
}

char *ctl_queue_get(struct ctl_queue *q)
{
    pthread_mutex_lock(&q->lock);
    char *k = get_locked(q, false, 0);
    pthread_mutex_unlock(&q->lock);
    return k;
}

char *ctl_queue_get_timeout(struct ctl_queue *q, uint64_t timeout_ms)
{
    pthread_mutex_lock(&q->lock);
    char *k = get_locked(q, true, cs_now_ms() + timeout_ms);
    pthread_mutex_unlock(&q->lock);
    return k;
}

void ctl_queue_done(struct ctl_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct entry *e = lookup(q, key, false);
    if (e) {
        e->processing = false;
        if (e->dirty) {
            e->dirty = false;
            if (!q->shutting_down)
                make_ready(q, e);
        }
        maybe_release(q, e);
    }
    pthread_mutex_unlock(&q->lock);
}

void ctl_queue_shutdown(struct ctl_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->shutting_down = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

bool ctl_queue_is_shutdown(struct ctl_queue *q)
{
    pthread_mutex_lock(&q->lock);
    bool s = q->shutting_down;
    pthread_mutex_unlock(&q->lock);
    return s;
}

size_t ctl_queue_len(struct ctl_queue *q)
{
    pthread_mutex_lock(&q->lock);
    promote_due(q, cs_now_ms());
    size_t n = q->fifo_len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t ctl_queue_delayed(struct ctl_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = 0;
    for (size_t i = 0; i < q->heap_len; i++)
        if (q->heap[i].e->due_ms == q->heap[i].due_ms)
            n++;
    pthread_mutex_unlock(&q->lock);
    return n;
}
