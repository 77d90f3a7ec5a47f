/* events.h -- an Event recorder (core/v1 Events, design §4), after client-go's
 * EventRecorder + EventCorrelator.
 *
 * emit() never blocks on the network: it copies the event into a bounded queue that a
 * background thread drains (a full queue drops the event and counts it). A repeat of the
 * same (object, type, reason, message) within the de-duplication window PATCHes the existing
 * Event's count and lastTimestamp instead of creating a new object; the cache that remembers
 * recent events is bounded (least recently used evicted). Messages are cut to 1024 bytes,
 * and a message that looks like it carries a private key is replaced, never sent. */
#ifndef K8S_EVENTS_H
#define K8S_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "k8s/client.h"

enum k8s_event_type { K8S_EVENT_NORMAL = 0, K8S_EVENT_WARNING };

/* The involved object (borrowed for the call). ns NULL or "": cluster-scoped, the Event then
 * goes to "default" as client-go does. */
struct k8s_object_ref {
    const char *kind;        /* "Ingress" */
    const char *api_version; /* "networking.k8s.io/v1" */
    const char *ns;
    const char *name;
    const char *uid;              /* optional */
    const char *resource_version; /* optional */
};

struct k8s_recorder_opts {
    const char *component; /* source.component and reportingComponent, e.g. "elb-certsync" */
    const char *instance;  /* reportingInstance, e.g. the pod name */
    size_t queue_max;      /* [256] events waiting to be sent */
    size_t cache_max;      /* [4096] remembered events for de-duplication */
    uint64_t dedup_window_ms; /* [600000] a repeat after this creates a new Event */
};

struct k8s_recorder_stats {
    uint64_t emitted; /* accepted into the queue */
    uint64_t dropped; /* queue full */
    uint64_t created; /* POSTs that succeeded */
    uint64_t patched; /* count bumps that succeeded */
    uint64_t failed;  /* sends that failed (not retried) */
};

struct k8s_recorder;

/* client is borrowed and must outlive the recorder. */
enum cs_code k8s_recorder_new(struct k8s_client *client, const struct k8s_recorder_opts *opts,
                              struct k8s_recorder **out, struct cs_err *err);
/* Stops the thread; events still queued are discarded. */
void k8s_recorder_free(struct k8s_recorder *r);

/* Queues an event; false when it was dropped (queue full, or out of memory). Thread-safe. */
bool k8s_recorder_emit(struct k8s_recorder *r, const struct k8s_object_ref *obj,
                       enum k8s_event_type type, const char *reason, const char *message);
/* Waits (bounded) until everything queued so far has been sent or failed. */
bool k8s_recorder_flush(struct k8s_recorder *r, uint64_t timeout_ms);
void k8s_recorder_get_stats(struct k8s_recorder *r, struct k8s_recorder_stats *out);

#endif
