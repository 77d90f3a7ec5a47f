/* queue.h -- a rate-limited, de-duplicating work queue of string keys (client-go's workqueue).
 *
 * A key is in the queue at most once. A key being processed by a worker is not handed to a
 * second worker: adding it meanwhile marks it dirty, and it comes back when the first worker
 * calls ctl_queue_done. Failed keys come back after a per-key exponential back-off, and all
 * rate-limited adds also pass an overall token bucket. Thread-safe. */
#ifndef CTL_QUEUE_H
#define CTL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_queue;

struct ctl_queue_opts {
    uint64_t base_delay_ms; /* first retry delay of a failing key (default 500 ms) */
    uint64_t max_delay_ms;  /* cap (default 5 min) */
    double qps;             /* overall bucket for rate-limited adds (default 10/s) */
    double burst;           /* default 100 */
};

struct ctl_queue *ctl_queue_new(const struct ctl_queue_opts *opts);
/* Frees the queue; call after ctl_queue_shutdown and after every worker has returned. */
void ctl_queue_free(struct ctl_queue *q);

/* Adds key now (no-op when already queued; marks dirty when being processed). */
void ctl_queue_add(struct ctl_queue *q, const char *key);
/* Adds key after delay_ms (the earliest pending time wins). */
void ctl_queue_add_after(struct ctl_queue *q, const char *key, uint64_t delay_ms);
/* Adds key after its back-off: each call without a ctl_queue_forget doubles the delay.
 * Returns the delay chosen. */
uint64_t ctl_queue_add_rate_limited(struct ctl_queue *q, const char *key);
/* Clears key's failure count (call after a successful reconcile). */
void ctl_queue_forget(struct ctl_queue *q, const char *key);
/* How many times key has failed since its last forget. */
unsigned ctl_queue_failures(struct ctl_queue *q, const char *key);

/* Blocks until a key is ready or the queue shuts down. Returns a malloc'd key the caller
 * frees after calling ctl_queue_done, or NULL after shutdown. */
char *ctl_queue_get(struct ctl_queue *q);
/* Waits at most timeout_ms; NULL on timeout or shutdown. */
char *ctl_queue_get_timeout(struct ctl_queue *q, uint64_t timeout_ms);
/* Marks key processed: if it was added meanwhile, it goes back in the queue. */
void ctl_queue_done(struct ctl_queue *q, const char *key);

/* Stops handing out keys: blocked ctl_queue_get calls return NULL. */
void ctl_queue_shutdown(struct ctl_queue *q);
bool ctl_queue_is_shutdown(struct ctl_queue *q);

/* Keys ready now (the depth metric), and keys waiting for a delay. */
size_t ctl_queue_len(struct ctl_queue *q);
size_t ctl_queue_delayed(struct ctl_queue *q);

#endif
