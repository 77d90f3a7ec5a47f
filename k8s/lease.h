/* lease.h -- leader election on a coordination.k8s.io/v1 Lease, with client-go's rules
 * (design §4).
 *
 * Each try: GET the lease; 404 → POST it with us as holder (the loser of a race gets 409);
 * held by another and not expired — by the LOCAL clock, counted from when we last saw the
 * record change, never from the timestamps written in it — → wait; otherwise PUT with the
 * resourceVersion we read (a stale one → 409 Conflict → we lost). While leading, renew every
 * retry period; when no renewal succeeded within the renew deadline, leadership is given up
 * (on_stopped_leading) and the elector becomes a candidate again. A clean stop while leading
 * releases the lease (PUT with an empty holder) so that a successor need not wait. */
#ifndef K8S_LEASE_H
#define K8S_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "k8s/client.h"

struct k8s_elector_opts {
    const char *ns;       /* the lease's namespace */
    const char *name;     /* the lease's name */
    const char *identity; /* this candidate, unique (e.g. the pod name) */
    uint64_t lease_duration_ms; /* [15000]; written as whole seconds (at least 1) */
    uint64_t renew_deadline_ms; /* [10000], < lease duration */
    uint64_t retry_period_ms;   /* [2000] */
    /* Called on the elector's thread; must return promptly (start or stop your work). */
    void (*on_started_leading)(void *ud);
    void (*on_stopped_leading)(void *ud);
    void *ud;
    /* Test seam: the monotonic clock in ms; NULL: cs_now_ms. */
    uint64_t (*clock_ms)(void *clock_ud);
    void *clock_ud;
};

struct k8s_elector;

/* client is borrowed and must outlive the elector. */
enum cs_code k8s_elector_new(struct k8s_client *client, const struct k8s_elector_opts *opts,
                             struct k8s_elector **out, struct cs_err *err);
/* Runs the election on a thread of its own. */
enum cs_code k8s_elector_start(struct k8s_elector *e, struct cs_err *err);
/* Stops and joins; releases the lease if leading (then on_stopped_leading). */
void k8s_elector_stop(struct k8s_elector *e);
void k8s_elector_free(struct k8s_elector *e);

/* True while leading and the last successful renewal is within the renew deadline. Safe
 * from any thread. */
bool k8s_elector_is_leader(struct k8s_elector *e);
/* The holder last observed ("" when none). */
void k8s_elector_holder(struct k8s_elector *e, char *out, size_t n);

/* One acquire-or-renew step (what the thread does every retry period), for tests and for
 * callers driving the election themselves. *acquired: we hold the lease now. Not to be mixed
 * with a running thread. */
enum cs_code k8s_elector_try(struct k8s_elector *e, bool *acquired, struct cs_err *err);
/* Releases the lease if we hold it (PUT with an empty holder). */
enum cs_code k8s_elector_release(struct k8s_elector *e, struct cs_err *err);

#endif
