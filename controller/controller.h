/* controller.h -- the controller's runtime: informers (reflectors + stores) for Ingresses,
 * TLS Secrets and IngressClasses, the indexes that map a change to the listeners it affects,
 * the work queue and its workers, the periodic resync, and readiness.
 *
 * Every replica runs the informers (so that a new leader starts with warm caches); only the
 * leader runs workers and the resync, and so only the leader writes (to the provider, and
 * Events). Queue keys: "L|<listener key>" reconciles a listener, "I|<ns>/<name>" reports an
 * Ingress that maps to no listener, "G|<region>" collects a region's garbage. */
#ifndef CTL_CONTROLLER_H
#define CTL_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "controller/config.h"
#include "controller/metrics.h"
#include "elb/elb.h"
#include "k8s/client.h"
#include "k8s/events.h"

struct ctl_controller_opts {
    const struct ctl_config *cfg;
    struct k8s_client *kube;         /* borrowed */
    struct elb_provider *provider;   /* borrowed */
    struct ctl_metrics *metrics;     /* borrowed */
    struct k8s_recorder *recorder;   /* borrowed; NULL: no Events */
};

struct ctl_controller;

enum cs_code ctl_controller_new(const struct ctl_controller_opts *opts,
                                struct ctl_controller **out, struct cs_err *err);
/* Starts the reflectors. */
enum cs_code ctl_controller_start_informers(struct ctl_controller *c, struct cs_err *err);
/* Waits (bounded) until every reflector has listed once. */
bool ctl_controller_wait_synced(struct ctl_controller *c, uint64_t timeout_ms);
/* Leading: starts the workers and the resync loop (returns at once). */
void ctl_controller_start_leading(struct ctl_controller *c);
/* Stops the workers and the resync loop, waiting at most grace_ms for reconciles in flight.
 * Returns whether they all finished (when not, writes may still be under way). */
bool ctl_controller_stop_leading(struct ctl_controller *c, uint64_t grace_ms);
/* Stops the reflectors. */
void ctl_controller_stop_informers(struct ctl_controller *c);
/* Frees; call after both stops (workers that did not finish in grace keep running until
 * the process exits, and the controller must then not be freed: free only when stop_leading
 * returned true). */
void ctl_controller_free(struct ctl_controller *c);

/* Ready: informers synced, and, when leading, the first full sync done. */
bool ctl_controller_ready(struct ctl_controller *c, char *reason, size_t reason_size);
bool ctl_controller_is_leading(struct ctl_controller *c);

#endif
