/* reconcile.h -- one listener, once: desired state → the provider's view (pcache slice) →
 * plan → execution in the plan's order (create, rename, bind, delete), with Events, logs
 * and metrics. The steps are derived from state every time: a crash between any two is
 * repaired by the next reconcile.
 *
 * Key material: a Secret is fetched again from the API server for each upload, decoded into
 * cleansed buffers, checked to still have the fingerprint the plan was made for, sent, and
 * wiped. It never reaches a log, an Event or an error message. */
#ifndef CTL_RECONCILE_H
#define CTL_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "controller/desired.h"
#include "controller/metrics.h"
#include "controller/model.h"
#include "controller/pcache.h"
#include "elb/elb.h"
#include "k8s/client.h"

/* Where Events go: involved Ingress (namespace, name, uid), type "Normal" or "Warning". */
typedef void (*ctl_event_fn)(void *ud, const char *ns, const char *name, const char *uid,
                             const char *type, const char *reason, const char *message);

/* Metrics the reconciler updates (any may be NULL). */
struct ctl_reconcile_metrics {
    struct ctl_metric *reconciles;   /* counter {result} */
    struct ctl_metric *duration;     /* histogram, seconds */
    struct ctl_metric *actions;      /* counter {action, outcome} */
    struct ctl_metric *problems;     /* counter {reason} */
};

/* The replaced-default records (design §3), by listener key. */
typedef const char *(*ctl_record_get_fn)(void *ud, const char *listener_key);
typedef enum cs_code (*ctl_record_set_fn)(void *ud, const char *listener_key,
                                          const char *cert_id /* NULL: forget */);

/* The last Ingress that mapped to a listener no Ingress needs any more (for its Events):
 * false when none is known. */
typedef bool (*ctl_former_fn)(void *ud, const char *listener_key, char *ns, size_t ns_size,
                              char *name, size_t name_size, char *uid, size_t uid_size);

struct ctl_reconciler {
    struct elb_provider *provider;
    struct ctl_pcache *pcache;
    struct k8s_client *kube;      /* to fetch Secrets for uploads */
    bool dry_run;                 /* plan and log, write nothing to the provider */
    const char *protection_reason;
    ctl_event_fn emit;
    void *emit_ud;
    ctl_record_get_fn record_get;
    ctl_record_set_fn record_set;
    void *record_ud;
    ctl_former_fn former;
    void *former_ud;
    struct ctl_reconcile_metrics m;
};

enum ctl_reconcile_status {
    CTL_RECONCILE_DONE = 0,   /* in step */
    CTL_RECONCILE_REQUEUE,    /* come back after retry_after_ms (0: at once) */
    CTL_RECONCILE_RETRY,      /* failed: back off and retry */
    CTL_RECONCILE_GIVE_UP,    /* failed in a way retrying cannot fix before something changes */
};

struct ctl_reconcile_result {
    enum ctl_reconcile_status status;
    uint64_t retry_after_ms;
    size_t writes;            /* provider write calls made (0 in steady state) */
    size_t actions;           /* plan length */
    struct cs_err err;        /* for RETRY / GIVE_UP */
};

/* Reconciles listener_key, given the Ingresses that may concern it (those on it, and those
 * sharing a Secret with them: the desired state needs them to know which certificates other
 * listeners of the region still want) and the Secret lookup. settings->now_ms is used as is. */
void ctl_reconcile_listener(struct ctl_reconciler *r, const struct ctl_settings *settings,
                            const char *listener_key, const struct ctl_ingress *ings, size_t n_ings,
                            ctl_secret_lookup_fn lookup, void *lookup_ud,
                            struct ctl_reconcile_result *out);

/* Region-wide garbage collection: deletes what is ours, wanted by no listener and bound to
 * none. ings: every Ingress of the class. */
void ctl_reconcile_gc(struct ctl_reconciler *r, const struct ctl_settings *settings,
                      const char *region, const struct ctl_ingress *ings, size_t n_ings,
                      ctl_secret_lookup_fn lookup, void *lookup_ud,
                      struct ctl_reconcile_result *out);

/* Splits a listener key (desired.h) back into its parts; false when malformed. */
bool ctl_listener_key_parse(const char *key, char *region, size_t region_size, char *lb_id,
                            size_t lb_size, char *listener_id, size_t lid_size, int *port);

#endif
