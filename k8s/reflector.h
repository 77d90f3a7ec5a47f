/* reflector.h -- client-go's Reflector: keeps a store equal to the server's state of one
 * resource by list + watch, on its own thread (design §4).
 *
 * First a paged list (resourceVersion=0, limit 500, continue tokens; an expired continue
 * token relists from scratch) replaces the store's content; then a watch from the list's
 * resourceVersion with bookmarks and a random timeoutSeconds in [300, 600). The RV follows
 * every event, bookmarks included, and is only ever compared for equality. 410 (Expired or
 * Gone, as an HTTP status or an ERROR event) → relist; 429, 5xx, connection errors → back
 * off and re-watch from the last RV without relisting; a normal close → re-watch at once.
 * Back-off: 800 ms doubling to 30 s with jitter, reset after 2 minutes without failure. A
 * watch silent for longer than its timeout plus a margin is treated as broken. stop() is
 * prompt and joins the thread. */
#ifndef K8S_REFLECTOR_H
#define K8S_REFLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "k8s/client.h"
#include "k8s/store.h"

struct k8s_reflector_opts {
    const struct k8s_resource *res;
    const char *ns;             /* NULL or "": all namespaces */
    const char *label_selector; /* optional */
    const char *field_selector; /* optional; Secrets: "type=kubernetes.io/tls" */
    long page_size;             /* 0: 500 */
    size_t max_event;           /* 0: the watch parser's default */
    /* Tuning; 0 means the client-go default given in brackets. */
    uint64_t backoff_initial_ms; /* [800] */
    uint64_t backoff_max_ms;     /* [30000] */
    uint64_t backoff_reset_ms;   /* [120000] */
    long watch_timeout_min_s;    /* [300] */
    long watch_timeout_max_s;    /* [600], exclusive */
    long idle_margin_ms;         /* [30000] silence beyond timeout + margin: broken */
};

struct k8s_reflector_stats {
    uint64_t lists;   /* successful full lists (the first one included) */
    uint64_t watches; /* watch requests started */
    uint64_t events;  /* watch events applied, bookmarks included */
    uint64_t errors;  /* failed lists and watches */
    uint64_t gone;    /* 410s that caused a relist */
    uint64_t drops;   /* watches cut after they had lasted or delivered: re-watched at once */
};

struct k8s_reflector;

/* client and store are borrowed and must outlive the reflector. */
enum cs_code k8s_reflector_new(struct k8s_client *client, struct k8s_store *store,
                               const struct k8s_reflector_opts *opts,
                               struct k8s_reflector **out, struct cs_err *err);
enum cs_code k8s_reflector_start(struct k8s_reflector *r, struct cs_err *err);
/* Stops and joins; safe to call twice. */
void k8s_reflector_stop(struct k8s_reflector *r);
/* Stops first if running. */
void k8s_reflector_free(struct k8s_reflector *r);

/* True once the first full list is in the store. Thread-safe. */
bool k8s_reflector_has_synced(struct k8s_reflector *r);
/* Waits (bounded) for has_synced; false on timeout or stop. */
bool k8s_reflector_wait_synced(struct k8s_reflector *r, uint64_t timeout_ms);
/* The last resourceVersion seen (list or event), "" before the first list. */
void k8s_reflector_last_rv(struct k8s_reflector *r, char *out, size_t n);
void k8s_reflector_get_stats(struct k8s_reflector *r, struct k8s_reflector_stats *out);

#endif
